"""Email: one message per delivery, or one daily digest per member.

The words are `kinds.describe`'s, read for the one recipient, so a private video's
prompt (or title) reaches its owner only. Every message carries a Message-ID made
from what it delivers: when a worker dies after the mail server took a message but
before the delivery was marked sent, the resend has the same id, and a mail client
(or a person) can tell it is the same email. What went wrong is said in the app's
own words; a mail server's reply, which may echo what it was sent, is never copied.

The digest gathers a member's waiting deliveries (`Delivery.digest`) into one email
a day (at VIDEOSTUDIO_DIGEST_HOUR). It claims them with a lease as `deliveries_claim`
does, so two processes never send the same ones, and records the one outcome on
each of them: all sent, all tried again later, or all given up.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from videostudio.notifications import services
from videostudio.notifications.delivery import Outcome, delivery_record, lease_seconds
from videostudio.notifications.kinds import KINDS, Words, absolute, describe, kinds_for
from videostudio.notifications.models import Delivery, EmailChoice, EmailPreference

log = logging.getLogger(__name__)

DIGEST_RETRY = "videostudio: retry the notification digest"
RELATED = ("event", "event__video", "event__video__owner", "event__actor", "recipient")


# --- Writing an email ---------------------------------------------------------------------


def _domain() -> str:
    return urlsplit(settings.VIDEOSTUDIO_SITE_URL).hostname or "videostudio.invalid"


def _one_line(text: str) -> str:
    """A header's text: a newline in a title must not end the header (or start another)."""
    return " ".join(text.split())


def _address(recipient: Any) -> str:
    return str(getattr(recipient, "email", "") or "").strip()


def _footer() -> dict[str, str]:
    return {
        "settings_link": absolute(reverse("notifications:settings")),
        "site_url": settings.VIDEOSTUDIO_SITE_URL,
    }


