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
        post_migrate.connect(_ensure_catalog, sender=self)


def _ensure_catalog(**kwargs: Any) -> None:
    """An empty catalog gets today's models (as the seed migration gives a new install):
    after a database flush, say, members still have something to choose."""
    from videostudio.catalog.models import CatalogEntry
    from videostudio.provider.catalog import DEFAULT_CATALOG

    if CatalogEntry.objects.exists():
        return
    CatalogEntry.objects.bulk_create(
        CatalogEntry.from_spec(spec, source=CatalogEntry.Source.SEED, position=index * 10)
        for index, spec in enumerate(DEFAULT_CATALOG)
    )


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
