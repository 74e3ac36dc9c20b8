"""Making the provider's deadline visible, and loud only when someone should act.

The provider may delete a video's files an hour after it completes. The archive
step keeps a copy here, so for a saved video the only thing that expires is the
chance to remix or extend it: a fresh video says so calmly. A notice is loud when
something is really at stake: a video not saved here, or the provider's copy of a
video someone is building on (a remix or extension of it is in flight or was made
within the hour) going within the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from videostudio.catalog.models import CatalogEntry
from videostudio.videos.lineage import family_facts
from videostudio.videos.models import Video

URGENT = timedelta(hours=1)
# A remix or extension made from a video this recently means someone is building on it.
BUILDING = timedelta(hours=1)
# Levels a person should act on: "Needs attention" lists these, and they look it.
LOUD = ("urgent", "lost")


@dataclass(frozen=True)
class ExpiryNotice:
    # "calm": it can be remixed or extended until then; nothing is at risk.
    # "soon": someone builds on it and the copy goes within the warning hours.
    # "urgent": the same within the hour, or the video is not saved here yet.
    # "lost": the provider's copy is gone and none was saved here.
    level: str
    expires_at: datetime
    message: str  # what it means, without the time left (the page counts that down)
    left: str = ""  # the time left when the page was drawn ("40 min")
    until: str = ""  # the clock time it ends ("18:04")

    @property
    def loud(self) -> bool:
        return self.level in LOUD

    @property
    def counting(self) -> bool:
        """Whether the page shows a countdown to `expires_at`."""
        return self.level != "lost"


def humanize(delta: timedelta) -> str:
    """How long is left, as a person would say it; seconds in the last minute."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def until(moment: datetime, *, now: datetime) -> str:
    """A clock time ("18:04"), with the day when it is not today (the page shows it
    in the reader's own time zone, see static/js/countdown.js)."""
    local, today = timezone.localtime(moment), timezone.localtime(now)
    return date_format(local, "H:i" if local.date() == today.date() else "j M, H:i")


def expiry_notice(
    video: Video, *, now: datetime | None = None, can_build: bool, building_on: bool = False
) -> ExpiryNotice | None:
    """What a card says about the provider's deadline, if anything.

    `can_build`: the model can remix or extend, so that chance ends with the copy.
    `building_on`: someone is building on this video now, so losing it matters."""
    if video.expires_at is None or video.status != Video.Status.COMPLETED:
        return None
    now = now or timezone.now()
    left = video.expires_at - now
    if not video.is_archived:
        return _unsaved(video, video.expires_at, left)
    if not can_build or left <= timedelta(0):
        # Nothing is lost that the copy here does not keep; once the chance to remix
        # or extend is gone, the video's page says why where those forms were.
        return None
    horizon = max(timedelta(hours=settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS), URGENT)
    if left > horizon:
        return None
    if not building_on:
        return ExpiryNotice(
            "calm",
            video.expires_at,
            f"It can be remixed or extended until {until(video.expires_at, now=now)}.",
            humanize(left),
            until(video.expires_at, now=now),
        )
    return ExpiryNotice(
        "urgent" if left <= URGENT else "soon",
        video.expires_at,
        "After that it can no longer be remixed or extended: make what you still want "
        "from it first.",
        humanize(left),
    )


def _unsaved(video: Video, expires_at: datetime, left: timedelta) -> ExpiryNotice | None:
    """A finished video whose files are not saved here yet."""
    if left <= timedelta(0):
        return ExpiryNotice(
            "lost", expires_at, "The provider has deleted its copy and none was saved here."
        )
    risk = timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)
    if video.in_flight and left > risk:
        return None  # being saved, with time to spare: the card says "Saving"
    return ExpiryNotice(
        "urgent",
        expires_at,
        "It is NOT saved here yet: if saving does not succeed by then, the video itself is lost.",
        humanize(left),
    )


def buildable_models() -> set[str]:
    """Models (lower-case) members may remix or extend now: one query."""
    entries = CatalogEntry.objects.filter(enabled=True, retired_at__isnull=True).filter(
        Q(remix=True) | Q(extend=True)
    )
    return {name.lower() for name in entries.values_list("name", flat=True)}


@dataclass(frozen=True)
class Card:
    """A video as a page shows it: the row, and what the page says about it."""

    video: Video
    notice: ExpiryNotice | None = None
    descendants: int = 0  # remixes and extensions made from it


def video_cards(videos: list[Video], *, now: datetime | None = None) -> list[Card]:
    """Each video with its expiry notice and its number of descendants (two queries,
    none for no videos)."""
    if not videos:
        return []
    now = now or timezone.now()
    buildable = buildable_models()
    facts = family_facts(videos, now=now, recent=BUILDING)
    return [
        Card(
            video,
            expiry_notice(
                video,
                now=now,
                can_build=video.model.lower() in buildable,
                building_on=video.pk in facts.building_on,
            ),
            facts.counts.get(video.pk, 0),
        )
        for video in videos
    ]


def needs_attention(user: Any, *, now: datetime | None = None) -> list[Card]:
    """What needs the member now: their videos whose files are not saved (the saving
    failed, or the provider's copy goes soon), and the copy of any video being built
    on (theirs, or a teammate's they made a remix or extension from within the hour)
    going within the hour."""
    now = now or timezone.now()
    risk = timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)
    going = Q(expires_at__gt=now, expires_at__lte=now + URGENT)
    mine = Q(owner_id=getattr(user, "pk", None)) & (
        Q(archived_at__isnull=True, next_poll_at__isnull=True)
        | Q(archived_at__isnull=True, expires_at__lte=now + risk)
        | going
    )
    building = (
        Q(
            pk__in=Video.objects.filter(
                owner_id=getattr(user, "pk", None), created_at__gte=now - BUILDING
            ).values("parent_id")
        )
        & going
    )
    videos = list(
        Video.objects.visible_to(user)
        .filter(status=Video.Status.COMPLETED)
        .filter(mine | building)
        .order_by("expires_at")[:20]
    )
    return [
        card
        for card in video_cards(videos, now=now)
        if (card.notice and card.notice.loud) or not card.video.is_archived
    ]


def notice_moments(video: Video, *, now: datetime) -> list[datetime]:
    """When this video's notice changes by the clock alone, from now on: its copy
    expires (the countdown ends, remix and extend go), a warning turns urgent, an
    unsaved video turns at risk. From the row alone, no query: a page asks once
    more then, and is told."""
    if video.status != Video.Status.COMPLETED or video.expires_at is None:
        return []
    horizon = now + max(timedelta(hours=settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS), URGENT)
    risk = timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)
    moments = (video.expires_at - URGENT, video.expires_at - risk, video.expires_at)
    return sorted(m for m in moments if now < m <= horizon)


def notice_changed(video: Video, *, since: datetime, now: datetime) -> bool:
    """Whether the notice changed by the clock between `since` and `now`."""
    moments = notice_moments(video, now=since)
    return bool(moments) and moments[0] <= now
