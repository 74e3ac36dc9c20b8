"""System checks for `manage.py check --deploy`: what the deployment is missing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def provider_key_check(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if settings.VIDEOSTUDIO_DEMO:
        return [
            Warning(
                "No provider key is set: videostudio runs in demo mode against its simulator.",
                hint="Set VIDEOSTUDIO_API_KEY (or POE_API_KEY) to use the real provider.",
                id="videostudio.W001",
            )
        ]
    return []
