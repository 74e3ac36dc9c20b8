from __future__ import annotations

from django.conf import settings
from django.db import models


class LedgerEntry(models.Model):
    """One charge from the provider's points history (it keeps 30 days; we keep all)."""

    query_id = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(db_index=True)
    bot_name = models.CharField(max_length=100, blank=True)
    usage_type = models.CharField(max_length=50, blank=True)
    cost_points = models.IntegerField(default=0)
    raw = models.JSONField(default=dict)
    # The job it paid for, when we could tell; None: unattributed, shown as such.
    video = models.OneToOneField(
        "videos.Video", null=True, blank=True, on_delete=models.SET_NULL, related_name="charge"
    )
    synced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.bot_name} {self.cost_points} ({self.query_id})"


class BalanceSnapshot(models.Model):
    points = models.BigIntegerField()
    taken_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"

    def __str__(self) -> str:
        return f"{self.points} at {self.taken_at:%Y-%m-%d %H:%M}"


class Budget(models.Model):
    """A member's monthly allowance of points (None: the team default applies)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget"
    )
    monthly_points = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the team's default budget."
    )

    def __str__(self) -> str:
        return (
            f"{self.user}: {self.monthly_points if self.monthly_points is not None else 'default'}"
        )


class UsagePolicy(models.Model):
    """Team-wide choices an admin makes (one row)."""

    show_balance_to_members = models.BooleanField(
        default=True, help_text="Everyone sees the team balance in the header (staff always do)."
    )
    low_balance_threshold = models.PositiveIntegerField(
        default=0, help_text="Warn everyone when the balance falls below this (0: never)."
    )
    default_monthly_budget = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Each member's monthly points unless set per member; empty: no limit.",
    )
    # Set when the provider answers 402; cleared when the balance is seen above zero.
    out_of_points_since = models.DateTimeField(null=True, blank=True)
    # The ledger holds every charge stamped before this (a sync read back to known ones).
    ledger_complete_until = models.DateTimeField(null=True, blank=True)
    # Where a sync that was cut short stopped ({"cursor": query_id, "top": iso time}),
    # so that the next one fills the gap below it.
    ledger_resume = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = "usage policy"
        verbose_name_plural = "usage policy"

    def __str__(self) -> str:
        return "Usage policy"

    @classmethod
    def current(cls) -> UsagePolicy:
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy
