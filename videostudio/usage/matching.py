"""Which ledger charge paid for which job: the rules, as pure functions.

The provider's points history says *that* a model was charged, when and how much,
never for which job. Telling that apart is inference, so the rules only ever
attribute a charge when no other reading of the evidence gives other numbers:

- A charge fits a job when the model is the same, the charge's time lies in the
  job's life (from sending, less clock skew, to completion, plus slack: the
  provider may stamp a charge at send or at completion) and the points agree:
  exactly, when the provider reported the job's cost; within `BAND` of the
  estimate otherwise; anything, for a model nobody has priced.
- Jobs with a reported cost are matched first, by exact points, once the ledger
  is complete past their window. Which of two equal charges goes with which of two
  equal jobs changes no number, so any maximum matching of them will do.
- A job without a reported cost takes its charge's points as its cost, so it is
  attributed only when every reading agrees: it has finished and the ledger is
  complete past its window (no charge of its is still on the way), it is matched in
  a maximum matching, no other maximum matching leaves it without a charge (its
  charge is not one that another job could equally claim), and every charge it
  could have costs the same.
- A send whose outcome is unknown is settled once its window is closed and no
  running job could still explain a charge in it. Tracked jobs explain every
  charge they can first. The send is *made* when every such reading leaves it a
  charge, all of one price, and no other unexplained charge of its model lies
  near it (which would mean someone spends on that model outside the studio);
  *never made* when no reading can give it one and every
  charge of its model in its window is a tracked job's; otherwise it stays
  unsettled, with the charges that could be it, for an admin.

Nothing here touches the database: `services.ledger_match` feeds it and applies
what it decides, so the same rules are tested directly with generated cases.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Our clock and the provider's may disagree by this much.
SKEW = timedelta(minutes=2)
# A charge stamped at completion may land this long after we saw the job finish.
SLACK = timedelta(minutes=3)
# Estimates are rough (seeded list prices): a charge within this factor agrees.
BAND = 1.5
# How long after an unconfirmed send its charge may appear (it may be stamped at
# completion, and we never learn when that was).
UNCONFIRMED_WINDOW = timedelta(minutes=30)
# Unexplained charges of a model this close to an unconfirmed send mean someone else
# spends on it too: the send is then not settled as made without an admin.
OUTSIDE_EVIDENCE = timedelta(hours=24)


@dataclass(frozen=True)
class Charge:
    key: int
    model: str
    at: datetime
    points: int


@dataclass(frozen=True)
class Job:
    """A job that may own one charge. `end` None: still running (open window); an
    unconfirmed send's window is fixed, since nobody learns when it finished."""

    key: int
    model: str
    start: datetime
    end: datetime | None
    reported: int | None = None  # the provider's own figure: exact matches only
    expected: int | None = None  # the catalog's estimate: a match within BAND
    unconfirmed: bool = False  # a send the provider never confirmed

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        if self.unconfirmed:
            end = self.start + UNCONFIRMED_WINDOW  # we never learn when it finished
        else:
            end = self.end if self.end is not None else now
        return self.start - SKEW, end + SLACK

    def fits(self, charge: Charge, now: datetime) -> bool:
        if charge.model != self.model:
            return False
        start, end = self.window(now)
        if not start <= charge.at <= end:
            return False
        return points_agree(charge.points, reported=self.reported, expected=self.expected)


def points_agree(points: int, *, reported: int | None, expected: int | None) -> bool:
    if reported is not None:
        return points == reported
    if expected is None:
        return True
    if expected <= 0:
        return points == 0
    return expected / BAND <= points <= expected * BAND


@dataclass
class Decision:
    """What one pass of the rules found."""

    # charge key -> job key, for jobs tracked by their provider id
    attributed: dict[int, int] = field(default_factory=dict)
    # unconfirmed job key -> the charge that settles it as made
    made: dict[int, int] = field(default_factory=dict)
    # unconfirmed jobs no reading can give a charge, whose window holds only tracked jobs'
    # charges
    never_made: set[int] = field(default_factory=set)
    # unconfirmed job key -> charge keys that could be it
    unsettled: dict[int, list[int]] = field(default_factory=dict)


