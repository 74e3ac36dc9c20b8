"""When the tracker looks at a job again: estimates from progress and learned durations.

Properties against a model job that queues `q` seconds, then renders `r` seconds
at a steady pace (what providers report, in whole percent): the estimate brackets
the true finish, the next look is always within its bounds, and following a job
to its end takes a handful of looks and notices the end within seconds.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videostudio.videos import timing
from videostudio.videos.models import Duration, Video

T0 = datetime(2026, 12, 1, tzinfo=UTC)
FIRST_LOOK = 20.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def progress(t: float, q: float, r: float) -> int:
    return max(0, min(99, math.floor((t - q) / r * 100)))


def follow(
    q: float, r: float, *, learned: timing.Learned | None = None, room: float | None = None
) -> tuple[int, float]:
    """Look at the model job as the tracker would: (looks taken, seconds noticed late)."""
    now = T0
    first = last = None
    looks = 0
    while True:
        estimate = timing.estimate_finish(sent_at=T0, first=first, last=last, learned=learned)
        now = timing.next_look(estimate, now=now, max_gap=60, room=room)
        looks += 1
        t = (now - T0).total_seconds()
        if t >= q + r:
            return looks, t - (q + r)
        p = progress(t, q, r)
        if p >= 1:
            reading = timing.Reading(now, p)
            first = first or reading
            last = reading


queue = st.floats(min_value=0, max_value=timing.QUEUE_GUESS)
render = st.floats(min_value=10, max_value=600)


@given(q=queue, r=render, a=st.floats(0.02, 0.9), b=st.floats(0.02, 0.9))
def test_two_readings_bracket_the_true_finish(q: float, r: float, a: float, b: float) -> None:
    t1, t2 = sorted((q + a * r, q + b * r))
    p1, p2 = progress(t1, q, r), progress(t2, q, r)
    first, last = timing.Reading(at(t1), p1), timing.Reading(at(t2), p2)
    estimate = timing.estimate_finish(sent_at=T0, first=first, last=last, learned=None)
    if p1 == 0 or p2 < p1 + 2:
        return  # not two readings of a pace: covered by the one-reading case
    error = abs((estimate.finish - at(q + r)).total_seconds())
    assert error <= estimate.uncertainty


@given(q=queue, r=render, a=st.floats(0.02, 0.98))
def test_one_reading_brackets_the_true_finish(q: float, r: float, a: float) -> None:
    t = q + a * r
    p = progress(t, q, r)
    if p == 0:
        return
    reading = timing.Reading(at(t), p)
    estimate = timing.estimate_finish(sent_at=T0, first=reading, last=reading, learned=None)
    error = abs((estimate.finish - at(q + r)).total_seconds())
    assert error <= estimate.uncertainty


@given(
    finish=st.floats(-600, 3600),
    uncertainty=st.floats(0, 600),
    max_gap=st.floats(2, 600),
    room=st.none() | st.floats(timing.PROGRESS_GAP, 300),
)
def test_the_next_look_is_never_too_soon_nor_too_late(
    finish: float, uncertainty: float, max_gap: float, room: float | None
) -> None:
    estimate = timing.Estimate(at(finish), uncertainty)
    look = timing.next_look(estimate, now=T0, max_gap=max_gap, room=room)
    wait = (look - T0).total_seconds()
    tick = 1e-6  # datetimes count whole microseconds
    assert timing.MIN_GAP - tick <= wait <= max(max_gap, timing.MIN_GAP) + tick
    if room is not None:
        assert wait <= max(room, timing.MIN_GAP) + tick


@settings(max_examples=300)
@given(q=queue, r=st.floats(min_value=18, max_value=300))
def test_a_job_is_followed_in_a_few_looks_and_noticed_within_seconds(q: float, r: float) -> None:
    looks, late = follow(q, r)
    # One look to read its pace, one to pin it down, one when it is done; long jobs
    # are looked at once a minute (the maximum gap) on top.
    assert looks <= 4 + r // 60
    # Within seconds (2 % for long jobs: progress comes in whole percent), or at the
    # first look for a job quicker than that.
    assert late <= 3.0 + r / 50 or (looks == 1 and q + r + late <= FIRST_LOOK)


@given(q=queue, r=st.floats(min_value=18, max_value=300))
def test_with_budget_to_spare_it_is_noticed_sooner(q: float, r: float) -> None:
    looks, late = follow(q, r, room=10.0)
    assert late <= timing.MIN_GAP + 1.0
    assert looks <= 4 + r / 10.0


@given(duration=st.floats(20, 300), noise=st.floats(0.9, 1.1))
def test_a_learned_duration_saves_looks(duration: float, noise: float) -> None:
    learned = timing.Learned(mean=duration, deviation=duration * 0.05, samples=10)
    looks, late = follow(2.0, duration * noise - 2.0, learned=learned)
    assert looks <= 3 + duration // 60 and late <= 3.0 + duration / 50


def test_nothing_known_means_a_first_look_well_before_a_minute() -> None:
    estimate = timing.estimate_finish(sent_at=T0, first=None, last=None, learned=None)
    look = timing.next_look(estimate, now=T0, max_gap=60)
    assert (look - T0).total_seconds() == FIRST_LOOK


def test_a_job_past_its_estimate_is_looked_at_again_soon() -> None:
    estimate = timing.Estimate(at(-8), 0.5)
    assert timing.next_look(estimate, now=T0, max_gap=60) == at(4)
    assert timing.next_look(estimate, now=T0, max_gap=60, room=10.0) == at(timing.MIN_GAP)
    assert timing.next_look(timing.Estimate(at(-100), 1), now=T0, max_gap=60) == at(
        timing.OVERDUE_GAP
    )


@pytest.mark.django_db
def test_durations_are_learned_per_model_seconds_and_size(owner: Any) -> None:
    def finished(seconds: int, took: float, model: str = "Sora-2") -> Video:
        video = Video(owner=owner, model=model, seconds=seconds, size="720x1280")
        video.submitted_at = T0
        video.completed_at = at(took)
        return video

    for took in (40, 50, 60):
        timing.duration_learn(finished(8, took))
    timing.duration_learn(finished(4, 20))
    timing.duration_learn(finished(8, 99, model="Veo-3"))
    learned = timing.learned(finished(8, 0))
    assert learned is not None and learned.samples == 3 and learned.mean == pytest.approx(50)
    assert learned.deviation > 0
    four = timing.learned(finished(4, 0))
    assert four is not None and (four.samples, four.mean) == (1, 20)
    assert Duration.objects.count() == 3
    assert timing.learned(finished(12, 0)) is None
    # A job without both ends teaches nothing.
    timing.duration_learn(Video(owner=owner, model="Sora-2", seconds=12, size="720x1280"))
    assert Duration.objects.count() == 3


def test_room_to_look_sooner_shrinks_as_jobs_pile_up() -> None:
    def gap(jobs: int) -> float | None:
        return timing.room_gap(jobs, rate_per_minute=450, max_gap=60)

    assert gap(0) == gap(1) == gap(2) == timing.PROGRESS_GAP  # progress moves on the page
    assert gap(10) == pytest.approx(10 * 60 / (450 * timing.ROOM_SHARE))
    assert gap(300) is None  # hundreds in flight: only what the estimates need
    gaps = [gap(n) or 1e9 for n in range(1, 300)]
    assert gaps == sorted(gaps)


@pytest.mark.django_db
def test_what_is_learned_reorders_the_jobs_not_read_yet(owner: Any) -> None:
    def running(model: str, read: bool) -> Video:
        return Video.objects.create(
            owner=owner, model=model, seconds=4, size="720x1280", prompt="p",
            status=Video.Status.IN_PROGRESS, submitted_at=T0,
            estimated_finish_at=at(timing.DEFAULT_DURATION),
            first_progress=10 if read else None, first_progress_at=at(5) if read else None,
        )  # fmt: skip

    unread, read, other = running("Sora-2", False), running("Sora-2", True), running("Veo-3", False)
    done = Video(owner=owner, model="Sora-2", seconds=4, size="720x1280")
    done.submitted_at, done.completed_at = T0, at(21)
    timing.duration_learn(done)
    for video in (unread, read, other):
        video.refresh_from_db()
    assert unread.estimated_finish_at == at(21)  # likelier done soon: looked at first
    assert read.estimated_finish_at == other.estimated_finish_at == at(timing.DEFAULT_DURATION)
