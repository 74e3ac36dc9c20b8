from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class UsageConfig(AppConfig):
    name = "videostudio.usage"
    label = "usage"
    verbose_name = "Points and budgets"

    def ready(self) -> None:
        # Models are loaded only now: the hook (and what it imports) comes in here.
        from videostudio.usage.hooks import UsagePoints
        from videostudio.videos import points

        points.register(UsagePoints())
        post_migrate.connect(_ensure_schedules, sender=self)


def _ensure_schedules(**kwargs: Any) -> None:
    from django_q.models import Schedule

    for name, func, minutes in (
        ("videostudio: sync points ledger", "videostudio.usage.tasks.sync_ledger", 10),
        ("videostudio: read team balance", "videostudio.usage.tasks.refresh_balance", 5),
    ):
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
