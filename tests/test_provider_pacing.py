"""Pacing calls to the provider: token buckets in-process and in Redis, and the client's turn.

The Redis tests run against the real server at REDIS_URL (default: local). Without
one they skip, unless REDIS_URL is set: then a missing Redis is a failure.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.helpers import RecordingTransport
from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import RateLimited
from videostudio.provider.ratelimit import LocalRateLimiter, RateLimiter, default_burst
from videostudio.provider.ratelimit_redis import (
    RETRY_REDIS_AFTER,
    RedisRateGate,
    RedisRateLimiter,
    redis_from_url,
)
from videostudio.simulator import Simulator

from .conftest import FakeClock

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
WALL = 1_790_000_000.0


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(WALL)


# ----- the token bucket ----------------------------------------------------------------
def test_a_full_bucket_lets_a_burst_through_then_spaces_calls_evenly(fake: FakeClock) -> None:
    limiter: RateLimiter = LocalRateLimiter(60, burst=3, clock=fake.monotonic, sleep=fake.sleep)

    for _ in range(3):
        limiter.acquire()
    assert fake.sleeps == []
    for _ in range(3):
        limiter.acquire()

    assert fake.sleeps == pytest.approx([1.0, 1.0, 1.0])


def test_the_bucket_refills_while_idle_but_never_beyond_its_burst(fake: FakeClock) -> None:
    limiter = LocalRateLimiter(120, burst=4, clock=fake.monotonic, sleep=fake.sleep)
    for _ in range(4):
        limiter.acquire()

    fake.now += 1.0  # two calls' worth at 2 a second
    assert [limiter.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])

    fake.now += 3600.0
    assert [limiter.reserve() for _ in range(5)] == pytest.approx([0, 0, 0, 0, 0.5])


def test_callers_queue_up_in_the_order_they_came(fake: FakeClock) -> None:
    limiter = LocalRateLimiter(120, burst=2, clock=fake.monotonic, sleep=fake.sleep)

    waits = [limiter.reserve() for _ in range(5)]

    assert waits == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5])


def test_the_default_burst_is_about_one_seconds_worth() -> None:
    assert default_burst(500) == 8
    assert default_burst(30) == 1
    assert LocalRateLimiter(500).burst == 8
    assert LocalRateLimiter(500, burst=20).burst == 20


@pytest.mark.parametrize("options", [{"rate_per_minute": 0}, {"rate_per_minute": 60, "burst": 0}])
def test_limiters_refuse_a_rate_or_burst_below_one(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalRateLimiter(**options)
    with pytest.raises(ValueError, match="at least 1"):
        # register_script contacts no server: no Redis needed to construct one.
        RedisRateLimiter(redis_from_url("redis://127.0.0.1:1/0"), **options)


def test_threads_never_get_the_same_slot() -> None:
    sleeps: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            sleeps.append(seconds)

    # A clock that never moves: every reservation queues behind the ones before it.
    limiter = LocalRateLimiter(600, burst=5, clock=lambda: 0.0, sleep=record)
    start = threading.Barrier(8)

    def caller() -> None:
        start.wait()
        for _ in range(25):
            limiter.acquire()

    run_threads([caller] * 8)

    assert len(sleeps) == 200 - 5
    assert sorted(sleeps) == pytest.approx([k / 10 for k in range(1, 196)])


def test_a_limiter_paces_threads_in_real_time() -> None:
    limiter = LocalRateLimiter(12_000, burst=5)  # 200 a second
    started = time.monotonic()

    run_threads([calls(limiter, 10)] * 4)

    assert time.monotonic() - started >= (40 - 5) / 200 - 0.01


# ----- the client takes a turn ------------------------------------------------------------
class Recorder:
    """A gate and a limiter that write down what the client asks of them, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def wait(self) -> None:
        self.events.append("gate.wait")

    def block_until(self, monotonic_deadline: float) -> None:
        self.events.append("gate.block")

    def acquire(self) -> None:
        self.events.append("acquire")


@pytest.fixture
def sim(tmp_path: Path) -> Simulator:
    return Simulator(cache_dir=tmp_path / "sim-cache")


def make_client(sim: Simulator, **options: Any) -> tuple[ProviderClient, RecordingTransport]:
    transport = RecordingTransport(sim.transport())
    options.setdefault("sleep", lambda seconds: None)
    client = ProviderClient(
        base_url="http://simulator.test/v1", api_key="sk-test", transport=transport, **options
    )
    return client, transport


