"""Counters of what the simulator was asked and what it refused, for benchmarks.

A benchmark needs the provider's side of the story: how many requests of each
kind the app really sent (polls per job, downloads per file), and how many the
rate limit turned away. Every request counts once under its kind and in `total`,
whatever it was answered (401s, 404s, 429s included); `throttled`, `injected` and
`cut` count answers, so they are parts of `total`, not additions to it.
"""

from __future__ import annotations

import threading

KINDS: tuple[str, ...] = (
    "create",
    "remix",
    "extend",
    "retrieve",
    "list",
    "content",
    "models",
    "usage",
    "other",
)
# throttled: 429s from the rate limit; injected: answers of `inject_error` and random
# 500s; cut: content responses shortened (`inject_cut`, or at random); burst: 429s of
# a random burst; slowed: answers sent late; malformed: JSON bodies cut off.
OUTCOMES: tuple[str, ...] = ("throttled", "injected", "cut", "burst", "slowed", "malformed")


class Stats:
    """Thread-safe counters; `snapshot(reset=True)` reads and zeroes them in one step."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = self._zero()

    @staticmethod
    def _zero() -> dict[str, int]:
        return dict.fromkeys((*KINDS, *OUTCOMES, "total"), 0)

    def request(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}")
        with self._lock:
            self._counts[kind] += 1
            self._counts["total"] += 1

    def outcome(self, name: str) -> None:
        if name not in OUTCOMES:
            raise ValueError(f"unknown outcome {name!r}")
        with self._lock:
            self._counts[name] += 1

    def snapshot(self, *, reset: bool = False) -> dict[str, int]:
        """The counters now; with `reset`, zeroed at once, so no request falls between."""
        with self._lock:
            counts = dict(self._counts)
            if reset:
                self._counts = self._zero()
        return counts
