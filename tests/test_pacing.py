"""The key's one request budget: a token bucket with priority floors and a shared
pause, the same in one process (LocalBudget), in the database and in Redis.

Most tests run against all three on a fake clock. Two budgets of the same name stand
for two processes (for LocalBudget, one budget is shared by the threads of one).
The Redis ones run against the real server at REDIS_URL (default: local). Without
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
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videostudio.pacing.budget import WAIT_LIMITS, BaseBudget, Budget, LocalBudget, floors_for
from videostudio.pacing.database import DatabaseBudget
from videostudio.pacing.models import Bucket
from videostudio.pacing.redis import KEY_PREFIX, RETRY_REDIS_AFTER, RedisBudget, redis_from_url
from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import RateLimited
from videostudio.provider.ratelimit import Priority, RateGate, RateLimiter, priority
from videostudio.simulator import Simulator

from .conftest import FakeClock

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
WALL = 1_790_000_000.0
# The database ones are marked, so pytest-django sets up its test database for them.
KINDS = ["local", pytest.param("database", marks=pytest.mark.django_db), "redis"]
Make = Callable[..., BaseBudget]


def connect_redis() -> Any:
    """A client for the test server; skips the test without one (fails if REDIS_URL is set)."""
    client = redis_from_url(REDIS_URL, timeout=2.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("REDIS_URL"):
            pytest.fail(f"REDIS_URL is set but Redis does not answer there: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return client


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(WALL)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(kind: str, fake: FakeClock) -> Iterator[Make]:
    """Builds budgets of one kind on the fake clock. Two of the same name stand for two
    processes; for LocalBudget they are one budget (the first one's options hold)."""
    default_name = f"test-{uuid.uuid4().hex}"
    names: set[str] = set()
    shared: dict[str, LocalBudget] = {}
    redis_client = connect_redis() if kind == "redis" else None

    def make(*, name: str = default_name, **options: Any) -> BaseBudget:
        options = {
            "rate_per_minute": 60,
            "burst": 3,
            "clock": fake.wall,
            "sleep": fake.sleep,
            "monotonic": fake.monotonic,
            "random": lambda: 0.0,
            **options,
        }
        names.add(name)
        if kind == "database":
            return DatabaseBudget(name, **options)
        if redis_client is not None:
            return RedisBudget(redis_client, name, **options)
        return shared.setdefault(name, LocalBudget(**options))

    yield make
    if redis_client is not None:
        redis_client.delete(*(KEY_PREFIX + name for name in names))
        redis_client.close()


def shared_only(kind: str) -> None:
    if kind == "local":
        pytest.skip("one process, one clock and one budget")


# ----- the bucket ------------------------------------------------------------------------
def test_a_full_bucket_lets_a_burst_through_then_one_call_per_token(
    make: Make, fake: FakeClock
) -> None:
    budget = make(rate_per_minute=60, burst=3)

    assert [budget.try_take(Priority.SEND) for _ in range(4)] == pytest.approx([0, 0, 0, 1.0])
    fake.advance(0.5)
    assert budget.try_take(Priority.SEND) == pytest.approx(0.5)
    fake.advance(0.5)
    assert budget.try_take(Priority.SEND) == 0.0
    assert budget.try_take(Priority.SEND) == pytest.approx(1.0)


def test_take_sleeps_until_its_token_comes_and_nothing_is_reserved(
    make: Make, fake: FakeClock
) -> None:
    budget = make(rate_per_minute=120, burst=2)

    for _ in range(5):
        assert budget.take(Priority.SEND)

    assert fake.sleeps == pytest.approx([0.5, 0.5, 0.5])
    assert budget.level() == pytest.approx(0.0)


def test_the_bucket_refills_while_idle_but_never_beyond_its_burst(
    make: Make, fake: FakeClock
) -> None:
    budget = make(rate_per_minute=120, burst=4)
    assert budget.level() == 4.0
    for _ in range(4):
        budget.try_take(Priority.SEND)
    assert budget.level() == 0.0

    fake.advance(1.0)  # two tokens' worth at 2 a second
    assert budget.level() == pytest.approx(2.0)
    fake.advance(3600.0)
    assert budget.level() == 4.0
    assert [budget.try_take(Priority.SEND) for _ in range(5)] == pytest.approx([0, 0, 0, 0, 0.5])


def test_several_tokens_are_taken_at_once_or_not_at_all(make: Make, fake: FakeClock) -> None:
    budget = make(rate_per_minute=60, burst=3)

    assert budget.try_take(Priority.SEND, 2) == 0.0
    assert budget.try_take(Priority.SEND, 2) == pytest.approx(1.0)
    assert budget.level() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="1 to 3"):
        budget.try_take(Priority.SEND, 4)
    with pytest.raises(ValueError, match="1 to 3"):
        budget.try_take(Priority.SEND, 0)


