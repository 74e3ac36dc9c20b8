from __future__ import annotations

import threading

from videostudio.provider.ratelimit import LocalRateGate, RateGate

from .conftest import FakeClock


def test_the_local_gate_is_a_rate_gate() -> None:
    gate: RateGate = LocalRateGate()

    gate.wait()  # open from the start: returns at once


def test_the_local_gate_extends_but_never_shortens_a_cooldown() -> None:
    time = FakeClock(1000.0)
    gate = LocalRateGate(clock=time.clock, sleep=time.sleep)

    gate.wait()
    gate.block_until(1030.0)
    gate.block_until(1010.0)
    assert gate.blocked_for() == 30.0
    gate.wait()

    assert time.sleeps == [30.0]
    assert gate.blocked_for() == 0.0


def test_the_local_gate_waits_again_when_the_cooldown_grows_meanwhile() -> None:
    time = FakeClock(1000.0)

    def sleep_while_another_429_arrives(seconds: float) -> None:
        if not time.sleeps:
            gate.block_until(time.now + 20.0)
        time.sleep(seconds)

    gate = LocalRateGate(clock=time.clock, sleep=sleep_while_another_429_arrives)
    gate.block_until(1005.0)
    gate.wait()

    assert time.sleeps == [5.0, 15.0]


def test_the_local_gate_does_not_spin_when_sleep_leaves_the_clock_alone() -> None:
    slept: list[float] = []
    gate = LocalRateGate(clock=lambda: 0.0, sleep=slept.append)
    gate.block_until(3.0)

    gate.wait()

    assert slept == [3.0]


def test_the_local_gate_holds_every_thread_until_the_deadline() -> None:
    time = FakeClock(1000.0)
    gate = LocalRateGate(clock=time.clock, sleep=time.sleep)
    gate.block_until(1008.0)
    passed_at: list[float] = []

    def worker() -> None:
        gate.wait()
        passed_at.append(time.now)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert len(passed_at) == 8
    assert all(moment >= 1008.0 for moment in passed_at)
