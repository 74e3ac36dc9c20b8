"""Faults a test or a demo asks for: error answers and downloads cut short.

Both are queued, thread-safe and used up one answer at a time, so a test can say
"the next two polls fail" or "the next download breaks after 1,000 bytes" while
other threads keep talking to the same simulator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from videostudio.simulator.web import ApiError


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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: list[_ErrorFault] = []
        self._cuts: list[_CutFault] = []

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
