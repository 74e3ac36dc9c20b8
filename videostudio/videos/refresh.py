"""Following one job: ask the provider, archive what finished, record what changed.

Provider I/O (`video_fetch`) is kept apart from database writes (`video_apply`)
so the tracker can run many fetches at once in threads and write from one.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from videostudio.catalog.services import catalog_find
from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import InvalidRequest, NotFound, ProviderError
from videostudio.provider.types import RemoteVideo, SpriteLayout
from videostudio.videos import states, timing
from videostudio.videos.models import Video, video_dir
from videostudio.videos.points import points
from videostudio.videos.sprites import NO_GRID, Source, SpriteGrid, sprite_grid

log = logging.getLogger(__name__)

# variant name -> (provider variant, file extension, model field)
VARIANTS: dict[str, tuple[str | None, str, str]] = {
    "video": (None, "mp4", "video_file"),
    "thumbnail": ("thumbnail", "webp", "thumbnail_file"),
    "spritesheet": ("spritesheet", "jpg", "spritesheet_file"),
}
MAX_ARCHIVE_ATTEMPTS = 6

_STATUS_MAP = {
    "queued": Video.Status.QUEUED,
    "in_progress": Video.Status.IN_PROGRESS,
    "completed": Video.Status.COMPLETED,
    "failed": Video.Status.FAILED,
}


def unconfirmed_next_poll(video: Video, now: datetime) -> datetime:
    """When whoever keeps the points can next settle an unconfirmed send."""
    return points().settle_at(video, now)


@dataclass
class Fetched:
    """What one look at the provider found; no database access went into it."""

    remote: RemoteVideo | None = None
    error: ProviderError | None = None
    files: dict[str, Any] = field(default_factory=dict)
    archive_error: str = ""


def poll_fetch(*, video: Video, client: ProviderClient) -> Fetched:
    """Ask the provider how one job is doing. Thread-safe: no database access."""
    try:
        if not video.provider_id:
            # An unconfirmed send has no id to ask about: the sweep settles it from
            # the points history instead.
            return Fetched()
        return Fetched(remote=client.retrieve_video(video.provider_id))
    except ProviderError as exc:
        return Fetched(error=exc)
    except Exception as exc:
        # Whatever breaks for one job must not stop the sweep for all the others.
        log.exception("looking at video %s failed", video.pk)
        return Fetched(error=ProviderError(type(exc).__name__, transient=True))


def sprite_pin(video: Video) -> tuple[int, int] | None:
    """The spritesheet layout the catalog pins for the video's model, if any. Reads
    the database: look it up before handing the archiving to a thread."""
    entry = catalog_find(video.model)
    if entry is None:
        return None
    try:
        return entry.to_spec().sprite_pin
    except ValidationError:  # an entry saved around the admin's checks
        return None


def provider_layout(video: Video) -> SpriteLayout | None:
    """The layout the provider said of this video when it was last looked at."""
    if video.sprite_source != Source.PROVIDER or not (video.sprite_columns and video.sprite_rows):
        return None
    return SpriteLayout(video.sprite_columns, video.sprite_rows, video.sprite_frames)


def archive_fetch(
    *,
    video: Video,
    client: ProviderClient,
    pin: tuple[int, int] | None = None,
    layout: SpriteLayout | None = None,
) -> Fetched:
    """Download a completed job's files into storage. Thread-safe: no database access.
    `pin`: the catalog's spritesheet layout for the model (`sprite_pin`); `layout`:
    what the provider said of it (default: what it said when last looked at)."""
    fetched = Fetched()
    try:
        fetched.files = _download_all(video, client, pin=pin, layout=layout)
    except ProviderError as exc:
        if isinstance(exc, NotFound):
            fetched.error = exc  # the provider's copy is gone
        fetched.archive_error = exc.user_message
    except OSError as exc:
        fetched.archive_error = f"The files could not be saved here: {exc.strerror or exc}"
    except Exception as exc:  # storage backends (S3) raise their own errors
        log.exception("archiving video %s failed", video.pk)
        fetched.archive_error = f"The files could not be saved here ({type(exc).__name__})."
    return fetched


def video_fetch(
    *, video: Video, client: ProviderClient, pin: tuple[int, int] | None = None
) -> Fetched:
    """Ask the provider about one job and archive its files if it has finished."""
    fetched = poll_fetch(video=video, client=client)
    remote = fetched.remote
    if remote is not None and remote.status == "completed" and not video.is_archived:
        archived = archive_fetch(video=video, client=client, pin=pin, layout=remote.spritesheet)
        fetched.files, fetched.archive_error = archived.files, archived.archive_error
    return fetched


def _download_all(
    video: Video,
    client: ProviderClient,
    *,
    pin: tuple[int, int] | None,
    layout: SpriteLayout | None,
) -> dict[str, Any]:
    """Download every variant, then put them in storage. The video itself is required.

    Returns the fields to record: file names, and the spritesheet's grid.
    """
    assert video.provider_id
    names: dict[str, str] = {}
    fields: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="videostudio-") as tmp:
        downloaded: dict[str, Path] = {}
        for name, (variant, ext, _field) in VARIANTS.items():
            dest = Path(tmp) / f"{name}.{ext}"
            try:
                client.download_content(video.provider_id, dest, variant=variant)
            except (NotFound, InvalidRequest):
                # A model may offer no thumbnail or spritesheet; the video is what matters.
                if name == "video":
                    raise
                continue
            downloaded[name] = dest
        for name, path in downloaded.items():
            target = f"{video_dir(video)}/{path.name}"
            if default_storage.exists(target):
                default_storage.delete(target)
            with path.open("rb") as fh:
                names[VARIANTS[name][2]] = default_storage.save(target, File(fh))
        if "spritesheet" in downloaded:
            grid = sprite_grid(
                downloaded["spritesheet"],
                video.size,
                provider=layout or provider_layout(video),
                pin=pin,
            )
            fields.update(grid.fields() if grid else NO_GRID)
    return {**names, **fields}


def video_apply(
    *, video: Video, fetched: Fetched, now: datetime | None = None, room: float | None = None
) -> bool:
    """Write what `poll_fetch`, `archive_fetch` or `video_fetch` found. Returns False
    if the lease was lost meanwhile. `room`: the request budget has room to look at
    every job in flight this often (`timing.room_gap`), so the next look may come sooner."""
    now = now or timezone.now()
    if video.status == Video.Status.SUBMITTING:
        # The process sending it died mid-call (its lease ran out).
        return states.video_unconfirmed(
            video, next_poll_at=unconfirmed_next_poll(video, now), lease=video.lease_token
        )
    if video.status == Video.Status.UNCONFIRMED:
        return states.video_poll_later(video, next_poll_at=unconfirmed_next_poll(video, now))
    if fetched.error is not None:
        fields = _fields_after_error(video, fetched.error, now)
    elif (
        fetched.remote is not None
        and video.status == Video.Status.COMPLETED
        and fetched.remote.status == "failed"
    ):
        # Finished, but the provider now calls it failed or expired before we saved it:
        # nothing more can be fetched, so stop and say so.
        fields = {
            "archive_attempts": MAX_ARCHIVE_ATTEMPTS,
            "archive_error": (
                "The provider no longer offers this video's files "
                f"(it now says {fetched.remote.raw_status or 'failed'})."
            ),
            "next_poll_at": None,
        }
    elif fetched.remote is not None or fetched.files or fetched.archive_error:
        fields = {}
        if fetched.remote is not None:
            fields.update(fields_from_remote(video, fetched.remote, now=now))
            fields.update(_pace_fields(video, fields, now))
        if fetched.files:
            fields.update(fetched.files, archived_at=now, archive_error="")
        elif fetched.archive_error:
            fields.update(
                archive_attempts=video.archive_attempts + 1, archive_error=fetched.archive_error
            )
        fields.update(schedule(merged(video, fields), now=now, room=room))
    else:
        fields = {"next_poll_at": None}
    finished_now = video.status != Video.Status.COMPLETED and (
        fields.get("status") == Video.Status.COMPLETED
    )
    moved = states.video_observed(video, fields=dict(fields))
    if moved and finished_now:
        timing.duration_learn(merged(video, fields))
    return moved


def _pace_fields(video: Video, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The progress reading this answer gives, and when the job was seen finished."""
    status = fields.get("status", video.status)
    if status in (Video.Status.COMPLETED, Video.Status.FAILED):
        return {} if video.detected_at else {"detected_at": now}
    progress = fields.get("progress", video.progress)
    if not 0 < progress < 100 or (progress == video.progress and video.progress_at):
        return {}
    pace: dict[str, Any] = {"progress_at": now}
    if video.first_progress is None:
        pace.update(first_progress=progress, first_progress_at=now)
    return pace