def test_take_gives_up_at_once_when_the_wait_outlasts_its_timeout(
    make: Make, fake: FakeClock
) -> None:
    budget = make(rate_per_minute=60, burst=1)
    assert budget.take(Priority.SEND, timeout=0)

    assert not budget.take(Priority.SEND, timeout=0.5)
    assert fake.sleeps == []
    assert budget.take(Priority.SEND, timeout=2.0)
    assert fake.sleeps == pytest.approx([1.0])


def test_a_waiter_adds_at_most_one_tokens_worth_of_jitter(make: Make, fake: FakeClock) -> None:
    budget = make(rate_per_minute=600, burst=1, random=lambda: 0.99)
    budget.take(Priority.SEND)

    budget.take(Priority.SEND)

    # 0.1 s to the next token, then up to 0.1 s more so waiters do not come back together.
    assert fake.sleeps == pytest.approx([0.1 + 0.099])


@pytest.mark.parametrize("options", [{"rate_per_minute": 0}, {"burst": 0}])
def test_a_budget_refuses_a_rate_or_burst_below_one(make: Make, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make(**options)


# ----- priorities: floors ---------------------------------------------------------------
def test_floors_grow_with_the_burst_and_stay_apart() -> None:
    p = Priority
    assert floors_for(30) == {p.URGENT: 0, p.SEND: 0, p.POLL: 3, p.ARCHIVE: 12, p.BACKGROUND: 18}
    assert floors_for(10) == {p.URGENT: 0, p.SEND: 0, p.POLL: 1, p.ARCHIVE: 4, p.BACKGROUND: 6}
    assert floors_for(5) == {p.URGENT: 0, p.SEND: 0, p.POLL: 1, p.ARCHIVE: 2, p.BACKGROUND: 3}
    # Never above burst - 1, or nobody of that priority could ever take a token.
    assert floors_for(2) == {p.URGENT: 0, p.SEND: 0, p.POLL: 1, p.ARCHIVE: 1, p.BACKGROUND: 1}
    assert set(floors_for(1).values()) == {0}
    for burst in range(1, 200):
        floors = list(floors_for(burst).values())
        assert floors == sorted(floors)
        assert all(0 <= floor <= burst - 1 for floor in floors)


def test_a_download_waits_while_sends_keep_the_bucket_low(make: Make, fake: FakeClock) -> None:
    budget = make(rate_per_minute=60, burst=10)  # floors: poll 1, archive 4, background 6
    for _ in range(5):
        assert budget.try_take(Priority.SEND) == 0.0

    assert budget.try_take(Priority.ARCHIVE) == 0.0  # 5 left: one more leaves its floor of 4
    assert budget.try_take(Priority.ARCHIVE) == pytest.approx(1.0)  # until 5 are back
    assert budget.try_take(Priority.BACKGROUND) == pytest.approx(3.0)
    assert budget.try_take(Priority.SEND) == 0.0  # a send is not held back
    assert budget.try_take(Priority.POLL) == 0.0
    assert budget.try_take(Priority.POLL) == 0.0
    assert budget.try_take(Priority.POLL) == pytest.approx(1.0)  # one left, its floor
    assert budget.try_take(Priority.URGENT) == 0.0
    assert budget.level() == pytest.approx(0.0)

    fake.advance(5.0)
    assert budget.try_take(Priority.ARCHIVE) == 0.0


def test_when_there_is_room_everything_flows(make: Make) -> None:
    budget = make(rate_per_minute=60, burst=30)

    for level in Priority:
        assert budget.try_take(level) == 0.0


def test_a_client_call_takes_its_turn_with_the_priority_in_force(
    make: Make, fake: FakeClock
) -> None:
    budget = make(rate_per_minute=60, burst=10)
    for _ in range(6):
        budget.acquire()  # polls, by default: 4 left
    assert fake.sleeps == []

    with priority(Priority.ARCHIVE):
        budget.acquire()  # needs 5: waits a second
    assert fake.sleeps == pytest.approx([1.0])
    with priority(Priority.SEND):
        budget.acquire()
    assert fake.sleeps == pytest.approx([1.0])


# ----- the pause after a 429 ------------------------------------------------------------
def test_a_pause_holds_every_priority_and_only_ever_extends(make: Make, fake: FakeClock) -> None:
    budget, other = make(), make()

    budget.pause_until(WALL + 10.0)
    budget.pause_until(WALL + 5.0)  # an earlier deadline never shortens it
    budget.pause_until(WALL - 5.0)  # nor does one already past

    assert other.paused_for() == pytest.approx(10.0)
    for level in Priority:
        assert other.try_take(level) == pytest.approx(10.0)
    assert other.level() == 0.0
    fake.advance(4.0)
    assert other.try_take(Priority.URGENT) == pytest.approx(6.0)
    other.pause_until(WALL + 12.0)
    assert budget.paused_for() == pytest.approx(8.0)


def test_after_a_pause_calls_resume_at_the_rate_not_in_a_burst(make: Make, fake: FakeClock) -> None:
    budget = make(rate_per_minute=60, burst=3)
    budget.pause_until(WALL + 10.0)

    fake.advance(10.0)
    assert budget.paused_for() == 0.0
    assert budget.try_take(Priority.SEND) == pytest.approx(1.0)
    fake.advance(1.0)
    assert budget.try_take(Priority.SEND) == 0.0
    fake.advance(60.0)
    assert budget.level() == 3.0


def test_the_gate_converts_the_clients_clock_to_wall_time(make: Make, fake: FakeClock) -> None:
    # Each process counts monotonic time from its own origin; they share only wall time.
    first = make(monotonic=lambda: fake.now - 500)
    second = make(monotonic=lambda: fake.now + 77)
    gate: RateGate = second
    gate.wait()
    assert fake.sleeps == []

    first.block_until(fake.now - 500 + 7.0)
    first.block_until(fake.now - 500 + 3.0)

    assert second.paused_for() == pytest.approx(7.0)
    gate.wait()
    assert fake.sleeps == pytest.approx([7.0])
    assert second.paused_for() == 0.0


def test_the_gate_waits_again_when_someone_extends_the_pause(make: Make, fake: FakeClock) -> None:
    def sleep_while_another_429_arrives(seconds: float) -> None:
        if not fake.sleeps:
            budget.pause_until(fake.now + 20.0)
        fake.sleep(seconds)

    budget = make(sleep=sleep_while_another_429_arrives)
    budget.pause_until(fake.now + 5.0)
    budget.wait()

    assert fake.sleeps == pytest.approx([5.0, 15.0])


def test_the_gate_does_not_spin_when_sleep_leaves_the_clock_alone(make: Make) -> None:
    slept: list[float] = []
    budget = make(clock=lambda: WALL, sleep=slept.append)
    budget.pause_until(WALL + 3.0)

    budget.wait()

    assert slept == [3.0]


# ----- shared by processes ---------------------------------------------------------------
def test_two_processes_spend_one_budget(make: Make, fake: FakeClock, kind: str) -> None:
    shared_only(kind)
    web, worker = make(rate_per_minute=60, burst=3), make(rate_per_minute=60, burst=3)

    for budget in (web, worker, web):
        budget.take(Priority.SEND)
    assert fake.sleeps == []
    worker.take(Priority.SEND)
    web.take(Priority.SEND)

    assert fake.sleeps == pytest.approx([1.0, 1.0])


def test_a_host_whose_clock_lags_mints_no_tokens(make: Make, fake: FakeClock, kind: str) -> None:
    shared_only(kind)
    budget = make(rate_per_minute=60, burst=3)
    lagging = make(rate_per_minute=60, burst=3, clock=lambda: fake.now - 30.0)
    for _ in range(3):
        budget.take(Priority.SEND)

    assert lagging.try_take(Priority.SEND) == pytest.approx(1.0)
    assert lagging.level() == 0.0
    fake.advance(1.0)
    assert budget.try_take(Priority.SEND) == 0.0


def test_a_429_at_one_client_pauses_another_clients_calls(
    make: Make, fake: FakeClock, tmp_path: Path
) -> None:
    sim = Simulator(cache_dir=tmp_path / "sim-cache")

    def client(budget: BaseBudget) -> ProviderClient:
        return ProviderClient(
            base_url="http://simulator.test/v1",
            api_key="sk-test",
            transport=sim.transport(),
            clock=fake.monotonic,
            sleep=fake.sleep,
            max_retries=0,
            limiter=budget,
            gate=budget,
        )

    sim.inject_error(429, path_contains="/usage", retry_after="7")
    with client(make()) as web, client(make()) as worker:
        with pytest.raises(RateLimited):
            web.current_balance()
        assert worker.current_balance() == 100_000_000

    # 7 s for the pause, then the bucket refills from empty: a poll leaves 1 of 3.
    assert fake.sleeps == pytest.approx([7.0, 2.0])


def test_every_budget_is_a_budget_a_limiter_and_a_gate(make: Make) -> None:
    budget: Budget = make()
    limiter: RateLimiter = budget
    gate: RateGate = budget

    gate.wait()
    limiter.acquire()


# ----- invariants ------------------------------------------------------------------------
Step = tuple[float, str, Priority, int, float]
steps = st.lists(
    st.tuples(
        st.floats(0, 3, allow_nan=False),  # time passes
        st.sampled_from(["take", "take", "take", "take", "pause"]),
        st.sampled_from(Priority),
        st.integers(1, 3),
        st.floats(0.1, 6, allow_nan=False),  # how long a pause asks
    ),
    max_size=40,
)


def test_no_window_ever_sees_more_than_burst_plus_rate_times_its_length(
    make: Make, kind: str
) -> None:
    examples = {"local": 300, "database": 40, "redis": 80}[kind]

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(rate=st.sampled_from([1, 60, 450, 6000]), burst=st.integers(1, 12), script=steps)
    def check(rate: int, burst: int, script: list[Step]) -> None:
        clock = FakeClock(WALL)
        budget = make(
            name=f"test-{uuid.uuid4().hex}",
            rate_per_minute=rate,
            burst=burst,
            clock=clock.wall,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )
        granted: list[tuple[float, int]] = []
        paused_until = float("-inf")
        for elapsed, action, level, n, pause in script:
            clock.advance(elapsed)
            if action == "pause":
                budget.pause_until(clock.now + pause)
                paused_until = max(paused_until, clock.now + pause)
            else:
                n = min(n, burst)
                wait = budget.try_take(level, n)
                if wait == 0:
                    assert clock.now >= paused_until
                    granted.append((clock.now, n))
                else:
                    assert wait > 0
            assert 0 <= budget.level() <= burst

        per_second = rate / 60
        for i, (start, _) in enumerate(granted):
            total = 0
            for end, n in granted[i:]:
                total += n
                assert total <= burst + per_second * (end - start) + 1e-6

    check()


# ----- one process: threads ---------------------------------------------------------------
def test_a_local_budget_paces_threads_in_real_time() -> None:
    budget = LocalBudget(rate_per_minute=12_000, burst=5)  # 200 a second
    started = time.monotonic()

    def caller() -> None:
        for _ in range(10):
            budget.acquire()

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not any(thread.is_alive() for thread in threads)
    assert time.monotonic() - started >= (40 - 5) / 200 - 0.01


# ----- the database ------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_database_keeps_a_row_per_budget_created_full(fake: FakeClock) -> None:
    budget = DatabaseBudget("test-row", rate_per_minute=60, burst=3, clock=fake.wall)
    assert budget.level() == 3.0
    assert not Bucket.objects.filter(name="test-row").exists()

    budget.try_take(Priority.SEND)

    row = Bucket.objects.get(name="test-row")
    assert (row.tokens, row.updated, row.paused_until) == (2.0, WALL, 0.0)


@pytest.mark.django_db
def test_a_take_inside_a_callers_transaction_is_refused(fake: FakeClock) -> None:
    # It would hold the row (PostgreSQL) or the database (SQLite) across the call.
    budget = DatabaseBudget("test-nested", rate_per_minute=60, burst=3, clock=fake.wall)

    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        budget.try_take(Priority.SEND)


# ----- Redis -------------------------------------------------------------------------------
def test_the_redis_bucket_expires_once_it_would_be_full_again(fake: FakeClock) -> None:
    client = connect_redis()
    name = f"test-{uuid.uuid4().hex}"
    budget = RedisBudget(client, name, rate_per_minute=120, burst=2, clock=fake.wall)
    try:
        assert [budget.try_take(Priority.SEND) for _ in range(3)] == pytest.approx([0, 0, 0.5])
        # Full again 1 s from now (2 tokens at 2 a second); the key lives about that long.
        assert 1000 < client.pttl(KEY_PREFIX + name) <= 2000
        budget.pause_until(WALL + 30.0)
        assert 30_000 < client.pttl(KEY_PREFIX + name) <= 32_000
    finally:
        client.delete(KEY_PREFIX + name)
        client.close()


class DownRedis:
    """A stand-in client whose every command fails the way redis-py does."""

    def __init__(self) -> None:
        self.calls = 0

    def register_script(self, script: str) -> Callable[..., Any]:
        return self.hmget

    def hmget(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_without_redis_a_process_paces_itself_and_says_so_once_a_minute(
    fake: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    down = DownRedis()
    budget = RedisBudget(
        down, rate_per_minute=60, burst=1, clock=fake.wall, sleep=fake.sleep, random=lambda: 0
    )

    with caplog.at_level(logging.WARNING, logger="videostudio.pacing.redis"):
        budget.acquire()
        budget.acquire()
        assert fake.sleeps == pytest.approx([1.0])  # its own bucket, in this process
        assert down.calls == 1  # Redis is rested awhile, not asked on every call
        fake.advance(RETRY_REDIS_AFTER)
        budget.acquire()
        assert down.calls == 2
        fake.advance(60.0)
        budget.acquire()

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "Connection refused" in messages[0]


def test_without_redis_a_pause_still_holds_this_process(fake: FakeClock) -> None:
    budget = RedisBudget(
        DownRedis(), rate_per_minute=60, burst=3, clock=fake.wall, sleep=fake.sleep
    )

    budget.pause_until(WALL + 4.0)

    assert budget.paused_for() == pytest.approx(4.0)
    assert budget.try_take(Priority.URGENT) == pytest.approx(4.0)
    budget.wait()
    assert fake.sleeps == pytest.approx([4.0])


def test_an_unreachable_redis_server_is_no_crash(fake: FakeClock) -> None:
    unreachable = redis_from_url("redis://127.0.0.1:1/0", timeout=0.2)
    budget = RedisBudget(unreachable, rate_per_minute=60, burst=1, clock=fake.wall)

    assert budget.try_take(Priority.SEND) == 0.0
    assert budget.try_take(Priority.SEND) == pytest.approx(1.0)
    budget.pause_until(WALL + 1.0)
    assert budget.paused_for() == pytest.approx(1.0)


def test_a_background_call_gives_up_its_turn_rather_than_hold_a_worker(clock: FakeClock) -> None:
    from videostudio.provider.errors import BudgetBusy

    budget = LocalBudget(rate_per_minute=60, burst=10, clock=clock, sleep=clock.sleep)
    while budget.try_take(Priority.SEND) == 0:
        pass  # videos keep the bucket empty
    started = clock()

    def busy_sleep(seconds: float) -> None:
        clock.advance(seconds)
        budget.try_take(Priority.SEND)  # every token that comes goes to a send

    budget._sleep = busy_sleep
    with priority(Priority.BACKGROUND), pytest.raises(BudgetBusy) as raised:
        budget.acquire()
    assert clock() - started <= WAIT_LIMITS[Priority.BACKGROUND] + 1
    assert "try again in a minute" in raised.value.user_message
    with priority(Priority.POLL):
        budget._sleep = clock.sleep
        budget.acquire()  # a look waits for its turn, however long
