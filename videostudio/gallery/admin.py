from __future__ import annotations

from django.contrib import admin

from videostudio.gallery.models import Star


@admin.register(Star)
class StarAdmin(admin.ModelAdmin):
    list_display = ["user", "video", "created_at"]
    raw_id_fields = ["user", "video"]
    list_select_related = ["user", "video"]
