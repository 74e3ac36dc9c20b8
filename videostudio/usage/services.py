"""Points: what each job cost, the provider's ledger, the team balance, budgets.

One key means one bill. Costs come from the provider when it says (a completed
video's `usage`, or its points history); otherwise they are estimated from the
catalog's points per second, and say so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import ProviderError
from videostudio.provider.types import HistoryEntry, RemoteVideo
from videostudio.usage.models import BalanceSnapshot, Budget, LedgerEntry, UsagePolicy
from videostudio.videos.models import Video

log = logging.getLogger(__name__)

# A charge belongs to a job sent within this long of it.
MATCH_WINDOW = timedelta(minutes=10)
HISTORY_DAYS = 30
BALANCE_RECHECK = 60  # seconds between balance checks while the team is out of points


class Refused(Exception):
    """A submission the rules turn down before anything is sent."""


# --- Costs ----------------------------------------------------------------------------------


def cost_estimate(model: str, billed_seconds: int) -> int | None:
    from videostudio.catalog.services import catalog_find

    entry = catalog_find(model)
    rate = entry.rate if entry is not None else None
    return round(rate * billed_seconds) if rate else None


def reported_points(usage: Any) -> int | None:
    """The points in a video's `usage`, in the shapes providers use for it."""
    if not isinstance(usage, dict):
        return None
    for key in ("cost_points", "points", "total_points", "cost"):
        value = usage.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return int(value)
    return None


def cost_fields(video: Video, remote: RemoteVideo, status: str) -> dict[str, Any]:
    """What a finished job cost, to record with its final status."""
    if status not in (Video.Status.COMPLETED, Video.Status.FAILED):
        return {}
    fields: dict[str, Any] = {"reserved_points": 0}
    if video.cost_source == Video.Cost.MEASURED:
        return fields  # the ledger already said
    measured = reported_points(remote.usage)
    if measured is not None:
        fields.update(cost_points=measured, cost_source=Video.Cost.MEASURED)
    elif status == Video.Status.COMPLETED:
        estimate = cost_estimate(video.model, video.billed_seconds)
        if estimate is not None:
            fields.update(cost_points=estimate, cost_source=Video.Cost.ESTIMATED)
    return fields


def rate_learn(model: str) -> None:
    """Points per second for `model`, from the jobs the provider priced."""
    from videostudio.catalog.models import CatalogEntry

    totals = Video.objects.filter(
        model__iexact=model, cost_source=Video.Cost.MEASURED, billed_seconds__gt=0
    ).aggregate(points=Sum("cost_points"), seconds=Sum("billed_seconds"))
    if totals["seconds"]:
        CatalogEntry.objects.filter(name__iexact=model).update(
            learned_points_per_second=totals["points"] / totals["seconds"]
        )


# --- Budgets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetState:
    limit: int | None
    spent: int
    reserved: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.spent - self.reserved, 0)


def month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def budget_state(user: Any, *, now: datetime | None = None) -> BudgetState:
    now = now or timezone.now()
    budget = Budget.objects.filter(user_id=user.pk).first()
    limit = budget.monthly_points if budget and budget.monthly_points is not None else None
    if limit is None:
        limit = UsagePolicy.current().default_monthly_budget
    mine = Video.objects.filter(owner_id=user.pk)
    totals = mine.aggregate(
        spent=Sum("cost_points", filter=Q(created_at__gte=month_start(now))),
        reserved=Sum("reserved_points"),
    )
    return BudgetState(limit, totals["spent"] or 0, totals["reserved"] or 0)


def budget_reserve(video: Video) -> None:
    """Hold the job's estimated cost against its owner's budget, or refuse it.

    Call inside the transaction that saves the job: the owner's budget row is
    locked, so parallel submissions queue here and cannot overspend together.
    """
    Budget.objects.get_or_create(user_id=video.owner_id)
    Budget.objects.select_for_update().get(user_id=video.owner_id)
    estimate = cost_estimate(video.model, video.billed_seconds) or 0
    state = budget_state(video.owner)
    if state.limit is not None and state.spent + state.reserved + estimate > state.limit:
        raise Refused(
            f"This would cost about {estimate} points, more than is left of your monthly "
            f"budget: {state.spent} spent and {state.reserved} reserved of {state.limit} "
            f"(remaining {state.remaining}). An admin can raise it."
        )
    video.reserved_points = estimate


# --- The team balance -------------------------------------------------------------------------


def credits_note_exhausted() -> None:
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1, out_of_points_since__isnull=True).update(
        out_of_points_since=timezone.now()
    )


def balance_refresh(*, client: ProviderClient) -> int | None:
    """Read and keep the balance; a positive one ends an out-of-points spell."""
    try:
        points = client.current_balance()
    except ProviderError as exc:
        log.warning("could not read the team balance: %s", exc.error_type or exc.status)
        return None
    BalanceSnapshot.objects.create(points=points)
    if points > 0:
        UsagePolicy.objects.filter(pk=1).update(out_of_points_since=None)
    return points


