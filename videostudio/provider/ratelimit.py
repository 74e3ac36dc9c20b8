"""Keeping the team's calls to the provider within its limits.

The whole team shares one key and one budget (about 500 requests a minute), so
two mechanisms work together:

- a limiter paces calls before they are sent (`RateLimiter.acquire`), so the
  team stays under the limit instead of learning of it from 429s;
- a gate holds every caller after the provider says "too many requests" anyway
  (`RateGate`): when one call is told to back off, every other call made with
  that key must back off too, or the others keep the key throttled.

What a call is for sets its `Priority`: callers say so with `priority(...)` around
their calls, and a limiter reads `request_priority` when it is asked for a turn.

This module is plain Python, the protocols the client needs and its default gate
(one process). The budget every process shares (`videostudio.pacing`) is both a
limiter and a gate.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from enum import IntEnum
from typing import Protocol


class Priority(IntEnum):
    """Who goes first when the key's budget runs low (lower goes first)."""

    URGENT = 0  # a download whose provider copy is about to expire
    SEND = 1  # creating jobs (a member is waiting)
    POLL = 2  # status reads
    ARCHIVE = 3  # downloads
    BACKGROUND = 4  # usage history, catalog sync, balance


# What the calls made here are for; a thread starts with the default (contextvars
# are not inherited by new threads), so a worker's threads say it themselves.
request_priority: ContextVar[Priority] = ContextVar("request_priority", default=Priority.POLL)


@contextlib.contextmanager
def priority(level: Priority) -> Iterator[Priority]:
    """Make the provider calls in the block with this priority:
    `with priority(Priority.ARCHIVE): client.download_content(...)`."""
    token = request_priority.set(level)
    try:
        yield level
    finally:
        request_priority.reset(token)


class RateLimiter(Protocol):
    def acquire(self) -> None:
        """Block until one more request may be sent, then count it as sent."""


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