def _message(
    *,
    to: str,
    subject: str,
    template: str,
    context: Mapping[str, Any],
    message_id: str,
    delivered: str,
) -> EmailMultiAlternatives:
    context = {**context, **_footer()}
    message = EmailMultiAlternatives(
        subject=_one_line(f"videostudio: {subject}"),
        body=render_to_string(f"notifications/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "Message-ID": message_id,
            "Videostudio-Delivery": delivered,
            # RFC 3834: sent by a machine; vacation replies stay away.
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(
        render_to_string(f"notifications/email/{template}.html", context), "text/html"
    )
    return message


def _message_id(what: str) -> str:
    return f"<videostudio.{what}@{_domain()}>"


def email_message(delivery: Delivery) -> EmailMultiAlternatives:
    """The email for one delivery, as its recipient may read it."""
    recipient = delivery.recipient
    words = describe(delivery.event, recipient)
    kind = KINDS.get(delivery.event.kind)
    return _message(
        to=_address(recipient),
        subject=words.title,
        template="message",
        context={
            "recipient": recipient,
            "words": words,
            "link": absolute(words.url),
            "kind_label": kind.label if kind else "",
        },
        message_id=_message_id(f"delivery.{delivery.pk}"),
        delivered=str(delivery.pk),
    )


@dataclass(frozen=True)
class Item:
    words: Words
    link: str
    at: datetime


def digest_message(recipient: Any, deliveries: list[Delivery]) -> EmailMultiAlternatives:
    """One email listing every delivery in `deliveries`, oldest first."""
    items = []
    for delivery in deliveries:
        words = describe(delivery.event, recipient)
        items.append(Item(words, absolute(words.url), delivery.event.created_at))
    pks = ",".join(str(d.pk) for d in deliveries)
    # The same deliveries make the same id: a resend of this digest is recognisable.
    digest_id = hashlib.sha256(pks.encode()).hexdigest()[:24]
    count = len(items)
    return _message(
        to=_address(recipient),
        subject=f"your daily digest ({count} notification{'s' if count != 1 else ''})",
        template="digest",
        context={"recipient": recipient, "items": items, "count": count},
        message_id=_message_id(f"digest.{digest_id}"),
        delivered=pks,
    )


# --- Sending one ----------------------------------------------------------------------------


def _unsendable(recipient: Any) -> Outcome | None:
    """Why nothing can go to `recipient` at all (trying again would not help)."""
    if not services.email_enabled():
        return Outcome(ok=False, retry=False, error="This studio is not set up to send email.")
    if recipient is None:
        return Outcome(ok=False, retry=False, error="The member this email was for is gone.")
    if not recipient.is_active:
        return Outcome(ok=False, retry=False, error="The member's account is turned off.")
    if not _address(recipient):
        return Outcome(
            ok=False, retry=False, error="The member has no email address on their account."
        )
    return None


def _server() -> str:
    return f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"


def _failed(exc: smtplib.SMTPException | OSError) -> Outcome:
    """A sending error, in the app's words: what happened and whether to try again.

    4xx replies and broken connections pass; a 5xx refusal of the address or the
    message does not. A refused login or sender is the deployment's to fix, so it
    is tried again (until the tries run out) rather than given up on at once."""
    server = _server()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()] or [550]
        code = max(codes)
        if code >= 500:
            return Outcome(
                ok=False,
                status_code=code,
                retry=False,
                error=f"The mail server refused the member's address ({code}); not tried again.",
            )
        return Outcome(
            ok=False,
            status_code=code,
            error=f"The mail server turned the member's address away for now ({code}).",
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Outcome(
            ok=False,
            status_code=exc.smtp_code,
            error=f"The mail server at {server} refused the login ({exc.smtp_code}): check "
            "EMAIL_HOST_USER and EMAIL_HOST_PASSWORD (or EMAIL_URL).",
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return Outcome(
            ok=False,
            status_code=exc.smtp_code,
            error=f"The mail server refused the sender address ({exc.smtp_code}): check "
            "DEFAULT_FROM_EMAIL.",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        if isinstance(exc, smtplib.SMTPDataError) and code >= 500:
            return Outcome(
                ok=False,
                status_code=code,
                retry=False,
                error=f"The mail server refused the email ({code}); not tried again.",
            )
        return Outcome(
            ok=False,
            status_code=code if code > 0 else None,
            error=f"The mail server at {server} answered {code}.",
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Outcome(ok=False, error=f"The mail server at {server} hung up.")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Outcome(
            ok=False,
            error=f"The mail server at {server} does not offer what the settings ask of it "
            "(a login, or STARTTLS): check EMAIL_USE_TLS, EMAIL_USE_SSL and the login.",
        )
    if isinstance(exc, ConnectionRefusedError):
        return Outcome(ok=False, error=f"The mail server at {server} refused the connection.")
    if isinstance(exc, TimeoutError):
        return Outcome(
            ok=False,
            error=f"The mail server at {server} did not answer within {settings.EMAIL_TIMEOUT} s.",
        )
    if isinstance(exc, ssl.SSLError):
        return Outcome(
            ok=False, error=f"The secure connection to the mail server at {server} failed."
        )
    return Outcome(ok=False, error=f"Could not reach the mail server at {server}.")


def _send(message: EmailMultiAlternatives) -> Outcome:
    started = time.monotonic()
    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        outcome = _failed(exc)
        log.warning("email %s not sent: %s", message.extra_headers.get("Message-ID"), outcome.error)
    else:
        outcome = Outcome(ok=True)
    elapsed = int((time.monotonic() - started) * 1000)
    return Outcome(
        ok=outcome.ok,
        status_code=outcome.status_code,
        latency_ms=elapsed,
        error=outcome.error,
        retry=outcome.retry,
    )


def email_send(delivery: Delivery) -> Outcome:
    """Send one delivery's email to its recipient (the delivery loop's email sender)."""
    refusal = _unsendable(delivery.recipient)
    if refusal is not None:
        return refusal
    message = email_message(delivery)
    message.connection = get_connection(fail_silently=False)
    return _send(message)


# --- The daily digest -------------------------------------------------------------------------


def _free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def _waiting(now: datetime) -> Any:
    """Digest deliveries nobody holds, due now (new ones, or a retry whose time came)."""
    return Delivery.objects.filter(
        _free(now),
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        channel=Delivery.Channel.EMAIL,
        digest=True,
        status=Delivery.Status.PENDING,
    )


def digest_claim(*, recipient_id: int, now: datetime, token: uuid.UUID) -> list[Delivery]:
    """Take the lease of everything waiting for one member's digest (one conditional
    UPDATE: what another process took meanwhile is not taken twice)."""
    ids = list(_waiting(now).filter(recipient_id=recipient_id).values_list("pk", flat=True))
    if not ids:
        return []
    _waiting(now).filter(pk__in=ids).update(
        lease_token=token,
        lease_until=now + timedelta(seconds=lease_seconds()),
        attempts=F("attempts") + 1,
    )
    return list(
        Delivery.objects.filter(lease_token=token, pk__in=ids)
        .select_related(*RELATED, "event__video__parent")
        .order_by("event__created_at", "event_id", "pk")
    )


def digests_send(*, now: datetime | None = None, retries_only: bool = False) -> int:
    """Send each member with something waiting their one digest; returns how many
    went. `retries_only`: only to members whose digest failed and is due again (so a
    retry does not send anyone else a second digest that day)."""
    fixed = now
    members = _waiting(now or timezone.now())
    if retries_only:
        members = members.filter(next_attempt_at__isnull=False)
    sent = 0
    for recipient_id in sorted(set(members.values_list("recipient_id", flat=True))):
        # Each member's lease starts when their digest is sent, not when the run began:
        # minutes of sending to others must not leave it expired before it is used.
        now = fixed or timezone.now()
        batch = digest_claim(recipient_id=recipient_id, now=now, token=uuid.uuid4())
        if not batch:
            continue  # another process took them
        recipient = batch[0].recipient
        outcome = _unsendable(recipient)
        if outcome is None:
            message = digest_message(recipient, batch)
            message.connection = get_connection(fail_silently=False)
            outcome = _send(message)
        for delivery in batch:
            delivery_record(delivery, outcome, now=now)
        sent += outcome.ok
    _digest_retry_schedule(now=fixed or timezone.now())
    return sent


def _digest_retry_schedule(*, now: datetime) -> None:
    """Wake the worker when the soonest failed digest is due again (the daily
    schedule would be a day late)."""
    soonest = (
        Delivery.objects.filter(
            channel=Delivery.Channel.EMAIL,
            digest=True,
            status=Delivery.Status.PENDING,
            next_attempt_at__isnull=False,
        )
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if soonest is None:
        return
    from django_q.models import Schedule

    try:
        with transaction.atomic():
            planned = Schedule.objects.filter(name=DIGEST_RETRY)
            if planned.filter(next_run__lte=soonest).exists():
                return
            if not planned.update(next_run=soonest):
                Schedule.objects.create(
                    name=DIGEST_RETRY,
                    func="videostudio.notifications.tasks.digest_retry",
                    schedule_type=Schedule.ONCE,
                    repeats=-1,
                    next_run=soonest,
                )
    except Exception:
        log.warning("could not plan the digest's retry", exc_info=True)


# --- A member's choices -----------------------------------------------------------------------


def email_choices_save(*, user: Any, choices: Mapping[str, str]) -> int:
    """Keep `choices` (kind -> off/now/digest) as the member's. A kind's default is kept
    as no row at all, so a better default later reaches everyone who never chose.
    Returns how many choices changed."""
    allowed = {kind.name: kind for kind in kinds_for(user)}
    if any(name not in allowed for name in choices) or any(
        value not in EmailChoice.values for value in choices.values()
    ):
        raise ValueError("not a kind this member may choose, or not a choice")
    before = services.email_choices(user)
    with transaction.atomic():
        for name, choice in choices.items():
            if choice == allowed[name].email:
                EmailPreference.objects.filter(user=user, kind=name).delete()
            else:
                EmailPreference.objects.update_or_create(
                    user=user, kind=name, defaults={"choice": choice}
                )
    return sum(before[name] != choice for name, choice in choices.items())
