from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from videostudio.forms import check_date_range, date_field
from videostudio.videos.models import Video

SORTS = {
    # name -> (label, field ordered descending, then id)
    "newest": ("Newest", "created_at"),
    "remixed": ("Most remixed", "remix_count"),
    "longest": ("Longest", "seconds"),
}


class GalleryFilters(forms.Form):
    """What the gallery shows. Everything lives in the URL, so a view can be shared."""

    q = forms.CharField(
        label="Search prompts",
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": "Search prompts and titles"}),
    )
    model = forms.ChoiceField(label="Model", required=False)
    author = forms.ChoiceField(label="Author", required=False)
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Any kind"), *Video.Kind.choices]
    )
    since = date_field("From")
    until = date_field("To")
    sort = forms.ChoiceField(
        label="Sort", required=False, choices=[(k, v[0]) for k, v in SORTS.items()]
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
