"""Sending what is due, by email and webhook, at its own pace and off the tracker.

The database says what is due (`Delivery.next_attempt_at`); the worker claims a
batch with a lease (one conditional UPDATE: two workers never take the same
delivery), sends each in its own thread with a timeout (a slow or dead endpoint
holds up only its own delivery), and records every try. A failed try is retried
with exponential backoff and jitter, up to VIDEOSTUDIO_NOTIFY_MAX_ATTEMPTS.

A worker that dies mid-send leaves its lease to run out; the delivery is then
tried again. It carries the same id every time (the webhook's
`Videostudio-Delivery` header, the email's Message-ID), so a receiver that saw it
before can tell: sent at least once, received once.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from videostudio.notifications.models import Delivery, DeliveryAttempt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One try's result: what the delivery log shows."""

    ok: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error: str = ""
    retry: bool = True  # False: trying again cannot help (the address is refused)


Sender = Callable[[Delivery], Outcome]


def _senders() -> dict[str, Sender]:
    from videostudio.notifications import emails, webhooks

    return {
        Delivery.Channel.EMAIL: emails.email_send,
        Delivery.Channel.WEBHOOK: webhooks.webhook_send,
    }


def lease_seconds() -> float:
    return float(settings.VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS) + 30


def backoff(attempts: int) -> timedelta:
    """How long after the `attempts`-th failed try to try again: doubling, with jitter."""
    base = settings.VIDEOSTUDIO_NOTIFY_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(base, 3600) * random.uniform(0.8, 1.2))


def deliveries_claim(
    *, now: datetime, limit: int, token: uuid.UUID, kinds: Iterable[str] | None = None
) -> list[Delivery]:
    """Take the lease of up to `limit` due deliveries nobody holds."""
    due = Delivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        status=Delivery.Status.PENDING,
        digest=False,
        next_attempt_at__lte=now,
    )
    if kinds is not None:
        due = due.filter(event__kind__in=list(kinds))
    ids = list(due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    Delivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        pk__in=ids,
        status=Delivery.Status.PENDING,
    ).update(
        lease_token=token,
        lease_until=now + timedelta(seconds=lease_seconds()),
        attempts=F("attempts") + 1,
    )
    return list(
        Delivery.objects.filter(lease_token=token, pk__in=ids).select_related(
            "event", "event__video", "event__video__owner", "event__actor", "recipient", "webhook"
        )
    )


def _skip_webhooks_off(batch: list[Delivery], *, token: uuid.UUID) -> list[Delivery]:
    """A webhook turned off after its delivery was planned is not called: the delivery
    is skipped (not counted as a try)."""
    off = [d.pk for d in batch if d.webhook is not None and not d.webhook.active]
    if off:
        Delivery.objects.filter(
            pk__in=off, lease_token=token, status=Delivery.Status.PENDING
        ).update(
            status=Delivery.Status.SKIPPED,
            next_attempt_at=None,
            attempts=F("attempts") - 1,
            last_error="Not sent: the webhook is turned off.",
            lease_token=None,
            lease_until=None,
        )
    return [d for d in batch if d.pk not in off]


def delivery_record(delivery: Delivery, outcome: Outcome, *, now: datetime | None = None) -> bool:
    """Write one try's outcome (under the delivery's lease): sent, tried again later,
    or given up. Returns False if the lease was lost meanwhile."""
    now = now or timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery,
        ok=outcome.ok,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error[:500],
    )
    held = Delivery.objects.filter(
        pk=delivery.pk, lease_token=delivery.lease_token, status=Delivery.Status.PENDING
    )
    release = {"lease_token": None, "lease_until": None}
    if outcome.ok:
        moved = held.update(status=Delivery.Status.SENT, sent_at=now, last_error="", **release)
    elif outcome.retry and delivery.attempts < settings.VIDEOSTUDIO_NOTIFY_MAX_ATTEMPTS:
        moved = held.update(
            next_attempt_at=now + backoff(delivery.attempts),
            last_error=outcome.error[:500],
            **release,
        )
    else:
        moved = held.update(
            status=Delivery.Status.FAILED, next_attempt_at=None, last_error=outcome.error[:500],
            **release,
        )  # fmt: skip
    if moved and delivery.channel == Delivery.Channel.WEBHOOK and delivery.webhook is not None:
        from videostudio.notifications.webhooks import webhook_outcome

        webhook_outcome(delivery.webhook, outcome, now=now)
    return moved == 1


def _send_one(delivery: Delivery, sender: Sender) -> Outcome:
    try:
        return sender(delivery)
    except Exception as exc:  # a sender must not take the batch down with it
        log.exception("sending delivery %s broke", delivery.pk)
        return Outcome(ok=False, error=f"Sending broke: {type(exc).__name__}")
    finally:
        connection.close()  # this thread's own connection


def deliveries_send(
    *, now: datetime | None = None, limit: int = 50, kinds: Iterable[str] | None = None
) -> int:
    """Send one batch of what is due, concurrently; returns how many were tried."""
    now = now or timezone.now()
    token = uuid.uuid4()
    batch = deliveries_claim(now=now, limit=limit, token=token, kinds=kinds)
    batch = _skip_webhooks_off(batch, token=token)
    if not batch:
        return 0
    senders = _senders()
    width = min(settings.VIDEOSTUDIO_NOTIFY_CONCURRENCY, len(batch))
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="notify") as pool:
        # Each outcome is written as it comes: a slow endpoint holds up nobody's record.
        futures = {
            pool.submit(_send_one, delivery, senders[delivery.channel]): delivery
            for delivery in batch
        }
        for future in as_completed(futures):
            delivery_record(futures[future], future.result())
    return len(batch)


def next_due() -> datetime | None:
    """When the soonest delivery waiting for another try is due."""
    row = (
        Delivery.objects.filter(status=Delivery.Status.PENDING, digest=False)
        .exclude(next_attempt_at__isnull=True)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return row
