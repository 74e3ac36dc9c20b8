from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from videostudio.catalog.services import catalog_sync
from videostudio.connection import get_client


class Command(BaseCommand):
    help = "Compare the model catalog with the provider's GET /models and record what changed."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(catalog_sync(client=get_client())))
