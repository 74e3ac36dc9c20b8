"""A job's states, the moves between them, and the only code that makes them.

Every write of a job's status, cost or lease goes through a function here. Each is
one conditional UPDATE, guarded by the statuses the move may start from (and by
the caller's lease where one is held), so it is atomic, and a stale or repeated
call changes nothing and says so (False / 0). That holds on SQLite as on
PostgreSQL, with no row locks.

    new job ──> WAITING ──> SUBMITTING ──sent──> QUEUED ─┐
       cancelled <─┘  ^ │  │              IN_PROGRESS ─┼─progressed─> (any of the three)
                    │  │              UNKNOWN ─┘       │
                    │  │                 │  └─completed─> COMPLETED ──archived──> COMPLETED
                    │  │                 └─failed──> FAILED             (files kept here)
                    │  └─refused──> FAILED
                    └─unconfirmed──> UNCONFIRMED ──settled: made / never made──> FAILED
                                          │└─unsettled──> UNSETTLED ──settled──> FAILED
                                          └──sent (the answer came late)──> as above

    WAITING is the send queue: the tracker claims a job (SUBMITTING, under its lease)
    and sends it; when the provider certainly did not take it (a 429, a refused
    connection) it goes back to WAITING (`video_send_later`). A member may cancel a
    job that is still waiting (FAILED, nothing spent).

    FAILED is final. `sent` lands wherever the provider's first answer says (even
    COMPLETED or FAILED). A send whose answer was lost, or whose sender died
    holding the lease, is UNCONFIRMED: never sent again, settled from the points
    history (usage) or, failing that, UNSETTLED for an admin.

Costs (`cost_points`, `cost_source`, `cost_at`, `reserved_points`) move with the
status where the status decides them (a failure or refusal costs nothing), and
otherwise through `video_charged`, `video_charge_released` and `video_estimated`,
which whoever keeps the points calls. When a job reaches its final word (sent or
seen completed or failed), the keeper of the points is told (`videos.points`).
A job's files saved (it is ready), a move to FAILED, or archiving given up, is told
to whoever listens (`videos.events`: the notifications app) in the same transaction
as the move, so the word and the move land together, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from videostudio.videos import events
from videostudio.videos.models import Video
from videostudio.videos.points import points

S = Video.Status
WAITING = S.WAITING
SUBMITTING, QUEUED, IN_PROGRESS, UNKNOWN = S.SUBMITTING, S.QUEUED, S.IN_PROGRESS, S.UNKNOWN
COMPLETED, FAILED, UNCONFIRMED, UNSETTLED = S.COMPLETED, S.FAILED, S.UNCONFIRMED, S.UNSETTLED

# The provider has the job and is working on it (or says something we do not know).
AT_PROVIDER = (QUEUED, IN_PROGRESS, UNKNOWN)
# Made by the provider and not failed: the job may hold a charge.
CHARGEABLE = (*AT_PROVIDER, COMPLETED)
# Sent, outcome unknown: settled from the points history.
UNSURE = (UNCONFIRMED, UNSETTLED)
FINAL = (FAILED,)

TRANSITIONS: dict[str, frozenset[str]] = {
    WAITING: frozenset({SUBMITTING, FAILED}),
    SUBMITTING: frozenset({WAITING, *AT_PROVIDER, COMPLETED, FAILED, UNCONFIRMED}),
    QUEUED: frozenset({*AT_PROVIDER, COMPLETED, FAILED}),
    IN_PROGRESS: frozenset({*AT_PROVIDER, COMPLETED, FAILED}),
    UNKNOWN: frozenset({*AT_PROVIDER, COMPLETED, FAILED}),
    COMPLETED: frozenset({COMPLETED}),  # archived, or archiving given up
    # ...and wherever the provider's answer says, if it arrives after all (a slow send).
    UNCONFIRMED: frozenset({UNCONFIRMED, UNSETTLED, FAILED, *AT_PROVIDER, COMPLETED}),
    UNSETTLED: frozenset({FAILED}),
    FAILED: frozenset(),
}

UNCONFIRMED_MESSAGE = (
    "The provider did not confirm this job. It may or may not have been made and "
    "charged, so it will not be sent again; the team's usage history is being "
    "checked to settle it."
)

_ANY_LEASE = object()


def may_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def sources(target: str) -> list[str]:
    """The statuses a job may move to `target` from."""
    return [status for status, targets in TRANSITIONS.items() if target in targets]


def _move(
    video_pk: int,
    target: str,
    *,
    lease: Any = _ANY_LEASE,
    among: Iterable[str] | None = None,
    where: Q | None = None,
    release: bool = True,
    **fields: Any,
) -> bool:
    """Move one job to `target` if its status allows it (and `lease` is still its
    lease, when given); `among` narrows the statuses it may come from, `where` adds
    a condition of its own."""
    allowed = set(sources(target))
    if among is not None:
        allowed &= set(among)
    if target == FAILED:
        # Failed costs nothing, unless a settling says what it was charged.
        fields.setdefault("reserved_points", 0)
        fields.setdefault("cost_points", 0)
        fields.setdefault("cost_source", Video.Cost.NONE)
    query = Video.objects.filter(pk=video_pk, status__in=allowed)
    if where is not None:
        query = query.filter(where)
    if lease is not _ANY_LEASE and lease is not None:
        query = query.filter(lease_token=lease)
    if release:
        fields.update(lease_token=None, lease_until=None)
    if target not in (COMPLETED, FAILED):
        return query.update(status=target, updated_at=timezone.now(), **fields) == 1
    # The move and the word of it (`videos.events`) land together or not at all.
    with transaction.atomic():
        if query.update(status=target, updated_at=timezone.now(), **fields) != 1:
            return False
        _tell(video_pk, target, fields=fields)
    return True


def _tell(video_pk: int, target: str, *, fields: dict[str, Any]) -> None:
    """A job's files were just saved (it is ready), it failed, or saving its files was
    given up: its owner hears of it."""
    happening: tuple[str, str, dict[str, Any]] | None = None
    if target == COMPLETED and fields.get("archived_at") is not None:
        # Ready means it can be watched: told once its files are saved here (with the
        # completion itself, usually; else when the archive lands). Once: by its key.
        happening = (events.VIDEO_COMPLETED, f"{events.VIDEO_COMPLETED}:{video_pk}", {})
    elif target == FAILED and fields.get("error_code") != "cancelled":
        reason = fields.get("error_message", "")
        happening = (events.VIDEO_FAILED, f"{events.VIDEO_FAILED}:{video_pk}", {"reason": reason})
    elif (
        target == COMPLETED
        and fields.get("archive_error")
        and "archived_at" not in fields
        and "next_poll_at" in fields
        and fields["next_poll_at"] is None
    ):
        # Archiving given up: nothing more is tried until somebody asks.
        happening = (
            events.VIDEO_NOT_ARCHIVED,
            f"{events.VIDEO_NOT_ARCHIVED}:{video_pk}:{timezone.now().timestamp():.6f}",
            {"reason": fields["archive_error"]},
        )
    if happening is None:
        return
    kind, key, data = happening
    owner_id = Video.objects.filter(pk=video_pk).values_list("owner_id", flat=True).first()
    events.emit(
        events.Happening(kind=kind, key=key, video_id=video_pk, user_id=owner_id, data=data)
    )


# --- Sending ---------------------------------------------------------------------------------


def video_sending(video_pk: int, *, token: uuid.UUID, now: datetime, until: datetime) -> bool:
    """Claim a waiting job to send it now: only one sender gets it, and its lease keeps
    the tracker off while the call is out (a sender that dies leaves it unconfirmed)."""
    return _move(
        video_pk,
        SUBMITTING,
        among=[WAITING],
        where=Q(next_poll_at__lte=now),
        release=False,
        lease_token=token,
        lease_until=until,
        next_poll_at=until,
        submitted_at=now,  # the send's start: its charge cannot be older
    )


def video_send_later(video: Video, *, next_poll_at: datetime, reason: str) -> bool:
    """The provider certainly did not take it (it said "too many requests", or could
    not be reached): back in the queue, to be sent at `next_poll_at`."""
    return _move(
        video.pk,
        WAITING,
        lease=video.lease_token,
        among=[SUBMITTING],
        next_poll_at=next_poll_at,
        poll_failures=min(video.poll_failures + 1, 1000),
        provider_status=reason[:40],
        submitted_at=None,
    )


def video_cancelled(video: Video) -> bool:
    """Its owner took it back before it was sent: nothing was spent."""
    return _move(
        video.pk,
        FAILED,
        among=[WAITING],
        error_code="cancelled",
        error_message="Cancelled before it was sent; nothing was spent.",
        client_token=None,
        next_poll_at=None,
    )


def video_sent(video: Video, *, fields: dict[str, Any]) -> bool:
    """The provider took the job: `fields` hold its first answer (status included).
    An answer that arrives after the tracker gave the send up as unconfirmed (its
    sender seemed dead) still counts: now we know the job."""
    target = fields.pop("status")
    moved = _move(video.pk, target, among=[SUBMITTING, UNCONFIRMED], **fields)
    if moved:
        _finished(video.pk, current=video.status, target=target)
    return moved


def video_refused(video: Video, *, error_code: str, message: str) -> bool:
    """The provider said no, or failed the request: nothing was made, nothing costs.
    The form's token is freed: fixing the form and sending again is a new job."""
    return _move(
        video.pk,
        FAILED,
        # A slow send the tracker already gave up as unconfirmed: now we know.
        among=[SUBMITTING, UNCONFIRMED],
        error_code=error_code[:100],
        error_message=message,
        client_token=None,
        next_poll_at=None,
    )


