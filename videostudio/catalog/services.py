"""The model catalog: what members may choose, and keeping it in step with the provider."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from videostudio.catalog.models import CatalogEntry
from videostudio.provider.catalog import LANDSCAPE, PORTRAIT, ModelSpec
from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import InvalidRequest, NotFound, ProviderError
from videostudio.provider.ratelimit import Priority, priority

log = logging.getLogger(__name__)


def catalog_specs() -> tuple[ModelSpec, ...]:
    """The models members may choose for a new video, in the admin's order."""
    entries = CatalogEntry.objects.filter(enabled=True, retired_at__isnull=True)
    return tuple(entry.to_spec() for entry in entries)


def catalog_find(name: str) -> CatalogEntry | None:
    """The entry for `name` whatever its state (old videos keep retired models)."""
    return CatalogEntry.objects.filter(name__iexact=name.strip()).first()


@dataclass
class SyncReport:
    listed: bool = True
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"Catalog not synced: {self.error}"
        if not self.listed:
            return "The provider does not list its models; the catalog was left as it is."
        parts = []
        if self.added:
            parts.append(f"new, disabled until reviewed: {', '.join(self.added)}")
        if self.retired:
            parts.append(f"retired: {', '.join(self.retired)}")
        if self.returned:
            parts.append(f"offered again: {', '.join(self.returned)}")
        return "Catalog synced; " + ("; ".join(parts) if parts else "no changes") + "."


def catalog_sync(*, client: ProviderClient) -> SyncReport:
    """Bring the catalog in step with `GET /models`.

    New video models are added disabled, for an admin to review; models the
    provider no longer lists are retired, never deleted.
    """
    report = SyncReport()
    try:
        with priority(Priority.BACKGROUND):  # behind sends, looks and downloads
            remote = client.list_models()
    except (NotFound, InvalidRequest):
        report.listed = False
        return report
    except ProviderError as exc:
        report.error = exc.user_message
        return report

    # Without modalities in the listing we cannot tell video models from others:
    # then only the models we know are checked, and nothing new is added.
    has_modalities = any(model.output_modalities for model in remote)
    listed = {model.id.lower(): model for model in remote}
    video = {name: model for name, model in listed.items() if "video" in model.output_modalities}
    now = timezone.now()
    with transaction.atomic():
        entries = {entry.name.lower(): entry for entry in CatalogEntry.objects.all()}
        for name, entry in entries.items():
            if name in listed:
                entry.seen_at = now
                if entry.retired_at is not None:
                    entry.retired_at = None
                    report.returned.append(entry.name)
                entry.save(update_fields=["seen_at", "retired_at", "updated_at"])
            elif entry.retired_at is None:
                entry.retired_at = now
                report.retired.append(entry.name)
                entry.save(update_fields=["retired_at", "updated_at"])
        if has_modalities:
            for name, model in video.items():
                if name not in entries:
                    _add_found(model.id, model.owned_by or "", now)
                    report.added.append(model.id)
    if report.added or report.retired or report.returned:
        log.info("%s", report)
    return report


def _add_found(name: str, family: str, now: datetime) -> None:
    # Start from a sibling of the same family, the best guess at its limits.
    sibling = (
        CatalogEntry.objects.filter(family__iexact=family, retired_at__isnull=True)
        .order_by("position")
        .first()
    )
    if sibling is not None:
        spec = sibling.to_spec()
        entry = CatalogEntry.from_spec(spec)
        entry.name, entry.label = name, name.replace("-", " ")
    else:
        entry = CatalogEntry(
            name=name,
            label=name.replace("-", " "),
            family=family,
            durations="4, 8",
            default_seconds=4,
            sizes=f"{PORTRAIT}, {LANDSCAPE}",
            default_size=PORTRAIT,
        )
    entry.enabled = False
    entry.source = CatalogEntry.Source.PROVIDER
    entry.seen_at = now
    entry.position = 1000
    entry.notes = (
        f"Found at the provider on {timezone.now():%Y-%m-%d}. Its limits were guessed"
        f"{' from ' + sibling.name if sibling else ''}: check durations, sizes and "
        "capabilities, then enable it."
    )
    entry.save()


def catalog_note_unknown(*, name: str, message: str) -> None:
    """The provider said it does not know `name`: leave a trace for the admin."""
    CatalogEntry.objects.filter(name__iexact=name).update(
        last_error=f"{timezone.now():%Y-%m-%d %H:%M} the provider answered: {message}"[:2000],
        updated_at=timezone.now(),
    )