def video_refresh(*, video: Video, client: ProviderClient) -> Video:
    """Look at one job now and record what the provider says (used outside the sweep)."""
    fetched = video_fetch(video=video, client=client, pin=sprite_pin(video))
    video_apply(video=video, fetched=fetched)
    video.refresh_from_db()
    return video


def merged(video: Video, fields: dict[str, Any]) -> Video:
    """A copy of `video` with `fields` applied, to decide what comes next."""
    copy = Video(**{f.attname: getattr(video, f.attname) for f in Video._meta.concrete_fields})
    for name, value in fields.items():
        setattr(copy, name, value)
    return copy


def fields_from_remote(video: Video, remote: RemoteVideo, *, now: datetime) -> dict[str, Any]:
    status = _STATUS_MAP.get(remote.status, Video.Status.UNKNOWN)
    fields: dict[str, Any] = {
        "status": status,
        "provider_status": remote.raw_status[:40],
        "poll_failures": 0,
    }
    if status == Video.Status.COMPLETED:
        fields["progress"] = 100
    elif remote.progress is not None:
        # Progress never runs backwards on the page, whatever a relay reports.
        fields["progress"] = max(video.progress, remote.progress)
    if remote.seconds:
        fields["seconds"] = remote.seconds
    if remote.size:
        fields["size"] = remote.size[:20]
    if remote.completed_at:
        fields["completed_at"] = remote.completed_at
    elif status == Video.Status.COMPLETED and not video.completed_at:
        fields["completed_at"] = now
    if remote.expires_at:
        fields["expires_at"] = remote.expires_at
    if remote.usage is not None:
        fields["usage"] = remote.usage
    if remote.spritesheet is not None and not video.is_archived:
        # Kept for archiving (which happens apart from this look): the provider's
        # word on its layout outranks everything the sheet itself could tell.
        layout = remote.spritesheet
        fields.update(
            sprite_columns=layout.columns,
            sprite_rows=layout.rows,
            sprite_frames=layout.frames,
            sprite_source=Source.PROVIDER,
        )
    if status == Video.Status.FAILED:
        fields["error_code"] = (remote.error_code or "generation_failed")[:100]
        fields["error_message"] = remote.error_message or "The provider could not make this video."
    fields.update(cost_fields(remote, status))
    return fields


