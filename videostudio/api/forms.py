from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from videostudio.api.models import ApiToken
from videostudio.forms import StudioForm

NAME_CHARS = ApiToken._meta.get_field("name").max_length or 100
# value -> (label, days; None: never)
EXPIRIES: dict[str, tuple[str, int | None]] = {
    "7": ("In 7 days", 7),
    "30": ("In 30 days", 30),
    "90": ("In 90 days", 90),
    "365": ("In a year", 365),
    "never": ("Never", None),
}


class TokenForm(StudioForm):
    """A new token: what it is for, and how long it may live."""

    name = forms.CharField(
        label="Name",
        help_text="What the token is for, so you know which to revoke: "
        "“product clips notebook”, “Slack bot”.",
        error_messages={"required": "Give the token a name: what it is for."},
        widget=forms.TextInput(attrs={"maxlength": NAME_CHARS, "autocomplete": "off"}),
        validators=[
            MaxLengthValidator(
                NAME_CHARS,
                "The name is %(show_value)d characters long; the limit is %(limit_value)d.",
            )
        ],
    )
    expires = forms.ChoiceField(
        label="Expires",
        choices=[(value, label) for value, (label, _days) in EXPIRIES.items()],
        initial="30",
        error_messages={
            "required": "Choose when the token expires (or Never).",
            "invalid_choice": "“%(value)s” is not one of the expiries offered: choose in 7, "
            "30 or 90 days, in a year, or never.",
        },
    )

    def expires_at(self) -> datetime | None:
        days = EXPIRIES[self.cleaned_data["expires"]][1]
        return None if days is None else timezone.now() + timedelta(days=days)
