from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in: throttling (django-axes), the login page, password reset."""

    name = "videostudio.accounts"
    label = "accounts"
    verbose_name = "Accounts"
