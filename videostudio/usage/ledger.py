"""The provider's points history, copied into the ledger and attributed to jobs.

Syncing reads the history (never skipping a stretch), matching applies the rules in
`matching` (which never guess), and sends nobody confirmed are settled from it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from videostudio.catalog.models import CatalogEntry
from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import InvalidRequest, ProviderError
from videostudio.provider.ratelimit import Priority, priority
from videostudio.provider.types import HistoryEntry
from videostudio.usage import matching
from videostudio.usage.models import LedgerEntry, UsagePolicy
from videostudio.videos import states
from videostudio.videos.leases import lease_held
from videostudio.videos.models import Video

log = logging.getLogger(__name__)

HISTORY_DAYS = 30

# --- The ledger -----------------------------------------------------------------------------

# A charge may reach the points history this long after its stamp.
SETTLE_LAG = timedelta(minutes=5)
# An unconfirmed send whose window the history never covered is given up this long after.
UNREADABLE_AFTER = timedelta(hours=1)
MATCH_LEASE = "ledger-match"
SYNC_LEASE = "ledger-sync"
SYNC_LEASE_TTL = timedelta(minutes=10)
MATCH_LEASE_TTL = timedelta(minutes=2)
MATCH_WAIT = 15.0  # seconds a sync waits for another process's match to finish


@dataclass
class MatchReport:
    attributed: int = 0
    made: int = 0
    never_made: int = 0
    unsettled: int = 0
    busy: bool = False  # another process was matching: it does the work

    @property
    def changed(self) -> bool:
        return bool(self.attributed or self.made or self.never_made or self.unsettled)

    def add(self, other: MatchReport) -> None:
        self.attributed += other.attributed
        self.made += other.made
        self.never_made += other.never_made
        self.unsettled += other.unsettled

    def __str__(self) -> str:
        if self.busy:
            return "another sync was attributing charges at the same moment"
        text = f"{self.attributed} attributed to jobs"
        settled = [
            f"{count} {label}"
            for count, label in (
                (self.made, "unconfirmed sends found made and charged"),
                (self.never_made, "found never made"),
                (self.unsettled, "still unsettled"),
            )
            if count
        ]
        return "; ".join([text, *settled])


@dataclass
class LedgerReport:
    pages: int = 0
    read: int = 0
    new: int = 0
    complete: bool = False
    match: MatchReport = field(default_factory=MatchReport)
    error: str = ""

    @property
    def matched(self) -> int:
        return self.match.attributed + self.match.made

    def __str__(self) -> str:
        if self.error:
            return f"Ledger not synced: {self.error}"
        return (
            f"{_count(self.read, 'charge')} read in {_count(self.pages, 'page')}, "
            f"{self.new} new; {self.match}"
            + ("" if self.complete else "; older pages not read yet")
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def ledger_sync(*, client: ProviderClient, max_pages: int = 50) -> LedgerReport:
    """Copy the provider's points history into the ledger, then attribute charges.

    Idempotent: entries are keyed by the provider's query_id. The ledger is known
    complete up to a time (`ledger_complete_until`): every charge stamped before it
    is copied. A sync walks the history from the newest entry down to that time
    (less SETTLE_LAG, for charges that show up late); only a walk that gets there
    unbroken moves the mark up. A walk cut short (an error, the page limit) leaves
    a note where it stopped, and the next sync walks the new entries, then carries
    on from that note, so no stretch of the history is ever skipped. One sync at a
    time, across processes and hosts.
    """
    report = LedgerReport()
    with lease_held(SYNC_LEASE, SYNC_LEASE_TTL) as held:
        if held:
            _copy_history(client, report, max_pages=max_pages)
        else:
            report.error = "another sync is reading the points history right now"
    report.match = ledger_match()
    return report


def _copy_history(client: ProviderClient, report: LedgerReport, *, max_pages: int) -> None:
    policy = UsagePolicy.current()
    started = timezone.now()
    horizon = started - timedelta(days=HISTORY_DAYS)
    complete = policy.ledger_complete_until
    resume = policy.ledger_resume or {}
    resume_top = _parse_time(resume.get("top"))
    # First the entries newer than where the last walk began (or than the mark)...
    first_stop = resume_top or complete
    walked = _walk(client, report, None, first_stop, horizon, max_pages)
    if walked.reached and resume_top is not None:
        # ...then on from where a cut-short walk stopped, down to the mark.
        walked = _walk(
            client, report, resume.get("cursor"), complete, horizon, max_pages - report.pages
        )
        if not walked.reached:
            resume = {"cursor": walked.cursor, "top": resume.get("top")} if walked.cursor else {}
    elif not walked.reached and resume_top is None and walked.cursor:
        resume = {"cursor": walked.cursor, "top": started.isoformat()}
    if walked.reached:
        report.complete = True
        UsagePolicy.objects.filter(pk=1).update(ledger_complete_until=started, ledger_resume=None)
    else:
        UsagePolicy.objects.filter(pk=1).update(ledger_resume=resume or None)


@dataclass
class _Walk:
    reached: bool  # got down to the stop (or to the end of the history) unbroken
    cursor: str | None  # the last entry read, to carry on from


def _walk(
    client: ProviderClient,
    report: LedgerReport,
    cursor: str | None,
    stop: datetime | None,
    horizon: datetime,
    pages: int,
) -> _Walk:
    """Copy pages from `cursor` (None: the newest) until an entry stamped at or before
    `stop` less SETTLE_LAG, the end of the history, or the horizon."""
    floor = stop - SETTLE_LAG if stop is not None else None
    for _ in range(max(pages, 0)):
        try:
            with priority(Priority.BACKGROUND):  # behind sends, looks and downloads
                page = client.points_history(limit=100, starting_after=cursor)
        except InvalidRequest as exc:
            # The note's entry has left the provider's history: start afresh next time.
            report.error = exc.user_message
            return _Walk(False, None)
        except ProviderError as exc:
            report.error = exc.user_message
            return _Walk(False, cursor)
        report.pages += 1
        report.read += len(page.entries)
        report.new += ledger_store(page.entries)
        cursor = page.last_query_id or cursor
        last = page.entries[-1].created_at if page.entries else None
        if not page.has_more or (last is not None and last < horizon):
            return _Walk(True, cursor)
        if floor is not None and last is not None and last <= floor:
            return _Walk(True, cursor)
    return _Walk(False, cursor)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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


def ledger_match(*, now: datetime | None = None) -> MatchReport:
    """Attribute unattributed charges to the jobs they paid for, and settle the sends
    nobody confirmed, by the rules in `matching` (which never guess).

    A settled send can clear the way for another attribution, so the rules run
    again until nothing changes: one sync leaves nothing for the next to find.
    """
    total = MatchReport()
    # One matcher at a time, across every process and host: two reading the same
    # ledger at once could each pick a different charge for one job.
    with lease_held(MATCH_LEASE, MATCH_LEASE_TTL, wait=MATCH_WAIT) as held:
        if not held:
            total.busy = True
            return total
        now = now or timezone.now()
        for _ in range(5):
            step = _match_once(now)
            if not step.changed:
                break
            total.add(step)
    return total


def _match_once(now: datetime) -> MatchReport:
    report = MatchReport()
    horizon = now - timedelta(days=HISTORY_DAYS + 1)
    # Only charges of models the studio has used can be any job's (a busy key also
    # pays for chats with other bots): those are left out of the reading.
    models = {
        name.lower()
        for name in Video.objects.filter(created_at__gte=horizon - timedelta(days=1))
        .values_list("model", flat=True)
        .distinct()
    }
    entries = [
        e
        for e in LedgerEntry.objects.filter(video__isnull=True, created_at__gte=horizon).only(
            "pk", "bot_name", "created_at", "cost_points"
        )
        if e.bot_name.lower() in models
    ]
    # A send older than the history the provider keeps cannot be settled from it.
    unsure = Video.objects.filter(status__in=states.UNSURE)
    unconfirmed = list(unsure.filter(created_at__gte=horizon + matching.SKEW))
    if not entries and not unconfirmed:
        report.unsettled += _unsettle_stale(unsure, now)
        return report
    charges = [
        matching.Charge(e.pk, e.bot_name.lower(), e.created_at, e.cost_points) for e in entries
    ]
    # Jobs that may hold a charge: made by the provider and not failed, and sends still
    # under way (a sender that died after the provider took its job has a charge too).
    tracked = (
        Video.objects.filter(charge__isnull=True)
        .filter(
            Q(status__in=states.CHARGEABLE, provider_id__isnull=False)
            | Q(status=Video.Status.SUBMITTING)
        )
        .exclude(cost_source=Video.Cost.NONE)
    )
    if charges:
        first = min(c.at for c in charges) - matching.SLACK
        last = max(c.at for c in charges) + matching.SKEW
        tracked = tracked.filter(created_at__lte=last).filter(
            Q(completed_at__isnull=True) | Q(completed_at__gte=first)
        )
    else:
        tracked = tracked.none()
    prices = _Prices()
    jobs = [_job(video, prices) for video in tracked] + [
        _job(video, prices, unconfirmed=True) for video in unconfirmed
    ]
    complete = UsagePolicy.current().ledger_complete_until
    closed = complete - SETTLE_LAG if complete is not None else now - timedelta(days=365)
    decision = matching.decide(charges, jobs, now=now, closed=closed)
    by_pk = {e.pk: e for e in entries}
    for charge_pk, video_pk in decision.attributed.items():
        report.attributed += _attribute(by_pk[charge_pk], video_pk)
    for video_pk, charge_pk in decision.made.items():
        report.made += _settle_made(video_pk, by_pk[charge_pk])
    report.never_made += states.videos_settled_never_made(
        decision.never_made,
        message=(
            "The provider never made this job and charged nothing for it; it is safe to try again."
        ),
    )
    report.unsettled += _unsettle(
        decision.unsettled,
        "its usage history cannot tell whether it was made: other charges of this model "
        "could be it.",
    )
    report.unsettled += _unsettle_stale(unsure, now)
    return report


def _unsettle_stale(unsure: QuerySet[Video], now: datetime) -> int:
    """A history that cannot be read (a relay without one), or a job stuck in flight
    that could explain its charge, must not hold a send forever."""
    window = matching.UNCONFIRMED_WINDOW + matching.SLACK + UNREADABLE_AFTER
    sent = Coalesce("submitted_at", "created_at")
    stale = unsure.annotate(sent=sent).filter(
        status=Video.Status.UNCONFIRMED, sent__lt=now - window
    )
    return _unsettle(
        stale.values_list("pk", flat=True),
        "its usage history could not settle it within an hour: it may or may not have "
        "been made and charged.",
    )


class _Prices:
    """Catalog rates for estimates, read once per match."""

    def __init__(self) -> None:
        self.entries = {entry.name.lower(): entry for entry in CatalogEntry.objects.all()}

    def estimate(self, video: Video) -> int | None:
        entry = self.entries.get(video.model.lower())
        rate = entry.rate_for(video.size) if entry is not None else None
        return round(rate * video.billed_seconds) if rate else None


def _job(video: Video, prices: _Prices, *, unconfirmed: bool = False) -> matching.Job:
    start = video.submitted_at or video.created_at  # queued first, then sent
    end = video.completed_at if video.status == Video.Status.COMPLETED else None
    reported = video.cost_points if video.cost_source == Video.Cost.REPORTED else None
    return matching.Job(
        key=video.pk,
        model=video.model.lower(),
        start=start,
        end=end,
        reported=reported,
        expected=prices.estimate(video),
        unconfirmed=unconfirmed,
    )


def _attribute(entry: LedgerEntry, video_pk: int) -> int:
    """Link a charge to a job; a cost the provider reported stays, any other becomes
    the charge. Guarded: a job that failed or was priced meanwhile is left alone."""
    return _link_and(entry, video_pk, states.video_charged)


def _settle_made(video_pk: int, entry: LedgerEntry) -> int:
    """An unconfirmed send was made: its charge is linked and becomes its cost."""
    return _link_and(entry, video_pk, states.video_settled_made)


def _link_and(entry: LedgerEntry, video_pk: int, move: Callable[..., bool]) -> int:
    """Link the charge and make the job's move together, or neither (1 if done)."""
    try:
        with transaction.atomic():
            moved = _link(entry, video_pk) and move(
                video_pk, points=entry.cost_points, charged_at=entry.created_at
            )
            if not moved:
                transaction.set_rollback(True)
                return 0
    except IntegrityError:  # the job holds another charge already (an admin's settling)
        return 0
    return 1


