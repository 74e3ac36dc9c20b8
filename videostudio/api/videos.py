"""A studio video as the Videos API shows it: the provider's object, from the studio's
record.

Ids are the studio's own (`video_` and the video's uid), never the provider's: a
script sees what the studio keeps, and nothing of the key behind it. What a client
waits for is the file it can download, so a job reads `completed` once its files
are saved here (until then `in_progress` at 100%); a job whose files could not be
saved reads `failed`, saying so. `expires_at` is null: what a client downloads comes
from the archive, which keeps it. `usage` is what the job cost and how that is known
(the provider's report, its points history, or an estimate, labelled as one), null
while nobody can say.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from videostudio.videos.models import Video

ID_PREFIX = "video_"
# Exactly as the studio writes them: no braces, capitals or `urn:uuid:` forms.
ID = re.compile(r"video_[0-9a-f]{32}")

S = Video.Status
QUEUED = (S.WAITING, S.SUBMITTING, S.QUEUED)
MAKING = (S.IN_PROGRESS, S.UNKNOWN, S.UNCONFIRMED)


def api_id(video: Video) -> str:
    return f"{ID_PREFIX}{video.uid.hex}"


def uid_of(raw: str) -> uuid.UUID | None:
    """The uid an API id names, or None when it names none (junk, another's format)."""
    if not ID.fullmatch(raw):
        return None
    return uuid.UUID(hex=raw[len(ID_PREFIX) :])


def find(raw: str, user: Any) -> Video | None:
    """The video `raw` names, if `user` may see it (private means its owner only)."""
    uid = uid_of(raw)
    if uid is None:
        return None
    return Video.objects.visible_to(user).filter(uid=uid).select_related("parent").first()


def list_mark(raw: str, user: Any) -> Video | None:
    """The video an `after` cursor names, if `user` may see it or could before it was
    deleted (a script deleting as it pages on keeps its place)."""
    uid = uid_of(raw)
    if uid is None or not getattr(user, "is_authenticated", False):
        return None
    return Video.objects.filter(Video.objects.visible_q(user), uid=uid).first()


def visible(user: Any) -> QuerySet[Video]:
    """The member's own videos and the team's shared ones, newest first."""
    return Video.objects.visible_to(user).select_related("parent").order_by("-created_at", "-pk")


def _unix(at: datetime | None) -> int | None:
    return int(at.timestamp()) if at is not None else None


def status_of(video: Video) -> str:
    if video.status in QUEUED:
        return "queued"
    if video.status in MAKING:
        return "in_progress"
    if video.status == S.COMPLETED:
        if video.is_archived:
            return "completed"
        # Nothing more will be tried (archiving given up, or the files gone): no file
        # will come, so a client waiting for one must stop.
        return "in_progress" if video.in_flight else "failed"
    return "failed"  # failed, or unsettled: no file will come


def error_of(video: Video, status: str) -> dict[str, str] | None:
    if status != "failed":
        return None
    if video.status == S.COMPLETED:
        return {
            "code": "not_archived",
            "message": "It finished, but its files could not be saved here: "
            + (video.archive_error or "saving them was given up."),
        }
    return {
        "code": video.error_code or "failed",
        "message": video.error_message or "The job failed; the provider gave no reason.",
    }


def usage_of(video: Video) -> dict[str, Any] | None:
    if video.cost_points is None or not video.cost_source:
        return None
    return {"cost_points": video.cost_points, "source": video.cost_source}


def _source_id(video: Video, viewer: Any) -> str | None:
    """The id of what it was made from, unless that is another member's private video
    or deleted: the viewer cannot open it, and should not learn of it."""
    parent = video.parent
    if parent is None or parent.deleted_at is not None or parent.is_hidden_from(viewer):
        return None
    return api_id(parent)


def as_json(video: Video, viewer: Any) -> dict[str, Any]:
    status = status_of(video)
    # Made, its files being saved: 100, though not `completed` until they are.
    progress = 100 if video.status == S.COMPLETED else min(video.progress or 0, 100)
    return {
        "id": api_id(video),
        "object": "video",
        "model": video.model,
        "status": status,
        "progress": progress,
        "created_at": _unix(video.created_at),
        "completed_at": _unix(video.completed_at) if status == "completed" else None,
        # The studio's files do not expire (the provider's copy does, which no one
        # here downloads from): null, at every stage.
        "expires_at": None,
        "seconds": str(video.seconds),
        "size": video.size,
        "prompt": video.prompt,
        "remixed_from_video_id": _source_id(video, viewer),
        "error": error_of(video, status),
        "usage": usage_of(video),
        # The studio's own, which clients ignore: who made it, how, and who sees it.
        "kind": video.kind,
        "visibility": video.visibility,
        "made_through_api": bool(video.api_token_name),
    }
