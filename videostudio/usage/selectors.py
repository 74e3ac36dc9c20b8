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
    videos = Video.objects.filter(created_at__gte=scope.since, created_at__lt=scope.until)
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
            failed=Count("pk", filter=Q(status=Video.Status.FAILED)),
        )
        .order_by("-points", by)
    )


def per_period(videos: QuerySet[Video], scope: Scope) -> list[tuple[date, int]]:
    """Points per day, week or month across the whole scope (empty periods as 0)."""
    period = scope.period
    rows = (
        videos.order_by()
        .annotate(bucket=TRUNC[period]("created_at"))
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
    if attributed == "yes":
        entries = entries.filter(video__isnull=False)
    elif attributed == "no":
        entries = entries.filter(video__isnull=True)
    return entries.order_by("-created_at", "-id")


def failed(scope: Scope) -> QuerySet[Video]:
    return jobs(scope).filter(status=Video.Status.FAILED)


# A job's charge shows up in the history within this long, or not at all.
MATCH_AFTER = timedelta(minutes=10)


def ledger_synced_until() -> datetime | None:
    """When the ledger last took new charges: missing charges before then mean none."""
    return LedgerEntry.objects.order_by("-synced_at").values_list("synced_at", flat=True).first()
