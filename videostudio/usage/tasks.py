"""django-q2 tasks: thin wake-up calls into the services."""

from __future__ import annotations

from videostudio.connection import get_client
from videostudio.usage.services import balance_refresh, ledger_sync


def sync_ledger() -> str:
    return str(ledger_sync(client=get_client()))


def refresh_balance() -> str:
    points = balance_refresh(client=get_client())
    return "balance unavailable" if points is None else f"balance {points} points"
