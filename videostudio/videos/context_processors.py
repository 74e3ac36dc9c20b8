from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def studio(request: HttpRequest) -> dict[str, Any]:
    return {
        "demo_mode": settings.VIDEOSTUDIO_DEMO,
        "page_poll_hidden_seconds": settings.VIDEOSTUDIO_PAGE_POLL_HIDDEN_SECONDS,
    }
