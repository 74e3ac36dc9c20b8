"""Faults a test or a demo asks for: error answers and downloads cut short, queued;
and, for soak tests, faults at random rates (`Chaos`).

Queued faults are thread-safe and used up one answer at a time, so a test can say
"the next two polls fail" or "the next download breaks after 1,000 bytes" while
other threads keep talking to the same simulator.

Random faults stay within the provider's contract, each where a real provider or
the network between could play it:

- `error_rate`: a 500 in the provider's own error envelope, before anything is done
  (the provider says it failed the request: nothing made, nothing charged);
- `slow_rate`: the answer comes `slow_seconds` late, after the work is done (a
  create is made and charged; a client that gives up first never learns its id);
- `malformed_rate`: a 200 whose JSON body is cut off, after the work is done;
- `cut_rate`: a download breaks off halfway (it may be resumed with Range);
- `fail_rate`: a new job fails at the provider when it would have completed (never
  charged, like `[fail]`);
- `burst_every` / `burst_seconds`: for `burst_seconds` of every `burst_every`
  seconds, every request with a key is answered 429 with the Retry-After that ends
  the burst (nothing made, nothing charged).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

from videostudio.simulator.web import ApiError

RATES = ("error_rate", "slow_rate", "malformed_rate", "cut_rate", "fail_rate")


@dataclass(frozen=True)
class Chaos:
    """Random faults: each rate is the fraction of the requests (or new jobs) it hits."""

    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    malformed_rate: float = 0.0
    cut_rate: float = 0.0
    fail_rate: float = 0.0
    burst_every: float = 0.0
    burst_seconds: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")
        if self.slow_seconds < 0 or self.burst_every < 0 or self.burst_seconds < 0:
            raise ValueError("slow_seconds, burst_every and burst_seconds must not be negative")
        if self.burst_seconds and self.burst_seconds >= self.burst_every:
            raise ValueError("a 429 burst must be shorter than the time between bursts")

    @property
    def any(self) -> bool:
        return any(getattr(self, name) for name in RATES) or bool(self.burst_seconds)


@dataclass
class _ErrorFault:
    status: int
    remaining: int
    path_contains: str
    retry_after: str | None


@dataclass
class _CutFault:
    remaining: int
    after_bytes: int


class Faults:
    """The queue of faults one `Simulator` still has to play."""

    def __init__(self, chaos: Chaos | None = None) -> None:
        self._lock = threading.Lock()
        self._errors: list[_ErrorFault] = []
        self._cuts: list[_CutFault] = []
        self.chaos = chaos or Chaos()
        self._random = random.Random(self.chaos.seed)

    def roll(self, rate_name: str) -> bool:
        """Whether the random fault `rate_name` (one of RATES) hits this time."""
        rate = float(getattr(self.chaos, rate_name))
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def burst_wait(self, now: float) -> int | None:
        """Inside a 429 burst: the whole seconds until it ends (None: no burst now)."""
        every, length = self.chaos.burst_every, self.chaos.burst_seconds
        if not length:
            return None
        into = now % every
        if into >= length:
            return None
        return max(1, math.ceil(length - into))

    def add_error(
        self, status: int, *, count: int, path_contains: str, retry_after: str | None
    ) -> None:
        with self._lock:
            self._errors.append(_ErrorFault(status, count, path_contains, retry_after))

    def add_cut(self, *, count: int, after_bytes: int) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        if after_bytes < 0:
            raise ValueError(f"after_bytes must not be negative, not {after_bytes}")
        with self._lock:
            self._cuts.append(_CutFault(count, after_bytes))

    def error_for(self, path: str) -> ApiError | None:
        """The error to answer for `path` instead of handling it, using up one."""
        with self._lock:
            hit = next((f for f in self._errors if f.path_contains in path), None)
            if hit is None:
                return None
            hit.remaining -= 1
            if hit.remaining <= 0:
                self._errors.remove(hit)
        return ApiError(
            hit.status, f"Simulated error {hit.status} (injected)", retry_after=hit.retry_after
        )

    def cut(self) -> int | None:
        """After how many bytes the next content body stops, using up one (None: whole)."""
        with self._lock:
            if not self._cuts:
                return None
            hit = self._cuts[0]
            hit.remaining -= 1
            if hit.remaining <= 0:
                self._cuts.pop(0)
        return hit.after_bytes