def cost_fields(remote: RemoteVideo, status: str) -> dict[str, Any]:
    """What a completed job cost, to record with its status: its own figure, if the
    provider reported one. Anything else (the points history, an estimate) is for
    whoever keeps the points to add; a failure's nothing, the state machine's."""
    if status != Video.Status.COMPLETED:
        return {}
    fields: dict[str, Any] = {"reserved_points": 0}
    if remote.cost_points is not None:
        fields.update(cost_points=remote.cost_points, cost_source=Video.Cost.REPORTED)
    return fields


def _fields_after_error(video: Video, exc: ProviderError, now: datetime) -> dict[str, Any]:
    if isinstance(exc, NotFound):
        if video.status == Video.Status.COMPLETED:
            # Finished, but the provider's copy is gone before we saved it: nothing
            # more can be fetched, so stop and say so.
            return {
                "archive_attempts": MAX_ARCHIVE_ATTEMPTS,
                "archive_error": "The provider no longer has this video's files.",
                "next_poll_at": None,
            }
        return {
            "status": Video.Status.FAILED,
            "error_code": "not_found",
            "error_message": exc.user_message,
            "next_poll_at": None,
        }
    failures = min(video.poll_failures + 1, 1000)
    delay = exc.retry_after if exc.retry_after else min(300.0, 5.0 * 2 ** min(failures, 8))
    # Keep asking: a job in flight is never forgotten, only looked at less often.
    return {"poll_failures": failures, "next_poll_at": now + timedelta(seconds=delay)}


def schedule(video: Video, *, now: datetime, room: float | None = None) -> dict[str, Any]:
    """When to look at a job next (`next_poll_at`, None when nothing is left to do),
    and, while it is being made, when it will likely be done."""
    if video.status == Video.Status.FAILED:
        return {"next_poll_at": None}
    if video.status == Video.Status.COMPLETED:
        if video.archived_at or video.archive_attempts >= MAX_ARCHIVE_ATTEMPTS:
            return {"next_poll_at": None}
        # Archive at once: the provider may delete the files an hour after completion.
        delay = min(600, 5 * (2**video.archive_attempts - 1))
        return {"next_poll_at": now + timedelta(seconds=delay)}
    estimate = timing.estimate_finish(
        sent_at=video.submitted_at or video.created_at or now,
        first=_reading(video.first_progress_at, video.first_progress),
        last=_reading(video.progress_at, video.progress),
        learned=timing.learned(video),
    )
    return {
        "estimated_finish_at": estimate.finish,
        "next_poll_at": timing.next_look(
            estimate, now=now, max_gap=settings.VIDEOSTUDIO_POLL_MAX_SECONDS, room=room
        ),
    }


def _reading(at: datetime | None, progress: int | None) -> timing.Reading | None:
    return timing.Reading(at, progress) if at is not None and progress else None


def video_sprites_detect(*, video: Video, save: bool = True) -> SpriteGrid | None:
    """Read an archived video's spritesheet grid again, as archiving would today (for
    grids stored by an older reading). The provider's word, when it gave one, stays.
    `save=False`: only say what it would record."""
    name = video.spritesheet_file.name
    if not name:
        return None
    with tempfile.TemporaryDirectory(prefix="videostudio-") as tmp:
        path = Path(tmp) / "spritesheet"
        with default_storage.open(name, "rb") as src, path.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        grid = sprite_grid(path, video.size, provider=provider_layout(video), pin=sprite_pin(video))
    if save:
        fields = grid.fields() if grid else NO_GRID
        Video.objects.filter(pk=video.pk).update(**fields)
        for name, value in fields.items():
            setattr(video, name, value)
    return grid
