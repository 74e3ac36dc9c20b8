"""When to look at a job again: around the moment it is likely done.

Every status read spends the team's request budget, so the tracker does not poll
on a fixed beat. It estimates each job's finish from what it knows:

- two progress readings give the job's pace, and so its finish, within the
  rounding of the percentages (`Estimate.uncertainty` says how far off it may be);
- one reading gives an upper bound: the job cannot have started before it was
  sent, though it may have queued a while first;
- how long finished jobs of the same model, length and size took (`Duration`,
  learned as they finish) gives an estimate before any reading; when it changes,
  jobs of that kind not read yet move in the line for a look, so a busy budget is
  spent first on the jobs likeliest to be done.

The most certain of these wins. The next look is at the estimated finish when the
estimate is tight, or, when it is loose, early enough to take a better reading
first; never sooner than `MIN_GAP`, never later than the configured maximum. A job
still running after its estimate is looked at again soon, sooner when the budget
has room. Everything here is pure (no database, no clock of its own) except
`duration_learn` and `learned`, which read and write the learned durations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F

from videostudio.videos.models import Duration, Video

log = logging.getLogger(__name__)

MIN_GAP = 1.0  # seconds: never two looks at one job closer than this
MARGIN = 0.75  # look this long after the estimated finish, so the job is done by then
TIGHT = 2.0  # an estimate this certain (seconds) is looked at once, at its end
# A look to refine a looser estimate is only worth it this far ahead of its end.
REFINE_AHEAD = 5.0
OVERDUE_GAP = 10.0  # at most this long between looks at a job past its estimate
# Looks may use this share of the key's budget to come sooner than needed, but no
# more often than every PROGRESS_GAP seconds per job.
ROOM_SHARE = 0.3
PROGRESS_GAP = 3.0
# Before anything is known of a kind of job: how long one probably takes, how far off
# that may be, and how long a job may queue before it starts.
DEFAULT_DURATION = 50.0
QUEUE_GUESS = 5.0
# The learned average follows new jobs at this weight once it has a few samples.
LEARN_WEIGHT = 0.2


@dataclass(frozen=True)
class Reading:
    at: datetime
    progress: int  # percent, 1-99


@dataclass(frozen=True)
class Learned:
    mean: float  # seconds from send to finish
    deviation: float
    samples: int


@dataclass(frozen=True)
class Estimate:
    finish: datetime
    uncertainty: float  # seconds either side

    @property
    def tight(self) -> bool:
        return self.uncertainty <= TIGHT


def estimate_finish(
    *,
    sent_at: datetime,
    first: Reading | None,
    last: Reading | None,
    learned: Learned | None,
) -> Estimate:
    """The job's likely finish: the most certain of what its progress and its kind say."""
    candidates: list[Estimate] = []
    if learned is not None and learned.samples:
        # A few samples say little of the spread: assume at least a tenth either way.
        spread = max(learned.deviation * 2, learned.mean * 0.1, 1.0)
        if learned.samples < 3:
            spread = max(spread, learned.mean * 0.3)
        candidates.append(Estimate(sent_at + timedelta(seconds=learned.mean), spread))
    if last is not None and 0 < last.progress < 100:
        p = last.progress
        gained = last.progress - first.progress if first is not None else 0
        if first is not None and gained >= 2 and last.at > first.at:
            # The pace between two readings. Each is rounded down to a whole percent,
            # so the true pace and position differ by under one percent each: that
            # bounds how far off the finish can be.
            per_percent = (last.at - first.at).total_seconds() / gained
            remaining = (100 - p) * per_percent
            uncertainty = per_percent * (100 - p + gained) / (gained - 1) + 0.25
            candidates.append(Estimate(last.at + timedelta(seconds=remaining), uncertainty))
        else:
            # One reading: it started between its send and QUEUE_GUESS later, and is
            # between p and p + 1 percent through, which bounds what is left.
            elapsed = max((last.at - sent_at).total_seconds(), 0.0)
            most = elapsed * (100 - p) / p
            least = max(elapsed - QUEUE_GUESS, 0.0) * (99 - p) / (p + 1)
            middle = (most + least) / 2
            candidates.append(
                Estimate(last.at + timedelta(seconds=middle), (most - least) / 2 + 0.25)
            )
    if not candidates:
        # The first look, at a guess: 20 s in, soon enough for the quickest jobs.
        return Estimate(sent_at + timedelta(seconds=DEFAULT_DURATION), DEFAULT_DURATION * 0.6)
    return min(candidates, key=lambda estimate: estimate.uncertainty)


