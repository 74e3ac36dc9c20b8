"""Worker tasks: thin wake-ups; the database says what is due (`delivery`)."""

from __future__ import annotations

import time

from django.utils import timezone

from videostudio.notifications import delivery, services
from videostudio.ops.alerts import alerts_raise

# One run sends until nothing is due for this long (then the next wake-up or the
# schedule takes over): retries a few seconds apart need no wake-up of their own.
HORIZON_SECONDS = 50.0


def deliver() -> str:
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < HORIZON_SECONDS:
        sent += delivery.deliveries_send()
        soonest = delivery.next_due()
        if soonest is None:
            break
        wait = (soonest - timezone.now()).total_seconds()
        if wait > HORIZON_SECONDS - (time.monotonic() - started):
            break
        time.sleep(max(min(wait, 5.0), 0.2))
    return f"tried {sent} deliveries"


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
