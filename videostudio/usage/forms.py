"""The usage review's filters, all in the URL."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxLengthValidator

from videostudio.forms import StudioForm, check_date_range, date_field
from videostudio.usage import selectors

MODEL_CHARS = 100  # as long as a catalog entry's name may be


class ReviewFilters(StudioForm):
    start = date_field("From")
    end = date_field("To")
    member = forms.ChoiceField(
        label="Member",
        required=False,
        error_messages={
            "invalid_choice": "“%(value)s” is not a member here: choose one from the list, "
            "or everyone."
        },
    )
    model = forms.CharField(
        label="Model",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": MODEL_CHARS}),
        validators=[
            MaxLengthValidator(
                MODEL_CHARS,
                "That model name is %(show_value)d characters long; no model's name is "
                "longer than %(limit_value)d.",
            )
        ],
    )
    period = forms.ChoiceField(
        label="Per",
        required=False,
        choices=[("day", "day"), ("week", "week"), ("month", "month")],
        error_messages={
            "invalid_choice": "“%(value)s” is not a period: choose day, week or month."
        },
    )
    attributed = forms.ChoiceField(
        label="Ledger",
        required=False,
        choices=[("", "all charges"), ("yes", "attributed"), ("no", "unattributed")],
        error_messages={
            "invalid_choice": "“%(value)s” is not a way to filter the ledger: choose all "
            "charges, attributed or unattributed."
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        member = self.fields["member"]
        assert isinstance(member, forms.ChoiceField)
        names = get_user_model().objects.order_by("username").values_list("username", flat=True)
        member.choices = [("", "everyone"), *((n, n) for n in names)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_date_range(self, data, "start", "end")
        return data

    def scope(self) -> selectors.Scope:
        default = selectors.default_scope()
        data = self.cleaned_data if self.is_valid() else {}
        return selectors.Scope(
            start=data.get("start") or default.start,
            end=data.get("end") or default.end,
            member=data.get("member") or "",
            model=data.get("model") or "",
            period=data.get("period") or "day",
        )
