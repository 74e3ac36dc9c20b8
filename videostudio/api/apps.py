from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "videostudio.api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from videostudio import limits
        from videostudio.api import errors

        # A body too large (or unreadable) for /v1/ is answered in the API's JSON shape.
        limits.register_refuser(errors.refusal)