def credits_refusal(*, client: ProviderClient) -> str | None:
    """Why new jobs are refused team-wide (the provider said 402), or None.

    While refused, the balance is read again at most once a minute, so the block
    lifts by itself when points are added.
    """
    if UsagePolicy.current().out_of_points_since is None:
        return None
    if cache.add("videostudio:usage:balance-recheck", 1, BALANCE_RECHECK):
        balance_refresh(client=client)
        if UsagePolicy.current().out_of_points_since is None:
            return None
    return (
        "The team's points are used up, so new videos cannot be made until an admin "
        "adds points. Jobs already running are not affected."
    )


# --- The ledger -----------------------------------------------------------------------------


@dataclass
class LedgerReport:
    pages: int = 0
    new: int = 0
    matched: int = 0
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"Ledger not synced: {self.error}"
        return f"{self.new} new charges in {self.pages} pages; {self.matched} matched to jobs"


def ledger_sync(*, client: ProviderClient, max_pages: int = 50) -> LedgerReport:
    """Copy the provider's points history into the ledger, then match charges to jobs.

    Idempotent: entries are keyed by the provider's query_id. Paging stops at the
    first page that reaches what was copied before.
    """
    report = LedgerReport()
    cursor = None
    oldest = timezone.now() - timedelta(days=HISTORY_DAYS)
    try:
        while report.pages < max_pages:
            page = client.points_history(limit=100, starting_after=cursor)
            report.pages += 1
            fresh = ledger_store(page.entries)
            report.new += fresh
            last = page.entries[-1].created_at if page.entries else None
            # Newest first: once a page reaches charges copied before, the rest are too.
            if (
                not page.has_more
                or fresh < len(page.entries)
                or (last is not None and last < oldest)
            ):
                break
            cursor = page.last_query_id
    except ProviderError as exc:
        report.error = exc.user_message
    report.matched = ledger_match()
    return report


def ledger_store(entries: Iterable[HistoryEntry]) -> int:
    """Keep history entries in the ledger (each once). Returns how many were new."""
    entries = list(entries)
    known = set(
        LedgerEntry.objects.filter(query_id__in=[e.query_id for e in entries]).values_list(
            "query_id", flat=True
        )
    )
    fresh = [
        LedgerEntry(
            query_id=e.query_id,
            created_at=e.created_at or timezone.now(),
            bot_name=(e.bot_name or "")[:100],
            usage_type=(e.usage_type or "")[:50],
            cost_points=e.cost_points or 0,
            raw=e.raw,
        )
        for e in entries
        if e.query_id not in known
    ]
    LedgerEntry.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


def ledger_claim(video: Video, charges: list[HistoryEntry]) -> int | None:
    """Attribute to `video` the unattributed charge among `charges` nearest its
    creation; returns its points (None if every one is taken)."""
    ledger_store(charges)
    free = LedgerEntry.objects.filter(
        query_id__in=[c.query_id for c in charges], video__isnull=True
    )
    entry = min(free, key=lambda e: abs(e.created_at - video.created_at), default=None)
    if entry is None:
        return None
    LedgerEntry.objects.filter(pk=entry.pk, video__isnull=True).update(video=video)
    return entry.cost_points


def ledger_match() -> int:
    """Attribute unmatched charges to the jobs they paid for: same model, sent
    closest in time (within MATCH_WINDOW), each job at most once."""
    # Older charges than the provider keeps were matched (or not) long ago.
    recent = timezone.now() - timedelta(days=HISTORY_DAYS + 1)
    entries = list(
        LedgerEntry.objects.filter(video__isnull=True, created_at__gte=recent).order_by(
            "created_at"
        )
    )
    if not entries:
        return 0
    start = entries[0].created_at - MATCH_WINDOW
    end = entries[-1].created_at + MATCH_WINDOW
    candidates = list(
        Video.objects.filter(
            submitted_at__gte=start, submitted_at__lte=end, charge__isnull=True
        ).exclude(provider_id=None)
    )
    by_model: dict[str, list[Video]] = {}
    for candidate in candidates:
        by_model.setdefault(candidate.model.lower(), []).append(candidate)
    taken: set[int] = set()
    matched = 0
    for entry in entries:
        near = [
            v
            for v in by_model.get(entry.bot_name.lower(), [])
            if v.pk not in taken
            and v.submitted_at is not None
            and abs(v.submitted_at - entry.created_at) <= MATCH_WINDOW
        ]
        if not near:
            continue
        video = min(near, key=lambda v: abs(v.submitted_at - entry.created_at))  # type: ignore[operator]
        taken.add(video.pk)
        with transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk, video__isnull=True).update(video=video)
            # The ledger is the bill: it replaces an estimate, and frees the reservation.
            Video.objects.filter(pk=video.pk).update(
                cost_points=entry.cost_points,
                cost_source=Video.Cost.MEASURED,
                reserved_points=0,
            )
        rate_learn(video.model)
        matched += 1
    return matched
