"""Telling staff of the team's troubles: a worker gone quiet, archives at risk.

These are states, not moves, so they are looked for: once a minute by the worker's
schedule, and (at most once a minute per process) by the web process whenever a
member's page is drawn, since a worker that stopped cannot report itself. Each
trouble is one event under a key naming it (the heartbeat the worker was last
heard at; the video at risk), so looking twice tells nobody twice.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from django.utils.formats import date_format

from videostudio.ops.health import archives_at_risk, check_worker
from videostudio.videos import events as ev
from videostudio.videos.events import Happening

THROTTLE_KEY = "videostudio:notifications:team-watch"
# Staff hear of at most this many videos at risk per look (the rest next minute).
AT_RISK_MOST = 20


def _when(at: datetime) -> str:
    return date_format(timezone.localtime(at), "DATETIME_FORMAT")


def team_watch(*, now: datetime | None = None) -> str:
    """Look once; says what was told."""
    now = now or timezone.now()
    told = []
    worker = check_worker(now)
    if not worker.ok:
        last = worker.last_seen
        ev.emit(
            Happening(
                kind=ev.WORKER_SILENT,
                key=f"{ev.WORKER_SILENT}:{last.isoformat() if last else 'never'}",
                data={
                    "last_seen": last.isoformat() if last else None,
                    "last_seen_text": _when(last) if last else "never",
                    "code": worker.code,
                },
            )
        )
        told.append("the worker is quiet")
    at_risk = archives_at_risk(now).values_list("pk", "expires_at")[:AT_RISK_MOST]
    for pk, expires in at_risk:
        if expires is None:  # not possible (the query wants a time); for the type
            continue
        ev.emit(
            Happening(
                kind=ev.ARCHIVE_AT_RISK,
                key=f"{ev.ARCHIVE_AT_RISK}:{pk}:{expires.isoformat()}",
                video_id=pk,
                data={"expires_at": expires.isoformat(), "expires_text": _when(expires)},
            )
        )
        told.append(f"video {pk} at risk")
    return ", ".join(told)


def team_watch_now_and_then() -> None:
    """From a page view: look at most once a minute (per cache, so per deployment
    with Redis). Never fails the page."""
    try:
        if cache.add(THROTTLE_KEY, 1, 60):
            team_watch()
    except DatabaseError:
        pass
