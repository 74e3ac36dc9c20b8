from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest

from videostudio.usage.models import BalanceSnapshot, UsagePolicy


def team_balance(request: HttpRequest) -> dict[str, Any]:
    """The header's balance and the team-wide banners: two small queries, made only
    when a template shows one of them (a progress poll that redraws nothing makes
    none). Templates call the values, the first call asks."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def facts() -> dict[str, Any]:
        policy = UsagePolicy.current()
        latest = BalanceSnapshot.objects.order_by("-taken_at").first()
        low = bool(
            latest is not None
            and policy.low_balance_threshold
            and latest.points < policy.low_balance_threshold
        )
        show = policy.show_balance_to_members or user.is_staff
        return {
            "show_balance": show,
            "team_balance": latest if show else None,
            "team_balance_low": low,
            "team_out_of_points": policy.out_of_points_since is not None,
        }

    def value(name: str) -> Any:
        return lambda: facts()[name]

    return {
        name: value(name)
        for name in ("show_balance", "team_balance", "team_balance_low", "team_out_of_points")
    }
