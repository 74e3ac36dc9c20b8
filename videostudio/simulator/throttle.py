"""The provider's rate limit: one token bucket for the whole simulator.

A real provider limits a key, and the team shares one key, so the simulator keeps
one bucket however many clients, threads or dialects talk to it. It is driven by
the simulator's clock, so a test moves it with a fake clock and a benchmark sees
it in real time. The bucket never blocks: a request either takes a token now or
is told how long until one is back, and the caller answers 429 with that wait.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

# Float dust from the refill must not turn a client's exact wait into a second 429.
_EPSILON = 1e-9


class TokenBucket:
    """`burst` requests at once, then `rate_per_minute / 60` a second; thread-safe."""

    def __init__(
        self, *, rate_per_minute: int, burst: int | None = None, clock: Callable[[], float]
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError(f"rate_per_minute must be at least 1, not {rate_per_minute}")
        self.rate_per_minute = rate_per_minute
        # A provider that documents only "N a minute" lets a fresh key spend them at once.
        self.burst = rate_per_minute if burst is None else burst
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst}")
        self._per_second = rate_per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()

    def take(self) -> int | None:
        """Spend one token and return None, or spend nothing and return the whole
        seconds (at least 1) until a token is back: the Retry-After of a 429."""
        with self._lock:
            now = self._clock()
            # A clock that steps back (a test, an NTP correction) refills nothing.
            if now > self._updated:
                refill = (now - self._updated) * self._per_second
                self._tokens = min(float(self.burst), self._tokens + refill)
                self._updated = now
            if self._tokens >= 1 - _EPSILON:
                self._tokens -= 1
                return None
            wait = (1 - self._tokens) / self._per_second
        # Rounded up: a client that waits exactly Retry-After must find a token.
        return max(1, math.ceil(wait - _EPSILON))