def video_unconfirmed(video: Video, *, next_poll_at: datetime, lease: Any = _ANY_LEASE) -> bool:
    """The send's answer never came (or its sender died): it may have been made."""
    return _move(
        video.pk,
        UNCONFIRMED,
        lease=lease,
        among=[SUBMITTING],
        error_code="outcome_unknown",
        error_message=UNCONFIRMED_MESSAGE,
        next_poll_at=next_poll_at,
    )


# --- Following a job at the provider ----------------------------------------------------------


def video_observed(video: Video, *, fields: dict[str, Any]) -> bool:
    """Record what the tracker saw of a job it holds the lease of: progress, completion
    (with its files when archived), failure. A status the job may not move to from
    where it is (a completed job the provider now calls queued) is not written;
    the rest is, and the lease is released either way."""
    target = fields.pop("status", video.status)
    if _move(video.pk, target, lease=video.lease_token, among=[video.status], **fields):
        _finished(video.pk, current=video.status, target=target)
        return True
    # Not a move this job may make: keep its status, release the lease, look again.
    kept = {k: v for k, v in fields.items() if k in ("next_poll_at", "poll_failures")}
    return video_poll_later(video, **kept)


def _finished(video_pk: int, *, current: str, target: str) -> None:
    """A job reached its final word (completed or failed): whoever keeps the points
    records its cost; a job that just completed moved the team's balance."""
    if target in (COMPLETED, FAILED):
        points().finished(video_pk, completed_now=current != COMPLETED and target == COMPLETED)


