"""Point balance and history for the usage endpoints.

Unlike jobs, this is state. By default it lives in the memory of ONE `Simulator`
instance. Given a `path`, it is an append-only JSON-lines file under an exclusive
lock instead, so every process of a demo (web server and worker) shares one balance
and one history, as they would with a real provider.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
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
    def __init__(
        self, *, balance: int, clock: Callable[[], float], path: Path | None = None
    ) -> None:
        self._starting = balance
        self._clock = clock
        self._path = path
        self._memory: list[Entry] = []  # oldest first
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[list[Entry]]:
        """The entries, oldest first, held exclusively (across processes with a path)."""
        with self._lock:
            if self._path is None:
                yield self._memory
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a+") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.seek(0)
                entries = [Entry(**json.loads(line)) for line in fh if line.strip()]
                count = len(entries)
                yield entries
                for entry in entries[count:]:
                    fh.write(json.dumps(asdict(entry)) + "\n")

    @property
    def balance(self) -> int:
        with self._locked() as entries:
            return self._starting - sum(e.cost_points for e in entries)

    def charge(self, bot_name: str, points: int) -> bool:
        """Take `points` if the balance covers them; False (and no change) if not."""
        with self._locked() as entries:
            balance = self._starting - sum(e.cost_points for e in entries)
            if balance <= 0 or balance < points:
                return False
            stamp = int(self._clock() * 1_000_000)
            if entries and stamp <= entries[-1].creation_time:
                stamp = entries[-1].creation_time + 1  # keep "newest first" a total order
            entries.append(Entry(f"q_{secrets.token_hex(10)}", stamp, bot_name, points))
            return True

    def history(self, *, limit: int, starting_after: str | None) -> dict[str, Any]:
        """A page of entries, newest first, after the entry `starting_after` if given."""
        horizon = int((self._clock() - HISTORY_DAYS * 86400) * 1_000_000)
        with self._locked() as entries:
            newest_first = [e for e in reversed(entries) if e.creation_time >= horizon]
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
