"""When the client tries again, how long it waits, and when it must not resend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.provider.client import MAX_RETRY_AFTER, ProviderClient
from videostudio.provider.errors import (
    AuthenticationFailed,
    ConnectionLost,
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    ProtocolError,
    ProviderError,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
)
from videostudio.provider.ratelimit import LocalRateGate

from .conftest import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "provider"
KEY = "sk-test-TEAMKEY-0123456789abcdef"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def answer(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=(FIXTURES / name).read_bytes(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


OK = "poe_video_completed.json"


def ok() -> httpx.Response:
    return answer(OK)


def server_error() -> httpx.Response:
    return answer("error_500.json", 500)


class Script:
    """Replies in order (the last one repeats); exceptions are raised as the transport would."""

    def __init__(self, time: FakeClock, *replies: Reply) -> None:
        self.time = time
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
            self.arrivals.append(self.time.now)
            reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply(request) if callable(reply) else reply


def make_client(script: Script, **options: Any) -> ProviderClient:
    options.setdefault("random", lambda: 1.0)
    return ProviderClient(
        base_url="https://api.poe.com/v1",
        api_key=KEY,
        transport=httpx.MockTransport(script),
        sleep=script.time.sleep,
        clock=script.time.clock,
        **options,
    )


@pytest.fixture
def time() -> FakeClock:
    return FakeClock(1000.0)


# --- GET: anything transient is tried again ------------------------------------


def test_it_retries_a_500_on_retrieve_then_succeeds(time: FakeClock) -> None:
    script = Script(time, server_error(), ok())

    video = make_client(script).retrieve_video("video_1")

    assert video.status == "completed"
    assert len(script.requests) == 2
    assert time.sleeps == [0.25]


def test_it_doubles_the_backoff_ceiling_from_250_ms(time: FakeClock) -> None:
    script = Script(time, server_error(), server_error(), server_error(), ok())

    make_client(script).retrieve_video("video_1")

    assert time.sleeps == [0.25, 0.5, 1.0]


@pytest.mark.parametrize("draw", [0.0, 0.3, 0.999])
def test_it_draws_each_delay_uniformly_below_the_ceiling(time: FakeClock, draw: float) -> None:
    script = Script(time, server_error(), server_error(), server_error(), ok())

    make_client(script, random=lambda: draw).retrieve_video("video_1")

    assert time.sleeps == pytest.approx([draw * 0.25, draw * 0.5, draw * 1.0])
    for delay, ceiling in zip(time.sleeps, [0.25, 0.5, 1.0], strict=True):
        assert 0.0 <= delay < ceiling


def test_it_caps_the_backoff_ceiling(time: FakeClock) -> None:
    script = Script(time, *[server_error()] * 5, ok())

    make_client(script, backoff_base=1.0, backoff_cap=3.0, max_retries=5).retrieve_video("v")

    assert time.sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_it_gives_up_after_max_retries_and_raises_the_last_error(time: FakeClock) -> None:
    script = Script(time, server_error())

    with pytest.raises(ProviderServerError) as caught:
        make_client(script, max_retries=2).retrieve_video("video_1")

    assert len(script.requests) == 3
    assert len(time.sleeps) == 2
    assert caught.value.transient
    assert caught.value.outcome_unknown is False


def test_it_tries_once_with_no_retries_allowed(time: FakeClock) -> None:
    script = Script(time, server_error())

    with pytest.raises(ProviderServerError):
        make_client(script, max_retries=0).retrieve_video("video_1")

    assert len(script.requests) == 1
    assert time.sleeps == []


@pytest.mark.parametrize(
    ("fixture_name", "status", "cls"),
    [
        ("error_400.json", 400, InvalidRequest),
        ("error_401.json", 401, AuthenticationFailed),
        ("error_402.json", 402, InsufficientCredits),
        ("error_404.json", 404, NotFound),
        ("error_403_openai_style.json", 409, ProviderError),
    ],
)
def test_it_never_retries_a_permanent_error(
    time: FakeClock, fixture_name: str, status: int, cls: type[ProviderError]
) -> None:
    script = Script(time, answer(fixture_name, status), ok())

    with pytest.raises(cls):
        make_client(script).retrieve_video("video_1")

    assert len(script.requests) == 1
    assert time.sleeps == []


@pytest.mark.parametrize(
    ("failure", "cls"),
    [
        (httpx.ReadTimeout("timed out"), ProviderTimeout),
        (httpx.ConnectTimeout("timed out"), ProviderUnreachable),
        (httpx.ConnectError("[Errno 111] Connection refused"), ProviderUnreachable),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), ConnectionLost),
        (httpx.RemoteProtocolError("Server disconnected"), ConnectionLost),
    ],
)
def test_it_retries_network_failures_on_get(
    time: FakeClock, failure: Exception, cls: type[ProviderError]
) -> None:
    script = Script(time, failure, ok())

    assert make_client(script).retrieve_video("video_1").status == "completed"
    assert len(script.requests) == 2

    stubborn = Script(time, failure)
    with pytest.raises(cls) as caught:
        make_client(stubborn, max_retries=1).current_balance()
    assert caught.value.transient
    assert caught.value.status is None
    assert KEY not in str(caught.value)


def test_it_honours_retry_after_on_a_503_too(time: FakeClock) -> None:
    script = Script(time, answer("error_500.json", 503, {"Retry-After": "4"}), ok())

    make_client(script).retrieve_video("v")

    assert time.sleeps == [4.0]


# --- 429: wait as told, and make everyone wait ------------------------------------


def test_it_waits_the_retry_after_seconds_on_a_429(time: FakeClock) -> None:
    script = Script(time, answer("error_429.json", 429, {"Retry-After": "7"}), ok())

    make_client(script).retrieve_video("video_1")

    assert time.sleeps == [7.0]
    assert script.arrivals[1] - script.arrivals[0] == 7.0


def test_it_waits_until_a_retry_after_http_date(time: FakeClock) -> None:
    headers = {
        "Retry-After": "Wed, 21 Oct 2026 07:28:12 GMT",
        "Date": "Wed, 21 Oct 2026 07:28:00 GMT",
    }
    script = Script(time, answer("error_429.json", 429, headers), ok())

    make_client(script).retrieve_video("video_1")

    assert time.sleeps == [12.0]


def test_it_caps_an_absurd_retry_after(time: FakeClock) -> None:
    script = Script(time, answer("error_429.json", 429, {"Retry-After": "86400"}), ok())

    make_client(script).retrieve_video("video_1")

    assert time.sleeps == [MAX_RETRY_AFTER] == [60.0]


def test_it_backs_off_with_jitter_on_a_429_without_retry_after(time: FakeClock) -> None:
    script = Script(time, answer("error_429.json", 429), answer("error_429.json", 429), ok())

    make_client(script, random=lambda: 0.5).retrieve_video("video_1")

    assert time.sleeps == [0.125, 0.25]


def test_it_resubmits_a_create_after_a_429_because_it_was_not_processed(time: FakeClock) -> None:
    script = Script(time, answer("error_429.json", 429, {"Retry-After": "2"}), ok())

    video = make_client(script).create_video(model="Sora-2", prompt="a fox", seconds=4)

    assert video.status == "completed"
    assert len(script.requests) == 2
    assert script.requests[0].content == script.requests[1].content


def test_it_raises_rate_limited_when_429s_outlast_the_retries(time: FakeClock) -> None:
    script = Script(time, answer("error_429.json", 429, {"Retry-After": "1"}))

    with pytest.raises(RateLimited) as caught:
        make_client(script, max_retries=2).retrieve_video("video_1")

    assert caught.value.retry_after == 1.0
    assert len(script.requests) == 3


def test_a_429_holds_back_the_next_call_on_the_same_client(time: FakeClock) -> None:
    script = Script(time, answer("error_429.json", 429, {"Retry-After": "10"}), ok())
    client = make_client(script, max_retries=0)

    with pytest.raises(RateLimited):
        client.retrieve_video("video_1")
    limited_at = time.now
    client.retrieve_video("video_2")

    assert time.sleeps == [10.0]
    assert script.arrivals[1] >= limited_at + 10.0


def test_a_429_holds_back_calls_from_other_threads(time: FakeClock) -> None:
    limited = threading.Event()

    class SignallingGate(LocalRateGate):
        def block_until(self, monotonic_deadline: float) -> None:
            super().block_until(monotonic_deadline)
            limited.set()

    script = Script(time, answer("error_429.json", 429, {"Retry-After": "5"}), ok())
    client = make_client(script, gate=SignallingGate(clock=time.clock, sleep=time.sleep))
    errors: list[BaseException] = []

    def worker(video_id: str, wait_for_limit: bool) -> None:
        if wait_for_limit:
            limited.wait(timeout=5)
        try:
            client.retrieve_video(video_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=("a", False))]
    threads += [threading.Thread(target=worker, args=(f"b{i}", True)) for i in range(4)]
    threads[0].start()
    limited.wait(timeout=5)
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    assert len(script.requests) == 6
    limited_at = script.arrivals[0]
    assert all(arrival >= limited_at + 5.0 for arrival in script.arrivals[1:])


def test_it_closes_an_injected_gate_on_a_429(time: FakeClock) -> None:
    class RecordingGate:
        def __init__(self) -> None:
            self.waits = 0
            self.deadlines: list[float] = []

        def wait(self) -> None:
            self.waits += 1

        def block_until(self, monotonic_deadline: float) -> None:
            self.deadlines.append(monotonic_deadline)

    gate = RecordingGate()
    script = Script(time, answer("error_429.json", 429, {"Retry-After": "9"}), ok())

    make_client(script, gate=gate).retrieve_video("video_1")

    assert gate.deadlines == [1009.0]
    assert gate.waits == 2
    assert time.sleeps == []  # the gate does the waiting, not the client


# --- POST: never pay twice ------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "cls"),
    [
        (httpx.ReadTimeout("timed out"), ProviderTimeout),
        (httpx.WriteTimeout("timed out"), ProviderTimeout),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), ConnectionLost),
        (httpx.RemoteProtocolError("Server disconnected"), ConnectionLost),
        # A gateway's 5xx says nothing about what happened behind it.
        (answer("error_500.json", 502), ProviderServerError),
        (httpx.Response(500, text="<html>Internal Server Error</html>"), ProviderServerError),
        (httpx.Response(200, text="<html>maintenance</html>"), ProtocolError),
    ],
)
def test_it_does_not_resubmit_a_create_that_may_have_reached_the_provider(
    time: FakeClock, failure: Reply, cls: type[ProviderError]
) -> None:
    script = Script(time, failure, ok())

    with pytest.raises(cls) as caught:
        make_client(script).create_video(model="Sora-2", prompt="a fox", seconds=4)

    assert len(script.requests) == 1
    assert time.sleeps == []
    assert caught.value.outcome_unknown is True
    assert "may or may not have started" in caught.value.user_message


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.remix_video("video_1", prompt="anime"),
        lambda client: client.extend_video("video_1", prompt="and then", seconds=4),
    ],
)
def test_it_does_not_resubmit_a_remix_or_extension_after_a_500(
    time: FakeClock, call: Callable[[ProviderClient], object]
) -> None:
    script = Script(time, server_error(), ok())

    with pytest.raises(ProviderServerError) as caught:
        call(make_client(script))

    assert len(script.requests) == 1
    # The provider's own envelope says it failed the request: nothing was made.
    assert caught.value.outcome_unknown is False


def test_a_500_in_the_providers_envelope_is_a_failure_it_owns_up_to_not_resent(
    time: FakeClock,
) -> None:
    script = Script(time, server_error(), ok())

    with pytest.raises(ProviderServerError) as caught:
        make_client(script).create_video(model="Sora-2", prompt="a fox", seconds=4)

    assert len(script.requests) == 1 and time.sleeps == []
    assert caught.value.outcome_unknown is False
    assert caught.value.user_message == "The provider had an internal error."


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.PoolTimeout("no connection free"),
    ],
)
def test_it_resubmits_a_create_that_never_left(time: FakeClock, failure: Exception) -> None:
    script = Script(time, failure, ok())

    video = make_client(script).create_video(model="Sora-2", prompt="a fox")

    assert video.status == "completed"
    assert len(script.requests) == 2
    assert time.sleeps == [0.25]


def test_it_reports_a_create_that_never_left_as_certainly_not_created(time: FakeClock) -> None:
    script = Script(time, httpx.ConnectError("[Errno 111] Connection refused"))

    with pytest.raises(ProviderUnreachable) as caught:
        make_client(script, max_retries=1).create_video(model="Sora-2", prompt="a fox")

    assert caught.value.outcome_unknown is False
    assert len(script.requests) == 2


def test_it_keeps_outcome_unknown_false_when_the_provider_refused_a_create(
    time: FakeClock,
) -> None:
    script = Script(time, answer("error_402.json", 402))

    with pytest.raises(InsufficientCredits) as caught:
        make_client(script).create_video(model="Sora-2", prompt="a fox")

    assert caught.value.outcome_unknown is False
