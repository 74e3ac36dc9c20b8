from __future__ import annotations

from django.conf import settings
from django.db import models


class Star(models.Model):
    """A member marked a video to find it again (and, later, to keep it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="stars")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "video"], name="star_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.video_id}"
