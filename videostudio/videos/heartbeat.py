"""Heartbeats: when the tracker was last heard from, for /health/ and the staff banner.

One row per name, written at most every BEAT_EVERY seconds per process, so a loop
that passes twice a second costs one UPDATE every few seconds.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone

from videostudio.videos.models import Heartbeat

log = logging.getLogger(__name__)

TRACKER = "tracker"
BEAT_EVERY = 5.0

_last_beat: dict[str, float] = {}


def heartbeat_beat(name: str = TRACKER, *, force: bool = False) -> None:
    """Say `name` is alive now (skipped when this process said so under BEAT_EVERY ago)."""
    now = time.monotonic()
    if not force and now - _last_beat.get(name, -BEAT_EVERY) < BEAT_EVERY:
        return
    _last_beat[name] = now
    at = timezone.now()
    try:
        if not Heartbeat.objects.filter(name=name).update(at=at):
            Heartbeat.objects.update_or_create(name=name, defaults={"at": at})
    except DatabaseError as exc:
        # A busy database must not stop the loop that beats (it renews leases and
        # records sends): the next beat tries again, /health/ shows if none gets in.
        log.warning("could not record the %s heartbeat: %s", name, exc)


def heartbeat_last(name: str = TRACKER) -> datetime | None:
    """When `name` last said it was alive (None: never)."""
    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()
