"""Webhooks: each event as one signed HTTP POST (JSON, or Slack-compatible).

A call goes only where it may: the receiver's host is resolved once, every address
it resolves to is checked (no loopback, private, link-local, metadata, multicast or
reserved address, IPv4 or IPv6, unless VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE is on),
and the connection is made to one of those checked addresses: the transport below
never resolves the name again, so a DNS answer that changes between the check and
the call (DNS rebinding) cannot move it. TLS still checks the certificate against
the host's name. No proxy from the environment is used (it would resolve for us),
and no redirect is followed (a 3xx is a failure: it could point anywhere).

The body is signed: `Videostudio-Signature: v1=<hex HMAC-SHA256(secret,
"<timestamp>.<body>")>`, with the timestamp in `Videostudio-Timestamp`, so a
receiver can tell the call is ours and fresh (README, "Webhooks").
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
import typing
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpcore
import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from videostudio.notifications import services
from videostudio.notifications.delivery import Outcome
from videostudio.notifications.kinds import absolute, describe, video_shown
from videostudio.notifications.models import Delivery, Event, Webhook, new_secret
from videostudio.videos import events as ev
from videostudio.videos.events import Happening
from videostudio.videos.models import Video

USER_AGENT = "videostudio-webhooks"
SCHEMES = ("http", "https")
# NAT64 (RFC 6052): an IPv4 address inside an IPv6 one, reached through a gateway.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --- Where a webhook may call --------------------------------------------------------------


class Refused(Exception):
    """A receiver that is not called. `permanent`: trying again cannot help."""

    def __init__(self, text: str, *, permanent: bool) -> None:
        super().__init__(text)
        self.text = text
        self.permanent = permanent


@dataclass(frozen=True)
class Target:
    """A receiver's host, port, and the checked addresses to connect to."""

    host: str
    port: int
    addresses: tuple[str, ...]


