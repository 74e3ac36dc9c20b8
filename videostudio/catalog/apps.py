from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CatalogConfig(AppConfig):
    name = "videostudio.catalog"
    label = "catalog"
    verbose_name = "Model catalog"

    def ready(self) -> None:
        post_migrate.connect(_ensure_schedule, sender=self)


def _ensure_schedule(**kwargs: Any) -> None:
    """Look for new and retired models once a day."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="videostudio: sync model catalog",
        defaults={
            "func": "videostudio.catalog.tasks.sync",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )
