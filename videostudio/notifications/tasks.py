"""Worker tasks: thin wake-ups; the database says what is due (`delivery`)."""

from __future__ import annotations

from videostudio.notifications import delivery, services
from videostudio.ops.alerts import alerts_raise


def deliver() -> str:
    """One pass over what is due now. Retries come due later (the first after
    VIDEOSTUDIO_NOTIFY_RETRY_SECONDS): the every-minute schedule takes them, so no
    worker is held waiting for them."""
    return f"tried {delivery.deliveries_send()} deliveries"


def digest() -> str:
    from videostudio.notifications import emails

    return f"sent {emails.digests_send()} digests"


def digest_retry() -> str:
    """The digests that failed earlier today, once their retry is due (planned by
    `emails.digests_send`); nobody else gets a second digest."""
    from videostudio.notifications import emails

    return f"sent {emails.digests_send(retries_only=True)} digests again"


def prune() -> str:
    return ", ".join(f"{n} {what}" for what, n in services.notifications_prune().items())


def team_watch() -> str:
    return ", ".join(alerts_raise()) or "all well"
