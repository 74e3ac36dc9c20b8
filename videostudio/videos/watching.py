"""What a page with cards watches, and when it should next ask.

A page makes one progress request per turn for all its cards (videos/poller.html).
Its turn comes when something on it is next expected to change, not on a fixed
beat: a job in flight changes when the tracker next looks at it (`next_poll_at`),
a notice when the clock passes one of its moments (see `expiry.notice_moments`).
Everything here reads the rows the page already has: no query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from videostudio.videos.expiry import notice_moments
from videostudio.videos.models import Video

# The tracker's look takes a moment to land: ask this long after it is due.
LANDING_SECONDS = 1.0
# The longest a page waits for a notice's moment (a browser timer's safe range).
LONGEST_WAIT_SECONDS = 86_400.0


@dataclass(frozen=True)
class Watch:
    ids: list[int]  # the cards to ask about: in flight, or with a notice moment ahead
    seconds: float | None  # when to ask next; None: nothing will change, stop asking


def watch(videos: Iterable[Video], *, now: datetime) -> Watch:
    fastest = settings.VIDEOSTUDIO_PAGE_POLL_SECONDS
    slowest = max(settings.VIDEOSTUDIO_PAGE_POLL_MAX_SECONDS, fastest)
    ids: list[int] = []
    waits: list[float] = []
    for video in videos:
        if video.in_flight:
            ids.append(video.pk)
            waits.append(min(max(_flight_wait(video, now=now), fastest), slowest))
            continue
        moments = notice_moments(video, now=now)
        if moments:
            ids.append(video.pk)
            wait = (moments[0] - now).total_seconds() + LANDING_SECONDS
            waits.append(min(max(wait, fastest), LONGEST_WAIT_SECONDS))
    return Watch(ids, round(min(waits), 1) if waits else None)


def _flight_wait(video: Video, *, now: datetime) -> float:
    """Seconds until a job in flight is likely to look different."""
    if video.lease_until is not None and video.lease_until > now:
        return 0.0  # the tracker is at it now (a send, a look, a download)
    assert video.next_poll_at is not None  # in flight
    due = (video.next_poll_at - now).total_seconds()
    if due >= 0:
        return due + LANDING_SECONDS
    if -due > settings.VIDEOSTUDIO_POLL_OVERDUE_SECONDS:
        # Long overdue: the worker is away (staff see why). Ask at the slowest pace.
        return float(settings.VIDEOSTUDIO_PAGE_POLL_MAX_SECONDS)
    return 0.0  # due: the answer may land any moment
