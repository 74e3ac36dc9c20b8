"""The request budget in the database: one `pacing_bucket` row per budget, for every
process on every host that shares the database (the embedded default: SQLite).

Each decision is one short transaction that reads the row, decides with the rules of
`budget` and writes it back: `select_for_update` locks the row on PostgreSQL; SQLite
ignores it, and its IMMEDIATE transactions (the project's setting) take the write
lock at BEGIN, so writers queue and none reads a count another is about to change.
The transaction is durable: a take inside a caller's transaction is an error, since
the lock would then last until that caller commits, across the provider call the
token was for.
"""

from __future__ import annotations

from typing import Unpack

from django.db import IntegrityError, connections, transaction
from django.db.models import F

from videostudio.pacing.budget import DEFAULT_NAME, BaseBudget, State, Timing
from videostudio.pacing.models import Bucket
from videostudio.provider.ratelimit import Priority


class DatabaseBudget(BaseBudget):
    """A budget kept in the `pacing_bucket` row named `name` of database `using`."""

    def __init__(
        self,
        name: str = DEFAULT_NAME,
        *,
        rate_per_minute: int,
        burst: int,
        using: str = "default",
        **timing: Unpack[Timing],
    ) -> None:
        super().__init__(rate_per_minute=rate_per_minute, burst=burst, **timing)
        self.name = name
        self._using = using

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, name={self.name!r})"

    def try_take(self, priority: Priority, n: int = 1) -> float:
        with self._transaction():
            before = self._locked()
            after, wait = self._decide_take(before, priority, n)
            if wait == 0:
                self._save(after)
        return wait

    def pause_until(self, wall_deadline: float) -> None:
        with self._transaction():
            paused = self._decide_pause(self._locked(), wall_deadline)
            if paused is not None:
                self._save(paused)

    def _state(self) -> State:
        row = (
            Bucket.objects.using(self._using)
            .filter(name=self.name)
            .values_list("tokens", "updated", "paused_until")
            .first()
        )
        return self._fresh() if row is None else State(*row)

    def _transaction(self) -> transaction.Atomic:
        return transaction.atomic(using=self._using, durable=True)

    def _locked(self) -> State:
        """The row, locked until the transaction ends; created full if missing."""
        rows = Bucket.objects.using(self._using).select_for_update()
        if self._deferred_sqlite():
            # Write first: a DEFERRED transaction that read first could not become a
            # writer once another process wrote (an error, though never a double grant).
            rows.filter(name=self.name).update(tokens=F("tokens"))
        row = rows.filter(name=self.name).first()
        if row is None:
            try:
                with transaction.atomic(using=self._using):
                    fresh = self._fresh()
                    row = rows.create(
                        name=self.name,
                        tokens=fresh.tokens,
                        updated=fresh.updated,
                        paused_until=fresh.paused_until,
                    )
            except IntegrityError:  # another process created it first; wait for its lock
                row = rows.get(name=self.name)
        return State(row.tokens, row.updated, row.paused_until)

    def _deferred_sqlite(self) -> bool:
        """SQLite whose transactions do not take the write lock at BEGIN (the project's
        own settings ask for IMMEDIATE; a DATABASE_URL of sqlite:// does not)."""
        connection = connections[self._using]
        options = connection.settings_dict.get("OPTIONS", {})
        return connection.vendor == "sqlite" and options.get("transaction_mode") != "IMMEDIATE"

    def _save(self, state: State) -> None:
        Bucket.objects.using(self._using).filter(name=self.name).update(
            tokens=state.tokens, updated=state.updated, paused_until=state.paused_until
        )
