"""The tracker: one loop sends what waits, looks at what is due, archives what finished.

A django-q2 task is only a wake-up call. The truth is in the rows: a WAITING job
waits to be sent, every other job with a `next_poll_at` is due then, and a lease
says who holds it. A lost, late or repeated task only delays or repeats harmless
work, and the every-minute schedule restarts the loop after a crash.

One loop runs at a time (a named lease) for the whole deployment. It hands work to
three bounded sets of threads, and every provider call they make draws on the one
request budget of the key, shared with every other process (`videostudio.pacing`),
at its own priority:

- **sends** (highest): waiting jobs, one per member per round, oldest first within
  a member, so one member's long queue never holds up a teammate's single job;
- **status looks**: due jobs, the likeliest to have finished first; each is due
  around its estimated finish (`timing`), never later than the configured gap;
- **archives** (lowest, bounded concurrency): completed jobs' files, except those
  whose provider copy is about to expire, which go ahead of everything.

Threads only talk to the provider and to file storage. The loop's own thread
records each answer as soon as it arrives (one database writer, as SQLite wants).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connections
from django.db.models import Count, F, Max, Min, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import ListUnsupported, ProviderError
from videostudio.provider.ratelimit import Priority, priority
from videostudio.provider.types import RemoteVideo
from videostudio.videos import services, states, timing
from videostudio.videos.heartbeat import heartbeat_beat
from videostudio.videos.leases import lease_acquire, lease_release, lease_renew, lease_take_over
from videostudio.videos.models import Lease, Video
from videostudio.videos.points import points
from videostudio.videos.refresh import (
    Fetched,
    archive_fetch,
    poll_fetch,
    sprite_pin,
    video_apply,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

SWEEP_LEASE = "sweep"
# Short, and renewed every RENEW_EVERY seconds while the loop runs (one conditional
# UPDATE each): a worker that dies stops renewing, and a new sweep takes over as soon
# as the loop's lease runs out; the jobs it held (looks, archives, sends out) are
# free again once theirs do. A send whose sender died is never sent again: its job
# is looked at as unconfirmed (see LOOKED_AT).
SWEEPER_LEASE = timedelta(seconds=6)
JOB_LEASE = timedelta(seconds=20)
RENEW_EVERY = 2.0
# Jobs due further off than this are left to the every-minute schedule.
SCHEDULE_SLACK = 30.0
# The loop wakes at least this often to look for new work.
TICK = 0.5
# A provider copy that expires within this is archived ahead of everything.
URGENT = timedelta(minutes=15)
# Where the provider lists videos (OpenAI's GET /videos), one request refreshes up
# to a page of jobs; at most this many pages a round. Without a list, ask again later.
LIST_PAGES = 3
LIST_RECHECK = 3600.0

Status = Video.Status
LOOKED_AT = (
    Status.SUBMITTING,  # only once its sender's lease ran out: it died mid-call
    Status.UNCONFIRMED,
    Status.QUEUED,
    Status.IN_PROGRESS,
    Status.UNKNOWN,
)
# Out at the provider, or on the way there: what a member has "in flight".
SENT_OR_SENDING = (Status.SUBMITTING, *states.AT_PROVIDER)


@dataclass
class SweepReport:
    ran: bool = False
    passes: int = 0
    sent: int = 0
    refreshed: int = 0
    archived: int = 0
    handed_over: bool = False

    def __str__(self) -> str:
        if not self.ran:
            return "another sweep is running"
        tail = "; handed over to a new sweep" if self.handed_over else ""
        return (
            f"sent {self.sent}, looked at {self.refreshed} and archived {self.archived} "
            f"jobs in {self.passes} passes{tail}"
        )


def sweep_running() -> bool:
    """A sweep holds the lease and renewed it lately (so it will look at new work)."""
    fresh = timezone.now() + SWEEPER_LEASE - timedelta(seconds=2 * RENEW_EVERY)
    return Lease.objects.filter(name=SWEEP_LEASE, until__gt=fresh).exists()


def videos_in_flight() -> int:
    return Video.objects.filter(next_poll_at__isnull=False).count()


def _free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def _claim(ids: list[int], *, token: uuid.UUID, now: datetime) -> list[Video]:
    if not ids:
        return []
    states.videos_claim(ids, token=token, now=now, until=now + JOB_LEASE)
    claimed = {v.pk: v for v in Video.objects.filter(pk__in=ids, lease_token=token)}
    return [claimed[pk] for pk in ids if pk in claimed]


def videos_claim_due(*, now: datetime, limit: int, token: uuid.UUID | None = None) -> list[Video]:
    """Claim up to `limit` jobs due a status look, the likeliest to be done first."""
    due = Video.objects.filter(status__in=LOOKED_AT, next_poll_at__lte=now).filter(_free(now))
    order = (F("estimated_finish_at").asc(nulls_last=True), "next_poll_at", "pk")
    ids = list(due.order_by(*order).values_list("pk", flat=True)[:limit])
    return _claim(ids, token=token or uuid.uuid4(), now=now)


def videos_claim_archives(
    *, now: datetime, limit: int, token: uuid.UUID | None = None
) -> list[Video]:
    """Claim up to `limit` completed jobs due an archive, the soonest to expire first."""
    due = Video.objects.filter(
        status=Status.COMPLETED, archived_at__isnull=True, next_poll_at__lte=now
    ).filter(_free(now))
    order = (F("expires_at").asc(nulls_last=True), "completed_at", "pk")
    ids = list(due.order_by(*order).values_list("pk", flat=True)[:limit])
    return _claim(ids, token=token or uuid.uuid4(), now=now)


def videos_claim_sends(*, now: datetime, limit: int, token: uuid.UUID | None = None) -> list[Video]:
    """Claim up to `limit` waiting jobs to send, fairly: round by round, each member's
    oldest waiting job first, the member served longest ago first within a round, so
    no member waits behind another's whole queue.
    With a per-member limit of jobs in flight, a member at the limit waits."""
    token = token or uuid.uuid4()
    waiting = Video.objects.filter(status=Status.WAITING, next_poll_at__lte=now)
    rounds = limit
    cap = settings.VIDEOSTUDIO_MEMBER_MAX_IN_FLIGHT
    if cap:
        busy = (
            Video.objects.filter(status__in=SENT_OR_SENDING)
            .values("owner_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=cap)
            .values_list("owner_id", flat=True)
        )
        waiting = waiting.exclude(owner_id__in=list(busy))
        rounds = 1  # one each: the next pass sees the new counts
    turns = waiting.annotate(
        turn=Window(RowNumber(), partition_by=[F("owner_id")], order_by=[F("pk").asc()])
    )
    heads = list(turns.filter(turn__lte=rounds).values_list("pk", "owner_id", "turn"))
    # Within a round, whoever was served longest ago goes first: claims of one job at
    # a time still go round the members, not to whoever's oldest job is older.
    served = dict(
        Video.objects.filter(owner_id__in={owner for _, owner, _ in heads})
        .exclude(submitted_at=None)
        .values("owner_id")
        .annotate(last=Max("submitted_at"))
        .values_list("owner_id", "last")
    )
    never = datetime.min.replace(tzinfo=UTC)
    heads.sort(key=lambda head: (head[2], served.get(head[1]) or never, head[0]))
    ids = [pk for pk, _, _ in heads]
    claimed: list[int] = []
    until = now + services.SEND_LEASE
    for pk in ids[:limit]:
        # A microsecond apart, in the order taken: who was served last stays exact.
        at = now + timedelta(microseconds=len(claimed))
        if states.video_sending(pk, token=token, now=at, until=until):
            claimed.append(pk)
    videos = {v.pk: v for v in Video.objects.filter(pk__in=claimed).select_related("parent")}
    return [videos[pk] for pk in claimed if pk in videos]


def video_send_now(*, video: Video, client: ProviderClient) -> Video:
    """Send one waiting job at once, here (tests, and a job the tracker never got to)."""
    token = uuid.uuid4()
    now = timezone.now()
    if not states.video_sending(video.pk, token=token, now=now, until=now + services.SEND_LEASE):
        video.refresh_from_db()
        return video
    video = Video.objects.select_related("parent").get(pk=video.pk)
    with priority(Priority.SEND):
        sent = _send_call(video, client)
    return services.send_record(video, sent)


def _send_call(video: Video, client: ProviderClient) -> services.Sent:
    """The provider call for a claimed job (its parent loaded with it)."""
    source_id = video.parent.provider_id if video.parent is not None else None
    return services.send_call(video, client=client, source_id=source_id)


def _in_thread(level: Priority, work: Callable[[], T]) -> T:
    """Run one provider task on a tracker thread at its budget priority. A budget kept
    in the database opened a connection on this thread: closed before the thread
    goes back to the pool, so none outlives the sweep."""
    try:
        with priority(level):
            return work()
    finally:
        connections.close_all()


def _send(video: Video, client: ProviderClient) -> services.Sent:
    return _in_thread(Priority.SEND, lambda: _send_call(video, client))


def _look(video: Video, client: ProviderClient) -> Fetched:
    return _in_thread(Priority.POLL, lambda: poll_fetch(video=video, client=client))


class Listing:
    """Whether this provider lists videos: unknown until asked, then remembered (a
    provider without a list is asked again after `LIST_RECHECK` seconds)."""

    def __init__(self) -> None:
        self._absent_until = float("-inf")
        self.known = False  # it answered a list once

    @property
    def worth_asking(self) -> bool:
        return time.monotonic() >= self._absent_until

    def absent(self) -> None:
        self.known = False
        self._absent_until = time.monotonic() + LIST_RECHECK


# One per client (each is one provider endpoint), for as long as the client lives.
_LISTINGS: WeakKeyDictionary[ProviderClient, Listing] = WeakKeyDictionary()
_listings_lock = threading.Lock()


def listing(client: ProviderClient) -> Listing:
    with _listings_lock:
        return _LISTINGS.setdefault(client, Listing())


def _list(ids: set[str], client: ProviderClient) -> dict[str, RemoteVideo] | None:
    """The listed state of as many of `ids` as a few pages hold; None without a list."""
    found: dict[str, RemoteVideo] = {}

    def pages() -> None:
        after = None
        for _ in range(LIST_PAGES):
            page = client.list_videos(limit=100, after=after)
            found.update((remote.id, remote) for remote in page.data)
            if not page.has_more or ids <= found.keys():
                break
            after = page.last_id

    try:
        _in_thread(Priority.POLL, pages)
    except ListUnsupported:
        log.info("the provider lists no videos: looking at each job on its own")
        listing(client).absent()
        return None
    except ProviderError as exc:
        if not found:
            log.warning("listing videos failed (%s): looking at each job on its own", exc)
            return None
    listing(client).known = True
    return found


def _archive(
    video: Video, client: ProviderClient, urgent: bool, pin: tuple[int, int] | None
) -> Fetched:
    level = Priority.URGENT if urgent else Priority.ARCHIVE
    return _in_thread(level, lambda: archive_fetch(video=video, client=client, pin=pin))


@dataclass
class _Tracker:
    client: ProviderClient
    token: uuid.UUID
    report: SweepReport
    limits: dict[str, int]
    running: dict[Future[Any], tuple[str, Video | None]] = field(default_factory=dict)
    unconfirmed: bool = False
    listed: list[Video] = field(default_factory=list)
    # Claimed jobs the list did not show, waiting for a look of their own.
    backlog: list[Video] = field(default_factory=list)

    def busy(self, kind: str) -> int:
        return sum(1 for k, _ in self.running.values() if k == kind)

    def dispatch(self, pool: ThreadPoolExecutor, now: datetime, *, claim: bool = True) -> None:
        """Hand due work to the threads; `claim=False`: only the backlog already held."""
        if not claim:
            self.feed(pool)
            return
        free = self.limits["send"] - self.busy("send")
        if free > 0:
            for video in videos_claim_sends(now=now, limit=free, token=self.token):
                self.running[pool.submit(_send, video, self.client)] = ("send", video)
        free = self.limits["archive"] - self.busy("archive")
        # Copies about to expire go now, beyond the usual number at once.
        urgent = now + URGENT
        if free > 0 or Video.objects.filter(
            status=Status.COMPLETED, archived_at__isnull=True, next_poll_at__lte=now,
            expires_at__lte=urgent,
        ).filter(_free(now)).exists():  # fmt: skip
            limit = max(free, 1)
            for video in videos_claim_archives(now=now, limit=limit, token=self.token):
                hurry = video.expires_at is not None and video.expires_at <= urgent
                # The catalog's pin is read here: the threads keep off the database.
                future = pool.submit(_archive, video, self.client, hurry, sprite_pin(video))
                self.running[future] = ("archive", video)
        if listing(self.client).worth_asking and not self.busy("list"):
            self.dispatch_list(pool, now)
        free = self.feed(pool)
        if free > 0:
            for video in videos_claim_due(now=now, limit=free, token=self.token):
                self.look(pool, video)

    def feed(self, pool: ThreadPoolExecutor) -> int:
        """Give jobs held in the backlog their looks; the poll slots left free."""
        free = self.limits["poll"] - self.busy("poll")
        while free > 0 and self.backlog:
            self.look(pool, self.backlog.pop(0))
            free -= 1
        return free

    def look(self, pool: ThreadPoolExecutor, video: Video) -> None:
        self.unconfirmed |= video.status == Status.UNCONFIRMED
        self.running[pool.submit(_look, video, self.client)] = ("poll", video)

    def dispatch_list(self, pool: ThreadPoolExecutor, now: datetime) -> None:
        """One list request for every job due a look, and any other in flight it shows.
        Until the provider has answered a list, only a few ride on the question."""
        if listing(self.client).known:
            limit = 100 * LIST_PAGES
        else:
            limit = self.limits["poll"] - self.busy("poll")
        due = videos_claim_due(now=now, limit=limit, token=self.token) if limit > 0 else []
        if not due:
            return
        self.listed = due
        ids = {str(v.provider_id) for v in due if v.provider_id}
        self.running[pool.submit(_list, ids, self.client)] = ("list", due[0])

    def record_list(self, found: dict[str, RemoteVideo] | None, room: float | None) -> None:
        listed, self.listed = self.listed, []
        for video in listed:
            remote = (found or {}).get(str(video.provider_id))
            if remote is None:
                self.backlog.append(video)  # not listed (or no list): a look of its own
                continue
            video_apply(video=video, fetched=Fetched(remote=remote), room=room)
            self.report.refreshed += 1
        # Jobs not due yet that the list showed anyway: their news costs nothing more.
        if not found:
            return
        now = timezone.now()
        seen = Video.objects.filter(status__in=LOOKED_AT, provider_id__in=list(found)).filter(
            _free(now)
        )
        ids = list(seen.values_list("pk", flat=True)[: 100 * LIST_PAGES])
        states.videos_claim(ids, token=self.token, now=now, until=now + JOB_LEASE, due=False)
        for video in Video.objects.filter(pk__in=ids, lease_token=self.token):
            remote = found[str(video.provider_id)]
            video_apply(video=video, fetched=Fetched(remote=remote), room=room)

    def record(self, done: set[Future[Any]]) -> None:
        room = timing.room_gap(
            Video.objects.filter(status__in=SENT_OR_SENDING).count(),
            rate_per_minute=settings.VIDEOSTUDIO_PROVIDER_RATE_PER_MINUTE,
            max_gap=settings.VIDEOSTUDIO_POLL_MAX_SECONDS,
        )
        for future in done:
            kind, video = self.running.pop(future)
            if video is None:  # settling: it recorded what it found itself
                if future.result():
                    log.info("settling unconfirmed sends: %s", future.result())
                continue
            try:
                if kind == "send":
                    services.send_record(video, future.result(), room=room)
                    self.report.sent += 1
                    continue
                if kind == "list":
                    self.record_list(future.result(), room)
                    continue
                video_apply(video=video, fetched=future.result(), room=room)
                if kind == "poll":
                    self.report.refreshed += 1
                else:
                    self.report.archived += 1
            except Exception:
                log.exception("recording video %s failed", video.pk)

    def settle(self, pool: ThreadPoolExecutor) -> None:
        # Once every look of the pass is recorded: settling reads the jobs' costs.
        if not self.unconfirmed or self.busy("poll") or self.busy("settle"):
            return
        self.unconfirmed = False
        # Sends the provider never confirmed are settled from the points history: one
        # sync (usually one request) serves all of them. On a thread of its own: it may
        # wait on the budget or a slow provider, and the loop must keep renewing leases.
        self.running[pool.submit(_settle, self.client)] = ("settle", None)

    def held(self) -> list[int]:
        """The jobs this loop holds the lease of: calls out, and claims not yet handed out."""
        videos = [v for _, v in self.running.values() if v is not None]
        return [v.pk for v in (*videos, *self.backlog, *self.listed)]


def _settle(client: ProviderClient) -> str:
    try:
        return _in_thread(Priority.BACKGROUND, lambda: points().settle_unconfirmed(client=client))
    except Exception:
        log.exception("settling unconfirmed sends failed")
        return ""


def _next_due() -> datetime | None:
    return Video.objects.aggregate(at=Min("next_poll_at"))["at"]


def videos_sweep(
    *,
    client: ProviderClient,
    seconds: float,
    concurrency: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    handover: Callable[[], None] | None = None,
) -> SweepReport:
    """Send, look and archive until nothing is in flight or `seconds` have passed
    (at least one pass: `seconds=0` claims once and records everything it claimed).

    Only one sweep runs at a time (a named lease); an extra wake-up returns at once,
    unless the lease's holder stopped renewing it (it died): then it waits the lease
    out, at most SWEEPER_LEASE, and takes over. When time runs out it gives the lease
    up at once, `handover` starts the next sweep if work is due soon, and this one
    only records what it still has out (a slow download, say) before it returns:
    nobody's look waits for that. A sweep that finds its lease taken (it was too slow
    to renew it) stops claiming work the same way.
    """
    report = SweepReport()
    token = uuid.uuid4()
    # The worker is alive even when another sweep holds the lease.
    heartbeat_beat(force=True)
    if not lease_take_over(SWEEP_LEASE, token, SWEEPER_LEASE, sleep=sleep):
        return report
    report.ran = True
    deadline = time.monotonic() + seconds
    limits = {
        "send": settings.VIDEOSTUDIO_SEND_CONCURRENCY,
        "poll": concurrency or settings.VIDEOSTUDIO_SWEEP_CONCURRENCY,
        "archive": settings.VIDEOSTUDIO_ARCHIVE_CONCURRENCY,
    }
    tracker = _Tracker(client=client, token=token, report=report, limits=limits)
    renewed = time.monotonic()
    released = lost = False
    # Room for urgent archives, a list request and a settling.
    workers = sum(limits.values()) + limits["archive"] + 2
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tracker") as pool:
            while True:
                report.passes += 1
                heartbeat_beat()
                on_time = time.monotonic() < deadline and not lost
                if on_time or report.passes == 1:
                    tracker.dispatch(pool, timezone.now())
                else:
                    tracker.dispatch(pool, timezone.now(), claim=False)
                if tracker.running:
                    done, _ = wait(tracker.running, timeout=TICK, return_when=FIRST_COMPLETED)
                    tracker.record(done)
                tracker.settle(pool)
                if time.monotonic() - renewed >= RENEW_EVERY:
                    renewed = time.monotonic()
                    now = timezone.now()
                    held = tracker.held()
                    if held:
                        # Calls still out (slow sends, 429 pauses, big downloads) keep
                        # their jobs; a loop that died lets them go within JOB_LEASE.
                        states.videos_renew(token=token, until=now + JOB_LEASE, pks=held)
                    if not released and not lease_renew(SWEEP_LEASE, token, SWEEPER_LEASE):
                        # Too slow to renew it: another sweep may be at work already.
                        log.warning("the sweep lease was taken over; finishing what is out")
                        released = lost = True
                        continue
                if lost or not on_time:
                    if not released:
                        # Out of time: the next sweep takes over at once, while this
                        # one only records what it has out (slow downloads, say).
                        released = True
                        lease_release(SWEEP_LEASE, token)
                        next_due = _next_due()
                        due_soon = next_due is not None and (
                            (next_due - timezone.now()).total_seconds() <= SCHEDULE_SLACK
                        )
                        if handover is not None and due_soon:
                            handover()
                            report.handed_over = True
                    if tracker.running or tracker.backlog:
                        continue
                    return report
                if tracker.running or tracker.backlog:
                    continue
                next_due = _next_due()
                if next_due is None:
                    lease_release(SWEEP_LEASE, token)
                    # A job submitted between our last look and the release would have
                    # found the lease taken; look once more now that it is free.
                    if videos_in_flight() and lease_acquire(SWEEP_LEASE, token, SWEEPER_LEASE):
                        renewed = time.monotonic()
                        continue
                    return report
                due_in = (next_due - timezone.now()).total_seconds()
                left = deadline - time.monotonic()
                if due_in > left + SCHEDULE_SLACK:
                    # Work due later than this sweep lasts: the every-minute schedule
                    # will wake one in time, so free the worker.
                    lease_release(SWEEP_LEASE, token)
                    return report
                sleep(max(min(max(due_in, 0.2), TICK, left), 0.0))
    finally:
        lease_release(SWEEP_LEASE, token)
