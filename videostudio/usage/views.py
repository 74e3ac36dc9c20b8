from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from videostudio.connection import get_client
from videostudio.http import note, page_asked, safe_next
from videostudio.usage import selectors, services
from videostudio.usage.charts import bar_chart
from videostudio.usage.forms import ReviewFilters
from videostudio.usage.models import BalanceSnapshot, LedgerEntry, UsagePolicy
from videostudio.videos.models import Video

TABS = ["summary", "jobs", "ledger", "failed", "unsettled"]
SYNC_NOW_GAP = 10  # seconds: a double click, or a nervous hand, reads the history once


@staff_member_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    form = ReviewFilters(request.GET or None)
    scope = form.scope()
    requested = request.GET.get("tab", "")
    tab = requested if requested in TABS else "summary"
    if requested and tab != requested:
        note(request, f"There is no “{requested[:40]}” tab: the summary is shown.")
    # The ledger's filter as the form read it: a value it refused filters nothing.
    attributed = form.cleaned_data.get("attributed", "") if form.is_bound else ""
    export = request.GET.get("export", "")
    if export == "csv":
        return _csv(tab, scope, attributed)
    if export:
        note(request, f"There is no “{export[:40]}” export, only CSV: the page is shown.")
    context: dict[str, Any] = {
        "form": form,
        "tab": tab,
        "tabs": TABS,
        "scope": scope,
        "books": selectors.books(scope),
        "unsettled_count": selectors.unsettled().count(),
        "ledger_complete_until": UsagePolicy.current().ledger_complete_until,
    }
    videos = selectors.jobs(scope)
    if tab == "summary":
        context.update(
            per_member=selectors.totals(videos, "owner__username"),
            per_model=selectors.totals(videos, "model"),
            # Built from numbers and escaped labels only.
            chart=mark_safe(
                bar_chart(
                    selectors.per_period(videos, scope),
                    period=scope.period,
                    title=f"Points per {scope.period}",
                )
            ),
            balances=BalanceSnapshot.objects.order_by("-taken_at")[:10],
        )
    elif tab == "jobs":
        context["page"] = page_asked(request, Paginator(videos, 100))
    elif tab == "ledger":
        context["page"] = page_asked(request, Paginator(selectors.ledger(scope, attributed), 100))
    elif tab == "unsettled":
        context["unsettled"] = [
            UnsettledRow(video, services.unsettled_evidence(video))
            for video in selectors.unsettled()[:100]
        ]
    else:
        page = page_asked(request, Paginator(selectors.failed(scope), 100))
        context["page"] = page
        context["rows"] = [JobRow(video, charge_note(video)) for video in page.object_list]
    query = request.GET.copy()
    query["export"] = "csv"
    query["tab"] = tab
    context["csv_url"] = f"{request.path}?{query.urlencode()}"
    return render(request, "usage/review.html", context)


@dataclass(frozen=True)
class JobRow:
    video: Video
    charged: str


@dataclass(frozen=True)
class UnsettledRow:
    video: Video
    evidence: list[LedgerEntry]


def charge_note(video: Video) -> str:
    """Whether the provider charged for a job, as far as anyone can know."""
    charge = getattr(video, "charge", None)
    if charge is not None:
        return f"charged {charge.cost_points} points"
    if video.cost_source == Video.Cost.REPORTED:
        return f"charged {video.cost_points} points (reported)"
    if video.status == Video.Status.UNSETTLED:
        return "unknown: unsettled, see the Unsettled tab"
    if video.status == Video.Status.UNCONFIRMED:
        return "being checked against the points history"
    if video.cost_source == Video.Cost.NONE:
        if video.error_code == "not_created":
            return "never made: not charged"
        if video.provider_id:
            return "not charged"
        return "refused by the provider: not charged" if video.error_code else "never sent"
    if not video.provider_id and not video.submitted_at:
        return "never sent"
    return "not known yet"