def test_the_client_takes_a_turn_before_every_attempt_after_the_gate(sim: Simulator) -> None:
    recorder = Recorder()
    client, transport = make_client(sim, gate=recorder, limiter=recorder)
    sim.inject_error(500, count=2, path_contains="/models")

    with client:
        client.list_models()

    assert len(transport.requests) == 3
    assert recorder.events == ["gate.wait", "acquire"] * 3


def test_the_client_takes_a_turn_again_after_a_429(sim: Simulator) -> None:
    recorder = Recorder()
    client, transport = make_client(sim, gate=recorder, limiter=recorder)
    sim.inject_error(429, path_contains="/usage", retry_after="2")

    with client:
        assert client.current_balance() == 100_000_000

    assert len(transport.requests) == 2
    assert recorder.events == ["gate.wait", "acquire", "gate.block", "gate.wait", "acquire"]


def test_a_paced_client_spaces_its_calls(sim: Simulator, fake: FakeClock) -> None:
    limiter = LocalRateLimiter(60, burst=2, clock=fake.monotonic, sleep=fake.sleep)
    client, transport = make_client(sim, limiter=limiter, clock=fake.monotonic, sleep=fake.sleep)

    with client:
        for _ in range(4):
            client.current_balance()

    assert len(transport.requests) == 4
    assert fake.sleeps == pytest.approx([1.0, 1.0])


# ----- Redis, shared by every process ------------------------------------------------------
@pytest.fixture
def redis_client() -> Iterator[Any]:
    client = redis_from_url(REDIS_URL, timeout=2.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("REDIS_URL"):
            pytest.fail(f"REDIS_URL is set but Redis does not answer there: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def key(redis_client: Any) -> Iterator[str]:
    name = f"videostudio:test:{uuid.uuid4().hex}"
    yield name
    redis_client.delete(name)


@pytest.fixture
def other_process(redis_client: Any) -> Iterator[Any]:
    """A second connection, standing for another process."""
    client = redis_from_url(REDIS_URL, timeout=2.0)
    yield client
    client.close()


def test_two_processes_share_one_budget(
    redis_client: Any, other_process: Any, key: str, fake: FakeClock
) -> None:
    options: dict[str, Any] = {"key": key, "rate_per_minute": 60, "burst": 3}
    web = RedisRateLimiter(redis_client, clock=fake.wall, sleep=fake.sleep, **options)
    worker = RedisRateLimiter(other_process, clock=fake.wall, sleep=fake.sleep, **options)

    for limiter in (web, worker, web):
        limiter.acquire()
    assert fake.sleeps == []
    worker.acquire()
    web.acquire()

    assert fake.sleeps == pytest.approx([1.0, 1.0])


def test_the_shared_bucket_refills_and_cleans_itself_up(
    redis_client: Any, key: str, fake: FakeClock
) -> None:
    limiter = RedisRateLimiter(
        redis_client, key=key, rate_per_minute=120, burst=2, clock=fake.wall, sleep=fake.sleep
    )
    assert [limiter.reserve() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.5, 1.0])
    # Full again 2 s from now (4 tokens at 2 a second); the key lives about that long.
    assert 2000 < redis_client.pttl(key) <= 3000

    fake.now += 2.0
    assert [limiter.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])

    # A host whose clock lags neither mints tokens nor waits out its lag.
    fake.now -= 30.0
    assert limiter.reserve() == pytest.approx(1.0)


def test_two_redis_limiters_pace_threads_in_real_time(
    redis_client: Any, other_process: Any, key: str
) -> None:
    limiters = [
        RedisRateLimiter(client, key=key, rate_per_minute=12_000, burst=5)
        for client in (redis_client, other_process)
    ]
    started = time.monotonic()

    run_threads([calls(limiter, 20) for limiter in limiters])

    assert time.monotonic() - started >= (40 - 5) / 200 - 0.01


def test_a_cooldown_set_by_one_process_holds_the_other(
    redis_client: Any, other_process: Any, key: str, fake: FakeClock
) -> None:
    # Each process counts monotonic time from its own origin; they share only wall time.
    first = RedisRateGate(
        redis_client, key=key, clock=fake.wall, sleep=fake.sleep, monotonic=lambda: fake.now - 500
    )
    second = RedisRateGate(
        other_process, key=key, clock=fake.wall, sleep=fake.sleep, monotonic=lambda: fake.now + 77
    )
    second.wait()
    assert fake.sleeps == []

    first.block_until(fake.now - 500 + 7.0)
    first.block_until(fake.now - 500 + 3.0)  # an earlier deadline never shortens it

    assert second.blocked_for() == pytest.approx(7.0)
    assert second.deadline() == pytest.approx(fake.wall() + 7.0)
    assert 7000 < redis_client.pttl(key) <= 8000
    second.wait()
    assert fake.sleeps == pytest.approx([7.0])
    assert second.blocked_for() == pytest.approx(0.0, abs=1e-6)


