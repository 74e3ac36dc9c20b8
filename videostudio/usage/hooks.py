"""The usage app as the keeper of the points that the videos app asks (`videos.points`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from videostudio.provider.client import ProviderClient
from videostudio.usage import matching, services
from videostudio.videos.models import Video
from videostudio.videos.points import BudgetState, Estimate

# How often an unconfirmed send is checked against the points history once it can be settled.
RECHECK = timedelta(minutes=2)


class UsagePoints:
    def refusal(self, *, client: ProviderClient) -> str | None:
        return services.credits_refusal(client=client)

    def reserve(self, video: Video) -> None:
        services.budget_reserve(video)

    def out_of_points(self) -> None:
        services.credits_note_exhausted()

    def finished(self, video_id: int, *, completed_now: bool) -> None:
        services.costs_recorded(video_id)
        if completed_now:
            services.balance_refresh_soon()  # the header's balance moved

    def settle_unconfirmed(self, *, client: ProviderClient) -> str:
        return str(services.ledger_sync(client=client))

    def settle_at(self, video: Video, now: datetime) -> datetime:
        """Once the send's whole window (its charge may be stamped at completion) has
        reached the ledger."""
        made = video.submitted_at or video.created_at or now
        ready = made + matching.UNCONFIRMED_WINDOW + matching.SLACK + services.SETTLE_LAG
        return max(now + RECHECK, ready + timedelta(seconds=30))

    def estimate(self, *, model: str, seconds: int, size: str) -> Estimate:
        return services.cost_hold(model, seconds, size)

    def month(self, user: Any) -> BudgetState:
        return services.budget_state(user)
