"""The team's point balance: read from the provider, shown in the header, and the
team-wide block while the provider answers 402."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import ProviderError
from videostudio.provider.ratelimit import Priority, priority
from videostudio.usage.models import BalanceSnapshot, UsagePolicy
from videostudio.videos import events

log = logging.getLogger(__name__)


# --- The team balance -------------------------------------------------------------------------


def credits_note_exhausted() -> None:
    UsagePolicy.current()
    now = timezone.now()
    with transaction.atomic():
        if UsagePolicy.objects.filter(pk=1, out_of_points_since__isnull=True).update(
            out_of_points_since=now
        ):
            # A new spell without points: staff hear of it once.
            events.emit(
                events.Happening(
                    kind=events.TEAM_OUT_OF_POINTS,
                    key=f"{events.TEAM_OUT_OF_POINTS}:{now.isoformat()}",
                )
            )


def balance_refresh(*, client: ProviderClient) -> int | None:
    """Read and keep the balance; a positive one ends an out-of-points spell."""
    try:
        with priority(Priority.BACKGROUND):  # behind sends, looks and downloads
            points = client.current_balance()
    except ProviderError as exc:
        log.warning("could not read the team balance: %s", exc.error_type or exc.status or exc)
        return None
    BalanceSnapshot.objects.create(points=points)
    if points > 0:
        UsagePolicy.objects.filter(pk=1).update(out_of_points_since=None)
    return points


def credits_refusal(*, client: ProviderClient) -> str | None:
    """Why new jobs are refused team-wide (the provider said 402), or None.

    While refused, every attempt reads the balance again (one call, paced like
    any other), so members are unblocked the moment points are added.
    """
    if UsagePolicy.current().out_of_points_since is None:
        return None
    balance_refresh(client=client)
    if UsagePolicy.current().out_of_points_since is None:
        return None
    return (
        "The team's points are used up, so new videos cannot be made until an admin "
        "adds points. Jobs already running are not affected."
    )


BALANCE_AFTER_COMPLETION = 30  # seconds: at most one balance read this often


def balance_refresh_soon() -> None:
    """A job finished, so the balance moved: read it again shortly (once for a burst)."""
    if not cache.add("videostudio:usage:balance-soon", 1, BALANCE_AFTER_COMPLETION):
        return
    transaction.on_commit(
        lambda: async_task(
            "videostudio.usage.tasks.refresh_balance",
            group="balance",
            q_options={"task_name": "read team balance (after a job finished)"},
        )
    )
