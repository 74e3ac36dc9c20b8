"""Bad input in an admin URL gets the list with a note, or a 4xx; never a 500.

Django's admin answers most junk in its query strings itself (an unknown filter, a
date that does not parse: back to the list with `?e=1`), but not all of it:
- a date-hierarchy year at the edge of the calendar (`?created_at__year=9999`, with
  or without `__month=12`): Django computes the end of the period and overflows;
- an empty `?_to_field=` on a change or delete page: Django looks for a field named "".
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.http import HttpRequest, HttpResponse


class InputSafeChangeList(ChangeList):
    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            # The admin's own answer to wacky lookups: the whole list, with `?e=1`.
            raise IncorrectLookupParameters(exc) from exc


class InputSafeAdmin(admin.ModelAdmin):
    """Mixed into every registered ModelAdmin by `StudioAdminSite.register`."""

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
        return super().changelist_view(request, extra_context)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        # `?_to_field=` (empty) means no field: the primary key, as when it is absent.
        return super().get_object(request, object_id, from_field or None)


def input_safe(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, InputSafeAdmin):
        return admin_class
    return type(
        admin_class.__name__, (InputSafeAdmin, admin_class), {"__module__": admin_class.__module__}
    )


class StudioAdminSite(admin.AdminSite):
    site_header = "videostudio admin"
    site_title = "videostudio"

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        super().register(model_or_iterable, input_safe(admin_class or admin.ModelAdmin), **options)