def address_refusal(address: IPAddress) -> str | None:
    """What kind of address this is, when a webhook may not call it; None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
            return address_refusal(address.ipv4_mapped)
        inner: ipaddress.IPv4Address | None = address.sixtofour
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is None and address in NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None and (refusal := address_refusal(inner)):
            return refusal
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address (this server itself)"
    if address.is_link_local:
        return "a link-local address (such as a cloud's metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a private address (inside a network, not on the internet)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a private address (inside a network, not on the internet)"
    return None


def _lookup(host: str, port: int, *, timeout: float) -> list[Any]:
    """getaddrinfo, waited for at most `timeout` s (it has no timeout of its own: a
    resolver that never answers would hold the call past its lease)."""
    box: dict[str, Any] = {}

    def look() -> None:
        try:
            box["found"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            box["error"] = exc

    thread = threading.Thread(target=look, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Refused(
            f"The host “{host}” could not be looked up within {timeout:g} s.", permanent=False
        )
    if "error" in box:
        raise Refused(f"The host “{host}” cannot be found.", permanent=False)
    found: list[Any] = box["found"]
    return found


def target_resolve(url: str, *, timeout: float | None = None) -> Target:
    """Where `url` goes: its host resolved once and every address checked. Raises
    `Refused` (permanent for a refused scheme or address; not for a host not found,
    which may be found later)."""
    try:
        parsed = httpx.URL(url)  # read as the call will read it
        host = parsed.raw_host.decode("ascii")
        port = parsed.port
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise Refused("The address cannot be read: check it.", permanent=True) from None
    if parsed.scheme not in SCHEMES:
        raise Refused("Webhooks call http:// and https:// addresses only.", permanent=True)
    if not host:
        raise Refused("The address names no host.", permanent=True)
    port = port or (443 if parsed.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise Refused(f"There is no port {port}: ports go from 1 to 65535.", permanent=True)
    allow_private = settings.VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE
    name = host.rstrip(".").lower()
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        raise Refused(
            f"“{host}” is this server itself: webhooks may call only addresses on the "
            "public internet here.",
            permanent=True,
        )
    if timeout is None:
        timeout = float(settings.VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS)
    found = _lookup(host, port, timeout=timeout)
    addresses: list[str] = []
    for *_, sockaddr in found:
        text = str(sockaddr[0]).split("%")[0]  # an IPv6 scope (fe80::1%eth0) is link-local
        address = ipaddress.ip_address(text)
        refusal = None if allow_private else address_refusal(address)
        if refusal is not None:
            where = f"“{host}”" if host == text else f"“{host}” (at {text})"
            raise Refused(
                f"{where} is {refusal}: webhooks may call only addresses on the public "
                "internet here.",
                permanent=True,
            )
        raw = str(sockaddr[0])  # with its scope, if any: what a socket connects to
        if raw not in addresses:
            addresses.append(raw)
    if not addresses:
        raise Refused(f"The host “{host}” cannot be found.", permanent=False)
    return Target(host=host, port=port, addresses=tuple(addresses))


class _Deadline(httpcore.NetworkStream):
    """A connection whose every read and write ends by one deadline: a receiver that
    answers a byte at a time cannot stretch a call past the timeout."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def _left(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("out of time")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._left(timeout))
        return _Deadline(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Pinned(httpcore.SyncBackend):
    """Connects to the target's checked addresses, in turn, and nowhere else."""

    def __init__(self, target: Target, deadline: float) -> None:
        self._target = target
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if host != self._target.host or port != self._target.port:
            raise httpcore.ConnectError("not the address that was checked")
        error: Exception = httpcore.ConnectError("no address")
        for address in self._target.addresses:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("out of time")
            try:
                stream = super().connect_tcp(
                    address, port, min(timeout or left, left), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _Deadline(stream, self._deadline)
        raise error


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport, its connections made by `_Pinned` (one call, one target)."""

    def __init__(self, target: Target, *, deadline: float) -> None:
        super().__init__(trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=1,
            network_backend=_Pinned(target, deadline),
        )


# --- What is sent ------------------------------------------------------------------------------


def _username(user: Any) -> str | None:
    return None if user is None else str(user.get_username())


def _video(video: Video | None, reader: Any) -> dict[str, Any] | None:
    if video is None:
        return None
    shown = video_shown(video, reader)
    described: dict[str, Any] = {
        "id": video.pk,
        "status": video.status,
        "model": video.model,
        "seconds": video.seconds,
        "size": video.size,
        "visibility": video.visibility,
        "owner": _username(video.owner),
        "url": absolute(reverse("videos:detail", args=[video.pk])) if shown else None,
    }
    if shown:
        described["title"] = video.title
        described["prompt"] = video.prompt
    return described


def payload(delivery: Delivery) -> dict[str, Any]:
    """The body of a call, as the webhook's reader may read it (its owner; nobody in
    particular for a team-wide one: no private prompt, no link to a private video)."""
    webhook = delivery.webhook
    assert webhook is not None
    event: Event = delivery.event
    reader = webhook.owner
    words = describe(event, reader)
    url = absolute(words.url) or None
    if webhook.format == Webhook.Format.SLACK:
        link = f" <{url}|Open in videostudio>" if url else ""
        heading, body = _slack(words.title), _slack(words.body)
        return {
            "text": f"{words.title}: {words.body}" + (f" {url}" if url else ""),
            "blocks": [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"*{heading}*\n{body}{link}"},
                }
            ],
        }
    return {
        "id": str(delivery.pk),
        "type": event.kind,
        "created_at": event.created_at.isoformat(),
        "data": {
            "title": words.title,
            "text": words.body,
            "url": url,
            "member": _username(event.user),
            "actor": _username(event.actor),
            "video": _video(event.video, reader),
        },
    }


def _slack(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`."""
    signed = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(delivery: Delivery, body: bytes, *, timestamp: int) -> dict[str, str]:
    assert delivery.webhook is not None
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Videostudio-Delivery": str(delivery.pk),
        "Videostudio-Event": delivery.event.kind,
        "Videostudio-Timestamp": str(timestamp),
        "Videostudio-Signature": signature(delivery.webhook.secret, timestamp, body),
    }


# --- Sending -------------------------------------------------------------------------------------


def _answer(code: int) -> str:
    try:
        from http import HTTPStatus

        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    said = f"{code} ({phrase})" if phrase else str(code)
    if 300 <= code < 400:
        return (
            f"The receiver answered {said}, a redirect: redirects are not followed. "
            "Use the address it points to."
        )
    return f"The receiver answered {said}."


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    return text[:200] or type(exc).__name__


