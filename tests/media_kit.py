"""What the media tests share: a video with real bytes in storage, and reading answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from videostudio.videos.models import Video

ROOT = Path(__file__).resolve().parent.parent
BODY = bytes((i * 7 + 3) % 256 for i in range(10_000))
SIZE = len(BODY)


def archived_video(
    owner: Any,
    *,
    video: bytes = BODY,
    name: str = "clip.mp4",
    thumbnail: bytes | None = None,
    spritesheet: bytes | None = None,
) -> Video:
    row = Video.objects.create(
        owner=owner,
        model="Sora-2",
        prompt="a lighthouse at dawn",
        seconds=4,
        size="720x1280",
        status=Video.Status.COMPLETED,
        archived_at=timezone.now(),
    )
    row.video_file.save(f"videos/{row.pk}/{name}", ContentFile(video), save=False)
    if thumbnail is not None:
        row.thumbnail_file.save(f"videos/{row.pk}/thumb.webp", ContentFile(thumbnail), save=False)
    if spritesheet is not None:
        row.spritesheet_file.save(
            f"videos/{row.pk}/sprites.jpg", ContentFile(spritesheet), save=False
        )
    row.save()
    return row


def media_url(video: Video, variant: str = "video") -> str:
    return reverse("videos:media", args=[video.pk, variant])


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def drained(response: Any) -> int:
    """How many bytes a streamed answer carried, without keeping them."""
    return sum(len(chunk) for chunk in response.streaming_content)
