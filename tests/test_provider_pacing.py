"""The client takes a turn before every attempt, with the priority its caller set.

The budgets themselves (token bucket, floors, pause; in one process, the database and
Redis) are tested in test_pacing.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import RecordingTransport
from videostudio.pacing.budget import LocalBudget
from videostudio.provider.client import ProviderClient
from videostudio.provider.ratelimit import Priority, priority, request_priority
from videostudio.simulator import Simulator

from .conftest import FakeClock

WALL = 1_790_000_000.0


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(WALL)


# ----- the priority of a call --------------------------------------------------------------
def test_a_call_is_a_status_poll_unless_its_caller_says_otherwise() -> None:
    assert request_priority.get() is Priority.POLL

    with priority(Priority.ARCHIVE):
        assert request_priority.get() is Priority.ARCHIVE
        with priority(Priority.URGENT):
            assert request_priority.get() is Priority.URGENT
        assert request_priority.get() is Priority.ARCHIVE

    assert request_priority.get() is Priority.POLL


def test_a_priority_ends_with_its_block_even_on_an_error() -> None:
    with pytest.raises(KeyError), priority(Priority.BACKGROUND):
        raise KeyError("boom")

    assert request_priority.get() is Priority.POLL


def test_each_thread_says_its_own_priority() -> None:
    seen: list[Priority] = []
    with priority(Priority.SEND):
        thread = threading.Thread(target=lambda: seen.append(request_priority.get()))
        thread.start()
        thread.join(timeout=5)

    assert seen == [Priority.POLL]


def test_priorities_go_in_the_order_of_the_design() -> None:
    order = [Priority.URGENT, Priority.SEND, Priority.POLL, Priority.ARCHIVE, Priority.BACKGROUND]
    assert sorted(Priority) == order
    assert [int(level) for level in order] == [0, 1, 2, 3, 4]


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
    budget = LocalBudget(
        rate_per_minute=60, burst=2, clock=fake.wall, sleep=fake.sleep, random=lambda: 0.0
    )
    client, transport = make_client(
        sim, limiter=budget, gate=budget, clock=fake.monotonic, sleep=fake.sleep
    )

    with client, priority(Priority.SEND):
        for _ in range(4):
            client.current_balance()

    assert len(transport.requests) == 4
    assert fake.sleeps == pytest.approx([1.0, 1.0])


def test_a_background_call_waits_while_sends_keep_the_budget_low(
    sim: Simulator, fake: FakeClock
) -> None:
    budget = LocalBudget(
        rate_per_minute=60, burst=10, clock=fake.wall, sleep=fake.sleep, random=lambda: 0.0
    )
    client, transport = make_client(
        sim, limiter=budget, gate=budget, clock=fake.monotonic, sleep=fake.sleep
    )

    with client:
        with priority(Priority.SEND):
            for _ in range(6):
                client.current_balance()
        assert fake.sleeps == []
        with priority(Priority.BACKGROUND):
            client.current_balance()  # leaves 6 of 10: waits until 7 are back

    assert len(transport.requests) == 7
    assert fake.sleeps == pytest.approx([3.0])
