"""Webhooks over real HTTP: a receiver on 127.0.0.1 (allowed by
VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE for these tests) checks every call's signature with
the README's own snippet, and answers as each test tells it: at once, 500 first,
too late, never well, or with a redirect. Events are emitted as the studio emits
them and sent by the worker's `deliveries_send`; time_machine moves past backoff."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.utils.timezone import now

from videostudio.notifications import delivery, webhooks
from videostudio.notifications.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    Notification,
    Webhook,
)
from videostudio.notifications.webhooks import Refused, Target, address_refusal, target_resolve
from videostudio.videos import events as ev
from videostudio.videos import states
from videostudio.videos.events import Happening
from videostudio.videos.models import Video

from .conftest import FakeClock
from .factories import a_video
from .helpers import together

ROOT = Path(__file__).resolve().parent.parent


def readme_verify() -> Callable[..., bool]:
    """The README's verification snippet, run as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Webhooks") :]
    code = next(
        block
        for block in re.findall(r"```python\n(.*?)```", section, re.S)
        if "def verify" in block
    )
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    verify: Callable[..., bool] = scope["verify"]
    return verify


VERIFY = readme_verify()


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.perf_counter() when it arrived (not moved by time_machine)
    valid: bool | None  # the signature, checked with the webhook's secret

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server. Paths say how it answers: /ok; /flaky (500 to the first call
    of each delivery, then 200); /slow (sleeps `slow` s); /late (the first call of each
    delivery sleeps `slow` s); /broken (always 500); /redirect (302 to /ok)."""

    server: ThreadingHTTPServer
    secrets: dict[str, str] = field(default_factory=dict)  # path -> the webhook's secret
    calls: list[Call] = field(default_factory=list)
    slow: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def seen(self, path: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.path == path]


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE = True
    settings.VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS = 5.0
    settings.VIDEOSTUDIO_NOTIFY_RETRY_SECONDS = 30.0
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = state["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = dict(self.headers.items())
            secret = me.secrets.get(self.path)
            valid = None if secret is None else VERIFY(secret, headers, body)
            call = Call(self.path, headers, body, time.perf_counter(), valid)
            with me.lock:
                earlier = [
                    c
                    for c in me.calls
                    if c.path == self.path
                    and c.headers.get("Videostudio-Delivery") == headers.get("Videostudio-Delivery")
                ]
                me.calls.append(call)
            status = 200
            if self.path == "/broken" or (self.path == "/flaky" and not earlier):
                status = 500
            elif self.path == "/slow" or (self.path == "/late" and not earlier):
                time.sleep(me.slow)
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/ok")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            with contextlib.suppress(OSError):  # the caller may have given up waiting
                self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()


def hook(receiver: Receiver, path: str, *, owner: User | None, **fields: Any) -> Webhook:
    made = Webhook.objects.create(
        owner=owner,
        created_by=fields.pop("created_by", owner),
        name=fields.pop("name", path.strip("/")),
        url=receiver.url(path),
        **fields,
    )
    receiver.secrets[path] = made.secret
    return made


def completed(video: Video) -> None:
    ev.emit(
        Happening(
            kind=ev.VIDEO_COMPLETED,
            key=f"{ev.VIDEO_COMPLETED}:{video.pk}",
            video_id=video.pk,
            user_id=video.owner_id,
        )
    )


def tries(webhook: Webhook) -> list[DeliveryAttempt]:
    return list(DeliveryAttempt.objects.filter(delivery__webhook=webhook).order_by("at", "id"))


sending = pytest.mark.django_db(transaction=True)


# --- What is sent -----------------------------------------------------------------------


@sending
def test_a_completed_job_is_sent_signed_as_the_readme_says(
    receiver: Receiver, owner: User, settings: Any
) -> None:
    settings.VIDEOSTUDIO_SITE_URL = "https://studio.example.com"
    webhook = hook(receiver, "/ok", owner=owner)
    video = a_video(owner=owner, prompt="a lighthouse at dawn", running=True)
    # The real move: the tracker saw it finish and saved it (the event comes with it).
    assert states.video_observed(
        video,
        fields={"status": Video.Status.COMPLETED, "progress": 100, "next_poll_at": None,
                "archived_at": now(), "video_file": "videos/x/video.mp4"},
    )  # fmt: skip
    assert delivery.deliveries_send() == 1

    (call,) = receiver.seen("/ok")
    sent = Delivery.objects.get(webhook=webhook)
    assert call.valid is True
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["User-Agent"] == "videostudio-webhooks"
    assert call.headers["Videostudio-Delivery"] == str(sent.pk)
    assert call.headers["Videostudio-Event"] == "video.completed"
    assert abs(int(call.headers["Videostudio-Timestamp"]) - time.time()) < 5
    body = call.json
    assert body["id"] == str(sent.pk) and body["type"] == "video.completed"
    assert body["created_at"] == Event.objects.get().created_at.isoformat()
    data = body["data"]
    assert data["title"] == "Your video is ready"
    assert data["text"] == "“a lighthouse at dawn” finished and is saved."
    assert data["url"] == f"https://studio.example.com/videos/{video.pk}/"
    assert data["video"]["prompt"] == "a lighthouse at dawn"
    assert data["video"]["owner"] == "olivia" and data["video"]["model"] == "Sora-2"
    assert sent.status == Delivery.Status.SENT and sent.attempts == 1
    (attempt,) = tries(webhook)
    assert attempt.ok and attempt.status_code == 200 and attempt.latency_ms is not None

    # The check can fail: another secret, a changed body, an old timestamp.
    assert not VERIFY("whsec_someone-else", call.headers, call.body)
    assert not VERIFY(webhook.secret, call.headers, call.body + b" ")
    stale = {**call.headers, "Videostudio-Timestamp": str(int(time.time()) - 600)}
    assert not VERIFY(webhook.secret, stale, call.body)


@sending
def test_the_signature_is_an_hmac_of_timestamp_and_body(receiver: Receiver, owner: User) -> None:
    import hashlib
    import hmac

    webhook = hook(receiver, "/ok", owner=owner)
    completed(a_video(owner=owner))
    delivery.deliveries_send()
    (call,) = receiver.seen("/ok")
    stamp = call.headers["Videostudio-Timestamp"]
    mac = hmac.new(webhook.secret.encode(), f"{stamp}.".encode() + call.body, hashlib.sha256)
    assert call.headers["Videostudio-Signature"] == f"v1={mac.hexdigest()}"
    assert webhook.secret not in call.body.decode()


@sending
def test_slack_format_carries_the_same_words(receiver: Receiver, owner: User) -> None:
    hook(receiver, "/ok", owner=owner, format=Webhook.Format.SLACK)
    video = a_video(owner=owner, prompt="cats <and> dogs & birds")
    completed(video)
    delivery.deliveries_send()
    (call,) = receiver.seen("/ok")
    body = call.json
    assert call.valid is True
    assert set(body) == {"text", "blocks"}
    # Slack reads the fallback text as markup too: escaped, so a prompt cannot mention
    # @channel or make a link.
    assert body["text"].startswith("Your video is ready: “cats &lt;and&gt; dogs &amp; birds”")
    section = body["blocks"][0]["text"]["text"]
    assert section.startswith("*Your video is ready*\n“cats &lt;and&gt; dogs &amp; birds”")
    assert f"/videos/{video.pk}/|Open in videostudio>" in section


@sending
def test_a_team_wide_webhook_gets_no_private_prompt_nor_link(
    receiver: Receiver, owner: User, staff: User
) -> None:
    hook(receiver, "/ok", owner=None, created_by=staff)
    hook(receiver, "/flaky", owner=owner)  # the owner's own: 500 first, then all is said
    video = a_video(owner=owner, prompt="my secret surprise", private=True)
    completed(video)
    delivery.deliveries_send()
    (team,) = receiver.seen("/ok")
    data = team.json["data"]
    assert data["text"] == "a private video finished and is saved."
    assert data["title"] == "olivia's video is ready"
    assert data["url"] is None and data["video"]["url"] is None
    assert "prompt" not in data["video"] and "title" not in data["video"]
    assert "my secret surprise" not in team.body.decode()
    assert data["video"] == {
        "id": video.pk,
        "status": "completed",
        "model": "Sora-2",
        "seconds": 4,
        "size": "720x1280",
        "visibility": "private",
        "owner": "olivia",
        "url": None,
    }
    own = receiver.seen("/flaky")[0].json["data"]
    assert own["video"]["prompt"] == "my secret surprise"
    # A personal event never reaches the team's webhook.
    ev.emit(Happening(kind=ev.BUDGET_WARNING, key="budget:1", user_id=owner.pk, data={}))
    assert not Delivery.objects.filter(event__kind=ev.BUDGET_WARNING, webhook__owner=None)


# --- Retries ------------------------------------------------------------------------------


@sending
def test_a_500_is_tried_again_after_the_backoff_then_sent_once(
    receiver: Receiver, owner: User, clock: FakeClock
) -> None:
    webhook = hook(receiver, "/flaky", owner=owner)
    with clock.travelling(tick=True):
        completed(a_video(owner=owner))
        assert delivery.deliveries_send() == 1
        pending = Delivery.objects.get()
        assert pending.status == Delivery.Status.PENDING
        assert pending.last_error == "The receiver answered 500 (Internal Server Error)."
        assert delivery.deliveries_send() == 0  # not before the backoff
        clock.advance(20)
        assert delivery.deliveries_send() == 0  # 30 s, ±20%
        clock.advance(20)
        assert delivery.deliveries_send() == 1
        assert delivery.deliveries_send() == 0
    calls = receiver.seen("/flaky")
    assert len(calls) == 2 and all(call.valid for call in calls)
    assert len({call.headers["Videostudio-Delivery"] for call in calls}) == 1  # the same id
    sent = Delivery.objects.get()
    assert sent.status == Delivery.Status.SENT and sent.attempts == 2
    assert [(t.ok, t.status_code) for t in tries(webhook)] == [(False, 500), (True, 200)]
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 0 and webhook.active


@sending
def test_a_receiver_too_slow_times_out_and_is_tried_again(
    receiver: Receiver, owner: User, clock: FakeClock, settings: Any
) -> None:
    settings.VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.slow = 2.0
    webhook = hook(receiver, "/late", owner=owner)
    with clock.travelling(tick=True):
        completed(a_video(owner=owner))
        started = time.perf_counter()
        delivery.deliveries_send()
        assert time.perf_counter() - started < 1.5  # gave up at the timeout
        first = tries(webhook)[0]
        assert not first.ok and first.status_code is None
        assert first.error == "No answer within 0.5 s."
        clock.advance(40)
        delivery.deliveries_send()
    assert [t.ok for t in tries(webhook)] == [False, True]
    assert Delivery.objects.get().status == Delivery.Status.SENT
    assert len(receiver.seen("/late")) == 2


@sending
def test_a_redirect_is_not_followed(receiver: Receiver, owner: User) -> None:
    webhook = hook(receiver, "/redirect", owner=owner)
    completed(a_video(owner=owner))
    delivery.deliveries_send()
    assert len(receiver.seen("/redirect")) == 1
    assert receiver.seen("/ok") == []
    (attempt,) = tries(webhook)
    assert not attempt.ok and attempt.status_code == 302
    assert "redirects are not followed" in attempt.error
    assert Delivery.objects.get().status == Delivery.Status.PENDING  # tried again later


@sending
def test_a_slow_receiver_does_not_hold_up_another(receiver: Receiver, owner: User) -> None:
    receiver.slow = 2.0
    slow = hook(receiver, "/slow", owner=owner)
    quick = hook(receiver, "/ok", owner=owner)
    started = time.perf_counter()
    completed(a_video(owner=owner))
    assert delivery.deliveries_send() == 2
    (quick_call,) = receiver.seen("/ok")
    (slow_call,) = receiver.seen("/slow")
    assert quick_call.at - started < 1.5  # not after the slow one's answer
    assert quick_call.at < slow_call.at + receiver.slow - 0.5
    (quick_try,) = tries(quick)
    (slow_try,) = tries(slow)
    # The quick one's outcome is written while the slow one is still out.
    assert (slow_try.at - quick_try.at).total_seconds() > 1.5
    assert quick_try.latency_ms is not None and quick_try.latency_ms < 1000
    assert slow_try.latency_ms is not None and slow_try.latency_ms >= 2000


# --- Turned off ---------------------------------------------------------------------------


@sending
def test_failing_too_often_turns_it_off_tells_the_owner_once_and_skips_the_rest(
    receiver: Receiver, owner: User, clock: FakeClock, settings: Any
) -> None:
    settings.VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER = 3
    settings.VIDEOSTUDIO_NOTIFY_MAX_ATTEMPTS = 10
    broken = hook(receiver, "/broken", owner=owner, name="Render farm")
    told = hook(receiver, "/ok", owner=owner, kinds=[ev.WEBHOOK_DISABLED])
    with clock.travelling(tick=True):
        completed(a_video(owner=owner))
        completed(a_video(owner=owner))
        delivery.deliveries_send()  # two failures (one call out to it at a time)
        broken.refresh_from_db()
        assert broken.active and broken.consecutive_failures == 2
        clock.advance(60)
        delivery.deliveries_send()  # the third turns it off; the fourth is skipped
        broken.refresh_from_db()
        assert not broken.active
        assert broken.disabled_at is not None
        assert broken.disabled_reason == "The receiver answered 500 (Internal Server Error)."
        assert broken.consecutive_failures == 3
        assert set(Delivery.objects.filter(webhook=broken).values_list("status", flat=True)) == {
            Delivery.Status.SKIPPED
        }
        # Whatever comes now is neither planned nor sent to it.
        completed(a_video(owner=owner))
        clock.advance(3600)
        delivery.deliveries_send()
        # Another failure reported late changes nothing: it is off already.
        webhooks.webhook_outcome(broken, delivery.Outcome(ok=False, error="again"), now=now())
    # Three calls went out: two, then one more after the backoff, which turned it off
    # (the other delivery, due too, was skipped without a call); nothing after that.
    assert len(receiver.seen("/broken")) == 3
    assert Delivery.objects.filter(webhook=broken).count() == 2
    (event,) = Event.objects.filter(kind=ev.WEBHOOK_DISABLED)
    assert event.user_id == owner.pk
    assert event.data["name"] == "Render farm" and event.data["failures"] == 3
    assert event.data["path"] == f"/notifications/webhooks/{broken.pk}/"
    assert Notification.objects.filter(event=event, recipient=owner).count() == 1
    # The owner's other webhook was told, once.
    (call,) = receiver.seen("/ok")
    assert call.json["type"] == "webhook.disabled"
    assert call.json["data"]["title"] == "Webhook “Render farm” was turned off"
    assert told.deliveries.get().status == Delivery.Status.SENT


@sending
def test_a_team_wide_webhook_turned_off_tells_every_active_staff_member(
    receiver: Receiver, owner: User, staff: User, settings: Any
) -> None:
    settings.VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER = 1
    left = User.objects.create_user("gone", is_staff=True, is_active=False)
    other = User.objects.create_user("sam", is_staff=True)
    team = hook(receiver, "/broken", owner=None, created_by=left)  # who set it up has left
    completed(a_video(owner=owner))
    delivery.deliveries_send()
    team.refresh_from_db()
    assert not team.active
    told = Notification.objects.filter(event__kind=ev.WEBHOOK_DISABLED)
    assert sorted(told.values_list("recipient", flat=True)) == sorted([staff.pk, other.pk])
    # Turned on again: the count starts over, and it is called again.
    assert webhooks.webhook_enable(webhook=team)
    team.refresh_from_db()
    assert team.active and team.consecutive_failures == 0 and team.disabled_reason == ""


# --- Where calls may go -------------------------------------------------------------------

REFUSED = [
    "127.0.0.1",
    "localhost",
    "10.0.0.1",
    "169.254.169.254",
    "[::1]",
    "[::ffff:127.0.0.1]",
]


@pytest.mark.parametrize("host", REFUSED)
@sending
def test_a_private_address_is_never_called(
    receiver: Receiver, owner: User, settings: Any, host: str
) -> None:
    port = receiver.server.server_port
    webhook = Webhook.objects.create(owner=owner, name="inside", url=f"http://{host}:{port}/ok")
    settings.VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE = False
    completed(a_video(owner=owner))
    delivery.deliveries_send()
    assert receiver.calls == []
    gone = Delivery.objects.get()
    assert gone.status == Delivery.Status.FAILED and gone.attempts == 1  # not tried again
    assert "webhooks may call only addresses on the public internet here" in gone.last_error
    (attempt,) = tries(webhook)
    assert not attempt.ok and attempt.status_code is None
    if host == "127.0.0.1":  # the same webhook, the rule lifted: it is called
        settings.VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE = True
        completed(a_video(owner=owner))
        delivery.deliveries_send()
        assert len(receiver.seen("/ok")) == 1


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_which_addresses_are_refused(address: str, refused: str | None) -> None:
    said = address_refusal(ipaddress.ip_address(address))
    assert (said is None) if refused is None else (said is not None and refused in said)


def test_only_http_and_https_are_called(settings: Any) -> None:
    settings.VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE = True
    for url in ("ftp://8.8.8.8/x", "file:///etc/passwd", "gopher://8.8.8.8/"):
        with pytest.raises(Refused) as refused:
            target_resolve(url)
        assert refused.value.permanent
        assert refused.value.text == "Webhooks call http:// and https:// addresses only."
    assert target_resolve("https://8.8.8.8/hook") == Target("8.8.8.8", 443, ("8.8.8.8",))


def test_a_resolver_that_does_not_answer_does_not_hold_the_call(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """getaddrinfo has no timeout of its own: a resolver that hangs is waited for only
    as long as the call may take, and the delivery is tried again later."""
    settings.VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: time.sleep(2))
    started = time.perf_counter()
    with pytest.raises(Refused) as refused:
        target_resolve("https://hooks.example.com/videostudio")
    assert time.perf_counter() - started < 1
    assert not refused.value.permanent
    assert refused.value.text == "The host “hooks.example.com” could not be looked up within 0.3 s."


def test_the_call_goes_to_the_checked_address_and_the_name_is_not_resolved_again(
    receiver: Receiver,
) -> None:
    """The transport connects to the address that was checked, whatever the name would
    resolve to now (here, nothing: `.invalid` never resolves), and says the name in the
    Host header."""
    port = receiver.server.server_port
    target = Target("hooks.example.invalid", port, ("127.0.0.1",))
    transport = webhooks.PinnedTransport(target, deadline=time.monotonic() + 5)
    with httpx.Client(transport=transport) as client:
        answer = client.post(f"http://hooks.example.invalid:{port}/ok", content=b"{}")
    assert answer.status_code == 200
    (call,) = receiver.seen("/ok")
    assert call.headers["Host"] == f"hooks.example.invalid:{port}"
    # Anywhere else (another host or port than the one checked) is not connected to.
    elsewhere = webhooks.PinnedTransport(target, deadline=time.monotonic() + 5)
    with httpx.Client(transport=elsewhere) as client, pytest.raises(httpx.ConnectError):
        client.post(f"http://other.example.invalid:{port}/ok", content=b"{}")
    assert len(receiver.calls) == 1


# --- Exactly once, across processes ---------------------------------------------------------

SENDER = r"""
import json, sys, time
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]  # the test database
import django
django.setup()
from videostudio.notifications.delivery import deliveries_send
from videostudio.notifications.models import Delivery
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    time.sleep(0.002)
tried = 0
while True:
    done = deliveries_send(most=5)
    tried += done
    if done:
        continue
    # Nothing won this time: stop once nobody has anything left to take.
    if not Delivery.objects.filter(status="pending", attempts=0).exists():
        break
    time.sleep(0.01)
