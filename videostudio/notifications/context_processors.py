from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest

from videostudio.notifications.services import unread_count


def bell(request: HttpRequest) -> dict[str, Any]:
    """The header's bell: the member's unread count, asked only when a template shows
    it (every page, and every progress poll, which redraws it out of band when the
    count moved)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def unread() -> int:
        return unread_count(user)

    return {"bell_unread": unread}
