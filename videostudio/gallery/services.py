from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet

from videostudio.gallery.models import Star
from videostudio.videos.models import Video


def star_set(*, user: Any, video: Video, starred: bool) -> bool:
    """Star or unstar; setting the same state twice is harmless. Returns the new state."""
    if not starred:
        Star.objects.filter(user=user, video=video).delete()
        return False
    try:
        with transaction.atomic():
            Star.objects.get_or_create(user=user, video=video)
    except IntegrityError:
        pass  # a double click raced us: it is starred either way
    return True


def unstarred(videos: QuerySet[Video]) -> QuerySet[Video]:
    """The videos nobody starred: retention may take only those."""
    return videos.filter(~Exists(Star.objects.filter(video_id=OuterRef("pk"))))