def webhook_send(delivery: Delivery) -> Outcome:
    """One call of one delivery: 2xx is received; anything else is a failure, tried
    again later unless trying cannot help."""
    webhook = delivery.webhook
    assert webhook is not None
    timeout = float(settings.VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS)
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = target_resolve(webhook.url, timeout=timeout)
    except Refused as refused:
        return Outcome(ok=False, latency_ms=took(), error=refused.text, retry=not refused.permanent)
    body = json.dumps(payload(delivery), ensure_ascii=False, separators=(",", ":")).encode()
    sent_headers = headers(delivery, body, timestamp=int(time.time()))
    # The whole call (looking the host up included) ends by one deadline.
    transport = PinnedTransport(target, deadline=started + timeout)
    try:
        with (
            httpx.Client(
                transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
            ) as client,
            client.stream("POST", webhook.url, content=body, headers=sent_headers) as response,
        ):
            code = response.status_code  # the body is not read: only the answer counts
    except httpx.TimeoutException:
        return Outcome(ok=False, latency_ms=took(), error=f"No answer within {timeout:g} s.")
    except httpx.TransportError as exc:
        return Outcome(
            ok=False, latency_ms=took(), error=f"Could not reach the receiver: {_reason(exc)}."
        )
    if 200 <= code < 300:
        return Outcome(ok=True, status_code=code, latency_ms=took())
    return Outcome(ok=False, status_code=code, latency_ms=took(), error=_answer(code))


def webhook_outcome(webhook: Webhook, outcome: Outcome, *, now: datetime) -> None:
    """Count failures in a row (one UPDATE each, safe across processes); at
    VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER, turn the webhook off, skip what waits for it,
    and tell its owner: once, as only one UPDATE can turn it off."""
    hooks = Webhook.objects.filter(pk=webhook.pk)
    if outcome.ok:
        hooks.filter(consecutive_failures__gt=0).update(consecutive_failures=0)
        return
    hooks.update(consecutive_failures=F("consecutive_failures") + 1)
    limit = settings.VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER
    reason = (outcome.error or "it failed")[:300]
    with transaction.atomic():
        turned_off = hooks.filter(active=True, consecutive_failures__gte=limit).update(
            active=False, disabled_at=now, disabled_reason=reason
        )
        if not turned_off:
            return
        Delivery.objects.filter(webhook_id=webhook.pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.SKIPPED,
            next_attempt_at=None,
            last_error="Not sent: the webhook was turned off.",
        )
        failures = hooks.values_list("consecutive_failures", flat=True).first() or limit
        ev.emit(
            Happening(
                kind=ev.WEBHOOK_DISABLED,
                key=f"{ev.WEBHOOK_DISABLED}:{webhook.pk}:{now.isoformat()}",
                user_id=webhook.owner_id or webhook.created_by_id,
                data={
                    "name": webhook.name,
                    "failures": failures,
                    "reason": reason,
                    "path": reverse("notifications:webhook", args=[webhook.pk]),
                },
            )
        )


# --- Managing webhooks (the pages) ---------------------------------------------------------


def webhook_create(
    *, owner: Any, created_by: Any, name: str, url: str, format: str, kinds: list[str]
) -> Webhook:
    """A new webhook (`owner` None: team-wide), on at once, with a new secret."""
    return Webhook.objects.create(
        owner=owner, created_by=created_by, name=name, url=url, format=format, kinds=kinds
    )


def webhook_change(*, webhook: Webhook, name: str, url: str, format: str, kinds: list[str]) -> None:
    """New settings; what waits to be sent goes by them."""
    webhook.name, webhook.url, webhook.format, webhook.kinds = name, url, format, kinds
    webhook.save(update_fields=["name", "url", "format", "kinds"])


def webhook_enable(*, webhook: Webhook) -> bool:
    """Turn a webhook that was turned off on again, its count of failures cleared.
    What was skipped while it was off stays skipped."""
    turned_on = Webhook.objects.filter(pk=webhook.pk, active=False).update(
        active=True, disabled_at=None, disabled_reason="", consecutive_failures=0
    )
    return turned_on == 1


def webhook_rotate_secret(*, webhook: Webhook) -> str:
    """A new secret, used from the next call on; the old one stops working at once."""
    secret = new_secret()
    Webhook.objects.filter(pk=webhook.pk).update(secret=secret)
    webhook.secret = secret
    return secret


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()  # its deliveries and their log go with it


def webhook_test_send(*, webhook: Webhook, now: datetime | None = None) -> Delivery:
    """A test event for this one webhook (whatever kinds it wants), sent by the worker."""
    now = now or timezone.now()
    with transaction.atomic():
        event = Event.objects.create(
            kind=ev.TEST,
            key=f"{ev.TEST}:{uuid.uuid4()}",
            user_id=webhook.owner_id,
            data={"webhook": webhook.pk},
        )
        delivery = Delivery.objects.create(
            event=event, channel=Delivery.Channel.WEBHOOK, webhook=webhook, next_attempt_at=now
        )
        transaction.on_commit(lambda: services.wake(ev.TEST))
    return delivery
