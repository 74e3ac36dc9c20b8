"""Staff review of what was told and sent. Read-only: events are facts, and a
webhook's secret never shows here (its owner saw it once, when it was made)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from videostudio.notifications.models import Delivery, DeliveryAttempt, Event, Webhook


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnly):
    list_display = ["kind", "key", "user", "video_id", "created_at"]
    list_filter = ["kind"]
    search_fields = ["key"]
    raw_id_fields = ["video", "user", "actor"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "ok", "status_code", "latency_ms", "error")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = ["event", "channel", "recipient", "webhook", "status", "attempts", "sent_at"]
    list_filter = ["channel", "status", "digest"]
    raw_id_fields = ["event", "recipient", "webhook"]
    list_select_related = ["event", "recipient", "webhook"]
    inlines = [AttemptInline]


@admin.register(Webhook)
class WebhookAdmin(ReadOnly):
    list_display = ["name", "owner", "url", "format", "active", "consecutive_failures"]
    list_filter = ["active", "format"]
    search_fields = ["name", "url"]
    exclude = ["secret"]
    raw_id_fields = ["owner", "created_by"]
    list_select_related = ["owner"]
