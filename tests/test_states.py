"""The job state machine: every move, allowed and refused, and each named transition."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from videostudio.videos import states
from videostudio.videos.models import Video

from .factories import a_video

pytestmark = pytest.mark.django_db
ALL = list(Video.Status.values)


def in_status(owner: Any, status: str, **fields: Any) -> Video:
    return a_video(owner=owner, status=status, **fields)


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("target", ALL)
def test_every_move_is_made_only_when_the_diagram_allows_it(
    owner: Any, current: str, target: str
) -> None:
    video = in_status(owner, current)
    moved = states._move(video.pk, target)
    video.refresh_from_db()
    assert moved is states.may_move(current, target)
    assert video.status == (target if moved else current)


def test_failed_is_final_and_every_status_is_in_the_diagram() -> None:
    assert set(states.TRANSITIONS) == set(ALL)
    assert states.TRANSITIONS[states.FAILED] == frozenset()
    # A job can fail from anywhere but where it already finished, one way or the other.
    can_fail = {s for s in ALL if states.FAILED in states.TRANSITIONS[s]}
    assert can_fail == set(ALL) - {states.FAILED, states.COMPLETED}
    assert states.sources(states.UNSETTLED) == [states.UNCONFIRMED]


@pytest.mark.parametrize("current", ALL)
def test_sent_only_from_sending_or_unconfirmed(owner: Any, current: str) -> None:
    video = in_status(owner, current, provider_id=None)
    fields = {"status": states.QUEUED, "provider_id": f"video_{current}", "progress": 1}
    assert states.video_sent(video, fields=dict(fields)) is (
        current in (states.SUBMITTING, states.UNCONFIRMED)
    )
    # A repeat changes nothing once the job has moved on.
    if current == states.SUBMITTING:
        assert not states.video_sent(video, fields=dict(fields))


@pytest.mark.parametrize("current", ALL)
def test_refused_while_sending_or_unconfirmed_and_unconfirmed_only_while_sending(
    owner: Any, current: str
) -> None:
    video = in_status(owner, current, client_token=uuid.uuid4(), reserved_points=500)
    refused = states.video_refused(video, error_code="invalid_request_error", message="no")
    video.refresh_from_db()
    # A slow send the tracker gave up as unconfirmed may still hear its refusal.
    assert refused is (current in (states.SUBMITTING, states.UNCONFIRMED))
    if refused:
        assert (video.status, video.cost_points, video.cost_source) == ("failed", 0, "none")
        assert video.client_token is None and video.reserved_points == 0
    other = in_status(owner, current)
    later = timezone.now() + timedelta(minutes=40)
    assert states.video_unconfirmed(other, next_poll_at=later) is (current == states.SUBMITTING)


@pytest.mark.parametrize("current", ALL)
def test_only_a_waiting_job_due_now_is_claimed_to_send_or_cancelled(
    owner: Any, current: str
) -> None:
    now = timezone.now()
    token = uuid.uuid4()
    video = in_status(owner, current, next_poll_at=now - timedelta(seconds=1))
    claimed = states.video_sending(video.pk, token=token, now=now, until=now + timedelta(minutes=5))
    assert claimed is (current == states.WAITING)
    video.refresh_from_db()
    if claimed:
        assert (video.status, video.lease_token, video.submitted_at) == (
            states.SUBMITTING,
            token,
            now,
        )
        # The provider did not take it: back in the queue, its send start forgotten.
        again = now + timedelta(seconds=8)
        assert states.video_send_later(video, next_poll_at=again, reason="rate limited")
        video.refresh_from_db()
        assert (video.status, video.next_poll_at, video.lease_token) == (
            states.WAITING,
            again,
            None,
        )
        assert video.submitted_at is None and video.poll_failures == 1
        assert not states.video_sending(video.pk, token=token, now=now, until=again)  # not due
    other = in_status(owner, current, client_token=uuid.uuid4(), reserved_points=300)
    cancelled = states.video_cancelled(other)
    other.refresh_from_db()
    assert cancelled is (current == states.WAITING)
    if cancelled:
        assert (other.error_code, other.reserved_points, other.cost_source) == (
            "cancelled",
            0,
            Video.Cost.NONE,
        )
        assert other.client_token is None and other.next_poll_at is None


def test_a_send_put_back_needs_its_senders_lease(owner: Any) -> None:
    video = in_status(owner, states.SUBMITTING, lease_token=uuid.uuid4())
    stranger = Video.objects.get(pk=video.pk)
    stranger.lease_token = uuid.uuid4()
    assert not states.video_send_later(stranger, next_poll_at=timezone.now(), reason="x")
    assert states.video_send_later(video, next_poll_at=timezone.now(), reason="x")


def test_the_tracker_writes_only_under_its_own_lease(owner: Any) -> None:
    video = in_status(owner, states.IN_PROGRESS, lease_token=uuid.uuid4())
    stale = Video.objects.get(pk=video.pk)
    stale.lease_token = uuid.uuid4()  # another sweep took the job over meanwhile
    assert not states.video_observed(stale, fields={"status": states.COMPLETED})
    video.refresh_from_db()
    assert video.status == states.IN_PROGRESS and video.lease_token is not None
    assert states.video_observed(video, fields={"status": states.COMPLETED, "progress": 100})
    video.refresh_from_db()
    assert (video.status, video.progress, video.lease_token) == ("completed", 100, None)


def test_a_move_the_job_may_not_make_keeps_its_status_and_frees_the_lease(owner: Any) -> None:
    token = uuid.uuid4()
    video = in_status(owner, states.COMPLETED, lease_token=token, lease_until=timezone.now())
    later = timezone.now() + timedelta(seconds=30)
    assert states.video_observed(video, fields={"status": states.QUEUED, "next_poll_at": later})
    video.refresh_from_db()
    assert (video.status, video.next_poll_at, video.lease_token) == ("completed", later, None)
    with pytest.raises(ValueError, match="not a polling field"):
        states.video_poll_later(video, status="queued")


def test_a_failure_costs_nothing_and_releases_the_hold(owner: Any) -> None:
    video = in_status(owner, states.IN_PROGRESS, reserved_points=12_000)
    assert states.video_observed(video, fields={"status": states.FAILED})
    video.refresh_from_db()
    assert (video.cost_points, video.cost_source, video.reserved_points) == (0, "none", 0)


@pytest.mark.parametrize("current", ALL)
def test_settling_moves_only_unsure_sends(owner: Any, current: str) -> None:
    made = in_status(owner, current, provider_id=None)
    at = timezone.now()
    assert states.video_settled_made(made.pk, points=9, charged_at=at) is (current in states.UNSURE)
    never = in_status(owner, current, provider_id=None)
    assert states.videos_settled_never_made([never.pk], message="never") == (
        1 if current in states.UNSURE else 0
    )
    unsure = in_status(owner, current, provider_id=None)
    assert states.videos_unsettled([unsure.pk], message="?") == (
        1 if current == states.UNCONFIRMED else 0
    )
    # Settled sends stay settled: a second word changes nothing.
    assert not states.video_settled_made(made.pk, points=1, charged_at=at)
    assert states.videos_settled_never_made([never.pk], message="again") == 0


@pytest.mark.parametrize("current", ALL)
def test_a_charge_goes_only_to_a_job_that_may_hold_one(owner: Any, current: str) -> None:
    video = in_status(owner, current, cost_points=None, cost_source="")
    at = timezone.now() - timedelta(minutes=3)
    charged = states.video_charged(video.pk, points=12_000, charged_at=at)
    video.refresh_from_db()
    assert charged is (current in states.CHARGEABLE)
    if charged:
        assert (video.cost_points, video.cost_source, video.cost_at) == (12_000, "ledger", at)


def test_a_reported_cost_stays_and_a_different_charge_is_refused(owner: Any) -> None:
    video = in_status(owner, states.COMPLETED, cost_points=12_000, cost_source="reported")
    at = timezone.now()
    assert not states.video_charged(video.pk, points=11_000, charged_at=at)
    assert states.video_charged(video.pk, points=12_000, charged_at=at)
    video.refresh_from_db()
    assert (video.cost_points, video.cost_source, video.cost_at) == (12_000, "reported", at)
    none = in_status(owner, states.COMPLETED, cost_points=0, cost_source="none")
    assert not states.video_charged(none.pk, points=12_000, charged_at=at)


def test_an_estimate_never_replaces_a_figure_from_the_provider(owner: Any) -> None:
    ledger = in_status(owner, states.COMPLETED, cost_points=12_000, cost_source="ledger")
    assert not states.video_estimated(ledger.pk, points=13_200)
    fresh = in_status(owner, states.COMPLETED, cost_points=None, cost_source="")
    assert states.video_estimated(fresh.pk, points=13_200)
    assert states.video_estimated(fresh.pk, points=13_200)  # the same again: harmless
    fresh.refresh_from_db()
    assert (fresh.cost_points, fresh.cost_source) == (13_200, "estimated")


def test_only_a_completed_unarchived_job_is_retried(owner: Any) -> None:
    done = in_status(owner, states.COMPLETED, archived_at=None, archive_attempts=6)
    assert states.video_archive_retry(done)
    done.refresh_from_db()
    assert done.archive_attempts == 0 and done.next_poll_at is not None
    archived = in_status(owner, states.COMPLETED)
    assert not states.video_archive_retry(archived)
    failed = in_status(owner, states.FAILED, archived_at=None)
    assert not states.video_archive_retry(failed)


def test_claims_take_only_free_due_jobs(owner: Any) -> None:
    now = timezone.now()
    due = in_status(owner, states.QUEUED, next_poll_at=now)
    held = in_status(
        owner,
        states.QUEUED,
        next_poll_at=now,
        lease_token=uuid.uuid4(),
        lease_until=now + timedelta(minutes=1),
    )
    later = in_status(owner, states.QUEUED, next_poll_at=now + timedelta(minutes=1))
    token = uuid.uuid4()
    claimed = states.videos_claim(
        [due.pk, held.pk, later.pk], token=token, now=now, until=now + timedelta(minutes=3)
    )
    assert claimed == 1
    assert list(Video.objects.filter(lease_token=token).values_list("pk", flat=True)) == [due.pk]
    assert states.videos_renew(token=token, until=now + timedelta(minutes=6)) == 1
