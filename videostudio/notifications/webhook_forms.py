"""The webhook form: a name, an address that may be called, a format, the kinds wanted."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from videostudio.forms import StudioForm, choice_list
from videostudio.notifications.kinds import KINDS, kinds_for
from videostudio.notifications.models import Webhook
from videostudio.notifications.services import PERSONAL
from videostudio.notifications.webhooks import Refused, target_resolve
from videostudio.videos import events as ev

# A team-wide webhook hears of every member's videos: its kinds read in the third person.
TEAM_LABELS = {
    ev.VIDEO_COMPLETED: "A video is ready",
    ev.VIDEO_FAILED: "A video failed",
    ev.VIDEO_NOT_ARCHIVED: "A video could not be saved here",
    ev.VIDEO_REMIXED: "A teammate remixed a video",
    ev.VIDEO_EXTENDED: "A teammate extended a video",
}


def kind_label(kind: str, *, team: bool) -> str:
    if kind == ev.TEST:
        return "Test event"
    if team and kind in TEAM_LABELS:
        return TEAM_LABELS[kind]
    known = KINDS.get(kind)
    return known.label if known else kind


def kind_choices(user: Any, *, team: bool) -> list[tuple[str, str]]:
    """What a webhook can be sent: a member's own kinds (staff's include the team's
    troubles); a team-wide one every kind but the personal ones."""
    if team:
        return [(name, kind_label(name, team=True)) for name in KINDS if name not in PERSONAL]
    return [(kind.name, kind.label) for kind in kinds_for(user)]


class WebhookForm(StudioForm):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="For you: which receiver this is, such as “Team chat” or “Render farm”.",
    )
    url = forms.URLField(
        label="Address",
        max_length=500,
        assume_scheme="https",
        help_text="Where each event is sent (POST), such as https://example.com/hooks/videostudio.",
    )
    format = forms.ChoiceField(
        label="Format",
        choices=Webhook.Format.choices,
        initial=Webhook.Format.JSON,
        widget=forms.RadioSelect,
        help_text="JSON: the event's details, signed. Slack-compatible: a message with the "
        "same words, for Slack, Mattermost and chats that take Slack's format.",
    )
    kinds = forms.MultipleChoiceField(
        label="Events",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every one of these.",
    )

    def __init__(self, *args: Any, user: Any, webhook: Webhook | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.user = user
        self.unresolved = ""  # a host not found just now: saved, and said
        staff_new = webhook is None and user.is_staff
        if staff_new:
            self.fields["team"] = forms.BooleanField(
                label="For the whole team",
                required=False,
                help_text="Every member's events (not their budgets), without the prompts of "
                "private videos. Only staff see and change it.",
            )
        team = webhook is not None and webhook.team_wide
        kinds = self.fields["kinds"]
        assert isinstance(kinds, forms.MultipleChoiceField)
        mine = kind_choices(user, team=team)
        if staff_new:  # either kind of webhook: the personal kinds are refused for the team's
            names = {name for name, _ in mine}
            mine += [c for c in kind_choices(user, team=True) if c[0] not in names]
        kinds.choices = mine
        self.fields["name"].widget.attrs["maxlength"] = "100"

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            target_resolve(url)
        except Refused as refused:
            if refused.permanent:
                raise ValidationError(refused.text, code="refused") from None
            self.unresolved = refused.text
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("team"):
            personal = [k for k in data.get("kinds") or [] if k in PERSONAL]
            if personal:
                names = choice_list([kind_label(k, team=False) for k in personal])
                self.add_error(
                    "kinds",
                    f"A team-wide webhook is not sent a member's own events: untick {names}.",
                )
        return data

    def for_team(self) -> bool:
        """Whether a valid form asks for a team-wide webhook."""
        return bool(self.cleaned_data.get("team"))