@staff_member_required
@require_POST
def sync(request: HttpRequest) -> HttpResponse:
    """Staff: read the provider's points history and balance now."""
    if not cache.add("videostudio:usage:sync-now", 1, SYNC_NOW_GAP):
        messages.info(request, "The points history was read a few seconds ago; try again shortly.")
        return redirect(safe_next(request, reverse("usage:review")))
    client = get_client()
    report = services.ledger_sync(client=client)
    balance = services.balance_refresh(client=client)
    level = messages.ERROR if report.error else messages.SUCCESS
    books = selectors.books(selectors.default_scope())
    closing = (
        "the books close"
        if books.closes
        else f"the books are {abs(books.gap)} points {'over' if books.gap > 0 else 'under'} "
        "the provider's total (see the reconciliation line)"
    )
    messages.add_message(
        request,
        level,
        f"{report}. Balance: {balance if balance is not None else 'could not be read'}. "
        f"Last 30 days: {books.unattributed} points unattributed; {closing}.",
    )
    return redirect(safe_next(request, reverse("usage:review")))


@staff_member_required
@require_POST
def balance_check(request: HttpRequest) -> HttpResponse:
    """Staff, after adding points: read the balance now, unblocking everyone at once."""
    points = services.balance_refresh(client=get_client())
    if points is None:
        messages.error(request, "The balance could not be read from the provider; try again.")
    elif points > 0:
        messages.success(request, f"The team has {points} points: new videos can be made again.")
    else:
        messages.warning(request, "The provider still reports no points left.")
    return redirect(safe_next(request, reverse("videos:list")))


@staff_member_required
@require_POST
def settle(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: an unsettled send was this charge, or was never made."""
    video = get_object_or_404(Video, pk=pk, status=Video.Status.UNSETTLED)
    raw = request.POST.get("charge", "")
    entry = None
    if raw != "none":
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            messages.error(request, "Choose one of the listed charges, or “never made”.")
            return redirect(f"{reverse('usage:review')}?tab=unsettled")
        candidates = {e.pk: e for e in services.unsettled_evidence(video)}
        entry = candidates.get(int(raw))
        if entry is None:
            messages.error(request, "That charge is not one that could be this job's any more.")
            return redirect(f"{reverse('usage:review')}?tab=unsettled")
    if not services.unsettled_resolve(video=video, entry=entry):
        messages.error(request, f"Job #{video.pk} was settled meanwhile; nothing was changed.")
    else:
        messages.success(
            request,
            f"Job #{video.pk} settled: "
            + (f"made and charged {entry.cost_points} points." if entry else "never made."),
        )
    return redirect(f"{reverse('usage:review')}?tab=unsettled")


def _csv(tab: str, scope: selectors.Scope, attributed: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"videostudio-{tab}-{scope.start}-{scope.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    rows: Iterable[list[Any]]
    videos = selectors.jobs(scope)
    if tab == "summary":
        writer.writerow(["group", "name", "points", "estimated points", "jobs", "failed"])
        rows = [
            [group, row[key], row["points"] or 0, row["estimated"] or 0, row["jobs"], row["failed"]]
            for group, key in (("member", "owner__username"), ("model", "model"))
            for row in selectors.totals(videos, key)
        ]
    elif tab == "unsettled":
        writer.writerow(
            ["sent", "video", "member", "model", "billed seconds", "charges that could be it"]
        )
        rows = (
            [v.created_at.isoformat(), v.pk, v.owner.username, v.model, v.billed_seconds,
             " ".join(f"{e.query_id}:{e.cost_points}" for e in services.unsettled_evidence(v))]
            for v in selectors.unsettled()
        )  # fmt: skip
    elif tab == "ledger":
        writer.writerow(["time", "query_id", "bot", "type", "points", "video", "member"])
        rows = (
            [e.created_at.isoformat(), e.query_id, e.bot_name, e.usage_type, e.cost_points,
             e.video_id or "unattributed", e.video.owner.username if e.video else ""]
            for e in selectors.ledger(scope, attributed).iterator(chunk_size=500)
        )  # fmt: skip
    else:
        source = selectors.failed(scope) if tab == "failed" else videos
        writer.writerow(
            ["time", "video", "member", "model", "kind", "status", "billed seconds",
             "points", "cost source", "charge"]
        )  # fmt: skip
        rows = (
            [v.created_at.isoformat(), v.pk, v.owner.username, v.model, v.kind, v.status,
             v.billed_seconds, v.cost_points if v.cost_points is not None else "",
             v.cost_source, charge_note(v)]
            for v in source.iterator(chunk_size=500)
        )  # fmt: skip
    for row in rows:
        writer.writerow(row)
    return response
