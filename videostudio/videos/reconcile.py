"""Settling a job whose creation the provider never confirmed.

A create that timed out after it was sent may or may not have made (and
charged for) a video. Sending it again could pay twice, so instead the
team's points history is read: a charge for that model around that time
that no known job accounts for means it was made; no such charge after a
while means it was not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from videostudio.provider.client import ProviderClient
from videostudio.provider.types import HistoryEntry
from videostudio.usage.services import ledger_claim
from videostudio.videos.models import Video

# Charges are looked for from a little before the send until WINDOW after it.
EARLY = timedelta(minutes=1)
WINDOW = timedelta(minutes=15)
# Give the provider's ledger time to show a charge before concluding there was none.
SETTLE = timedelta(minutes=5)
RECHECK = timedelta(minutes=1)
MAX_PAGES = 5


def history_around(video: Video, client: ProviderClient) -> list[HistoryEntry]:
    """The team's charges in the job's window (newest first). Thread-safe: no database."""
    start = video.created_at - EARLY
    found: list[HistoryEntry] = []
    cursor = None
    for _ in range(MAX_PAGES):
        page = client.points_history(limit=100, starting_after=cursor)
        found.extend(page.entries)
        oldest = page.entries[-1].created_at if page.entries else None
        if not page.has_more or oldest is None or oldest < start:
            break
        cursor = page.last_query_id
    return found


def reconcile_fields(video: Video, entries: list[HistoryEntry], now: datetime) -> dict[str, Any]:
    """What to record about an unconfirmed job, given the charges found."""
    start, end = video.created_at - EARLY, video.created_at + WINDOW
    model = video.model.lower()
    charges = [
        entry
        for entry in entries
        if (entry.bot_name or "").lower() == model
        and entry.created_at is not None
        and start <= entry.created_at <= end
    ]
    # Jobs we do know the provider made in the same window account for charges too.
    known = (
        Video.objects.filter(
            model__iexact=video.model, submitted_at__gte=start, submitted_at__lte=end
        )
        .exclude(provider_id=None)
        .count()
    )
    if len(charges) > known:
        fields: dict[str, Any] = {
            "status": Video.Status.FAILED,
            "error_code": "charged_untracked",
            "error_message": (
                "The provider made and charged for this job, but never told us its id, so "
                "it cannot be followed or saved here. An admin can find it in the "
                "provider's usage history."
            ),
            "next_poll_at": None,
        }
        points = ledger_claim(video, charges)
        if points is not None:
            fields.update(cost_points=points, cost_source=Video.Cost.MEASURED)
        return fields
    if now < end + SETTLE:
        return {"next_poll_at": now + RECHECK}
    if not charges:
        return {
            "status": Video.Status.FAILED,
            "error_code": "not_created",
            "error_message": (
                "The provider never made this job and charged nothing for it; "
                "it is safe to try again."
            ),
            "client_token": None,
            "next_poll_at": None,
        }
    # Charges there were, but no more than the jobs we know of: one of them may be
    # this job's (if a known job went uncharged). Do not call a retry safe.
    return {
        "status": Video.Status.FAILED,
        "error_code": "unsettled",
        "error_message": (
            "The provider did not confirm this job and its usage history cannot tell "
            "whether it was made: it may have been charged. Check the usage review "
            "before sending it again."
        ),
        "next_poll_at": None,
    }
