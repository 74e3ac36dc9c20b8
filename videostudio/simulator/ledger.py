"""Point balance and history for the usage endpoints.

Unlike jobs, this is in-memory state of ONE `Simulator` instance: in demo mode the
web process and the worker each keep their own balance and history. That is good
enough for a fake (the numbers are made up anyway) and keeps the simulator free of
any shared storage.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HISTORY_DAYS = 30  # what Poe keeps


@dataclass(frozen=True)
class Entry:
    query_id: str
    creation_time: int  # microseconds since the epoch, as Poe reports it
    bot_name: str
    cost_points: int

    def as_json(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "creation_time": self.creation_time,
            "bot_name": self.bot_name,
            "usage_type": "API",
            "cost_points": self.cost_points,
        }


class UnknownCursor(LookupError):
    pass


class Ledger:
    def __init__(self, *, balance: int, clock: Callable[[], float]) -> None:
        self._balance = balance
        self._clock = clock
        self._entries: list[Entry] = []  # oldest first
        self._lock = threading.Lock()

    @property
    def balance(self) -> int:
        with self._lock:
            return self._balance

    def charge(self, bot_name: str, points: int) -> bool:
        """Take `points` if the balance covers them; False (and no change) if not."""
        with self._lock:
            if self._balance <= 0 or self._balance < points:
                return False
            self._balance -= points
            stamp = int(self._clock() * 1_000_000)
            if self._entries and stamp <= self._entries[-1].creation_time:
                stamp = self._entries[-1].creation_time + 1  # keep "newest first" a total order
            self._entries.append(Entry(f"q_{secrets.token_hex(10)}", stamp, bot_name, points))
            return True

    def history(self, *, limit: int, starting_after: str | None) -> dict[str, Any]:
        """A page of entries, newest first, after the entry `starting_after` if given."""
        horizon = int((self._clock() - HISTORY_DAYS * 86400) * 1_000_000)
        with self._lock:
            newest_first = [e for e in reversed(self._entries) if e.creation_time >= horizon]
        start = 0
        if starting_after:
            ids = [e.query_id for e in newest_first]
            if starting_after not in ids:
                raise UnknownCursor(starting_after)
            start = ids.index(starting_after) + 1
        page = newest_first[start : start + limit]
        return {
            "has_more": start + limit < len(newest_first),
            "length": len(page),
            "data": [entry.as_json() for entry in page],
        }
