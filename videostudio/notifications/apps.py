from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotificationsConfig(AppConfig):
    name = "videostudio.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from videostudio.notifications.services import Listener
        from videostudio.videos import events

        events.register(LISTENER.setdefault("listener", Listener()))
        post_migrate.connect(_ensure_schedules, sender=self)


LISTENER: dict[str, Any] = {}


def _ensure_schedules(**kwargs: Any) -> None:
    from django_q.models import Schedule

    for name, func, kind, minutes in (
        ("videostudio: send notifications", "deliver", Schedule.MINUTES, 1),
        ("videostudio: watch the team's health", "team_watch", Schedule.MINUTES, 1),
        ("videostudio: daily notification digest", "digest", Schedule.DAILY, None),
        ("videostudio: prune old notifications", "prune", Schedule.DAILY, None),
    ):
        schedule, _ = Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": f"videostudio.notifications.tasks.{func}",
                "schedule_type": kind,
                "minutes": minutes,
                "repeats": -1,
            },
        )
        if func == "digest":
            _digest_at_hour(schedule)


def _digest_at_hour(schedule: Any) -> None:
    """The digest goes daily at VIDEOSTUDIO_DIGEST_HOUR, local time (django-q keeps the
    hour across daylight saving). A run already planned for that hour stays, even one
    the worker has not made yet: a migration does not skip today's digest."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    hour = settings.VIDEOSTUDIO_DIGEST_HOUR
    planned = timezone.localtime(schedule.next_run) if schedule.next_run else None
    if planned is not None and (planned.hour, planned.minute, planned.second) == (hour, 0, 0):
        return
    now = timezone.localtime()
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= now:
        at += timedelta(days=1)
    type(schedule).objects.filter(pk=schedule.pk).update(next_run=at)
