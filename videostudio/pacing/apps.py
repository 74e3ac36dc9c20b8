from __future__ import annotations

from django.apps import AppConfig


class PacingConfig(AppConfig):
    name = "videostudio.pacing"
    label = "pacing"
    verbose_name = "Request budget"
