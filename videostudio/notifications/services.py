"""Recording events once, telling the members they concern, and reading the bell.

`event_record` is the listener the videos app (and usage, ops) call through
`videos.events`: one event row under its key, one notification per member it
concerns, one delivery per email and webhook it goes out by. All inside the
caller's transaction, all guarded by unique constraints, so an event seen twice
(or by two processes at once) is recorded, notified and sent once. The sending
itself is the worker's (`delivery`), woken after the commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from videostudio.notifications.kinds import KINDS, OWNER
from videostudio.notifications.models import (
    Delivery,
    DeliveryAttempt,
    EmailChoice,
    EmailPreference,
    Event,
    Notification,
    Webhook,
)
from videostudio.videos import events as ev
from videostudio.videos.events import Happening

log = logging.getLogger(__name__)

# Kinds about one member only: never sent to a team-wide webhook.
PERSONAL = frozenset({ev.BUDGET_WARNING, ev.BUDGET_REACHED, ev.WEBHOOK_DISABLED})
# Kinds told while the worker may be down: this process sends them itself, too.
SENT_FROM_HERE = frozenset({ev.WORKER_SILENT})
WAKE_KEY = "videostudio:notifications:wake"


class Listener:
    """What `videos.events` calls (registered in `NotificationsConfig.ready`)."""

    def happened(self, happening: Happening) -> None:
        event_record(happening)


def event_record(happening: Happening, *, now: datetime | None = None) -> Event | None:
    """Record `happening` once; returns the new event, or None if its key was known."""
    kind = KINDS.get(happening.kind)
    if kind is None and happening.kind != ev.TEST:
        raise ValueError(f"not a kind of event: {happening.kind}")
    if Event.objects.filter(key=happening.key).exists():
        return None
    try:
        with transaction.atomic():
            event = Event.objects.create(
                kind=happening.kind,
                key=happening.key[:200],
                video_id=happening.video_id,
                user_id=happening.user_id,
                actor_id=happening.actor_id,
                data=dict(happening.data),
            )
    except IntegrityError:
        return None  # another process recorded it a moment ago
    recipients = _recipients(event)
    Notification.objects.bulk_create(
        [Notification(event=event, recipient=user) for user in recipients],
        ignore_conflicts=True,
    )
    _plan_deliveries(event, recipients, now=now or timezone.now())
    transaction.on_commit(lambda: wake(event.kind))
    return event


def _recipients(event: Event) -> list[Any]:
    kind = KINDS.get(event.kind)
    users = get_user_model().objects.filter(is_active=True)
    if kind is None:
        return []
    if kind.audience == OWNER:
        return list(users.filter(pk=event.user_id)) if event.user_id else []
    return list(users.filter(is_staff=True))


def email_enabled() -> bool:
    """Whether this deployment can send mail at all (EMAIL_URL, EMAIL_HOST, or demo)."""
    return bool(getattr(settings, "VIDEOSTUDIO_PASSWORD_RESET", False))


def email_choices(user: Any) -> dict[str, str]:
    """The member's email choice for every kind (their own, else the kind's default)."""
    chosen = dict(EmailPreference.objects.filter(user=user).values_list("kind", "choice"))
    return {name: chosen.get(name, kind.email) for name, kind in KINDS.items()}


def _plan_deliveries(event: Event, recipients: list[Any], *, now: datetime) -> None:
    deliveries: list[Delivery] = []
    if email_enabled() and recipients:
        chosen = dict(
            EmailPreference.objects.filter(user__in=recipients, kind=event.kind).values_list(
                "user_id", "choice"
            )
        )
        default = KINDS[event.kind].email
        for user in recipients:
            choice = chosen.get(user.pk, default)
            if choice == EmailChoice.OFF or not user.email:
                continue
            digest = choice == EmailChoice.DIGEST
            deliveries.append(
                Delivery(
                    event=event,
                    channel=Delivery.Channel.EMAIL,
                    recipient=user,
                    digest=digest,
                    next_attempt_at=None if digest else now,
                )
            )
    owners = [user.pk for user in recipients]
    hooks = Webhook.objects.filter(active=True, owner_id__in=owners)
    if event.kind not in PERSONAL:
        hooks = hooks | Webhook.objects.filter(active=True, owner__isnull=True)
    deliveries += [
        Delivery(event=event, channel=Delivery.Channel.WEBHOOK, webhook=hook, next_attempt_at=now)
        for hook in hooks
        if hook.wants(event.kind)
    ]
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)


def wake(kind: str = "") -> None:
    """Ask the worker to send what is due (once for a burst of events). What the worker
    cannot send because it is the one that stopped, this process sends itself."""
    try:
        if kind in SENT_FROM_HERE:
            threading.Thread(target=_send_here, name="notify-now", daemon=True).start()
        if not cache.add(WAKE_KEY, 1, 2):
            return
        from django_q.tasks import async_task

        async_task(
            "videostudio.notifications.tasks.deliver",
            group="notifications",
            q_options={"task_name": "send notifications"},
        )
    except Exception:
        # Runs after a commit (the tracker's, a request's): it must not fail them. The
        # schedule (every minute) sends it anyway.
        log.warning("could not wake the worker to send notifications", exc_info=True)


def _send_here() -> None:
    from django.db import connection

    from videostudio.notifications.delivery import deliveries_send

    try:
        deliveries_send(kinds=SENT_FROM_HERE)
    except Exception:
        log.exception("sending notifications from the web process failed")
    finally:
        connection.close()


# --- The bell and the notifications page ---------------------------------------------------


def unread_count(user: Any) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


def notifications_mark_read(user: Any, ids: Iterable[int], *, now: datetime | None = None) -> int:
    return Notification.objects.filter(
        recipient_id=user.pk, pk__in=list(ids), read_at__isnull=True
    ).update(read_at=now or timezone.now())


def notifications_mark_all_read(user: Any, *, now: datetime | None = None) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )


def notifications_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Forget what is older than VIDEOSTUDIO_NOTIFICATION_DAYS: notifications, the
    delivery log, and events nobody holds any more (nothing waiting to be sent)."""
    now = now or timezone.now()
    before = now - timedelta(days=settings.VIDEOSTUDIO_NOTIFICATION_DAYS)
    notifications, _ = Notification.objects.filter(created_at__lt=before).delete()
    tries, _ = DeliveryAttempt.objects.filter(at__lt=before).delete()
    # An old event goes (with its deliveries) once nobody's bell holds it and nothing
    # of it is still waiting to be sent.
    old = (
        Event.objects.filter(created_at__lt=before)
        .exclude(notifications__isnull=False)
        .exclude(deliveries__status=Delivery.Status.PENDING)
    )
    _, gone = old.delete()
    return {
        "notifications": notifications,
        "delivery attempts": tries,
        "events": gone.get("notifications.Event", 0),
    }
