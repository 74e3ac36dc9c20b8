"""Staff see tokens here, read-only. The digest never shows: with the prefix it is
all there is of a token, and it belongs to no page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from videostudio.api.models import ApiToken

# Everything but the digest.
SHOWN = (
    "user",
    "name",
    "prefix",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
    "revoked_by",
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    fields = SHOWN
    readonly_fields = SHOWN

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
