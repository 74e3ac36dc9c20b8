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
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": f"videostudio.notifications.tasks.{func}",
                "schedule_type": kind,
                "minutes": minutes,
                "repeats": -1,
            },
        )
