from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxLengthValidator

from videostudio.forms import StudioForm, check_date_range, choice_list, date_field
from videostudio.videos.models import Video

SORTS = {
    # name -> (label, field ordered descending, then id)
    "newest": ("Newest", "created_at"),
    "remixed": ("Most remixed", "remix_count"),
    "longest": ("Longest", "seconds"),
}


SEARCH_CHARS = 200


class GalleryFilters(StudioForm):
    """What the gallery shows. Everything lives in the URL, so a view can be shared."""

    q = forms.CharField(
        label="Search prompts",
        required=False,
        widget=forms.SearchInput(
            attrs={"placeholder": "Search prompts and titles", "maxlength": SEARCH_CHARS}
        ),
        validators=[
            MaxLengthValidator(
                SEARCH_CHARS,
                "The search is %(show_value)d characters long; the limit is %(limit_value)d.",
            )
        ],
    )
    model = forms.ChoiceField(
        label="Model",
        required=False,
        error_messages={
            "invalid_choice": "No shared video was made with “%(value)s”: choose a model "
            "from the list."
        },
    )
    author = forms.ChoiceField(
        label="Author",
        required=False,
        error_messages={
            "invalid_choice": "“%(value)s” is not a member of the team: choose someone from "
            "the list."
        },
    )
    kind = forms.ChoiceField(
        label="Kind",
        required=False,
        choices=[("", "Any kind"), *Video.Kind.choices],
        error_messages={
            "invalid_choice": "“%(value)s” is not a kind of video: choose "
            f"{choice_list(str(label).lower() for label in Video.Kind.labels)}."
        },
    )
    since = date_field("From")
    until = date_field("To")
    sort = forms.ChoiceField(
        label="Sort",
        required=False,
        choices=[(k, v[0]) for k, v in SORTS.items()],
        error_messages={
            "invalid_choice": "“%(value)s” is not a way to sort the gallery: choose "
            f"{choice_list(v[0].lower() for v in SORTS.values())}."
        },
    )
    starred = forms.BooleanField(label="Starred only", required=False)

    def __init__(self, *args: Any, models: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model = self.fields["model"]
        author = self.fields["author"]
        assert isinstance(model, forms.ChoiceField) and isinstance(author, forms.ChoiceField)
        model.choices = [("", "Any model"), *((m, m) for m in models)]
        users = get_user_model().objects.filter(is_active=True).order_by("username")
        author.choices = [("", "Anyone"), *((u.username, u.username) for u in users)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_date_range(self, data, "since", "until")
        data["sort"] = data.get("sort") or "newest"
        return data