def _link(entry: LedgerEntry, video_pk: int) -> bool:
    return bool(
        LedgerEntry.objects.filter(pk=entry.pk, video__isnull=True).update(video_id=video_pk)
    )


def _unsettle(video_pks: Iterable[int], why: str) -> int:
    """Unconfirmed sends the history cannot settle: an admin's to decide, nobody's bill."""
    return states.videos_unsettled(
        video_pks,
        message=(
            f"The provider did not confirm this job, and {why} It was not sent again, and "
            "nothing has been booked to you; an admin settles it from the usage review. "
            "Check there before sending it again."
        ),
    )


def unsettled_evidence(video: Video) -> list[LedgerEntry]:
    """The unattributed charges that could be an unsettled send's, for an admin."""
    sent_at = video.submitted_at or video.created_at
    send = matching.Job(video.pk, video.model.lower(), sent_at, None, unconfirmed=True)
    start, end = send.window(timezone.now())
    return list(
        LedgerEntry.objects.filter(
            video__isnull=True,
            bot_name__iexact=video.model,
            created_at__gte=start,
            created_at__lte=end,
        ).order_by("created_at")
    )


def unsettled_resolve(*, video: Video, entry: LedgerEntry | None) -> bool:
    """An admin's word on an unsettled send: it was this charge, or it was never made.
    False when someone (or the rules) settled it meanwhile."""
    if video.status != Video.Status.UNSETTLED:
        return False
    if entry is not None:
        return bool(_settle_made(video.pk, entry))
    return bool(
        states.videos_settled_never_made(
            [video.pk], message="An admin checked the usage history: this job was never made."
        )
    )
