"""A shared cooldown after the provider says "too many requests".

The whole team shares one key and one request budget, so when one call is told
to back off, every other call made with that key must back off too, or the
others keep the key throttled. The client only needs `wait` and `block_until`;
a gate shared between processes (Redis) can plug in behind the same two methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class RateGate(Protocol):
    def wait(self) -> None:
        """Return once calls to the provider are allowed again."""

    def block_until(self, monotonic_deadline: float) -> None:
        """Hold every caller until the client's clock reaches this deadline.

        A later deadline extends the block; an earlier one never shortens it.
        A cross-process gate converts it to wall time (deadline - monotonic() + time()).
        """


class LocalRateGate:
    """The in-process gate: thread-safe, shared by every thread using one client."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._deadline = float("-inf")

    def block_until(self, monotonic_deadline: float) -> None:
        with self._lock:
            self._deadline = max(self._deadline, monotonic_deadline)

    def blocked_for(self) -> float:
        """Seconds left in the current cooldown (0 when open)."""
        with self._lock:
            deadline = self._deadline
        return max(0.0, deadline - self._clock())

    def wait(self) -> None:
        while True:
            with self._lock:
                deadline = self._deadline
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)
            # Go round again only if someone pushed the deadline while we slept; trusting
            # the clock alone would spin forever under a test's sleep that does not advance it.
            with self._lock:
                if self._deadline <= deadline:
                    return
