"""django-q2 tasks: thin wake-up calls into the services."""

from __future__ import annotations

from videostudio.catalog.services import catalog_sync
from videostudio.connection import get_client


def sync() -> str:
    return str(catalog_sync(client=get_client()))
