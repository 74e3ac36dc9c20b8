"""Form pieces shared by the apps."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxValueValidator, MinValueValidator

# Dates far outside any video's life would only overflow date arithmetic.
SANE_DATES = [
    MinValueValidator(date(1970, 1, 1), "Choose a date after 1970."),
    MaxValueValidator(date(9000, 12, 31), "Choose a date before the year 9000."),
]


def date_field(label: str) -> forms.DateField:
    """An optional date with the browser's date picker."""
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=SANE_DATES,
    )


def check_date_range(form: forms.Form, data: dict[str, Any], first: str, last: str) -> None:
    if data.get(first) and data.get(last) and data[first] > data[last]:
        form.add_error(last, "The end date is before the start date.")


class LoginForm(AuthenticationForm):
    """Django's login form, refusing a username longer than any account's.

    Django's form checks no length (it only sets the input's maxlength), so a name of
    any size went on to authenticate(); django-axes records each failed sign-in in a
    255-character column, and PostgreSQL refused the row: a 500. No account can have
    such a name, so it is the usual wrong-username-or-password answer.
    """

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        limit = self.fields["username"].max_length  # type: ignore[attr-defined]
        if limit and len(username) > limit:
            raise self.get_invalid_login_error()
        return super().clean()


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """The admin's login form (staff only), with the same check."""
