"""Telling staff of the team's troubles: a worker gone quiet, archives at risk.

These are states, not moves, so they are looked for: once a minute by the worker's
schedule, and by whoever else runs the health checks (/health/, which a monitor
asks whether or not the worker runs, and the staff banner), since a worker that
stopped cannot report itself. Each trouble is one happening (`videos.events`)
under a key naming it (the heartbeat the worker was last heard at; the video at
risk and its expiry), so looking twice, or from two places, tells nobody twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone
from django.utils.formats import date_format

from videostudio.ops.health import Check, archives_at_risk, check_worker
from videostudio.videos import events as ev
from videostudio.videos.events import Happening

log = logging.getLogger(__name__)

THROTTLE_KEY = "videostudio:ops:alerts"
# Staff hear of at most this many videos at risk per look (the rest at the next).
AT_RISK_MOST = 20


def _when(at: datetime) -> str:
    return date_format(timezone.localtime(at), "DATETIME_FORMAT")


def alerts_raise(*, now: datetime | None = None, worker: Check | None = None) -> list[str]:
    """Look once (`worker`: a check just made, to reuse); says what was raised."""
    now = now or timezone.now()
    raised = []
    worker = worker or check_worker(now)
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
        raised.append("the worker is quiet")
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
        raised.append(f"video {pk} at risk")
    return raised


def alerts_now_and_then(*, worker: Check | None = None) -> None:
    """From a request (/health/, a staff page): look at most once a minute per cache
    (per deployment with Redis). Never fails the request."""
    try:
        if cache.add(THROTTLE_KEY, 1, 60):
            alerts_raise(worker=worker)
    except Exception:  # a database or a cache (Redis) that does not answer: /health/ says so
        log.warning("could not look for the team's troubles", exc_info=True)
