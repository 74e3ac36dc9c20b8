"""One request budget for the provider key, shared by every caller that uses the key.

A budget is a token bucket (`burst` tokens at most, refilled at `rate_per_minute`)
plus a pause: after a 429 nobody takes a token before the provider's deadline.
Every implementation keeps the same three numbers (tokens, when they were counted,
the pause deadline) in wall-clock seconds, the only clock hosts share, and decides
with the functions below, so they behave alike:

- `LocalBudget`: the threads of one process (clients outside Django, unit tests);
- `DatabaseBudget` (`videostudio.pacing.database`): every process, a row per budget;
- `RedisBudget` (`videostudio.pacing.redis`): every process, one Lua script per decision.

Priorities are floors, not queues: a caller of priority p takes a token only if
`tokens - 1 >= floor(p)`. When there is room everything flows; when sends keep the
bucket low, downloads and background reads wait until it climbs back over their
floor. Nothing is reserved (the count never goes negative): a refused caller is told
how long until the bucket reaches its floor, sleeps that long plus a little jitter
(so waiters in several processes do not all come back at once), and tries again.
"""

from __future__ import annotations

import random as _random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypedDict, Unpack

from videostudio.provider.errors import BudgetBusy
from videostudio.provider.ratelimit import Priority, RateGate, RateLimiter, request_priority

DEFAULT_NAME = "provider"

# Share of the burst each priority must leave in the bucket. With the default burst
# of 30 (at 450 a minute, 7.5 tokens a second): sends and urgent downloads may empty
# it; a status poll must leave 3 (it waits only once sends took 27 in a row); a
# download 12, and background reads (usage history, catalog sync, balance) 18. So 12
# to 18 tokens (1.6 to 2.4 s of refill) stay for sends and polls however much
# archiving or syncing goes on, and a bucket with room lets everything through.
# Above the floors of 0 each floor is at least one above the one before it and at
# most burst - 1 (else it could never be met).
FLOOR_SHARES: dict[Priority, float] = {
    Priority.URGENT: 0.0,
    Priority.SEND: 0.0,
    Priority.POLL: 0.10,
    Priority.ARCHIVE: 0.40,
    Priority.BACKGROUND: 0.60,
}
# A refused caller is always told to wait at least this long (never 0: 0 means taken).
MIN_WAIT = 0.001
# A refused caller sleeps its wait plus a random part of one token's time (1 / rate),
# never more than this, so waiters in several processes come back one by one.
MAX_JITTER = 0.25
# The longest a call may wait for its turn before it gives up (BudgetBusy): background
# reads must never hold a worker (or the tracker's loop) while videos keep the budget busy.
WAIT_LIMITS: dict[Priority, float] = {Priority.BACKGROUND: 15.0}


class Budget(RateLimiter, RateGate, Protocol):
    """The key's request budget. Also a `RateLimiter` (`acquire`: take a token with
    the current `request_priority`, blocking) and a `RateGate` (`wait`: return when
    not paused; `block_until`: pause everyone), so a `ProviderClient` takes one as
    both its limiter and its gate."""

    rate_per_minute: int
    burst: int

    def try_take(self, priority: Priority, n: int = 1) -> float:
        """Take n tokens and return 0.0, or take nothing and return the seconds to wait
        before it may succeed (while paused: the time left in the pause)."""
        ...

    def take(self, priority: Priority, *, timeout: float | None = None) -> bool:
        """Block until a token is taken (True) or the timeout would pass first (False)."""
        ...

    def pause_until(self, wall_deadline: float) -> None:
        """Nobody takes tokens before this wall-clock time; a pause extends, never shortens."""
        ...

    def paused_for(self) -> float:
        """Seconds left in the pause (0 when there is none)."""
        ...

    def level(self) -> float:
        """Tokens in the bucket now, for "is there room" decisions."""
        ...


def floors_for(burst: int) -> dict[Priority, int]:
    """The tokens each priority must leave in a bucket of this size (see FLOOR_SHARES)."""
    floors: dict[Priority, int] = {}
    below = 0
    for level in Priority:
        share = FLOOR_SHARES[level]
        floor = 0 if share == 0 else min(max(int(share * burst + 0.5), below + 1), burst - 1)
        floors[level] = below = max(floor, 0)
    return floors


@dataclass(frozen=True)
class State:
    """What a budget keeps: tokens as counted at `updated`; no takes before `paused_until`."""

    tokens: float
    updated: float
    paused_until: float = 0.0


def refilled(state: State, *, now: float, per_second: float, burst: int) -> State:
    """The bucket at `now`. A stored time never moves backwards: a host whose clock
    lags neither mints tokens nor undoes another's count."""
    tokens = min(float(burst), state.tokens)
    if now <= state.updated:
        return replace(state, tokens=tokens)
    tokens = min(float(burst), tokens + (now - state.updated) * per_second)
    return replace(state, tokens=tokens, updated=now)


