"""django-q2 tasks: thin wake-up calls into the services."""

from __future__ import annotations

from django.conf import settings
from django_q.tasks import async_task

from videostudio.videos import tracking
from videostudio.videos.connection import get_client

SWEEP_TASK = "videostudio.videos.tasks.sweep"


def sweep() -> str:
    report = tracking.videos_sweep(
        client=get_client(),
        seconds=settings.VIDEOSTUDIO_SWEEP_SECONDS,
        concurrency=settings.VIDEOSTUDIO_SWEEP_CONCURRENCY,
        handover=enqueue_sweep,
    )
    return str(report)


def enqueue_sweep() -> None:
    """Wake the tracker now instead of at the next scheduled minute."""
    if tracking.sweep_running():
        # It looks for due jobs on every pass, and once more before it stops.
        return
    async_task(SWEEP_TASK, group="sweep", q_options={"task_name": "sweep (wake-up)"})
