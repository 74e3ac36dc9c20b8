"""A video's files here: deleting them keeps the row, for the usage records."""

from __future__ import annotations

from django.utils import timezone

from videostudio.videos.models import Video


def remove_files(video: Video) -> None:
    """Delete a video's files here and hide it; the row stays for the records."""
    for name in ("video_file", "thumbnail_file", "spritesheet_file", "reference_image"):
        fieldfile = getattr(video, name)
        if fieldfile:
            fieldfile.delete(save=False)
    Video.objects.filter(pk=video.pk).update(
        deleted_at=timezone.now(),
        updated_at=timezone.now(),
        video_file="",
        thumbnail_file="",
        spritesheet_file="",
        reference_image="",
    )