def decide(
    charges: Sequence[Charge],
    jobs: Sequence[Job],
    *,
    now: datetime,
    closed: datetime | None = None,
) -> Decision:
    """Attribute `charges` (none attributed yet) to `jobs` (none holding a charge yet).

    `closed`: the ledger is known complete up to this time (None: now). An
    unconfirmed send is settled only once its whole window lies before it.
    """
    closed = closed or now
    by_key = {c.key: c for c in charges}
    by_model = _by_model(charges)
    edges: dict[int, list[int]] = {
        job.key: [c.key for c in _in_window(by_model, job, now) if job.fits(c, now)] for job in jobs
    }
    tracked = [job for job in jobs if not job.unconfirmed]
    reported = [job for job in tracked if job.reported is not None]
    unreported = [job for job in tracked if job.reported is None]
    unconfirmed = [job for job in jobs if job.unconfirmed]

    matching = _Matching(edges)
    # Reported costs first, then estimated ones, then the sends nobody confirmed:
    # an augmenting path never unmatches a job, so this order is a priority.
    for group in (reported, unreported, unconfirmed):
        for job in group:
            matching.augment(job.key)
    contested = matching.reachable_from_free([job.key for job in jobs])

    def in_ledger(job: Job) -> bool:
        # Its window has reached the ledger whole: no charge of its is still on its way.
        return job.end is not None and job.window(now)[1] <= closed

    decision = Decision()
    for job in reported:
        charge = matching.charge_of.get(job.key)
        if charge is not None and in_ledger(job):
            decision.attributed[charge] = job.key
    for job in unreported:
        charge = matching.charge_of.get(job.key)
        if charge is None or charge in contested or not in_ledger(job):
            continue
        points = {by_key[c].points for c in edges[job.key]}
        if points == {by_key[charge].points}:
            decision.attributed[charge] = job.key

    # Sends nobody confirmed. Tracked jobs keep every charge they can hold; a send is
    # made when every such reading leaves it a charge (of one price), never made when
    # none can, and unsettled when the readings differ.
    tracked_keys = {job.key for job in tracked}
    unconfirmed_keys = {job.key for job in unconfirmed}
    claimants: dict[int, list[int]] = {}
    for job_key, charge_keys in edges.items():
        for charge_key in charge_keys:
            claimants.setdefault(charge_key, []).append(job_key)
    jobs_by_key = {job.key: job for job in jobs}

    def still_open(job: Job) -> bool:
        return job.end is None or job.window(now)[1] > closed

    explained = set(decision.attributed) | set(matching.job_of)

    def spent_elsewhere(job: Job, candidate: int) -> bool:
        """Someone spends on this model outside the studio (a script on the key): a
        charge no job can explain, near the send, other than the one that would be it.
        Then that one could be theirs too, and only an admin can say."""
        times, items = by_model.get(job.model, ([], []))
        low = bisect_left(times, job.start - OUTSIDE_EVIDENCE)
        high = bisect_right(times, job.start + OUTSIDE_EVIDENCE)
        return any(c.key != candidate and c.key not in explained for c in items[low:high])

    for job in unconfirmed:
        if job.window(now)[1] > closed:
            continue  # its charge may not have reached the ledger yet
        in_window = _in_window(by_model, job, now)
        waiting = any(
            still_open(jobs_by_key[other])
            for charge in in_window
            for other in claimants.get(charge.key, ())
            if other in tracked_keys
        )
        if waiting:
            continue  # a running job may yet explain, or free, one of these charges
        evidence = [c.key for c in in_window if c.key not in decision.attributed]
        mine = matching.charge_of.get(job.key)
        if mine is not None:
            prices = {by_key[c].points for c in edges[job.key]}
            if (
                mine not in contested
                and prices == {by_key[mine].points}
                and not spent_elsewhere(job, mine)
            ):
                decision.made[job.key] = mine
                continue
        elif not matching.reaches_holder(job.key, unconfirmed_keys) and all(
            matching.job_of.get(c.key) in tracked_keys for c in in_window
        ):
            decision.never_made.add(job.key)
            continue
        decision.unsettled[job.key] = evidence
    return decision


