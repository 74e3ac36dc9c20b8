"""Reading the gallery: filters and keyset paging, a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from videostudio.gallery.forms import SORTS
from videostudio.gallery.models import Star
from videostudio.videos.models import Video, VideoQuerySet

PAGE_SIZE = 24
MAX_WORDS = 8


@dataclass
class GalleryPage:
    videos: list[Video]
    next_cursor: str | None


def gallery_page(
    *, user: Any, filters: dict[str, Any], cursor: str | None = None, size: int = PAGE_SIZE
) -> GalleryPage:
    """One page of shared videos. Paging is by keyset (sort value, id), so page 400
    costs what page 1 does and nothing counts the whole table."""
    field = SORTS[filters.get("sort") or "newest"][1]
    videos = _filtered(Video.objects.shared(), user, filters).order_by(f"-{field}", "-id")
    after = decode_cursor(cursor, field)
    if after is not None:
        value, last_id = after
        videos = videos.filter(
            Q(**{f"{field}__lt": value}) | Q(**{field: value, "id__lt": last_id})
        )
    rows = list(videos[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return GalleryPage(rows, encode_cursor(rows[-1], field) if more else None)


def _filtered(videos: VideoQuerySet, user: Any, filters: dict[str, Any]) -> VideoQuerySet:
    videos = videos.select_related("owner").annotate(
        starred=Exists(Star.objects.filter(user_id=user.pk, video_id=OuterRef("pk")))
    )
    for word in (filters.get("q") or "").split()[:MAX_WORDS]:
        videos = videos.filter(Q(prompt__icontains=word) | Q(title__icontains=word))
    if filters.get("model"):
        videos = videos.filter(model__iexact=filters["model"])
    if filters.get("author"):
        videos = videos.filter(owner__username=filters["author"])
    if filters.get("kind"):
        videos = videos.filter(kind=filters["kind"])
    if filters.get("since"):
        videos = videos.filter(created_at__gte=_start_of(filters["since"]))
    if filters.get("until"):
        videos = videos.filter(created_at__lt=_start_of(filters["until"]) + timedelta(days=1))
    if filters.get("starred"):
        videos = videos.filter(starred=True)
    return videos


def _start_of(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def encode_cursor(video: Video, field: str) -> str:
    value = getattr(video, field)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"{text}~{video.pk}"


def decode_cursor(cursor: str | None, field: str) -> tuple[Any, int] | None:
    """The (value, id) a page starts after; None for junk (the first page, then)."""
    if not cursor or "~" not in cursor:
        return None
    text, _, last_id = cursor.rpartition("~")
    try:
        value: Any = datetime.fromisoformat(text) if field == "created_at" else int(text)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return None
            value = value.astimezone(UTC)  # raises for dates at the edge of time
        return value, int(last_id)
    except (ValueError, OverflowError):
        return None
