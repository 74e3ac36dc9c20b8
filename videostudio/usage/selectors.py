"""The staff review of points: totals, periods, jobs, ledger, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from videostudio.usage.models import LedgerEntry
from videostudio.videos.models import Video

TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


@dataclass(frozen=True)
class Scope:
    start: date
    end: date
    member: str = ""
    model: str = ""
    period: str = "day"

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))


def default_scope() -> Scope:
    today = timezone.localdate()
    return Scope(start=today - timedelta(days=29), end=today)


def jobs(scope: Scope) -> QuerySet[Video]:
    """Jobs whose cost counts in the scope: by their charge's time once attributed, so
    the jobs of a period and the ledger of that period are the same money."""
    videos = Video.objects.filter(cost_at__gte=scope.since, cost_at__lt=scope.until)
    if scope.member:
        videos = videos.filter(owner__username=scope.member)
    if scope.model:
        videos = videos.filter(model__iexact=scope.model)
    return videos.select_related("owner", "charge").order_by("-created_at", "-id")


def totals(videos: QuerySet[Video], by: str) -> list[dict[str, Any]]:
    """Points and jobs grouped by `by` (a field), biggest spender first."""
    return list(
        videos.order_by()
        .values(by)
        .annotate(
            points=Sum("cost_points"),
            estimated=Sum("cost_points", filter=Q(cost_source=Video.Cost.ESTIMATED)),
            jobs=Count("pk"),
            # A send found made and charged is no failure of the provider's.
            failed=Count(
                "pk", filter=Q(status=Video.Status.FAILED) & ~Q(error_code="charged_untracked")
            ),
        )
        .order_by("-points", by)
    )


def per_period(videos: QuerySet[Video], scope: Scope) -> list[tuple[date, int]]:
    """Points per day, week or month across the whole scope (empty periods as 0)."""
    period = scope.period
    rows = (
        videos.order_by()
        .annotate(bucket=TRUNC[period]("cost_at"))
        .values("bucket")
        .annotate(points=Sum("cost_points"))
        .order_by("bucket")
    )
    found: dict[date, int] = {}
    for row in rows:
        bucket = row["bucket"]
        day = bucket.date() if isinstance(bucket, datetime) else bucket
        found[day] = row["points"] or 0
    return [(day, found.get(day, 0)) for day in _buckets(scope)]


def _buckets(scope: Scope) -> list[date]:
    if scope.period == "month":
        day, out = scope.start.replace(day=1), []
        while day <= scope.end:
            out.append(day)
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return out
    step = timedelta(days=7 if scope.period == "week" else 1)
    day = scope.start - timedelta(days=scope.start.weekday()) if step.days == 7 else scope.start
    out = []
    while day <= scope.end:
        out.append(day)
        day += step
    return out


def ledger(scope: Scope, attributed: str = "") -> QuerySet[LedgerEntry]:
    entries = LedgerEntry.objects.filter(
        created_at__gte=scope.since, created_at__lt=scope.until
    ).select_related("video__owner")
    if scope.model:
        entries = entries.filter(bot_name__iexact=scope.model)
    if scope.member:
        entries = entries.filter(video__owner__username=scope.member)
    if attributed == "yes":
        entries = entries.filter(video__isnull=False)
    elif attributed == "no":
        entries = entries.filter(video__isnull=True)
    return entries.order_by("-created_at", "-id")


def failed(scope: Scope) -> QuerySet[Video]:
    return jobs(scope).filter(
        status__in=[Video.Status.FAILED, Video.Status.UNSETTLED, Video.Status.UNCONFIRMED]
    )


def unsettled() -> QuerySet[Video]:
    """Sends nobody could settle, whatever the scope: each waits for an admin."""
    return Video.objects.filter(status=Video.Status.UNSETTLED).select_related("owner")


_STILL_RUNNING = [
    Video.Status.SUBMITTING,
    Video.Status.QUEUED,
    Video.Status.IN_PROGRESS,
    Video.Status.UNCONFIRMED,
]


@dataclass(frozen=True)
class Books:
    """Whether the scope's books close: the provider's ledger against the job costs.

    ledger = attributed + unattributed, always. Job costs = attributed (each job
    holding its charge costs exactly that charge) + reported costs whose charge is
    not in the ledger (yet) + estimates. With nothing in the last two, job costs +
    unattributed = the provider's ledger total.
    """

    ledger_total: int
    attributed: int
    unattributed: int
    jobs_total: int
    jobs_backed: int
    reported_unmatched: int
    estimated_only: int
    unknown_jobs: int  # jobs whose cost nobody can say: unpriced, unsettled
    member: str = ""

    @property
    def closes(self) -> bool:
        return self.jobs_total + self.unattributed == self.ledger_total

    @property
    def gap(self) -> int:
        return self.jobs_total + self.unattributed - self.ledger_total


def books(scope: Scope) -> Books:
    entries = ledger(scope)
    sums = entries.aggregate(
        total=Sum("cost_points"), attributed=Sum("cost_points", filter=Q(video__isnull=False))
    )
    videos = jobs(scope)
    costs = videos.aggregate(
        total=Sum("cost_points"),
        backed=Sum("cost_points", filter=Q(charge__isnull=False)),
        reported=Sum("cost_points", filter=Q(charge__isnull=True, cost_source=Video.Cost.REPORTED)),
        estimated=Sum(
            "cost_points", filter=Q(charge__isnull=True, cost_source=Video.Cost.ESTIMATED)
        ),
        unknown=Count("pk", filter=Q(cost_points__isnull=True) & ~Q(status__in=_STILL_RUNNING)),
    )
    total, attributed = sums["total"] or 0, sums["attributed"] or 0
    return Books(
        ledger_total=total,
        attributed=attributed,
        unattributed=total - attributed,
        jobs_total=costs["total"] or 0,
        jobs_backed=costs["backed"] or 0,
        reported_unmatched=costs["reported"] or 0,
        estimated_only=costs["estimated"] or 0,
        unknown_jobs=costs["unknown"] or 0,
        member=scope.member,
    )
