"""Is the studio doing its job? The facts behind /health/, `manage.py health`, the staff
banner and the admin index.

Each check is one or two cheap, indexed queries and ends in a reason code ("ok", or
why not). Codes are all /health/ shows: no counts, names or error text, since anyone
may ask it. The counts and the sentences (`detail`) are for staff pages only.

A stopped worker is the failure that matters most: nothing is sent, followed or
saved, and the provider deletes a finished video's files about an hour later. So
besides the worker's heartbeat, the report looks at what a stopped (or stuck)
tracker leaves behind: jobs overdue for a look, finished videos not saved whose
provider copy is about to go, and a send queue nobody takes from.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.timesince import timesince

from videostudio.videos.heartbeat import heartbeat_last
from videostudio.videos.models import Video

log = logging.getLogger(__name__)

OK = "ok"
# Reason codes, one set per check: /health/ shows them, the README lists them.
DATABASE_UNAVAILABLE = "database_unavailable"
CACHE_UNAVAILABLE = "cache_unavailable"
WORKER_STALE = "worker_stale"
WORKER_NEVER_SEEN = "worker_never_seen"
POLLS_OVERDUE = "polls_overdue"
ARCHIVES_AT_RISK = "archives_at_risk"
SENDS_STUCK = "sends_stuck"
# A check that needs the database while it does not answer (or that broke).
UNKNOWN = "unknown"

# What the web server's own probe asks (/health/?check=web): the web must not be
# restarted because the worker is down.
WEB = ("database", "cache")
ALL = ("database", "cache", "worker", "polls", "archives", "sends")
NEEDS_DATABASE = frozenset({"worker", "polls", "archives", "sends"})


@dataclass(frozen=True)
class Check:
    name: str
    code: str
    ok: bool
    # For staff pages only, never /health/: how many jobs, and what it means.
    count: int | None = None
    detail: str = ""
    last_seen: datetime | None = None  # the worker's last heartbeat


@dataclass(frozen=True)
class HealthReport:
    at: datetime
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def get(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def as_json(self) -> dict[str, object]:
        """What anyone may read: the overall status and one code per check."""
        return {
            "status": "ok" if self.ok else "fail",
            "checks": {check.name: check.code for check in self.checks},
        }


def health_report(*, now: datetime | None = None, only: Iterable[str] = ALL) -> HealthReport:
    """Run the checks named in `only` (all of them by default), in a fixed order.

    A check never raises: a database that does not answer makes `database` fail and
    the checks that need it "unknown" (each failing) without asking it again."""
    now = now or timezone.now()
    wanted = set(only)
    unknown_names = wanted - set(ALL)
    if unknown_names:
        raise ValueError(f"no such checks: {sorted(unknown_names)}")
    done: dict[str, Check] = {}
    for name in ALL:
        if name not in wanted:
            continue
        database = done.get("database")
        if name in NEEDS_DATABASE and database is not None and not database.ok:
            done[name] = Check(
                name, UNKNOWN, ok=False, detail="Unknown while the database is down."
            )
            continue
        done[name] = _run(name, _CHECKS[name], now, done)
    return HealthReport(at=now, checks=tuple(done.values()))


def _run(
    name: str,
    check: Callable[[datetime, dict[str, Check]], Check],
    now: datetime,
    done: dict[str, Check],
) -> Check:
    try:
        return check(now, done)
    except DatabaseError:
        log.warning("health: the %s check could not read the database", name, exc_info=True)
        return Check(name, UNKNOWN, ok=False, detail="The database did not answer this check.")
    except Exception:
        log.exception("health: the %s check broke", name)
        return Check(name, UNKNOWN, ok=False, detail="This check failed to run; see the log.")


def check_database(now: datetime, done: dict[str, Check]) -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.warning("health: the database does not answer: %s", type(exc).__name__)
        return Check(
            "database",
            DATABASE_UNAVAILABLE,
            ok=False,
            detail="The database does not answer: nothing works until it does.",
        )
    return Check("database", OK, ok=True, detail="The database answers.")


def check_cache(now: datetime, done: dict[str, Check]) -> Check:
    key = f"videostudio:health:{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    try:
        cache.set(key, token, 30)
        answered = cache.get(key) == token
        cache.delete(key)
    except Exception as exc:  # Redis down, a cache folder that cannot be written...
        log.warning("health: the cache does not answer: %s", type(exc).__name__)
        answered = False
    if not answered:
        return Check(
            "cache",
            CACHE_UNAVAILABLE,
            ok=False,
            detail=(
                "The cache (Redis with REDIS_URL, else the cache folder) does not keep what "
                "is written to it."
            ),
        )
    return Check("cache", OK, ok=True, detail="The cache answers.")


def worker_stale_after() -> timedelta:
    return timedelta(seconds=settings.VIDEOSTUDIO_WORKER_STALE_SECONDS)


def check_worker(now: datetime, done: dict[str, Check] | None = None) -> Check:
    """The tracker's heartbeat (beaten every few seconds while it runs, and once a
    minute by the schedule even when idle) must be recent.

    Never heard from is a failure only once work has waited for it longer than a
    stale worker would be allowed: a fresh install with no jobs is healthy, and a
    fresh `make run` (whose worker checks in within a minute) never fails at all."""
    stale_after = worker_stale_after()
    last = heartbeat_last()
    if last is None:
        waited = Video.objects.filter(next_poll_at__lt=now - stale_after).exists()
        if waited:
            detail = "The worker has never been heard from, and jobs are waiting for it."
        else:
            detail = (
                "The worker has not been heard from yet; that is fine until a job waits for "
                "it (a running worker checks in every minute)."
            )
        return Check("worker", WORKER_NEVER_SEEN, ok=not waited, detail=detail)
    ago = "less than a minute" if now - last < timedelta(minutes=1) else timesince(last, now)
    if now - last > stale_after:
        return Check(
            "worker",
            WORKER_STALE,
            ok=False,
            last_seen=last,
            detail=(
                f"The worker was last heard from {ago} ago: jobs are not being sent, "
                "followed or saved."
            ),
        )
    return Check(
        "worker", OK, ok=True, last_seen=last, detail=f"The worker was heard from {ago} ago."
    )


def _grace() -> timedelta:
    return timedelta(seconds=settings.VIDEOSTUDIO_POLL_OVERDUE_SECONDS)


def check_polls(now: datetime, done: dict[str, Check]) -> Check:
    """Jobs past their next look (or archive) by more than the grace: the tracker is
    not keeping up, or not running. The send queue is left out: a member's jobs may
    wait there on purpose (VIDEOSTUDIO_MEMBER_MAX_IN_FLIGHT)."""
    overdue = (
        Video.objects.filter(next_poll_at__lt=now - _grace())
        .exclude(status=Video.Status.WAITING)
        .count()
    )
    return _counted(
        "polls",
        POLLS_OVERDUE,
        overdue,
        failing=(
            f"{overdue} job(s) are more than {_minutes(_grace())} overdue for a look at "
            "the provider (or for saving their files)."
        ),
        fine="No job is overdue for a look.",
    )


def archive_risk_window() -> timedelta:
    return timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)


def archives_at_risk(now: datetime) -> QuerySet[Video]:
    """Finished videos not saved here whose provider copy goes within the window."""
    return Video.objects.filter(
        status=Video.Status.COMPLETED,
        archived_at__isnull=True,
        deleted_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + archive_risk_window(),
    )


def check_archives(now: datetime, done: dict[str, Check]) -> Check:
    """Finished videos not saved here whose provider copy goes within the window.
    Once the copy is gone they are lost, not at risk, and no longer counted (their
    pages say so), so one lost video does not fail the report for ever."""
    window = archive_risk_window()
    at_risk = archives_at_risk(now).count()
    return _counted(
        "archives",
        ARCHIVES_AT_RISK,
        at_risk,
        failing=(
            f"{at_risk} finished video(s) are not saved here, and the provider deletes "
            f"its copy within {_minutes(window)}."
        ),
        fine="No unsaved video is about to expire.",
    )


def check_sends(now: datetime, done: dict[str, Check]) -> Check:
    """Jobs waiting to be sent past the grace while the worker is away: members'
    new videos go nowhere. (With a worker, a long queue is only a queue.)"""
    worker = done.get("worker") or check_worker(now)
    if worker.ok:
        return Check("sends", OK, ok=True, detail="The send queue is being worked through.")
    stuck = Video.objects.filter(
        status=Video.Status.WAITING, next_poll_at__lt=now - _grace()
    ).count()
    return _counted(
        "sends",
        SENDS_STUCK,
        stuck,
        failing=(
            f"{stuck} job(s) have waited more than {_minutes(_grace())} to be sent, and "
            "the worker is away."
        ),
        fine="No job is waiting to be sent.",
    )


def _counted(name: str, code: str, count: int, *, failing: str, fine: str) -> Check:
    """A check that fails with `code` when it counted any job."""
    if count:
        return Check(name, code, ok=False, count=count, detail=failing)
    return Check(name, OK, ok=True, count=0, detail=fine)


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


_CHECKS: dict[str, Callable[[datetime, dict[str, Check]], Check]] = {
    "database": check_database,
    "cache": check_cache,
    "worker": check_worker,
    "polls": check_polls,
    "archives": check_archives,
    "sends": check_sends,
}
