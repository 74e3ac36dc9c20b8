"""Webhooks: signed JSON (or Slack-compatible) calls (being built)."""

from __future__ import annotations

from datetime import datetime

from videostudio.notifications.delivery import Outcome
from videostudio.notifications.models import Delivery, Webhook


def webhook_send(delivery: Delivery) -> Outcome:
    raise NotImplementedError


def webhook_outcome(webhook: Webhook, outcome: Outcome, *, now: datetime) -> None:
    raise NotImplementedError
