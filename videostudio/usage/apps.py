from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register
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


@register()
def points_keeper_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """The videos app asks the usage app about money through a hook: it must be there,
    or jobs would be free and budgets unchecked without a word."""
    from videostudio.usage.hooks import UsagePoints
    from videostudio.videos.points import points

    if isinstance(points(), UsagePoints):
        return []
    return [
        Error(
            "The usage app did not register itself as the keeper of points.",
            hint="Keep videostudio.usage in INSTALLED_APPS; without it budgets are not enforced.",
            id="videostudio.E101",
        )
    ]