def next_look(
    estimate: Estimate, *, now: datetime, max_gap: float, room: float | None = None
) -> datetime:
    """When to look at a job in flight again, given its estimated finish.

    `room`: the budget has more than the looks need, enough to look at every job in
    flight this often (see `room_gap`): spend it on noticing the end sooner, and on
    showing progress as it goes.
    """
    until_finish = (estimate.finish - now).total_seconds()
    if until_finish + MARGIN > 0:
        if estimate.tight or until_finish - estimate.uncertainty < REFINE_AHEAD:
            # Certain enough, or too close for another reading to teach much: look
            # once, at the end. With room, a look just before and one just after beat
            # one a little late.
            wait = until_finish - MIN_GAP if room is not None else until_finish + MARGIN
        else:
            # Read its progress again before the earliest it may finish: that reading
            # pins the finish down, and it may already be done.
            wait = until_finish - estimate.uncertainty
            if room is not None:
                wait = min(wait, until_finish / 2)
    else:
        # Past its estimate and still running: the estimate was off; keep close.
        overdue = -until_finish
        wait = MIN_GAP if room is not None else min(max(overdue / 2, 2.0), OVERDUE_GAP)
    limit = min(max_gap, room) if room is not None else max_gap
    return now + timedelta(seconds=min(max(wait, MIN_GAP), limit))


def room_gap(in_flight: int, *, rate_per_minute: float, max_gap: float) -> float | None:
    """How often every job in flight could be looked at with `ROOM_SHARE` of the budget,
    if that is well within the maximum gap; None when the budget has no such room."""
    gap = max(PROGRESS_GAP, max(in_flight, 1) * 60.0 / (rate_per_minute * ROOM_SHARE))
    return gap if gap <= max_gap / 2 else None


# --- Learned durations --------------------------------------------------------------------


def learned(video: Video) -> Learned | None:
    row = (
        Duration.objects.filter(model=video.model, seconds=video.seconds, size=video.size)
        .values_list("mean", "deviation", "samples")
        .first()
    )
    return Learned(*row) if row else None


def duration_of(video: Video) -> float | None:
    """How long the provider took for this finished job, by its own clock when it says."""
    if video.completed_at is None or video.submitted_at is None:
        return None
    seconds = (video.completed_at - video.submitted_at).total_seconds()
    return seconds if 0 < seconds < 24 * 3600 else None


def duration_learn(video: Video) -> None:
    """Fold a finished job's duration into what is known of its kind."""
    seconds = duration_of(video)
    if seconds is None:
        return
    kind = {"model": video.model, "seconds": video.seconds, "size": video.size}
    try:
        with transaction.atomic():
            row, created = Duration.objects.select_for_update().get_or_create(
                **kind, defaults={"samples": 1, "mean": seconds, "deviation": 0.0}
            )
            mean = seconds
            if not created:
                weight = max(1.0 / (row.samples + 1), LEARN_WEIGHT)
                mean = row.mean + weight * (seconds - row.mean)
                deviation = row.deviation + weight * (abs(seconds - row.mean) - row.deviation)
                Duration.objects.filter(pk=row.pk).update(
                    samples=F("samples") + 1, mean=mean, deviation=deviation
                )
    except IntegrityError:  # another process created the row first: next time
        log.debug("learning the duration of video %s raced another writer", video.pk)
        return
    # Jobs of this kind still without a progress reading are likelier done sooner (or
    # later) than first guessed: their place in line for a look follows what was learned.
    Video.objects.filter(
        **kind,
        status__in=(Video.Status.QUEUED, Video.Status.IN_PROGRESS, Video.Status.UNKNOWN),
        first_progress__isnull=True,
        submitted_at__isnull=False,
    ).update(estimated_finish_at=F("submitted_at") + timedelta(seconds=mean))
