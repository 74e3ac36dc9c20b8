"""Form pieces shared by the apps, and the app's own words for every refusal.

Django's fields, validators and auth forms refuse input in their own stock words
("Select a valid choice. 16 is not one of the available choices."). Every form here
mixes in `OwnWords`: just before a form is validated, each message still in Django's
words is replaced by one of the app's, naming the field and saying what it takes.
A form that knows more (the durations a model offers, the lineage cap) sets its own
message, which is left alone: Django's messages are lazy translations, the app's are
plain strings, and only the former are replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.forms import AdminPasswordChangeForm as AdminSitePasswordChangeForm
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.core import validators
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.forms import BaseForm
from django.forms.formsets import (
    INITIAL_FORM_COUNT,
    MAX_NUM_FORM_COUNT,
    MIN_NUM_FORM_COUNT,
    TOTAL_FORM_COUNT,
    ManagementForm,
)
from django.forms.models import BaseModelForm
from django.forms.utils import pretty_name
from django.utils.functional import Promise, cached_property

# Dates far outside any video's life would only overflow date arithmetic.
SANE_DATES = [
    validators.MinValueValidator(date(1970, 1, 1), "Choose a date after 1970."),
    validators.MaxValueValidator(date(9000, 12, 31), "Choose a date before the year 9000."),
]
# How a date is written in a form field (the browser's date picker sends this too).
DATE_EXAMPLE = "2026-12-01"

# --- The app's own words ---------------------------------------------------------------------


def is_stock(message: Any) -> bool:
    """A message still in Django's (or another library's) words: a lazy translation."""
    return isinstance(message, Promise)


def choice_list(labels: Iterable[Any], *, most: int = 8) -> str:
    """`A, B or C`; "one from the list" when there are too many to read out."""
    names = [str(label) for label in labels]
    if not names or len(names) > most:
        return "one from the list"
    *first, last = names
    return f"{', '.join(first)} or {last}" if first else last


def escape_percent(text: str) -> str:
    """Text to insert into a message Django formats with `%` (one with parameters)."""
    return text.replace("%", "%%")


def _choice_labels(field: forms.ChoiceField) -> list[str]:
    labels: list[str] = []
    choices: Any = field.choices
    for value, label in choices:
        if isinstance(label, (list, tuple)):  # a group of choices
            labels += [str(inner) for value, inner in label if value not in ("", None)]
        elif value not in ("", None):
            labels.append(str(label))
    return labels


def _invalid(field: forms.Field, name: str) -> str:
    """What a value that does not parse is told, by the kind of field."""
    kinds: list[tuple[type[forms.Field], str]] = [
        (forms.UUIDField, "is out of date: reload the page and send the form again"),
        (forms.FloatField, "takes a number, such as 2.5"),  # DecimalField too
        (forms.IntegerField, "takes a whole number, such as 12"),  # after: their base
        (forms.SplitDateTimeField, f"takes a date, such as {DATE_EXAMPLE}, and a time"),
        (forms.DateTimeField, f"takes a date and a time, such as {DATE_EXAMPLE} 14:30"),
        (forms.DateField, f"takes a date, such as {DATE_EXAMPLE}"),
        (forms.TimeField, "takes a time, such as 14:30"),
        (forms.DurationField, "takes a length of time, such as 1:30:00 (hours:minutes:seconds)"),
        (forms.EmailField, "takes an email address, such as name@example.com"),
        (forms.URLField, "takes a web address, such as https://example.com/"),
        (forms.JSONField, 'takes JSON, such as {"key": "value"}; check its quotes'),
        (forms.GenericIPAddressField, "takes an IP address, such as 192.0.2.1"),
        (forms.SlugField, "takes letters, digits, hyphens and underscores only"),
        (forms.MultiValueField, "takes a value in every part"),
        (forms.FileField, "did not arrive as a file: choose the file again"),
    ]
    label = escape_percent(_label(field, name))  # some are formatted with the value
    for kind, words in kinds:
        if isinstance(field, kind):
            return f"“{label}” {words}."
    return f"“{label}” cannot be read as it is: check it and send the form again."


def _label(field: forms.Field, name: str) -> str:
    label = str(field.label) if field.label is not None else pretty_name(name)
    return label.rstrip(":").strip() or pretty_name(name)


def field_words(field: forms.Field, name: str, key: str) -> str:
    """The app's words for one of a field's messages (`key` is Django's code)."""
    label = _label(field, name)
    quoted = f"“{escape_percent(label)}”"
    if key == "required":
        if isinstance(field, forms.BooleanField):
            return f"Tick “{label}” to go on."
        if isinstance(field, forms.FileField):
            return f"Choose a file for “{label}”."
        if isinstance(field, forms.ChoiceField):
            return f"Choose “{label}”."
        return f"Fill in “{label}”."
    if key == "invalid_choice":
        if isinstance(field, forms.ModelChoiceField):
            return f"“%(value)s” is not one of the choices for {quoted}: choose one from the list."
        labels = _choice_labels(field) if isinstance(field, forms.ChoiceField) else []
        options = escape_percent(choice_list(labels))
        return f"“%(value)s” is not one of the choices for {quoted}: choose {options}."
    words = {
        "invalid_list": f"“{label}” takes a list of choices.",
        "invalid_pk_value": f"“%(pk)s” is not one of the choices for {quoted}.",
        "incomplete": f"“{label}” is incomplete: fill in every part.",
        "invalid_date": f"“{label}” takes a date, such as {DATE_EXAMPLE}.",
        "invalid_time": f"“{label}” takes a time, such as 14:30.",
        "invalid_image": f"The file for “{label}” is not an image that can be read.",
        "missing": f"No file arrived for “{label}”: choose it again.",
        "empty": f"The file for “{label}” is empty: choose another.",
        "contradiction": f"Either choose a new file for “{label}” or tick “Clear”, not both.",
        "max_length": f"The file name for {quoted} is %(length)d characters long; the limit "
        "is %(max)d. Rename the file first.",
        "overflow": f"“{label}” is too long: it must be between {{min_days}} and {{max_days}} "
        "days.",
        # Raised by a model's own checks (ModelForms, the admin).
        "unique": f"This {quoted} is taken already: choose another.",
        "null": f"Fill in “{label}”.",
        "blank": f"Fill in “{label}”.",
    }
    if key in words:
        return words[key]
    if key == "invalid":
        return _invalid(field, name)
    return f"“{label}” cannot be used as it is: check it and send the form again."


def validator_words(validator: Any, label: str) -> str | dict[str, str] | None:
    """The app's words for a validator still in Django's, or None to keep it."""
    quoted = f"“{escape_percent(label)}”"
    if isinstance(validator, validators.DecimalValidator):
        return {
            "invalid": f"“{label}” takes a number, such as 2.5.",
            "max_digits": f"{quoted} takes at most %(max)s digits.",
            "max_decimal_places": f"{quoted} takes at most %(max)s digits after the point.",
            "max_whole_digits": f"{quoted} takes at most %(max)s digits before the point.",
        }
    kinds: list[tuple[type, str]] = [
        (validators.MaxLengthValidator,
         f"{quoted} is %(show_value)d characters long; the limit is %(limit_value)d."),
        (validators.MinLengthValidator,
         f"{quoted} is %(show_value)d characters long; it needs at least %(limit_value)d."),
        (validators.MaxValueValidator, f"{quoted} can be at most %(limit_value)s."),
        (validators.MinValueValidator, f"{quoted} must be at least %(limit_value)s."),
        (validators.StepValueValidator, f"{quoted} must be a multiple of %(limit_value)s."),
        (validators.ProhibitNullCharactersValidator,
         f"{quoted} holds an invisible NUL character, which cannot be saved: remove it."),
        (validators.EmailValidator, f"{quoted} takes an email address, such as name@example.com."),
        (validators.URLValidator, f"{quoted} takes a web address, such as https://example.com/."),
        (validators.FileExtensionValidator,
         f"Files of type “%(extension)s” are not taken for {quoted}: use %(allowed_extensions)s."),
        (validators.RegexValidator, f"{quoted} is not written the way it should be: check it."),
    ]  # fmt: skip
    for kind, words in kinds:
        if isinstance(validator, kind):
            return words
    return None


def in_own_words(form: BaseForm) -> None:
    """Replace, on this form's fields, every message still in Django's words."""
    model_form = isinstance(form, BaseModelForm)
    for name, field in form.fields.items():
        _reword(field, name, model_form=model_form)
    messages = getattr(form, "error_messages", None)
    if isinstance(messages, dict):
        form.error_messages = {  # type: ignore[attr-defined]
            key: _form_words(form, key) if is_stock(text) else text
            for key, text in messages.items()
        }


def _reword(field: forms.Field, name: str, *, model_form: bool) -> None:
    keys = set(field.error_messages)
    if model_form:
        # Codes a model's own checks raise, which a ModelForm words from its fields.
        keys |= {"unique", "null", "blank", "invalid_choice"}
    for key in keys:
        if key not in field.error_messages or is_stock(field.error_messages[key]):
            field.error_messages[key] = field_words(field, name, key)
    label = _label(field, name)
    reworded = []
    validator: Any
    for validator in field.validators:
        worded_by = getattr(validator, "message", None) or getattr(validator, "messages", {})
        # A plain function validator (validate_ipv46_address, ...) has no words to read.
        if is_stock(worded_by) or (
            isinstance(worded_by, dict) and is_stock(worded_by.get("invalid"))
        ):
            words = validator_words(validator, label)
            if words is not None:
                validator = copy.copy(validator)  # Django shares some between fields
                if isinstance(words, dict):
                    validator.messages = words
                else:
                    validator.message = words
        reworded.append(validator)
    field.validators = reworded
    for index, part in enumerate(getattr(field, "fields", ())):  # MultiValueField's parts
        _reword(part, f"{name}_{index}", model_form=False)


def _form_words(form: BaseForm, key: str) -> str:
    """Words for the refusals of Django's auth forms (the login and password pages)."""
    if key == "invalid_login":
        account = "a staff account" if isinstance(form, AdminAuthenticationForm) else "an account"
        return (
            f"That username and password do not match {account} here. Both are "
            "case-sensitive: check that Caps Lock is off."
        )
    return {
        "inactive": "This account is switched off. Ask an admin to switch it on again.",
        "password_mismatch": "The two new passwords are not the same: type the same one twice.",
        "password_incorrect": "That is not your current password: type it again.",
    }.get(key, "That could not be accepted: check the form and send it again.")


# What a model field's own validators say, by code, after the field's quoted label.
LIMIT_WORDS = {
    "max_value": " can be at most %(limit_value)s.",
    "min_value": " must be at least %(limit_value)s.",
    "max_length": " is %(show_value)d characters long; the limit is %(limit_value)d.",
    "min_length": " is %(show_value)d characters long; it needs at least %(limit_value)d.",
    "step_size": " must be a multiple of %(limit_value)s.",
}

# What a model's checks across fields say (a ModelForm, in the admin).
TOGETHER_WORDS = {
    "unique_together": "There is one with this %(field_labels)s already: change one of them.",
}


class OwnWords(BaseForm):
    """Mixed into every form: its refusals in the app's words (see the module)."""

    def full_clean(self) -> None:
        in_own_words(self)
        super().full_clean()

    def add_error(self, field: str | None, error: Any) -> None:
        # A model's checks (unique, constraints) and Django's auth forms may hand
        # over an error worded elsewhere: worded here by its code, as the field has it.
        if isinstance(error, ValidationError):
            parts = (
                error.error_dict.items()
                if hasattr(error, "error_dict")
                else [(field or NON_FIELD_ERRORS, error.error_list)]
            )
            for name, errors in parts:
                form_field = self.fields.get(name)
                for item in errors:
                    if not is_stock(item.message):
                        continue
                    if form_field is not None and item.code in form_field.error_messages:
                        item.message = form_field.error_messages[item.code]
                    elif form_field is not None and item.code in LIMIT_WORDS:
                        # A model field's own limit the form field does not know (a
                        # small integer column's largest value).
                        quoted = f"“{escape_percent(_label(form_field, name))}”"
                        item.message = quoted + LIMIT_WORDS[item.code]
                    elif item.code in TOGETHER_WORDS:
                        item.message = TOGETHER_WORDS[item.code]
        super().add_error(field, error)

    def get_context(self) -> dict[str, Any]:
        # A hidden field's refusal is shown above the form (Django prefixes it with
        # "(Hidden field ...)"): said here in the app's words.
        context = super().get_context()
        errors = self.non_field_errors().copy()
        for bound in self.hidden_fields():
            errors += [
                f"A hidden part of this form (“{bound.name}”) was refused: {error} Reload "
                "the page and try again."
                for error in bound.errors
            ]
        context["errors"] = errors
        return context


class StudioForm(OwnWords, forms.Form):
    """The base of the app's own forms."""


def with_own_words(form_class: type[Any]) -> type[Any]:
    """`form_class` with `OwnWords` mixed in (for forms made elsewhere: the admin's)."""
    if issubclass(form_class, OwnWords):
        return form_class
    return type(form_class.__name__, (OwnWords, form_class), {"__module__": __name__})


def date_field(label: str) -> forms.DateField:
    """An optional date with the browser's date picker."""
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=SANE_DATES,
        error_messages={"invalid": f"“{label}” takes a date, such as {DATE_EXAMPLE}."},
    )