def _by_model(charges: Iterable[Charge]) -> dict[str, tuple[list[datetime], list[Charge]]]:
    """Charges per model, in time order, with their times for bisecting."""
    grouped: dict[str, list[Charge]] = {}
    for charge in charges:
        grouped.setdefault(charge.model, []).append(charge)
    out = {}
    for model, items in grouped.items():
        items.sort(key=lambda c: (c.at, c.key))
        out[model] = ([c.at for c in items], items)
    return out


def _in_window(
    by_model: dict[str, tuple[list[datetime], list[Charge]]], job: Job, now: datetime
) -> list[Charge]:
    """The job's model's charges inside its window, oldest first."""
    times, items = by_model.get(job.model, ([], []))
    start, end = job.window(now)
    return items[bisect_left(times, start) : bisect_right(times, end)]


class _Matching:
    """Maximum bipartite matching of jobs to charges (Kuhn's augmenting paths)."""

    def __init__(self, edges: dict[int, list[int]]) -> None:
        self.edges = edges
        self.charge_of: dict[int, int] = {}
        self.job_of: dict[int, int] = {}

    def augment(self, job: int) -> bool:
        """Match `job` if an augmenting path exists; matched jobs stay matched."""
        if job in self.charge_of:
            return True
        # Iterative DFS: long chains of equal jobs must not hit the recursion limit.
        seen: set[int] = set()
        stack: list[tuple[int, Iterable[int]]] = [(job, iter(self.edges.get(job, ())))]
        parent: dict[int, tuple[int, int | None]] = {}  # charge -> (job, previous charge)
        via: dict[int, int | None] = {job: None}  # job -> charge through which it was reached
        while stack:
            current, neighbours = stack[-1]
            advanced = False
            for charge in neighbours:
                if charge in seen:
                    continue
                seen.add(charge)
                parent[charge] = (current, via[current])
                holder = self.job_of.get(charge)
                if holder is None:
                    self._flip(charge, parent)
                    return True
                via[holder] = charge
                stack.append((holder, iter(self.edges.get(holder, ()))))
                advanced = True
                break
            if not advanced:
                stack.pop()
        return False

    def _flip(self, charge: int | None, parent: dict[int, tuple[int, int | None]]) -> None:
        while charge is not None:
            job, previous = parent[charge]
            self.charge_of[job] = charge
            self.job_of[charge] = job
            charge = previous

    def reaches_holder(self, job: int, holders: set[int]) -> bool:
        """Whether an alternating path leads from the unmatched `job` to a charge held by
        one of `holders` (or free): flipping it would match `job` and unmatch that holder."""
        return any(holder is None or holder in holders for _, holder in self._alternating([job]))

    def reachable_from_free(self, jobs: Iterable[int]) -> set[int]:
        """Charges that some maximum matching leaves to another job: those reached by
        an alternating path from an unmatched job."""
        free = [job for job in jobs if job not in self.charge_of]
        return {charge for charge, _ in self._alternating(free)}

    def _alternating(self, starts: Iterable[int]) -> Iterator[tuple[int, int | None]]:
        """Breadth first from `starts`: each charge reached, with the job holding it."""
        queue = deque(starts)
        seen_jobs = set(queue)
        reached: set[int] = set()
        while queue:
            job = queue.popleft()
            for charge in self.edges.get(job, ()):
                if charge in reached:
                    continue
                reached.add(charge)
                holder = self.job_of.get(charge)
                yield charge, holder
                if holder is not None and holder not in seen_jobs:
                    seen_jobs.add(holder)
                    queue.append(holder)
