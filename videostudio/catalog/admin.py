from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from videostudio.catalog.models import CatalogEntry
from videostudio.catalog.services import catalog_sync
from videostudio.connection import get_client


@admin.register(CatalogEntry)
class CatalogEntryAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "label",
        "family",
        "enabled",
        "state",
        "durations",
        "sizes",
        "image_input",
        "remix",
        "extend",
        "points_per_second",
        "position",
    ]
    list_editable = ["enabled", "position"]
    list_filter = ["enabled", "family", "source", ("retired_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "label", "notes"]
    readonly_fields = ("source", "seen_at", "retired_at", "last_error", "updated_at")
    price_readonly = ("price_source", "learned_points_per_second", "learned_hd_points_per_second")
    actions = ["enable", "disable"]
    fieldsets = [
        (None, {"fields": ["name", "label", "family", "enabled", "position", "notes"]}),
        (
            "What members can make with it",
            {
                "fields": [
                    "durations",
                    "default_seconds",
                    "sizes",
                    "default_size",
                    "image_input",
                    "remix",
                    "extend",
                    "max_lineage_seconds",
                ]
            },
        ),
        (
            "Hover previews",
            {
                "fields": ["sprite_columns", "sprite_rows"],
                "description": "Videos are previewed from their spritesheet. Its grid is "
                "read from the provider's answer, else from this pin, else from the seams "
                "between its tiles; with none, the card shows its thumbnail.",
            },
        ),
        (
            "Price (estimates until the provider reports real costs)",
            {"fields": ["points_per_second", "hd_points_per_second", *price_readonly]},
        ),
        ("At the provider", {"fields": readonly_fields}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple[str, ...]:
        return (*self.readonly_fields, *self.price_readonly)

    def save_model(self, request: HttpRequest, obj: CatalogEntry, form: Any, change: bool) -> None:
        if {"points_per_second", "hd_points_per_second"} & set(form.changed_data):
            obj.price_source = (
                CatalogEntry.Price.ADMIN if obj.points_per_second else CatalogEntry.Price.NONE
            )
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Old videos keep their model: retire or disable instead.
        return False

    @admin.display(description="state")
    def state(self, entry: CatalogEntry) -> str:
        if entry.retired_at:
            return f"retired {entry.retired_at:%Y-%m-%d}"
        if entry.last_error:
            return "provider complained"
        return "offered" if entry.enabled else "disabled"

    @admin.action(description="Enable the selected models")
    def enable(self, request: HttpRequest, queryset: QuerySet[CatalogEntry]) -> None:
        count = queryset.update(enabled=True)
        self.message_user(request, f"Enabled {count} models.", messages.SUCCESS)

    @admin.action(description="Disable the selected models")
    def disable(self, request: HttpRequest, queryset: QuerySet[CatalogEntry]) -> None:
        count = queryset.update(enabled=False)
        self.message_user(request, f"Disabled {count} models.", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        sync = self.admin_site.admin_view(require_POST(self.sync_view))
        return [path("sync/", sync, name="catalog_catalogentry_sync"), *super().get_urls()]

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            return HttpResponse(status=403)
        report = catalog_sync(client=get_client())
        level = messages.ERROR if report.error else messages.SUCCESS
        self.message_user(request, str(report), level)
        return HttpResponseRedirect(reverse("admin:catalog_catalogentry_changelist"))
