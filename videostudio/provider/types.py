"""The provider's answers, normalized across dialects.

Poe, OpenAI-style endpoints and relays describe the same video differently
(`seconds` as 8 or "8", `queued` or `pending`, seconds or milliseconds since the
epoch). Everything here is parsed leniently: an odd optional field becomes None
rather than an error, because a video we cannot describe fully is still a video
we must keep tracking. Only a missing `id` is fatal.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from videostudio.provider.errors import ProtocolError

QUEUED = "queued"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"
UNKNOWN = "unknown"

logger = logging.getLogger(__name__)

_STATUSES = {
    "queued": QUEUED,
    "pending": QUEUED,
    "submitted": QUEUED,
    "in_progress": IN_PROGRESS,
    "processing": IN_PROGRESS,
    "running": IN_PROGRESS,
    "completed": COMPLETED,
    "succeeded": COMPLETED,
    "success": COMPLETED,
    "failed": FAILED,
    "failure": FAILED,
    "error": FAILED,
    "cancelled": FAILED,
    "canceled": FAILED,
    # Content that expired before completion can never be fetched: as good as failed.
    "expired": FAILED,
}


def normalize_status(raw: str) -> str:
    return _STATUSES.get(raw.strip().lower().replace("-", "_").replace(" ", "_"), UNKNOWN)


@dataclass(frozen=True)
class SpriteLayout:
    """How a provider says its spritesheet is laid out. The contract documents no
    such thing; a provider that adds it is believed, within reason."""

    columns: int
    rows: int
    frames: int | None = None  # tiles that hold a frame, when it says

    @classmethod
    def from_json(cls, data: object) -> SpriteLayout | None:
        """From `{"columns", "rows", "frames"}` (or `cols`, `frame_count`, `count`);
        None for anything else: an odd optional field is no reason to fail."""
        if not isinstance(data, dict):
            return None
        columns = _count(data.get("columns", data.get("cols")))
        rows = _count(data.get("rows"))
        if columns is None or rows is None or columns * rows < 2:
            return None
        frames = None
        for key in ("frames", "frame_count", "count"):
            frames = _count(data.get(key))
            if frames is not None:
                break
        if frames is not None and not 2 <= frames <= columns * rows:
            frames = None
        return cls(columns=columns, rows=rows, frames=frames)


@dataclass(frozen=True)
class RemoteVideo:
    id: str
    status: str
    raw_status: str
    model: str | None = None
    progress: int | None = None
    seconds: int | None = None
    size: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    remixed_from_video_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage: dict[str, Any] | None = None
    # Not in the contract: read from `spritesheet` (or `sprite_sheet`, `sprites`)
    # when a provider volunteers it.
    spritesheet: SpriteLayout | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_finished(self) -> bool:
        return self.status in (COMPLETED, FAILED)

    @property
    def cost_points(self) -> int | None:
        """The points the provider says this job cost, in the shapes providers use
        for `usage` (None: it did not say)."""
        if not isinstance(self.usage, dict):
            return None
        for key in ("cost_points", "points", "total_points", "cost"):
            value = self.usage.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return int(value)
        return None

    @classmethod
    def from_json(cls, data: object) -> RemoteVideo:
        if not isinstance(data, dict):
            raise ProtocolError(f"expected a video object, got {type(data).__name__}")
        video_id = _str(data.get("id"))
        if video_id is None:
            raise ProtocolError("the video object has no id")
        raw_status = _str(data.get("status")) or ""
        error_code, error_message = _error(data.get("error"))
        usage = data.get("usage")
        return cls(
            id=video_id,
            status=normalize_status(raw_status),
            raw_status=raw_status,
            model=_str(data.get("model")),
            progress=_progress(data.get("progress")),
            seconds=_seconds(data.get("seconds")),
            size=_str(data.get("size")),
            created_at=timestamp(data.get("created_at")),
            completed_at=timestamp(data.get("completed_at")),
            expires_at=timestamp(data.get("expires_at")),
            remixed_from_video_id=_str(data.get("remixed_from_video_id")),
            error_code=error_code,
            error_message=error_message,
            usage=usage if isinstance(usage, dict) else None,
            spritesheet=_sprite_layout(data),
            raw=data,
        )


@dataclass(frozen=True)
class HistoryEntry:
    query_id: str
    created_at: datetime | None
    bot_name: str | None
    usage_type: str | None
    cost_points: int | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> HistoryEntry:
        if not isinstance(data, dict):
            raise ProtocolError(f"expected a history entry, got {type(data).__name__}")
        query_id = _str(data.get("query_id"))
        if query_id is None:
            # Without it the next page cannot be asked for.
            raise ProtocolError("a points history entry has no query_id")
        return cls(
            query_id=query_id,
            created_at=timestamp(data.get("creation_time")),
            bot_name=_str(data.get("bot_name")),
            usage_type=_str(data.get("usage_type")),
            cost_points=_int(data.get("cost_points")),
            raw=data,
        )


@dataclass(frozen=True)
class HistoryPage:
    has_more: bool
    entries: tuple[HistoryEntry, ...]

    @property
    def last_query_id(self) -> str | None:
        """What to pass as `starting_after` for the next (older) page."""
        return self.entries[-1].query_id if self.entries else None

    @classmethod
    def from_json(cls, data: object) -> HistoryPage:
        if not isinstance(data, dict) or not isinstance(data.get("data", []), list):
            raise ProtocolError("expected a points history page")
        return cls(
            has_more=data.get("has_more") is True,
            entries=tuple(HistoryEntry.from_json(item) for item in data.get("data", [])),
        )


@dataclass(frozen=True)
class VideoPage:
    """One page of `GET /v1/videos` (OpenAI's list), newest first."""

    data: list[RemoteVideo]
    has_more: bool
    last_id: str | None  # what to pass as `after` for the next (older) page

    @classmethod
    def from_json(cls, data: object) -> VideoPage:
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProtocolError("expected a list of videos")
        videos = []
        for item in data["data"]:
            try:
                videos.append(RemoteVideo.from_json(item))
            except ProtocolError:
                # One entry without an id must not hide the others from a tracker.
                logger.debug("skipping a listed video without an id")
        has_more = data.get("has_more") is True
        last_id = _str(data.get("last_id")) or (videos[-1].id if videos else None)
        if has_more and last_id is None:
            raise ProtocolError("a list page says it has more but gives no last_id")
        return cls(data=videos, has_more=has_more, last_id=last_id)


@dataclass(frozen=True)
class RemoteModel:
    id: str
    owned_by: str | None
    output_modalities: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> RemoteModel:
        if not isinstance(data, dict) or _str(data.get("id")) is None:
            raise ProtocolError("a model entry has no id")
        # Poe nests modalities under `architecture`; some relays put them at the top.
        architecture = data.get("architecture")
        source = architecture if isinstance(architecture, dict) else data
        modalities = source.get("output_modalities") or data.get("output_modalities") or ()
        return cls(
            id=str(data["id"]),
            owned_by=_str(data.get("owned_by")),
            output_modalities=tuple(str(m) for m in modalities if isinstance(m, str)),
            raw=data,
        )


@dataclass(frozen=True)
class Download:
    path: Path
    size: int
    content_type: str


def timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from epoch seconds, milliseconds or microseconds.

    The unit is told apart by magnitude: today is ~1.7e9 s, ~1.7e12 ms, ~1.7e15 us.
    ISO 8601 strings are accepted too, since relays sometimes send them.
    """
    number = _number(value)
    if number is None:
        if isinstance(value, str) and value.strip():
            return _iso(value.strip())
        return None
    if number > 1e14:
        number /= 1e6
    elif number > 1e11:
        number /= 1e3
    if number <= 0:
        return None
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


def _seconds(value: object) -> int | None:
    number = _int(value)
    return number if number is not None and number >= 0 else None


def _progress(value: object) -> int | None:
    number = _int(value)
    return None if number is None else min(100, max(0, number))


def _str(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _count(value: object) -> int | None:
    """A whole number of tiles (1 to 100), or None."""
    number = _number(value)
    if number is None or number != int(number) or not 1 <= number <= 100:
        return None
    return int(number)


def _sprite_layout(data: dict[str, Any]) -> SpriteLayout | None:
    for key in ("spritesheet", "sprite_sheet", "sprites"):
        layout = SpriteLayout.from_json(data.get(key))
        if layout is not None:
            return layout
    return None


def _error(value: object) -> tuple[str | None, str | None]:
    if isinstance(value, dict):
        return _str(value.get("code")), _str(value.get("message"))
    return None, _str(value)
