"""Every kind of event: who hears of it, how it reads, and what email it gets by default.

The words are written once, here, and used by the bell's page, the emails and the
webhooks alike. A video's prompt (or title) is part of the words only for someone
who may see the video: its owner, or anyone when it is shared. For a private video
everyone else reads "a private video", and gets no link to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from videostudio.notifications.models import EmailChoice, Event
from videostudio.videos import events as ev
from videostudio.videos.models import Video

OWNER = "owner"  # the member the event is about (Event.user)
STAFF = "staff"  # every active staff member


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # for the preferences page: "My video is ready"
    audience: str
    email: str  # the default email choice
    staff_only: bool = False


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(ev.VIDEO_COMPLETED, "My video is ready", OWNER, EmailChoice.NOW),
        Kind(ev.VIDEO_FAILED, "My video failed", OWNER, EmailChoice.NOW),
        Kind(ev.VIDEO_NOT_ARCHIVED, "My video could not be saved here", OWNER, EmailChoice.NOW),
        Kind(ev.VIDEO_REMIXED, "A teammate remixed my video", OWNER, EmailChoice.DIGEST),
        Kind(ev.VIDEO_EXTENDED, "A teammate extended my video", OWNER, EmailChoice.DIGEST),
        Kind(ev.BUDGET_WARNING, "I have used 80% of my monthly budget", OWNER, EmailChoice.NOW),
        Kind(ev.BUDGET_REACHED, "I have used all of my monthly budget", OWNER, EmailChoice.NOW),
        Kind(ev.WEBHOOK_DISABLED, "A webhook of mine was turned off", OWNER, EmailChoice.NOW),
        Kind(ev.TEAM_OUT_OF_POINTS, "The team is out of points", STAFF, EmailChoice.NOW, True),
        Kind(ev.WORKER_SILENT, "The worker is not being heard from", STAFF, EmailChoice.NOW, True),
        Kind(
            ev.ARCHIVE_AT_RISK,
            "A finished video is not saved and its copy expires soon",
            STAFF,
            EmailChoice.NOW,
            True,
        ),
    )
}


def absolute(path: str) -> str:
    """A path in the studio as a link that works from an email or a webhook's receiver."""
    return f"{settings.VIDEOSTUDIO_SITE_URL}{path}" if path else ""


def kinds_for(user: Any) -> list[Kind]:
    """The kinds a member can hear of (staff hear of the team's too)."""
    return [kind for kind in KINDS.values() if user.is_staff or not kind.staff_only]


@dataclass(frozen=True)
class Words:
    title: str
    body: str
    url: str  # a path in the studio ("" when there is nothing to open)


def video_shown(video: Video | None, reader: Any) -> bool:
    """May `reader` (a user, or None for a team-wide webhook) read this video's prompt?"""
    if video is None or video.deleted_at is not None:
        return False
    if video.visibility == Video.Visibility.TEAM:
        return True
    return reader is not None and getattr(reader, "pk", None) == video.owner_id


def _named(video: Video | None, reader: Any) -> str:
    if video is None:
        return "a video that is gone"
    if not video_shown(video, reader):
        return "a private video"
    return f"“{Truncator(video.display_title).chars(80)}”"


def _who(user: Any) -> str:
    if user is None:
        return "Someone"
    return str(user.get_full_name() or user.get_username())


def describe(event: Event, reader: Any) -> Words:
    """How `event` reads for `reader` (a user; None: a team-wide webhook)."""
    video = event.video
    data = event.data or {}
    shown = video_shown(video, reader)
    url = reverse("videos:detail", args=[video.pk]) if video is not None and shown else ""
    named = _named(video, reader)
    mine = reader is not None and video is not None and reader.pk == video.owner_id
    whose = "Your video" if mine else f"{_who(video.owner) if video else 'A'}'s video"
    kind = event.kind
    if kind == ev.VIDEO_COMPLETED:
        return Words(f"{whose} is ready", f"{named} finished and is saved.", url)
    if kind == ev.VIDEO_FAILED:
        reason = data.get("reason") or "The provider gave no reason."
        return Words(f"{whose} failed", f"{named} failed: {reason}", url)
    if kind == ev.VIDEO_NOT_ARCHIVED:
        reason = data.get("reason") or "The files could not be saved."
        gone = video is None or (
            video.expires_at is not None and video.expires_at <= timezone.now()
        )
        advice = (
            "The provider's copy is gone, so it cannot be saved any more."
            if gone or "no longer" in reason
            else "Open it to try again before the provider deletes its copy."
        )
        return Words(
            f"{whose} could not be saved here",
            f"{named} finished, but its files could not be saved here: {reason} {advice}",
            url,
        )
    if kind in (ev.VIDEO_REMIXED, ev.VIDEO_EXTENDED):
        did = "remixed" if kind == ev.VIDEO_REMIXED else "extended"
        parent = video.parent if video is not None else None
        source_named = _named(parent, reader) if parent is not None else "your video"
        return Words(
            f"{_who(event.actor)} {did} your video",
            f"{_who(event.actor)} {did} {source_named}: {named}.",
            url,
        )
    if kind in (ev.BUDGET_WARNING, ev.BUDGET_REACHED):
        used, limit = data.get("used", 0), data.get("limit", 0)
        share = "80%" if kind == ev.BUDGET_WARNING else "all"
        return Words(
            f"You have used {share} of your monthly budget",
            f"This month you have spent or reserved {used} of your {limit} points"
            + (
                "; new videos are refused until next month or until an admin raises it."
                if kind == ev.BUDGET_REACHED
                else "."
            ),
            reverse("videos:list"),
        )
    if kind == ev.TEAM_OUT_OF_POINTS:
        return Words(
            "The team is out of points",
            "The provider refused a job for lack of points: new videos cannot be made until "
            "points are added. Jobs already running go on.",
            reverse("usage:review"),
        )
    if kind == ev.WORKER_SILENT:
        last = data.get("last_seen_text") or "never"
        return Words(
            "The worker is not being heard from",
            f"The worker was last heard from: {last}. Jobs are not being sent, followed or "
            "saved until it runs again.",
            "",
        )
    if kind == ev.ARCHIVE_AT_RISK:
        return Words(
            "A finished video is not saved and its copy expires soon",
            f"{named} (by {_who(video.owner) if video else 'someone'}) is not saved here, and "
            f"the provider deletes its copy at {data.get('expires_text', 'soon')}.",
            url,
        )
    if kind == ev.WEBHOOK_DISABLED:
        return Words(
            f"Webhook “{data.get('name', '')}” was turned off",
            f"It failed {data.get('failures', 0)} times in a row ({data.get('reason', '')}). "
            "Fix the receiver, then turn it on again.",
            data.get("path", ""),
        )
    if kind == ev.TEST:
        return Words("Test event", "A test event, sent from the webhook's page.", "")
    return Words(kind, "", url)
