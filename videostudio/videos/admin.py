from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from videostudio.videos.models import Video


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "model", "short_prompt", "seconds", "status", "created_at"]
    list_filter = ["status", "model", "kind"]
    search_fields = ["prompt", "provider_id", "owner__username"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    # Only what an owner may change is editable here: every other field belongs to
    # the tracker, and saving a stale form must not roll a job back.
    readonly_fields = [
        f.name for f in Video._meta.concrete_fields if f.name not in {"id", "title", "visibility"}
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # videos are made through the app, which sends them

    @admin.display(description="prompt")
    def short_prompt(self, obj: Video) -> str:
        return obj.prompt[:60]
