from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from videostudio.forms import check_date_range, date_field
from videostudio.usage import selectors
from videostudio.usage.charts import bar_chart
from videostudio.usage.models import BalanceSnapshot

TABS = ["summary", "jobs", "ledger", "failed"]


class ReviewFilters(forms.Form):
    start = date_field("From")
    end = date_field("To")
    member = forms.ChoiceField(label="Member", required=False)
    model = forms.CharField(label="Model", required=False, max_length=100)
    period = forms.ChoiceField(
        label="Per", required=False, choices=[("day", "day"), ("week", "week"), ("month", "month")]
    )
    attributed = forms.ChoiceField(
        label="Ledger",
        required=False,
        choices=[("", "all charges"), ("yes", "attributed"), ("no", "unattributed")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        member = self.fields["member"]
        assert isinstance(member, forms.ChoiceField)
        names = get_user_model().objects.order_by("username").values_list("username", flat=True)
        member.choices = [("", "everyone"), *((n, n) for n in names)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_date_range(self, data, "start", "end")
        return data

    def scope(self) -> selectors.Scope:
        default = selectors.default_scope()
        data = self.cleaned_data if self.is_valid() else {}
        return selectors.Scope(
            start=data.get("start") or default.start,
            end=data.get("end") or default.end,
            member=data.get("member") or "",
            model=data.get("model") or "",
            period=data.get("period") or "day",
        )


@staff_member_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    form = ReviewFilters(request.GET or None)
    scope = form.scope()
    requested = request.GET.get("tab", "")
    tab = requested if requested in TABS else "summary"
    attributed = request.GET.get("attributed", "")
    if request.GET.get("export") == "csv":
        return _csv(tab, scope, attributed)
    context: dict[str, Any] = {"form": form, "tab": tab, "tabs": TABS, "scope": scope}
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
        context["page"] = Paginator(videos, 100).get_page(request.GET.get("page"))
    elif tab == "ledger":
        context["page"] = Paginator(selectors.ledger(scope, attributed), 100).get_page(
            request.GET.get("page")
        )
    else:
        context["page"] = Paginator(selectors.failed(scope), 100).get_page(request.GET.get("page"))
        synced = selectors.ledger_synced_until()
        for video in context["page"].object_list:
            video.charged = _charged(video, synced)
    query = request.GET.copy()
    query["export"] = "csv"
    query["tab"] = tab
    context["csv_url"] = f"{request.path}?{query.urlencode()}"
    return render(request, "usage/review.html", context)


def _charged(video: Any, synced: datetime | None) -> str:
    """Whether the ledger shows a charge for the job."""
    charge = getattr(video, "charge", None)
    if charge is not None:
        return f"charged {charge.cost_points} points"
    if not video.submitted_at:
        return "never sent"
    if synced is not None and synced > video.submitted_at + selectors.MATCH_AFTER:
        return "not charged"
    return "not known yet"


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
    elif tab == "ledger":
        writer.writerow(["time", "query_id", "bot", "type", "points", "video", "member"])
        rows = (
            [e.created_at.isoformat(), e.query_id, e.bot_name, e.usage_type, e.cost_points,
             e.video_id or "unattributed", e.video.owner.username if e.video else ""]
            for e in selectors.ledger(scope, attributed).iterator(chunk_size=500)
        )  # fmt: skip
    else:
        source = selectors.failed(scope) if tab == "failed" else videos
        synced = selectors.ledger_synced_until()
        writer.writerow(
            ["time", "video", "member", "model", "kind", "status", "billed seconds",
             "points", "cost source", "charge"]
        )  # fmt: skip
        rows = (
            [v.created_at.isoformat(), v.pk, v.owner.username, v.model, v.kind, v.status,
             v.billed_seconds, v.cost_points if v.cost_points is not None else "",
             v.cost_source, _charged(v, synced)]
            for v in source.iterator(chunk_size=500)
        )  # fmt: skip
    for row in rows:
        writer.writerow(row)
    return response
