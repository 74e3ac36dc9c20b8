from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from videostudio.adminsite.readonly import ReadOnlyAdmin
from videostudio.usage.models import BalanceSnapshot, Budget, LedgerEntry, UsagePolicy


@admin.register(UsagePolicy)
class UsagePolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "show_balance_to_members", "low_balance_threshold",
                    "default_monthly_budget", "out_of_points_since"]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not UsagePolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["user", "monthly_points"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "bot_name", "usage_type", "cost_points", "video"]
    list_filter = ["bot_name", ("video", admin.EmptyFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["query_id", "bot_name"]


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["taken_at", "points"]
