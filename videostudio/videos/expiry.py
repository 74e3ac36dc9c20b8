"""Making the provider's deadline visible: what expires when, and what is lost then.

The provider may delete a video's files an hour after it completes. The archive
step keeps a copy here; remixing and extending still need the provider's copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from videostudio.catalog.models import CatalogEntry
from videostudio.videos.lineage import descendant_counts
from videostudio.videos.models import Video

URGENT = timedelta(hours=1)


@dataclass(frozen=True)
class ExpiryNotice:
    level: str  # "soon", "urgent" or "expired"
    expires_at: datetime
    message: str


def humanize(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def expiry_notice(
    video: Video, *, now: datetime | None = None, can_build: bool
) -> ExpiryNotice | None:
    """A warning when the provider's copy is going (or gone) and something is lost
    with it: the chance to remix or extend (`can_build`), or the only copy."""
    if video.expires_at is None or video.status != Video.Status.COMPLETED:
        return None
    if not can_build and video.is_archived:
        return None  # nothing is lost: the copy here is all anyone needs
    now = now or timezone.now()
    left = video.expires_at - now
    lost = []
    if can_build:
        lost.append("it can no longer be remixed or extended")
    if not video.is_archived:
        lost.append("it is NOT saved here yet, so the video itself would be lost")
    if left <= timedelta(0):
        if not video.is_archived:
            gone = "The provider has deleted its copy and none was saved here."
        else:
            gone = "The provider has deleted its copy"
            gone += ", so it can no longer be remixed or extended" if can_build else ""
            gone += ". The copy saved here still plays."
        return ExpiryNotice("expired", video.expires_at, gone)
    threshold = timedelta(hours=settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS)
    if left > max(threshold, URGENT):
        return None
    level = "urgent" if left <= URGENT else "soon"
    message = (
        f"The provider deletes its copy in {humanize(left)}; after that " + " and ".join(lost) + "."
    )
    return ExpiryNotice(level, video.expires_at, message)


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
    """Each video with its expiry notice and its number of descendants (two queries)."""
    now = now or timezone.now()
    buildable = buildable_models()
    counts = descendant_counts(videos)
    return [
        Card(
            video,
            expiry_notice(video, now=now, can_build=video.model.lower() in buildable),
            counts.get(video.pk, 0),
        )
        for video in videos
    ]


def needs_attention(user: object, *, now: datetime | None = None) -> list[Card]:
    """The user's videos about to lose their provider copy, or whose saving failed."""
    now = now or timezone.now()
    horizon = now + max(timedelta(hours=settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS), URGENT)
    videos = list(
        Video.objects.filter(
            owner_id=getattr(user, "pk", None),
            deleted_at__isnull=True,
            status=Video.Status.COMPLETED,
        )
        .filter(
            Q(expires_at__gt=now, expires_at__lte=horizon)
            | Q(archived_at__isnull=True, next_poll_at__isnull=True)
        )
        .order_by("expires_at")[:20]
    )
    return [c for c in video_cards(videos, now=now) if c.notice or not c.video.is_archived]
