"""Email: one message per delivery, or one daily digest per member (being built)."""

from __future__ import annotations

from videostudio.notifications.delivery import Outcome
from videostudio.notifications.models import Delivery


def email_send(delivery: Delivery) -> Outcome:
    raise NotImplementedError


def digests_send() -> int:
    raise NotImplementedError
