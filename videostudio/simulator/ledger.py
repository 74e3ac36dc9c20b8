"""Point balance and history for the usage endpoints.

Unlike jobs, this is state. By default it lives in the memory of ONE `Simulator`
instance. Given a `path`, it is an append-only JSON-lines file under an exclusive
lock instead, so every process of a demo (web server and worker) shares one balance
and one history, as they would with a real provider.

Each charge is one entry, stamped (`creation_time`, microseconds since the epoch)
by its caller: when the job was sent, or when it will complete (see
`Simulator(charge_at=...)`). The points leave the balance at once, whatever the
stamp; the entry shows in `history` only once the clock has reached its stamp, and
until it drops out of the last `HISTORY_DAYS` days.

The history is newest first by `creation_time`, ties broken by the order the
charges were made (later first), so it is a total order. A `starting_after`
cursor names an entry; the page goes on with the entries that sort after it.
Since an entry stamped in the future becomes visible only once the clock passes
its stamp, it is always newer than any cursor handed out before: paging on from
an old cursor neither skips nor repeats an entry.
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
        self._memory: list[Entry] = []  # in the order charged
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[list[Entry]]:
        """The entries in the order charged, held exclusively (across processes with a path)."""
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

    def _balance(self, entries: list[Entry]) -> int:
        return self._starting - sum(e.cost_points for e in entries)

    @staticmethod
    def _covers(balance: int, points: int) -> bool:
        return balance > 0 and balance >= points

    @property
    def balance(self) -> int:
        """The starting balance less every charge, visible in the history yet or not."""
        with self._locked() as entries:
            return self._balance(entries)

    def set_balance(self, points: int) -> None:
        """Tests and demos: the account now holds `points` (points bought or spent
        elsewhere). The history is unchanged: only charges appear there."""
        with self._locked() as entries:
            self._starting = points + sum(e.cost_points for e in entries)

    def can_pay(self, points: int) -> bool:
        """Whether a charge of `points` would be accepted now (nothing is taken)."""
        with self._locked() as entries:
            return self._covers(self._balance(entries), points)

    def charge(self, bot_name: str, points: int, *, stamp_us: int | None = None) -> str | None:
        """Take `points` if the balance covers them: the new entry's query_id; None (and
        no change) if not.

        The entry is stamped `stamp_us` (microseconds since the epoch; default: now)
        and shows in the history once the clock has reached that stamp.
        """
        with self._locked() as entries:
            if not self._covers(self._balance(entries), points):
                return None
            stamp = _micros(self._clock()) if stamp_us is None else stamp_us
            entry = Entry(f"q_{secrets.token_hex(10)}", stamp, bot_name, points)
            entries.append(entry)
            return entry.query_id

    def history(self, *, limit: int, starting_after: str | None) -> dict[str, Any]:
        """A page of visible entries, newest first, after the entry `starting_after` if given."""
        now = self._clock()
        horizon = int((now - HISTORY_DAYS * 86400) * 1_000_000)
        with self._locked() as entries:
            # Compared in seconds, like a job's status: an entry stamped at a job's
            # completion shows exactly when the job reads `completed`.
            visible = [
                (e.creation_time, order, e)
                for order, e in enumerate(entries)
                if horizon <= e.creation_time and e.creation_time / 1_000_000 <= now
            ]
        newest_first = [e for _, _, e in sorted(visible, key=lambda t: t[:2], reverse=True)]
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


def _micros(now: float) -> int:
    """`now` in whole microseconds, never after it, so an entry charged at `now` is in
    the history at `now`: int(now * 1e6) / 1e6 rounds to just above `now` for about
    one clock reading in 200, and a clock that stands still then never shows it."""
    stamp = int(now * 1_000_000)
    while stamp / 1_000_000 > now:
        stamp -= 1
    return stamp
