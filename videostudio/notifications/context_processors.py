from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest

from videostudio.notifications.services import unread_count
from videostudio.notifications.watch import team_watch_now_and_then


def bell(request: HttpRequest) -> dict[str, Any]:
    """The header's bell: the member's unread count, asked only when a template shows
    it (every page, and every progress poll, which redraws it out of band). Drawing
    it also looks for the team's troubles, at most once a minute: a stopped worker
    cannot say it stopped."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def unread() -> int:
        team_watch_now_and_then()
        return unread_count(user)

    return {"bell_unread": unread}