def check_date_range(form: forms.Form, data: dict[str, Any], first: str, last: str) -> None:
    if data.get(first) and data.get(last) and data[first] > data[last]:
        form.add_error(last, "The end date is before the start date.")


class LoginForm(OwnWords, AuthenticationForm):
    """Django's login form, refusing a username longer than any account's.

    Django's form checks no length (it only sets the input's maxlength), so a name of
    any size went on to authenticate(); django-axes records each failed sign-in in a
    255-character column, and PostgreSQL refused the row: a 500. No account can have
    such a name, so it is the usual wrong-username-or-password answer.
    """

    # The app's login page shows the form's own errors only, above the fields (the
    # admin's shows each field's too).
    says_what_is_missing = True

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        limit = self.fields["username"].max_length  # type: ignore[attr-defined]
        if limit and len(username) > limit:
            raise self.get_invalid_login_error()
        if self.says_what_is_missing and not (username and self.cleaned_data.get("password")):
            raise ValidationError("Write your username and your password.", code="incomplete")
        return super().clean()


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """The admin's login form (staff only), with the same check."""

    says_what_is_missing = False


class OwnPasswordChangeForm(OwnWords, PasswordChangeForm):
    """Changing one's own password (the old one first)."""


class OwnSetPasswordForm(OwnWords, SetPasswordForm):
    """Choosing a new password from a reset link."""


