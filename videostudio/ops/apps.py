from __future__ import annotations

from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the studio: /health/, the staff banner, logs with request ids, error reports."""

    name = "videostudio.ops"
    label = "ops"
    verbose_name = "Operations"
