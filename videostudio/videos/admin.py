from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest

from videostudio.videos.models import Video

# What anyone in the admin may see of a private video that is not theirs: the job and
# its cost, as the usage review shows it. Never the prompt, title, files, provider id,
# the provider's messages or anything else that tells what it is.
BOOKKEEPING = [
    "id",
    "owner",
    "model",
    "kind",
    "seconds",
    "size",
    "visibility",
    "status",
    "progress",
    "billed_seconds",
    "cost_points",
    "cost_source",
    "reserved_points",
    "cost_at",
    "created_at",
    "submitted_at",
    "completed_at",
    "expires_at",
    "archived_at",
    "deleted_at",
]

# What an address may filter on of a video's owner.
OWNER_LOOKUPS = {"id", "username", "exact", "iexact", "icontains", "in", "isnull"}


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

    def _hidden(self, request: HttpRequest, obj: Video | None) -> bool:
        return obj is not None and obj.is_hidden_from(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Video | None = None) -> bool:
        # Nobody but the owner may change a private video (making it "team" would show it).
        return not self._hidden(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Video | None = None) -> bool:
        return not self._hidden(request, obj) and super().has_delete_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: Video | None = None) -> Any:
        if self._hidden(request, obj):
            return BOOKKEEPING
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Video | None = None) -> Any:
        if self._hidden(request, obj):
            return BOOKKEEPING
        return super().get_readonly_fields(request, obj)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        obj = kwargs.get("obj") or (args[3] if len(args) > 3 else None)
        response = super().render_change_form(request, context, *args, **kwargs)
        if self._hidden(request, obj):
            # Its page answers 404 to them anyway: no "View on site".
            response.context_data["has_absolute_url"] = False  # type: ignore[attr-defined]
        return response

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        """Filters in the address only on what anyone may see of any video (its
        bookkeeping, its owner): `?id=42&prompt__startswith=A` would otherwise tell a
        private prompt letter by letter, by whether the row is listed."""
        field, *rest = lookup.split(LOOKUP_SEP)
        if field == "owner":
            return set(rest) <= OWNER_LOOKUPS and super().lookup_allowed(lookup, value, request)
        return field in BOOKKEEPING and super().lookup_allowed(lookup, value, request)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Video], search_term: str
    ) -> tuple[QuerySet[Video], bool]:
        """A private video of someone else's is found by its owner's name only: a
        search on prompts or provider ids must not tell what it holds."""
        results, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            hidden = Q(visibility=Video.Visibility.PRIVATE) & ~Q(owner_id=request.user.pk)
            by_owner = Q(owner__username__icontains=search_term.strip())
            results = results.exclude(hidden & ~by_owner)
        return results, duplicates

    def get_queryset(self, request: HttpRequest) -> QuerySet[Video]:
        # The list needs to know, row by row, what this viewer may not read; one admin
        # serves every request (and thread), so it travels with the rows, not on self.
        hidden = Q(visibility=Video.Visibility.PRIVATE) & ~Q(owner_id=request.user.pk)
        return (
            super()
            .get_queryset(request)
            .annotate(hidden_from_viewer=ExpressionWrapper(hidden, output_field=BooleanField()))
        )

    @admin.display(description="prompt")
    def short_prompt(self, obj: Video) -> str:
        if getattr(obj, "hidden_from_viewer", True):
            return "(private)"
        return obj.prompt[:60]