def video_poll_later(video: Video, **fields: Any) -> bool:
    """Nothing changes but when to look again (after an error, or while unconfirmed)."""
    if not set(fields) <= {"next_poll_at", "poll_failures", "archive_attempts", "archive_error"}:
        raise ValueError(f"not a polling field: {sorted(fields)}")
    return _move(video.pk, video.status, lease=video.lease_token, among=[video.status], **fields)


def video_archive_retry(video: Video) -> bool:
    """Try saving a completed job's files again after the tracker gave up."""
    return (
        Video.objects.filter(pk=video.pk, status=COMPLETED, archived_at__isnull=True).update(
            archive_attempts=0, next_poll_at=timezone.now(), updated_at=timezone.now()
        )
        == 1
    )


def videos_claim(
    pks: Iterable[int], *, token: uuid.UUID, now: datetime, until: datetime, due: bool = True
) -> int:
    """Take the lease of due jobs (any in flight, with `due=False`) nobody holds (or
    whose holder's lease ran out)."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    when = Q(next_poll_at__lte=now) if due else Q(next_poll_at__isnull=False)
    return Video.objects.filter(free, when, pk__in=list(pks)).update(
        lease_token=token, lease_until=until
    )


def videos_renew(*, token: uuid.UUID, until: datetime, pks: Iterable[int] | None = None) -> int:
    """Keep the leases of `token`'s jobs (those of `pks`, by primary key: one cheap
    UPDATE) while the tracker is still at work on them."""
    held = Video.objects.filter(lease_token=token)
    if pks is not None:
        held = held.filter(pk__in=list(pks))
    return held.update(lease_until=until)


# --- Settling sends nobody confirmed -------------------------------------------------------------


def video_settled_made(video_pk: int, *, points: int, charged_at: datetime) -> bool:
    """The points history shows the send was made and charged (its charge is linked)."""
    return _move(
        video_pk,
        FAILED,
        among=UNSURE,
        error_code="charged_untracked",
        error_message=(
            "The provider made and charged for this job, but never told us its id, so it "
            "cannot be followed or saved here. Its charge is in the usage review."
        ),
        cost_points=points,
        cost_source=Video.Cost.LEDGER,
        cost_at=charged_at,
        reserved_points=0,
        next_poll_at=None,
    )


def videos_settled_never_made(video_pks: Iterable[int], *, message: str) -> int:
    """The send was never made and cost nothing: safe to send again."""
    return _move_many(
        video_pks,
        FAILED,
        among=UNSURE,
        error_code="not_created",
        error_message=message,
        cost_points=0,
        cost_source=Video.Cost.NONE,
        client_token=None,
    )


def videos_unsettled(video_pks: Iterable[int], *, message: str) -> int:
    """The history cannot tell: nothing is booked, an admin decides."""
    return _move_many(
        video_pks,
        UNSETTLED,
        among=[UNCONFIRMED],
        error_code="unsettled",
        error_message=message,
        cost_points=None,
        cost_source="",
    )


def _move_many(
    video_pks: Iterable[int], target: str, *, among: Iterable[str], **fields: Any
) -> int:
    pks = list(video_pks)
    if not pks:
        return 0
    allowed = set(sources(target)) & set(among)
    with transaction.atomic():
        rows = Video.objects.filter(pk__in=pks, status__in=allowed)
        # Locked (PostgreSQL) so the ones told are the ones moved: a slow send's late
        # answer cannot complete one of them in between. SQLite's transaction is the lock.
        moving = (
            list(rows.select_for_update().values_list("pk", flat=True)) if target == FAILED else []
        )
        moved = rows.update(
            status=target,
            reserved_points=0,
            next_poll_at=None,
            lease_token=None,
            lease_until=None,
            updated_at=timezone.now(),
            **fields,
        )
        for pk in moving:
            _tell(pk, target, fields=fields)
    return moved


# --- Costs -------------------------------------------------------------------------------------


def video_charged(video_pk: int, *, points: int, charged_at: datetime) -> bool:
    """A charge from the points history is this job's. A cost the provider reported
    stays (it must equal the charge); any other becomes the charge. A job that
    failed or cost nothing meanwhile is left alone."""
    chargeable = Video.objects.filter(pk=video_pk, status__in=CHARGEABLE).exclude(
        cost_source=Video.Cost.NONE
    )
    reported = chargeable.filter(cost_source=Video.Cost.REPORTED, cost_points=points)
    if reported.update(cost_at=charged_at, reserved_points=0):
        return True
    return (
        chargeable.exclude(cost_source=Video.Cost.REPORTED).update(
            cost_points=points,
            cost_source=Video.Cost.LEDGER,
            cost_at=charged_at,
            reserved_points=0,
        )
        == 1
    )


def video_charge_released(video: Video) -> bool:
    """Its charge turned out not to be this job's: its cost counts from its creation."""
    return Video.objects.filter(pk=video.pk).update(cost_at=video.created_at) == 1


def video_estimated(video_pk: int, *, points: int | None) -> bool:
    """A completed job nobody priced gets the catalog's estimate, unless the points
    history or the provider has said meanwhile."""
    return (
        Video.objects.filter(
            pk=video_pk, status=COMPLETED, cost_source__in=["", Video.Cost.ESTIMATED]
        ).update(
            cost_points=points,
            cost_source=Video.Cost.ESTIMATED if points is not None else "",
        )
        == 1
    )
