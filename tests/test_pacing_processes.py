"""One budget, spent by real separate processes at once (web servers and workers on
several hosts): in the database (SQLite here; PostgreSQL when DATABASE_URL is set)
and in Redis. Grants are stamped with the wall clock all of them share."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection

from videostudio.pacing.redis import KEY_PREFIX

from .helpers import ready_together
from .test_pacing import REDIS_URL, connect_redis

RATE = 600  # a minute: 10 a second, so a few seconds give every process a fair share
BURST = 5
# A grant is stamped with the clock reading its decision used. In the database that is
# read under the row's lock, in the order of the grants; Redis runs a script a moment
# after its caller read the clock, so there stamps may be out of order by that moment.
LATE = 0.05

SPENDER = r"""
import json, sys, time
kind, where, name, role = sys.argv[1:5]
rate, burst = int(sys.argv[5]), int(sys.argv[6])
run, pause_at, pause_for = map(float, sys.argv[7:10])
read = [0.0]
def clock():  # the budget's clock, remembering its last reading: the grant's time
    read[0] = time.time()
    return read[0]
if kind == "database":
    from django.conf import settings
    settings.DATABASES["default"]["NAME"] = where  # the test database
    import django
    django.setup()
    from videostudio.pacing.database import DatabaseBudget
    budget = DatabaseBudget(name, rate_per_minute=rate, burst=burst, clock=clock)
else:
    from videostudio.pacing.redis import RedisBudget, redis_from_url
    client = redis_from_url(where, timeout=2.0)
    budget = RedisBudget(client, name, rate_per_minute=rate, burst=burst, clock=clock)
from videostudio.provider.ratelimit import Priority
budget.level()  # connected
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    time.sleep(0.002)
report = {"grants": [], "paused": None}
if role == "pause":
    time.sleep(max(0.0, start + pause_at - time.time()))
    deadline = time.time() + pause_for
    budget.pause_until(deadline)  # as a 429 with Retry-After would
    report["paused"] = [time.time(), deadline]
else:
    while (left := start + run - time.time()) > 0:
        if budget.take(Priority.SEND, timeout=left):
            report["grants"].append(read[0])
print(json.dumps(report), flush=True)
"""


@dataclass
class Spent:
    grants: list[list[float]]  # per spender
    paused: list[float] | None  # [when the pause was in place, its deadline]


def spend(
    kind: str,
    where: str,
    roles: list[str],
    *,
    run: float,
    pause_at: float = 0,
    pause_for: float = 0,
) -> Spent:
    name = f"test-{uuid.uuid4().hex}"
    args = [kind, where, name]
    numbers = [str(RATE), str(BURST), str(run), str(pause_at), str(pause_for)]
    commands = [[sys.executable, "-c", SPENDER, *args, role, *numbers] for role in roles]
    reports = ready_together(commands, timeout=60)
    paused = [report["paused"] for report in reports if report["paused"]]
    return Spent(
        grants=[report["grants"] for report in reports if not report["paused"]],
        paused=paused[0] if paused else None,
    )


def assert_within_budget(grants: list[float]) -> None:
    """No window [t, t + w] holds more than burst + rate * w grants."""
    times = sorted(grants)
    per_second = RATE / 60
    for i, first in enumerate(times):
        for j in range(i, len(times)):
            allowed = BURST + per_second * (times[j] - first + LATE)
            assert j - i + 1 <= allowed, f"{j - i + 1} grants in {times[j] - first:.3f} s"


@pytest.fixture(
    params=[
        # Committed for real: the spenders must see its tables.
        pytest.param("database", marks=pytest.mark.django_db(transaction=True)),
        "redis",
    ]
)
def shared(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Where the budget lives: (kind, the test database's name or Redis's URL)."""
    if request.param == "database":
        yield "database", str(connection.settings_dict["NAME"])
        return
    client = connect_redis()
    keys_before = set(client.keys(KEY_PREFIX + "test-*"))
    yield "redis", REDIS_URL
    new = set(client.keys(KEY_PREFIX + "test-*")) - keys_before
    if new:
        client.delete(*new)
    client.close()


def test_processes_spending_one_budget_stay_within_it_and_all_get_some(
    shared: tuple[str, str],
) -> None:
    run = 2.5

    spent = spend(*shared, ["take"] * 4, run=run)

    everything = [moment for grants in spent.grants for moment in grants]
    assert_within_budget(everything)
    assert all(spent.grants), [len(grants) for grants in spent.grants]
    # Nobody is starved either: the budget is spent, near enough.
    assert len(everything) >= 0.6 * (BURST + RATE / 60 * run)


def test_a_pause_in_one_process_holds_every_other_until_its_deadline(
    shared: tuple[str, str],
) -> None:
    spent = spend(*shared, ["pause", "take", "take", "take"], run=3.0, pause_at=0.8, pause_for=1.2)

    assert spent.paused is not None
    paused, deadline = spent.paused
    everything = sorted(moment for grants in spent.grants for moment in grants)
    # A decision that read the clock after the pause was in place saw it.
    assert [t for t in everything if paused <= t < deadline] == []
    assert any(t < paused for t in everything)
    assert any(t >= deadline for t in everything)
    assert_within_budget(everything)
