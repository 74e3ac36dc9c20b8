"""What happened that somebody may want to hear of: one typed hook, like `points`.

`videos` (and the apps beside it: usage, ops) sit below `notifications` and must
not import it. Where something worth telling happens (a job finished, failed or
could not be saved; a teammate built on a video; a budget or the team's points ran
low; the worker went quiet), they call `emit` with a `Happening`. The notifications
app registers its listener when it loads; without it nothing is told, which is
also what tests of videos alone get.

Exactly once: every happening carries a `key` naming that one event (the job that
completed, the month whose budget was reached...). The listener records it under
that key, so a repeated emit (the tracker seeing a completion twice, two processes
noticing the same quiet worker) records nothing new. `emit` is called inside the
transaction that made the change where there is one: the event and the change
land together or not at all. A listener that breaks is logged and rolled back to
its own savepoint; the change that caused it stands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import transaction

log = logging.getLogger(__name__)

# The kinds of happening, by the one name the whole studio uses for each.
VIDEO_COMPLETED = "video.completed"
VIDEO_FAILED = "video.failed"
VIDEO_NOT_ARCHIVED = "video.not_archived"
VIDEO_REMIXED = "video.remixed"
VIDEO_EXTENDED = "video.extended"
BUDGET_WARNING = "budget.warning"  # 80% of the month's budget
BUDGET_REACHED = "budget.reached"  # 100%
TEAM_OUT_OF_POINTS = "team.out_of_points"
WORKER_SILENT = "worker.silent"
ARCHIVE_AT_RISK = "archive.at_risk"
WEBHOOK_DISABLED = "webhook.disabled"
TEST = "test"


@dataclass(frozen=True)
class Happening:
    kind: str
    key: str  # names this one event: emitting the same key again tells nobody again
    video_id: int | None = None
    user_id: int | None = None  # whose event it is (None: the team's, told to staff)
    actor_id: int | None = None  # who did it, when that is somebody else
    data: Mapping[str, Any] = field(default_factory=dict)


class Listener(Protocol):
    def happened(self, happening: Happening) -> None:
        """Record the happening (once per key). Runs inside the caller's transaction."""


_listeners: list[Listener] = []


def register(listener: Listener) -> None:
    """Add `listener` (the notifications app does this when it loads)."""
    if listener not in _listeners:
        _listeners.append(listener)


def unregister(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit(happening: Happening) -> None:
    """Tell every listener. Never raises: telling must not undo what happened."""
    for listener in list(_listeners):
        try:
            with transaction.atomic():  # a savepoint inside the caller's transaction
                listener.happened(happening)
        except Exception:
            log.exception("recording %s (%s) failed", happening.kind, happening.key)
