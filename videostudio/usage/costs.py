"""What jobs cost: catalog prices, learned rates, estimates, and members' monthly budgets.

A job's own figure from the provider always wins; `ledger` adds charges found in the
points history; what is left is estimated here, and labelled as an estimate."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from videostudio.catalog.models import CatalogEntry, is_hd
from videostudio.catalog.services import catalog_find
from videostudio.usage.models import Budget, LedgerEntry, UsagePolicy
from videostudio.videos import events, states
from videostudio.videos.models import Video
from videostudio.videos.points import BudgetState, Estimate, Refused

log = logging.getLogger(__name__)


# --- Costs ----------------------------------------------------------------------------------


def highest_rate() -> float | None:
    """The dearest points per second anyone knows: what an unpriced model is held at."""
    rates = CatalogEntry.objects.values_list(
        "points_per_second",
        "hd_points_per_second",
        "learned_points_per_second",
        "learned_hd_points_per_second",
    )
    known = [rate for row in rates for rate in row if rate]
    return max(known, default=None)


def costs_recorded(video_id: int) -> None:
    """After a job finished: estimate a cost nobody reported, drop a ledger link the
    provider's word contradicts (a failed job is never charged; a reported cost is
    exact), and learn the rate."""
    video = Video.objects.filter(pk=video_id).select_related("charge", "owner").first()
    if video is None:
        return
    if video.status == Video.Status.COMPLETED and video.cost_source in ("", Video.Cost.ESTIMATED):
        # A model nobody priced keeps what it was held at (the dearest known rate),
        # labelled an estimate, so the member's month does not forget it.
        estimate = cost_hold(video.model, video.billed_seconds, video.size).points
        # Guarded: a charge attributed since this job was read wins over an estimate.
        states.video_estimated(video.pk, points=estimate)
    charge = getattr(video, "charge", None)
    if charge is not None and (
        video.cost_source == Video.Cost.NONE
        or (video.cost_source == Video.Cost.REPORTED and charge.cost_points != video.cost_points)
    ):
        LedgerEntry.objects.filter(pk=charge.pk, video_id=video.pk).update(video=None)
        states.video_charge_released(video)
        log.warning("charge %s did not belong to video %s: released", charge.query_id, video.pk)
    if video.cost_source == Video.Cost.REPORTED:
        rate_learn(video.model)
    month = budget_state(video.owner)
    budget_tell(video.owner_id, month.limit, month.spent + month.reserved)


def rate_learn(model: str) -> None:
    """Points per second for `model`, from the jobs the provider priced (standard
    and HD sizes apart, where the price depends on size)."""
    priced = Video.objects.filter(
        model__iexact=model, cost_source=Video.Cost.REPORTED, billed_seconds__gt=0
    )
    sizes = set(priced.values_list("size", flat=True).distinct())
    learned: dict[str, float] = {}
    for hd, name in ((False, "learned_points_per_second"), (True, "learned_hd_points_per_second")):
        tier = [size for size in sizes if is_hd(size) == hd]
        if not tier:
            continue
        totals = priced.filter(size__in=tier).aggregate(
            points=Sum("cost_points"), seconds=Sum("billed_seconds")
        )
        if totals["seconds"]:
            learned[name] = totals["points"] / totals["seconds"]
    if learned:
        CatalogEntry.objects.filter(name__iexact=model).update(**learned)


# --- Budgets --------------------------------------------------------------------------------


def month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def budget_state(user: Any, *, now: datetime | None = None) -> BudgetState:
    """A member's month: what their jobs cost (by when the cost counts), and what
    jobs in flight hold."""
    now = now or timezone.now()
    budget = Budget.objects.filter(user_id=user.pk).first()
    limit = budget.monthly_points if budget and budget.monthly_points is not None else None
    if limit is None:
        limit = UsagePolicy.current().default_monthly_budget
    mine = Video.objects.filter(owner_id=user.pk)
    totals = mine.aggregate(
        spent=Sum("cost_points", filter=Q(cost_at__gte=month_start(now))),
        reserved=Sum("reserved_points"),
    )
    return BudgetState(limit, totals["spent"] or 0, totals["reserved"] or 0)


# Where an estimate's rate comes from, in words (by `CatalogEntry.price_for`).
BASIS = {
    "learned": "learned from what the provider charged for earlier jobs",
    CatalogEntry.Price.ADMIN: "from the price an admin set",
    CatalogEntry.Price.SEED: (
        "from the list price: an estimate until the provider reports real costs"
    ),
}


def cost_hold(model: str, billed_seconds: int, size: str = "") -> Estimate:
    """What a job would cost by the catalog (held against budgets, and its estimate
    if the provider never says): a model nobody priced at the dearest known rate."""
    entry = catalog_find(model)
    rate, source = entry.price_for(size) if entry is not None else (None, "")
    if rate:
        return Estimate(round(rate * billed_seconds), True, BASIS.get(source, BASIS["seed"]))
    dearest = highest_rate()
    if dearest:
        return Estimate(
            round(dearest * billed_seconds), False, "no price yet: the dearest rate known"
        )
    return Estimate(None, False, "no price yet")


def budget_reserve(video: Video) -> None:
    """Hold the job's estimated cost against its owner's budget, or refuse it.

    Call inside the transaction that saves the job: the owner's budget row is
    locked, so parallel submissions queue here and cannot overspend together. A
    budget is never passed by an estimate of nothing: a model nobody priced is held
    at the dearest known rate, or refused to members with a budget.
    """
    Budget.objects.get_or_create(user_id=video.owner_id)
    Budget.objects.select_for_update().get(user_id=video.owner_id)
    hold = cost_hold(video.model, video.billed_seconds, video.size)
    state = budget_state(video.owner)
    if state.limit is not None:
        if hold.points is None:
            raise Refused(
                f"{video.model} has no price yet, so its cost cannot be held against your "
                "monthly budget. An admin can set its price in Admin → Model catalog."
            )
        if state.spent + state.reserved + hold.points > state.limit:
            raise Refused(
                f"This would cost {hold.note}, more than is left of your monthly "
                f"budget: {state.spent} spent and {state.reserved} reserved of {state.limit} "
                f"(remaining {state.remaining}). An admin can raise it."
            )
    video.reserved_points = hold.points or 0
    if state.limit:
        budget_tell(video.owner_id, state.limit, state.spent + state.reserved + (hold.points or 0))


def budget_tell(user_id: int, limit: int | None, used: int, *, now: datetime | None = None) -> None:
    """The member's month reached 80% or all of their budget (spent and held): they
    hear of it, once a month for each."""
    if not limit:
        return
    month = f"{month_start(now or timezone.now()):%Y-%m}"
    for kind, share in ((events.BUDGET_WARNING, 0.8), (events.BUDGET_REACHED, 1.0)):
        if used >= limit * share:
            events.emit(
                events.Happening(
                    kind=kind,
                    key=f"{kind}:{user_id}:{month}",
                    user_id=user_id,
                    data={"used": used, "limit": limit, "month": month},
                )
            )
