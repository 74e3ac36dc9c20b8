from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig
from django.db import connection
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


class VideosConfig(AppConfig):
    name = "videostudio.videos"
    label = "videos"
    verbose_name = "Videos"

    def ready(self) -> None:
        from videostudio.videos import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(_ensure_schedule, sender=self)
        from django_q.signals import post_spawn

        post_spawn.connect(_wake_on_start, dispatch_uid="videostudio-wake-on-start")


def _wake_on_start(**kwargs: Any) -> None:
    """A worker process just started (a fresh `qcluster`, or one reborn after a crash):
    wake the tracker now rather than at the schedule's next minute, which django-q
    first looks at 30 s after it starts. If the sweep lease is still held by a worker
    that died, the sweep waits it out (seconds) and takes over."""
    from videostudio.videos.tasks import enqueue_sweep

    try:
        enqueue_sweep(always=True)
    except Exception:
        # Never kill the worker over a wake-up: the schedule is the backstop.
        logger.exception("waking the tracker at worker start failed")
    finally:
        connection.close()


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
