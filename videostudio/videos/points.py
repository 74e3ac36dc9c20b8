"""What the videos app needs from whoever keeps the points: one typed hook.

`videos` sits below `usage` (see README, "How it works") and must not import it.
Where a job's life touches money (may this be sent? hold its cost; it finished;
settle a send nobody confirmed), videos asks the `Points` registered here. The
usage app registers its own when it loads (`UsageConfig.ready`); without it,
jobs are free and nobody has a budget, which is also what tests of videos alone get.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from videostudio.provider.client import ProviderClient
from videostudio.videos.models import Video


class Refused(Exception):
    """A submission the rules turn down before anything is sent."""


@dataclass(frozen=True)
class BudgetState:
    """A member's month: what their jobs cost, and what jobs in flight hold."""

    limit: int | None
    spent: int
    reserved: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.spent - self.reserved, 0)

    @property
    def running_out(self) -> bool:
        """A tenth of the month's budget or less is left (or none): worth saying loudly."""
        left = self.remaining
        return self.limit is not None and left is not None and left * 10 <= self.limit


@dataclass(frozen=True)
class Estimate:
    """What a job would be held at against a budget, and how that was worked out."""

    points: int | None  # None: nobody can say (no price known at all)
    priced: bool  # False: the model has no price, so the dearest known rate is used
    basis: str = ""  # where the rate comes from, in words

    @property
    def note(self) -> str:
        if self.points is None:
            return "This model has no price yet, so its cost cannot be estimated."
        if not self.priced:
            return (
                f"about {self.points} points at most: this model has no price yet, so it is "
                "held at the dearest rate known"
            )
        return f"about {self.points} points"


@dataclass(frozen=True)
class CostPreview:
    """What the New video form says a job would cost, and what the member has left."""

    estimate: Estimate
    budget: BudgetState

    @property
    def over_budget(self) -> bool:
        left = self.budget.remaining
        return left is not None and (self.estimate.points is None or self.estimate.points > left)


class Points(Protocol):
    def refusal(self, *, client: ProviderClient) -> str | None:
        """Why no job can be sent team-wide right now (e.g. the points ran out)."""

    def reserve(self, video: Video) -> None:
        """Hold the new job's cost against its owner's budget (set `reserved_points`),
        or raise Refused. Called inside the transaction that saves the job."""

    def out_of_points(self) -> None:
        """The provider answered 402."""

    def finished(self, video_id: int, *, completed_now: bool) -> None:
        """A job reached its final status (completed or failed), with its cost fields."""

    def settle_unconfirmed(self, *, client: ProviderClient) -> str:
        """Settle the sends the provider never confirmed; says what happened."""

    def settle_at(self, video: Video, now: datetime) -> datetime:
        """When an unconfirmed send can next be settled."""

    def estimate(self, *, model: str, seconds: int, size: str) -> Estimate:
        """What a job would cost, before it is sent."""

    def month(self, user: Any) -> BudgetState:
        """The member's spending this month."""


class Free:
    """No points kept: nothing is refused, held or settled (videos on its own)."""

    def refusal(self, *, client: ProviderClient) -> str | None:
        return None

    def reserve(self, video: Video) -> None:
        video.reserved_points = 0

    def out_of_points(self) -> None:
        pass

    def finished(self, video_id: int, *, completed_now: bool) -> None:
        pass

    def settle_unconfirmed(self, *, client: ProviderClient) -> str:
        return "nobody keeps the points: unconfirmed sends stay as they are"

    def settle_at(self, video: Video, now: datetime) -> datetime:
        return now + timedelta(hours=1)

    def estimate(self, *, model: str, seconds: int, size: str) -> Estimate:
        return Estimate(None, False, "no prices kept")

    def month(self, user: Any) -> BudgetState:
        return BudgetState(None, 0, 0)


_points: Points = Free()


def register(points: Points) -> None:
    """Make `points` the keeper of this process's points (the usage app does this)."""
    global _points
    _points = points


def points() -> Points:
    return _points