def decide_take(
    state: State, *, now: float, per_second: float, burst: int, floor: int, n: int
) -> tuple[State, float]:
    """(the state to keep, 0.0) when n tokens are taken; else (the state, seconds to wait)."""
    state = refilled(state, now=now, per_second=per_second, burst=burst)
    if state.paused_until > now:
        return state, state.paused_until - now
    if state.tokens - n < floor:
        return state, max((floor + n - state.tokens) / per_second, MIN_WAIT)
    return replace(state, tokens=state.tokens - n), 0.0


def decide_pause(state: State, *, now: float, deadline: float) -> State | None:
    """The state after a pause until `deadline`, or None when it changes nothing.

    The pause also empties the bucket (it refills from the deadline on): a 429 means
    the provider counted more than we did, so calls resume at the steady rate rather
    than in a burst.
    """
    if deadline <= now or deadline <= state.paused_until:
        return None
    return State(tokens=0.0, updated=max(state.updated, deadline), paused_until=deadline)


class Timing(TypedDict, total=False):
    """The clocks a budget reads and how it waits: injectable for tests."""

    clock: Callable[[], float]  # wall time, the only clock hosts share
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    random: Callable[[], float]


class BaseBudget(ABC):
    """What every budget does the same way, given `try_take`, `pause_until` and `_state`."""

    def __init__(
        self,
        *,
        rate_per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError(f"rate_per_minute must be at least 1, not {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self.floors = floors_for(burst)
        self._per_second = rate_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._random = random

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rate_per_minute={self.rate_per_minute}, burst={self.burst})"

    @abstractmethod
    def try_take(self, priority: Priority, n: int = 1) -> float: ...

    @abstractmethod
    def pause_until(self, wall_deadline: float) -> None: ...

    @abstractmethod
    def _state(self) -> State:
        """The stored state as it is (a missing one: a full bucket, no pause)."""

    def level(self) -> float:
        return self._refilled(self._state()).tokens

    def paused_for(self) -> float:
        return max(0.0, self._paused_until() - self._clock())

    def take(self, priority: Priority, *, timeout: float | None = None) -> bool:
        give_up = None if timeout is None else self._clock() + timeout
        while True:
            wait = self.try_take(priority)
            if wait <= 0:
                return True
            pause = wait + self._random() * min(1.0 / self._per_second, MAX_JITTER)
            if give_up is not None:
                left = give_up - self._clock()
                if wait > left:
                    return False  # tokens come no faster than the rate: it cannot succeed
                pause = min(pause, left)
            self._sleep(pause)

    # --- RateLimiter and RateGate, for ProviderClient(limiter=budget, gate=budget) ---

    def acquire(self) -> None:
        level = request_priority.get()
        limit = WAIT_LIMITS.get(level)
        if not self.take(level, timeout=limit):
            raise BudgetBusy(f"no turn in the request budget within {limit:.0f} s")

    def wait(self) -> None:
        deadline = self._paused_until()
        while (remaining := deadline - self._clock()) > 0:
            self._sleep(remaining)
            # Go round again only if someone pushed the deadline while we slept; trusting
            # the clock alone would spin forever under a test's sleep that does not advance it.
            later = self._paused_until()
            if later <= deadline:
                return
            deadline = later

    def block_until(self, monotonic_deadline: float) -> None:
        # The client counts on its monotonic clock; other hosts only share wall time.
        self.pause_until(monotonic_deadline - self._monotonic() + self._clock())

    # --- for the implementations ---

    def _paused_until(self) -> float:
        return self._state().paused_until

    def _refilled(self, state: State) -> State:
        return refilled(state, now=self._clock(), per_second=self._per_second, burst=self.burst)

    def _fresh(self) -> State:
        return State(tokens=float(self.burst), updated=self._clock())

    def _floor(self, priority: Priority, n: int) -> int:
        if not 1 <= n <= self.burst:
            raise ValueError(f"can take 1 to {self.burst} tokens at once, not {n}")
        # A take of several tokens may dip below a floor it could otherwise never clear.
        return min(self.floors[priority], self.burst - n)

    def _decide_take(self, state: State, priority: Priority, n: int) -> tuple[State, float]:
        floor = self._floor(priority, n)
        return decide_take(
            state,
            now=self._clock(),
            per_second=self._per_second,
            burst=self.burst,
            floor=floor,
            n=n,
        )

    def _decide_pause(self, state: State, wall_deadline: float) -> State | None:
        return decide_pause(state, now=self._clock(), deadline=wall_deadline)


class LocalBudget(BaseBudget):
    """A budget for the threads of one process."""

    def __init__(
        self,
        *,
        rate_per_minute: int,
        burst: int,
        **timing: Unpack[Timing],
    ) -> None:
        super().__init__(rate_per_minute=rate_per_minute, burst=burst, **timing)
        self._lock = threading.Lock()
        self._bucket = self._fresh()  # a fresh process may start at once

    def try_take(self, priority: Priority, n: int = 1) -> float:
        with self._lock:
            self._bucket, wait = self._decide_take(self._bucket, priority, n)
        return wait

    def pause_until(self, wall_deadline: float) -> None:
        with self._lock:
            paused = self._decide_pause(self._bucket, wall_deadline)
            if paused is not None:
                self._bucket = paused

    def _state(self) -> State:
        with self._lock:
            return self._bucket