print(json.dumps({"tried": tried}))
"""


@sending
def test_two_processes_sending_at_once_send_each_delivery_once(
    receiver: Receiver, owner: User
) -> None:
    hook(receiver, "/ok", owner=owner)
    hook(receiver, "/flaky", owner=owner, format=Webhook.Format.SLACK)  # 500s stay pending
    for video in [a_video(owner=owner) for _ in range(30)]:
        completed(video)
    assert Delivery.objects.filter(status=Delivery.Status.PENDING).count() == 60
    reports = together(
        SENDER,
        env={
            "VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE": "true",
            "VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER": "1000",  # the 500s do not turn it off
        },
    )

    assert sum(report["tried"] for report in reports) == 60
    assert all(report["tried"] > 0 for report in reports)  # both took part
    ids = [call.headers["Videostudio-Delivery"] for call in receiver.seen("/ok")]
    assert len(ids) == 30 and len(set(ids)) == 30
    flaky = [call.headers["Videostudio-Delivery"] for call in receiver.seen("/flaky")]
    assert len(flaky) == 30 and len(set(flaky)) == 30  # each once: the retry is not due yet
    assert all(call.valid for call in receiver.calls)
    sent = Delivery.objects.filter(webhook__url__endswith="/ok")
    assert set(sent.values_list("status", "attempts")) == {(Delivery.Status.SENT, 1)}
    assert DeliveryAttempt.objects.count() == 60


# --- A test event ------------------------------------------------------------------------


@sending
def test_a_test_event_goes_to_that_webhook_only(receiver: Receiver, owner: User) -> None:
    one = hook(receiver, "/ok", owner=owner, kinds=[ev.VIDEO_FAILED])
    hook(receiver, "/flaky", owner=owner)
    hook(receiver, "/slow", owner=None)
    webhooks.webhook_test_send(webhook=one)
    assert delivery.deliveries_send() == 1
    (call,) = receiver.seen("/ok")
    assert call.valid and call.json["type"] == "test"
    assert call.json["data"]["title"] == "Test event"
    assert call.json["data"]["video"] is None
    assert len(receiver.calls) == 1
    assert Event.objects.get().key.startswith("test:")