def test_a_gate_waits_again_when_another_process_extends_the_cooldown(
    redis_client: Any, other_process: Any, key: str, fake: FakeClock
) -> None:
    other = RedisRateGate(other_process, key=key, clock=fake.wall, monotonic=fake.monotonic)

    def sleep_while_another_429_arrives(seconds: float) -> None:
        if not fake.sleeps:
            other.block_until(fake.now + 20.0)
        fake.sleep(seconds)

    gate = RedisRateGate(
        redis_client,
        key=key,
        clock=fake.wall,
        sleep=sleep_while_another_429_arrives,
        monotonic=fake.monotonic,
    )
    other.block_until(fake.now + 5.0)
    gate.wait()

    assert fake.sleeps == pytest.approx([5.0, 15.0])


def test_a_deadline_already_past_writes_nothing(redis_client: Any, key: str) -> None:
    gate = RedisRateGate(redis_client, key=key)

    gate.block_until(time.monotonic() - 1.0)

    assert redis_client.exists(key) == 0
    assert gate.blocked_for() == 0.0


def test_a_429_at_one_client_pauses_another_clients_calls(
    sim: Simulator, redis_client: Any, other_process: Any, key: str, fake: FakeClock
) -> None:
    def client_on(connection: Any) -> ProviderClient:
        gate = RedisRateGate(
            connection, key=key, clock=fake.wall, sleep=fake.sleep, monotonic=fake.monotonic
        )
        options = {"gate": gate, "clock": fake.monotonic, "sleep": fake.sleep, "max_retries": 0}
        return make_client(sim, **options)[0]

    sim.inject_error(429, path_contains="/usage", retry_after="7")
    with client_on(redis_client) as web, client_on(other_process) as worker:
        with pytest.raises(RateLimited):
            web.current_balance()
        assert worker.current_balance() == 100_000_000

    assert fake.sleeps == pytest.approx([7.0])


# ----- when Redis is down ------------------------------------------------------------------
class DownRedis:
    """A stand-in client whose every command fails the way redis-py does."""

    def __init__(self) -> None:
        self.calls = 0

    def register_script(self, script: str) -> Callable[..., Any]:
        return self.get

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_pacing_goes_ahead_when_redis_is_down_and_says_so_once(
    fake: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    down = DownRedis()
    limiter = RedisRateLimiter(down, rate_per_minute=1, burst=1, clock=fake.wall, sleep=fake.sleep)

    with caplog.at_level(logging.WARNING, logger="videostudio.provider.ratelimit_redis"):
        for _ in range(3):
            limiter.acquire()
        assert down.calls == 1  # Redis is rested awhile, not asked on every call
        fake.now += RETRY_REDIS_AFTER
        limiter.acquire()
        assert down.calls == 2

    assert fake.sleeps == []
    assert len(caplog.records) == 1
    assert "Connection refused" in caplog.records[0].getMessage()


def test_the_gate_falls_back_to_this_process_when_redis_is_down(fake: FakeClock) -> None:
    gate = RedisRateGate(DownRedis(), clock=fake.wall, sleep=fake.sleep, monotonic=fake.monotonic)

    gate.block_until(fake.now + 4.0)

    assert gate.deadline() is None
    assert gate.blocked_for() == pytest.approx(4.0)
    gate.wait()
    assert fake.sleeps == pytest.approx([4.0])


def test_an_unreachable_redis_server_is_no_crash(fake: FakeClock) -> None:
    unreachable = redis_from_url("redis://127.0.0.1:1/0", timeout=0.2)
    limiter = RedisRateLimiter(unreachable, rate_per_minute=1, burst=1, sleep=fake.sleep)
    gate = RedisRateGate(unreachable, sleep=fake.sleep)

    for _ in range(2):
        limiter.acquire()
    gate.block_until(time.monotonic() + 1.0)

    assert fake.sleeps == []
    assert gate.deadline() is None


def calls(limiter: RateLimiter, count: int) -> Callable[[], None]:
    def call() -> None:
        for _ in range(count):
            limiter.acquire()

    return call


def run_threads(targets: list[Callable[[], object]]) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