class OwnAdminSitePasswordChangeForm(OwnWords, AdminSitePasswordChangeForm):
    """Changing one's own password in the admin."""


# What a formset (the admin's editable lists) says when its hidden counts are wrong.
FORMSET_WORDS = {
    "missing_management_form": (
        "This list's form is out of date or incomplete (missing: %(field_names)s): reload "
        "the page and make the changes again."
    ),
    "too_many_forms": "Send at most %(num)d rows at once.",
    "too_few_forms": "Send at least %(num)d rows.",
}


class _ManagementForm(OwnWords, ManagementForm):
    """A formset's hidden counts. What is wrong with them, the formset says (above)."""

    def get_context(self) -> dict[str, Any]:
        return {**super().get_context(), "errors": self.non_field_errors()}


def _management_form(formset: Any) -> ManagementForm:
    # Django's BaseFormSet.management_form, with the form above.
    options = {"auto_id": formset.auto_id, "prefix": formset.prefix, "renderer": formset.renderer}
    if formset.is_bound:
        form = _ManagementForm(formset.data, **options)
        form.full_clean()
        return form
    counts = {
        TOTAL_FORM_COUNT: formset.total_form_count(),
        INITIAL_FORM_COUNT: formset.initial_form_count(),
        MIN_NUM_FORM_COUNT: formset.min_num,
        MAX_NUM_FORM_COUNT: formset.max_num,
    }
    return _ManagementForm(initial=counts, **options)


def formset_with_own_words(formset_class: type[Any]) -> type[Any]:
    """`formset_class` refusing its counts in the app's words (its forms: `with_own_words`)."""
    words = {
        "default_error_messages": FORMSET_WORDS,
        "management_form": cached_property(_management_form),
    }
    return type(formset_class.__name__, (formset_class,), words)
