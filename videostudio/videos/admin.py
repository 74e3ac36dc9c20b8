from __future__ import annotations

from django.contrib import admin

from videostudio.videos.models import Video


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "model", "short_prompt", "seconds", "status", "created_at"]
    list_filter = ["status", "model", "kind"]
    search_fields = ["prompt", "provider_id", "owner__username"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    readonly_fields = [
        "uid",
        "provider_id",
        "provider_status",
        "usage",
        "created_at",
        "updated_at",
        "submitted_at",
        "completed_at",
        "expires_at",
        "archived_at",
        "next_poll_at",
        "lease_until",
    ]
    raw_id_fields = ["owner", "parent", "root"]

    @admin.display(description="prompt")
    def short_prompt(self, obj: Video) -> str:
        return obj.prompt[:60]
