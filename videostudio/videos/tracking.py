"""The tracker: one sweep polls every job that is due, many at once.

A django-q2 task is only a wake-up call. The truth is `Video.next_poll_at`: a
lost, late or repeated task only delays or repeats harmless work, and the
every-minute schedule restarts the sweep after a crash.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min, Q
from django.utils import timezone

from videostudio.provider.client import ProviderClient
from videostudio.videos import states
from videostudio.videos.leases import lease_acquire, lease_release
from videostudio.videos.models import Lease, Video
from videostudio.videos.points import points
from videostudio.videos.refresh import video_apply, video_fetch

log = logging.getLogger(__name__)

SWEEP_LEASE = "sweep"
# Longer than one pass could take, short enough that a crashed sweeper's jobs
# are picked up again soon.
JOB_LEASE = timedelta(minutes=3)
SWEEPER_LEASE = timedelta(seconds=90)
RENEW_EVERY = 20.0
# Jobs due further off than this are left to the every-minute schedule.
SCHEDULE_SLACK = 30.0


@dataclass
class SweepReport:
    ran: bool = False
    passes: int = 0
    refreshed: int = 0
    handed_over: bool = False

    def __str__(self) -> str:
        if not self.ran:
            return "another sweep is running"
        tail = "; handed over to a new sweep" if self.handed_over else ""
        return f"looked at {self.refreshed} jobs in {self.passes} passes{tail}"


def sweep_running() -> bool:
    now = timezone.now()
    return Lease.objects.filter(name=SWEEP_LEASE, until__gt=now + timedelta(seconds=5)).exists()


def videos_claim_due(*, now: datetime, limit: int, token: uuid.UUID | None = None) -> list[Video]:
    """Claim up to `limit` due jobs for this caller; no two callers get the same job."""
    token = token or uuid.uuid4()
    due = Video.objects.filter(next_poll_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    ids = list(due.order_by("next_poll_at").values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    states.videos_claim(ids, token=token, now=now, until=now + JOB_LEASE)
    return list(Video.objects.filter(pk__in=ids, lease_token=token))


def videos_in_flight() -> int:
    return Video.objects.filter(next_poll_at__isnull=False).count()


def videos_sweep_once(
    *,
    client: ProviderClient,
    pool: ThreadPoolExecutor,
    batch: int,
    keep_alive: Callable[[], None] = lambda: None,
) -> int:
    """One pass: claim what is due, ask the provider about all of it at once, record."""
    token = uuid.uuid4()
    claimed = videos_claim_due(now=timezone.now(), limit=batch, token=token)
    if not claimed:
        return 0
    in_flight = videos_in_flight()
    futures = [pool.submit(video_fetch, video=v, client=client) for v in claimed]
    # Slow calls (429 waits, big downloads) must not outlive the leases: renew them
    # while waiting, so no other sweep takes these jobs meanwhile.
    while not wait(futures, timeout=RENEW_EVERY).done >= set(futures):
        states.videos_renew(token=token, until=timezone.now() + JOB_LEASE)
        keep_alive()
    # Writes stay on this thread: one connection, one writer (SQLite wants that).
    for video, future in zip(claimed, futures, strict=True):
        try:
            video_apply(video=video, fetched=future.result(), in_flight=in_flight)
        except Exception:
            log.exception("recording video %s failed", video.pk)
    if any(video.status == Video.Status.UNCONFIRMED for video in claimed):
        # Sends the provider never confirmed are settled from the points history:
        # one sync (usually one request) serves all of them.
        try:
            log.info("settling unconfirmed sends: %s", points().settle_unconfirmed(client=client))
        except Exception:
            log.exception("settling unconfirmed sends failed")
    return len(claimed)


def videos_sweep(
    *,
    client: ProviderClient,
    seconds: float,
    concurrency: int = 8,
    sleep: Callable[[float], None] = time.sleep,
    handover: Callable[[], None] | None = None,
) -> SweepReport:
    """Poll due jobs until nothing is in flight or `seconds` have passed.

    Only one sweep runs at a time (a named lease); extra wake-ups return at once.
    When time runs out with work left, `handover` starts the next sweep.
    """
    report = SweepReport()
    token = uuid.uuid4()
    if not lease_acquire(SWEEP_LEASE, token, SWEEPER_LEASE):
        return report
    report.ran = True
    deadline = time.monotonic() + seconds

    def keep_alive() -> None:
        lease_acquire(SWEEP_LEASE, token, SWEEPER_LEASE)

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
            while True:
                report.passes += 1
                report.refreshed += videos_sweep_once(
                    client=client, pool=pool, batch=concurrency * 4, keep_alive=keep_alive
                )
                next_due = Video.objects.aggregate(at=Min("next_poll_at"))["at"]
                if next_due is None:
                    lease_release(SWEEP_LEASE, token)
                    # A job submitted between our last look and the release would have
                    # found the lease taken; look once more now that it is free.
                    if videos_in_flight() and lease_acquire(SWEEP_LEASE, token, SWEEPER_LEASE):
                        continue
                    return report
                due_in = (next_due - timezone.now()).total_seconds()
                left = deadline - time.monotonic()
                if left <= 0 or due_in > left + SCHEDULE_SLACK:
                    # Work due soon: start the next sweep now. Work due later: the
                    # every-minute schedule will wake one in time, so free the worker.
                    lease_release(SWEEP_LEASE, token)
                    if handover is not None and due_in <= SCHEDULE_SLACK:
                        handover()
                        report.handed_over = True
                    return report
                if not lease_acquire(SWEEP_LEASE, token, SWEEPER_LEASE):
                    return report  # another sweep took over while this one was slow
                sleep(min(max(due_in, 0.2), 1.0, left))
    finally:
        lease_release(SWEEP_LEASE, token)
