"""django-q2 tasks: thin wake-up calls into the services."""

from __future__ import annotations

from django.conf import settings
from django_q.tasks import async_task

from videostudio.connection import get_client
from videostudio.videos import tracking
from videostudio.videos.retention import videos_apply_retention

SWEEP_TASK = "videostudio.videos.tasks.sweep"


def sweep() -> str:
    report = tracking.videos_sweep(
        client=get_client(),
        seconds=settings.VIDEOSTUDIO_SWEEP_SECONDS,
        concurrency=settings.VIDEOSTUDIO_SWEEP_CONCURRENCY,
        handover=enqueue_sweep,
    )
    return str(report)


def retention() -> str:
    return f"deleted {videos_apply_retention()} local copies"


def enqueue_sweep(*, always: bool = False) -> None:
    """Wake the tracker now instead of at the next scheduled minute; `always`: even
    if a sweep seems to run (its holder may have just died: the sweep waits it out)."""
    if not always and tracking.sweep_running():
        # It looks for due jobs on every pass, and once more before it stops.
        return
    async_task(SWEEP_TASK, group="sweep", q_options={"task_name": "sweep (wake-up)"})
