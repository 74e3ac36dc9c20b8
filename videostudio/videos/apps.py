from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class VideosConfig(AppConfig):
    name = "videostudio.videos"
    label = "videos"
    verbose_name = "Videos"

    def ready(self) -> None:
        from videostudio.videos import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(_ensure_schedule, sender=self)


def _ensure_schedule(**kwargs: Any) -> None:
    """The every-minute sweep: the backstop that finds jobs whose wake-up was lost."""
    from django_q.models import Schedule

    from videostudio.videos.tasks import SWEEP_TASK

    Schedule.objects.update_or_create(
        name="videostudio: retention",
        defaults={
            "func": "videostudio.videos.tasks.retention",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )
    Schedule.objects.update_or_create(
        name="videostudio: track jobs",
        defaults={
            "func": SWEEP_TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
