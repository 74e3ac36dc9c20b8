"""Optional retention of the local archive: old videos are deleted after N days.

Off unless VIDEOSTUDIO_RETENTION_DAYS is set. Owners are told in advance, a star
(anyone's) keeps a video, and nothing is deleted while one of its descendants is
still being made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from videostudio.videos.files import remove_files
from videostudio.videos.models import Video

log = logging.getLogger(__name__)


def _cutoff(now: datetime) -> datetime | None:
    days = settings.VIDEOSTUDIO_RETENTION_DAYS
    return now - timedelta(days=days) if days else None


# What keeps a video from retention, registered by the apps above this one (the
# gallery's stars): each takes candidates and returns those it lets go.
Keeper = Callable[[QuerySet[Video]], QuerySet[Video]]
_keepers: list[Keeper] = []


def register_keeper(keeper: Keeper) -> None:
    if keeper not in _keepers:
        _keepers.append(keeper)


def _unstarred(videos: QuerySet[Video]) -> QuerySet[Video]:
    for keeper in _keepers:
        videos = keeper(videos)
    return videos


@dataclass(frozen=True)
class Due:
    """A video retention will delete, and when."""

    video: Video
    on: datetime


def retention_due(owner: object, *, now: datetime | None = None) -> list[Due]:
    """The owner's videos that retention will delete within the notice period."""
    now = now or timezone.now()
    cutoff = _cutoff(now + timedelta(days=settings.VIDEOSTUDIO_RETENTION_NOTICE_DAYS))
    if cutoff is None:
        return []
    videos = _unstarred(
        Video.objects.filter(
            owner_id=getattr(owner, "pk", None),
            deleted_at__isnull=True,
            completed_at__lt=cutoff,
        )
    ).order_by("completed_at")[:20]
    days = timedelta(days=settings.VIDEOSTUDIO_RETENTION_DAYS)
    return [Due(video, video.completed_at + days) for video in videos if video.completed_at]


def _protected_ids() -> set[int]:
    """Every ancestor of a video still being made."""
    running = list(
        Video.objects.filter(next_poll_at__isnull=False, root__isnull=False).values_list(
            "parent_id", "root_id"
        )
    )
    if not running:
        return set()
    parents = dict(
        Video.objects.filter(root_id__in={root for _, root in running}).values_list(
            "pk", "parent_id"
        )
    )
    protected: set[int] = set()
    for first, _ in running:
        parent: int | None = first
        while parent is not None and parent not in protected:
            protected.add(parent)
            parent = parents.get(parent)
    return protected


def videos_apply_retention(*, now: datetime | None = None) -> int:
    """Delete the local copies retention has come for. Returns how many."""
    now = now or timezone.now()
    cutoff = _cutoff(now)
    if cutoff is None:
        return 0
    candidates = _unstarred(
        Video.objects.filter(deleted_at__isnull=True, completed_at__lt=cutoff, next_poll_at=None)
    ).exclude(pk__in=_protected_ids())
    count = 0
    for video in candidates.iterator():
        remove_files(video)
        count += 1
    if count:
        log.info("retention deleted the local copies of %d videos", count)
    return count
