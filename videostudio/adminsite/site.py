"""Bad input in an admin URL gets the list with a note, or a 4xx; never a 500.

Django's admin answers most junk in its query strings itself (an unknown filter, a
date that does not parse: back to the list with `?e=1`), but not all of it:
- a number past 64 bits in a foreign-key filter (`?groups=99999999999999999999`): SQLite
  cannot bind it;
- a date-hierarchy year at the edge of the calendar (`?created_at__year=9999`, with
  or without `__month=12`): Django computes the end of the period and overflows;
- an empty `?_to_field=` on a change or delete page: Django looks for a field named "";
- a NUL in the id of a change page: PostgreSQL refuses it in a text key (a DataError);
- a NUL in a list filter or an autocomplete term: the same, when the list is read;
- a date or time prefilled from the query string of an add page (`?next_run=2026-12-01`):
  the widget gets text where it expects a datetime;
- an action on a selection holding something that is no id of the model (empty, a
  word, out of range, a NUL): Django filters by it as sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import update_wrapper
from typing import Any, TypeVar, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from videostudio.forms import (
    AdminLoginForm,
    OwnAdminSitePasswordChangeForm,
    formset_with_own_words,
    with_own_words,
)


class InputSafeChangeList(ChangeList):
    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            # The admin's own answer to wacky lookups: the whole list, with `?e=1`.
            raise IncorrectLookupParameters(exc) from exc

    def get_results(self, request: HttpRequest) -> None:
        try:
            super().get_results(request)
        except OverflowError as exc:
            # SQLite cannot bind an integer past 64 bits (`?groups=99999999999999999999`);
            # Django checks the range of integer fields, not of foreign keys.
            raise IncorrectLookupParameters(exc) from exc


# What Django's admin says of an action sent without one, or without rows, in the app's words.
ACTION_WORDS = {
    "No action selected.": "Choose an action from the list first: nothing was changed.",
    "Items must be selected in order to perform actions on them. No items have been changed.": (
        "Tick the rows to act on first: nothing was changed."
    ),
}


class InputSafeAdmin(admin.ModelAdmin):
    """Mixed into every registered ModelAdmin by `StudioAdminSite.register`. Its forms
    refuse input in the app's words too (`videostudio.forms.OwnWords`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        change_password_form = getattr(self, "change_password_form", None)  # UserAdmin's
        if change_password_form is not None:
            self.change_password_form = with_own_words(change_password_form)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        return with_own_words(super().get_form(request, obj, change=change, **kwargs))

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        return with_own_words(super().get_changelist_form(request, **kwargs))

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        return formset_with_own_words(super().get_changelist_formset(request, **kwargs))

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        base = super().get_changelist(request, **kwargs)
        if issubclass(base, InputSafeChangeList):
            return base
        return type(f"InputSafe{base.__name__}", (InputSafeChangeList, base), {})

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if ERROR_FLAG in request.GET:
            messages.warning(
                request,
                "The filters in that address could not be used (a date or a number out of "
                "range, or a field this list does not have): the whole list is shown.",
            )
        response = super().changelist_view(request, extra_context)
        shown = getattr(response, "context_data", None) or {}
        formset = getattr(shown.get("cl"), "formset", None)
        if formset is not None and formset.is_bound and not formset.errors:
            # Django's list shows a formset's own errors (its hidden counts were edited
            # or lost) only beside a row's: with no row to show, they go unsaid.
            for error in formset.non_form_errors():
                messages.error(request, error)
        return response

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                model_field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if isinstance(value, str) and isinstance(
                model_field, (models.DateField, models.TimeField)
            ):
                parsed = _parsed(model_field, value)
                if parsed is None:
                    del initial[name]  # the form starts empty rather than with junk
                else:
                    initial[name] = parsed
        return initial

    def message_user(self, request: HttpRequest, message: Any, *args: Any, **kwargs: Any) -> None:
        # The admin's own refusals of an action sent without one, or without rows.
        super().message_user(request, ACTION_WORDS.get(str(message), message), *args, **kwargs)

    def response_action(
        self, request: HttpRequest, queryset: Any, *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        pk = self.model._meta.pk
        assert pk is not None
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                if "\x00" in value:
                    raise ValidationError("NUL")
                pk.run_validators(pk.to_python(value))  # the type, and the column's range
        except ValidationError:
            self.message_user(
                request,
                "Nothing was changed: the selection held an id that is not one of this list's.",
                messages.WARNING,
            )
            return None  # Django then sends the browser back to the list
        return super().response_action(request, queryset, *args, **kwargs)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        if "\x00" in object_id:
            return None  # no key holds one, and PostgreSQL refuses to compare it
        # `?_to_field=` (empty) means no field: the primary key, as when it is absent.
        return super().get_object(request, object_id, from_field or None)


def _parsed(model_field: Any, value: str) -> Any:
    """A date, time or datetime from text, or None if it does not parse or cannot be
    shown in the current time zone."""
    try:
        # The form field's parser: the formats a form takes, made aware in the current zone.
        parsed = model_field.formfield().to_python(value)
        if isinstance(parsed, datetime) and timezone.is_aware(parsed):
            timezone.localtime(parsed)
    except (ValidationError, ValueError, OverflowError):
        return None
    return parsed


def input_safe(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, InputSafeAdmin):
        return admin_class
    return type(
        admin_class.__name__, (InputSafeAdmin, admin_class), {"__module__": admin_class.__module__}
    )


_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def refusing_nul(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A NUL in the query string is answered with a 400 page: no row can match it, and
    PostgreSQL refuses it in a text comparison (a DataError once the list is read)."""

    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            message = "The address holds a NUL character, which nothing here can match."
            return render(request, "400.html", {"message": message}, status=400)
        return view(request, *args, **kwargs)

    return update_wrapper(checked, view)


class StudioAdminSite(admin.AdminSite):
    site_header = "videostudio admin"
    site_title = "videostudio"
    login_form = AdminLoginForm

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        """Django's own view, with a form that refuses in the app's words."""
        request.current_app = self.name
        view = PasswordChangeView.as_view(
            form_class=OwnAdminSitePasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )
        return cast(TemplateResponse, view(request))

    def admin_view(self, view: _View, cacheable: bool = False) -> _View:
        return cast(_View, super().admin_view(refusing_nul(view), cacheable))

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        super().register(model_or_iterable, input_safe(admin_class or admin.ModelAdmin), **options)
