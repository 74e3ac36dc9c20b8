"""Points a team can trust, as properties (hypothesis).

Generated teams send jobs of a few models through the real services to the
simulator (which charges as the contract says: one history entry per charged
job, none for failures, stamped at send or at completion); some jobs fail, some
sends lose their answer after being made or before, some get a 500; outside
scripts spend on the same key. The tracker's looks and the ledger syncs come in
any order. After every sync, and at the end, the invariants of issue 9 must hold.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from videostudio.catalog.services import catalog_find
from videostudio.provider.client import ProviderClient
from videostudio.simulator import catalog as sim_catalog
from videostudio.simulator.app import Simulator
from videostudio.usage import matching, selectors
from videostudio.usage import services as usage
from videostudio.usage.models import LedgerEntry
from videostudio.usage.views import charge_note
from videostudio.videos import refresh, services
from videostudio.videos.models import Video

from .conftest import FakeClock, make_user
from .helpers import sent

pytestmark = pytest.mark.django_db

MODELS = {"Sora-2": (4, 8, 12), "Veo-3": (4, 8)}
OUTCOMES = ["ok", "ok", "ok", "fail", "lost-made", "lost-unmade", "refused-500"]
SIZE = "720x1280"


# --- The pure rules ---------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@st.composite
def pure_cases(draw: st.DrawFn) -> tuple[list[matching.Charge], list[matching.Job], dict[int, int]]:
    """Jobs with a true cost each (0: not charged), their true charges, outside ones."""
    charges: list[matching.Charge] = []
    jobs: list[matching.Job] = []
    truth: dict[int, int] = {}
    for key in range(draw(st.integers(1, 9))):
        model = draw(st.sampled_from(["a", "b"]))
        start = T0 + timedelta(seconds=draw(st.integers(0, 900)))
        life = timedelta(seconds=draw(st.integers(10, 400)))
        seconds = draw(st.sampled_from([4, 8, 12]))
        cost = seconds * (1000 if model == "a" else 3000)
        kind = draw(st.sampled_from(["reported", "estimated", "failed", "made", "unmade"]))
        charged = kind in ("reported", "estimated", "made")
        truth[key] = cost if charged else 0
        if charged:
            at_completion = draw(st.booleans())
            at = start + life if at_completion else start + timedelta(seconds=1)
            charges.append(matching.Charge(100 + key, model, at, cost))
        if kind == "failed":
            continue  # never a candidate
        unconfirmed = kind in ("made", "unmade")
        # Seeded prices are off by up to 30% either way.
        skew = draw(st.sampled_from([0.7, 1.0, 1.3]))
        jobs.append(
            matching.Job(
                key=key,
                model=model,
                start=start,
                end=None if unconfirmed else start + life,
                reported=cost if kind == "reported" else None,
                expected=round(cost * skew),
                unconfirmed=unconfirmed,
            )
        )
    for index in range(draw(st.integers(0, 2))):
        at = T0 + timedelta(seconds=draw(st.integers(0, 1300)))
        points = draw(st.sampled_from([4000, 8000, 12000, 24000]))
        charges.append(matching.Charge(900 + index, draw(st.sampled_from(["a", "b"])), at, points))
    return charges, jobs, truth


@given(pure_cases())
@settings(max_examples=int(os.environ.get("RULES_EXAMPLES", "400")), deadline=None)
def test_the_rules_never_book_a_wrong_number(
    case: tuple[list[matching.Charge], list[matching.Job], dict[int, int]],
) -> None:
    charges, jobs, truth = case
    now = T0 + timedelta(hours=3)
    decision = matching.decide(charges, jobs, now=now)
    by_key = {c.key: c for c in charges}
    jobs_by_key = {j.key: j for j in jobs}
    outside = any(c.key >= 900 for c in charges)
    # 3. one charge per job, one job per charge
    holders = list(decision.attributed.values()) + list(decision.made)
    assert len(holders) == len(set(holders))
    assert not set(decision.attributed) & set(decision.made.values())
    for charge_key, job_key in decision.attributed.items():
        job, charge = jobs_by_key[job_key], by_key[charge_key]
        # 4. model, window and points agree...
        assert job.fits(charge, now)
        # ...and the number booked is the job's true cost (1: a reported cost is exact).
        assert charge.points == truth[job_key]
    for job_key, charge_key in decision.made.items():
        assert jobs_by_key[job_key].fits(by_key[charge_key], now)
        if not outside:
            assert by_key[charge_key].points == truth[job_key] > 0
    for job_key in decision.never_made:
        assert truth[job_key] == 0  # 6. "safe to retry" is never said of a made send
    settled = set(decision.made) | decision.never_made | set(decision.unsettled)
    assert settled == {j.key for j in jobs if j.unconfirmed}


# --- The app, end to end in-process -----------------------------------------------------------


class Lossy(httpx.BaseTransport):
    """Loses the answer to creates whose prompt says so: after the provider made the
    job (`[lost-made]`) or before it got the request (`[lost-unmade]`)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/videos":
            body = request.read()
            if b"[lost-unmade]" in body:
                raise httpx.ReadTimeout("timed out", request=request)
            if b"[lost-made]" in body:
                self.inner.handle_request(request)
                raise httpx.ReadTimeout("timed out", request=request)
        return self.inner.handle_request(request)


@dataclass
class Plan:
    member: int
    model: str
    seconds: int
    outcome: str
    render: int


@dataclass
class World:
    clock: FakeClock
    simulator: Simulator
    client: ProviderClient
    members: list[Any]
    videos: list[tuple[Video, Plan]] = field(default_factory=list)
    reported_seen: dict[int, int] = field(default_factory=dict)
    outside: int = 0

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)  # the database's clock follows (travelling)

    def send(self, plan: Plan) -> None:
        self.simulator.render_seconds = plan.render
        entry = catalog_find(plan.model)
        assert entry is not None
        marker = {"fail": " [fail]", "refused-500": " [error:500]"}.get(plan.outcome, "")
        if plan.outcome.startswith("lost"):
            marker = f" [{plan.outcome}]"
        video = services.video_submit(
            owner=self.members[plan.member], spec=entry.to_spec(),
            prompt=f"job {len(self.videos)}{marker}", seconds=plan.seconds, size=SIZE,
            image=None, client=self.client,
        )  # fmt: skip
        self.videos.append((sent(video, self.client), plan))

    def look(self, index: int) -> None:
        if not self.videos:
            return
        video, _ = self.videos[index % len(self.videos)]
        video.refresh_from_db()
        if not video.provider_id or video.status in (Video.Status.FAILED,):
            return
        remote = self.client.retrieve_video(video.provider_id)
        refresh.video_apply(video=video, fetched=refresh.Fetched(remote=remote))

    def spend_outside(self, model: str) -> None:
        """Someone's script on the same key: charged, unknown to the studio."""
        self.client.create_video(model=model, prompt="a script", seconds=4)
        self.outside += 1

    def truth(self, plan: Plan) -> int:
        if plan.outcome in ("fail", "lost-unmade", "refused-500"):
            return 0
        model = sim_catalog.find_model(plan.model)
        assert model is not None
        return plan.seconds * model.points_per_second_for(SIZE)


Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 0)),
        st.tuples(st.just("advance"), st.integers(1, 400)),
        st.tuples(st.just("look"), st.integers(0, 50)),
        st.tuples(st.just("sync"), st.integers(0, 0)),
        st.tuples(st.just("outside"), st.integers(0, 1)),
    ),
    max_size=40,
)
plans = st.lists(
    st.builds(
        Plan,
        member=st.integers(0, 2),
        model=st.sampled_from(sorted(MODELS)),
        seconds=st.sampled_from([4, 8]),
        outcome=st.sampled_from(OUTCOMES),
        render=st.integers(5, 300),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture
def sim_dir(tmp_path: Path) -> Path:
    return tmp_path


@given(
    plans=plans,
    ops=steps,
    reported=st.booleans(),
    charge_at=st.sampled_from(["send", "completion"]),
    minutes_to_midnight=st.integers(0, 90),
    with_outside=st.booleans(),
)
@settings(
    max_examples=int(os.environ.get("POINTS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_books_hold_under_any_interleaving_of_tracker_and_syncs(
    sim_dir: Path,
    plans: list[Plan],
    ops: list[Step],
    reported: bool,
    charge_at: str,
    minutes_to_midnight: int,
    with_outside: bool,
) -> None:
    # Start shortly before a local midnight, so periods split the scenario.
    midnight = timezone.make_aware(datetime(2026, 12, 2))
    start = midnight - timedelta(minutes=minutes_to_midnight)
    clock = FakeClock(start.timestamp())
    with clock.travelling(), transaction.atomic():
        simulator = Simulator(
            clock=clock,
            queue_seconds=2,
            dialect="poe" if reported else "openai",
            charge_at=charge_at,
            cache_dir=sim_dir,
        )
        client = ProviderClient(
            base_url="http://sim.test/v1",
            api_key="k",
            transport=Lossy(simulator.transport()),
            sleep=lambda s: None,
        )
        suffix = str(time.monotonic_ns())
        members = [make_user(f"m{i}-{suffix}") for i in range(3)]
        world = World(clock, simulator, client, members)
        pending = list(plans)
        for op, arg in ops:
            if op == "send" and pending:
                world.send(pending.pop(0))
            elif op == "advance":
                world.advance(arg)
            elif op == "look":
                world.look(arg)
            elif op == "outside" and with_outside:
                world.spend_outside(sorted(MODELS)[arg])
            elif op == "sync":
                usage.ledger_sync(client=client)
                check(world, final=False)
        for plan in pending:
            world.send(plan)
            world.advance(7)
        # Everything finishes, the tracker sees it all, the ledger is read twice.
        world.advance(2 * 3600)
        for index in range(len(world.videos)):
            world.look(index)
        usage.ledger_sync(client=client)
        check(world, final=True)
        before = snapshot()
        usage.ledger_sync(client=client)
        usage.ledger_match()
        assert snapshot() == before  # 7. syncing again changes nothing
        transaction.set_rollback(True)


def snapshot() -> list[tuple[Any, ...]]:
    return list(
        Video.objects.order_by("pk").values_list(
            "pk", "status", "cost_points", "cost_source", "cost_at", "charge__query_id"
        )
    )


def check(world: World, *, final: bool) -> None:
    now = timezone.now()
    plans = {video.pk: plan for video, plan in world.videos}
    videos = {v.pk: v for v in Video.objects.filter(pk__in=plans).select_related("charge")}
    for pk, video in videos.items():
        plan = plans[pk]
        truth = world.truth(plan)
        charge = getattr(video, "charge", None)
        # 1. a reported cost is the truth, and stays.
        if video.cost_source == Video.Cost.REPORTED:
            assert video.cost_points == truth
            world.reported_seen[pk] = truth
        if pk in world.reported_seen:
            assert (video.cost_source, video.cost_points) == ("reported", world.reported_seen[pk])
        # 2. failed at the provider: never charged, and said so at once.
        if plan.outcome == "fail" and video.status == Video.Status.FAILED:
            assert (video.cost_points, video.cost_source, charge) == (0, "none", None)
            assert charge_note(video) == "not charged"
        # 3./4. an attributed charge: same model, inside the job's life, the right number.
        if charge is not None:
            assert charge.bot_name.lower() == video.model.lower()
            assert charge.cost_points == video.cost_points
            start = video.created_at - matching.SKEW
            if video.error_code == "charged_untracked":
                end = video.created_at + matching.UNCONFIRMED_WINDOW + matching.SLACK
            else:
                end = (video.completed_at or now) + matching.SLACK
            assert start <= charge.created_at <= end
            if not (world.outside and video.error_code == "charged_untracked"):
                assert charge.cost_points == truth
        if video.cost_source == Video.Cost.LEDGER and video.error_code != "charged_untracked":
            assert video.cost_points == truth
        # 6. an unconfirmed send: never "safe to retry" when made, never booked on a guess.
        if video.error_code == "not_created":
            assert truth == 0 and video.cost_points == 0
        if video.status == Video.Status.UNSETTLED:
            assert video.cost_points is None and video.reserved_points == 0
    # 5. for any period and model, the ledger splits into attributed + unattributed, and
    # the attributed part is exactly what the jobs holding those charges cost.
    for scope in scopes():
        books = selectors.books(scope)
        assert books.ledger_total == books.attributed + books.unattributed
        assert books.jobs_backed == books.attributed
        assert books.jobs_total == (
            books.jobs_backed + books.reported_unmatched + books.estimated_only
        )
        if final and world.simulator.dialect == "poe":
            assert books.closes, books  # every cost reported: the books close exactly
    if final:
        for label, count in (
            ("made", sum(v.error_code == "charged_untracked" for v in videos.values())),
            ("never made", sum(v.error_code == "not_created" for v in videos.values())),
            ("unsettled", sum(v.status == Video.Status.UNSETTLED for v in videos.values())),
            ("from ledger", sum(v.cost_source == Video.Cost.LEDGER for v in videos.values())),
            ("estimated", sum(v.cost_source == Video.Cost.ESTIMATED for v in videos.values())),
        ):
            event(f"{label}: {'some' if count else 'none'}")
        for video in videos.values():
            assert video.status not in (Video.Status.UNCONFIRMED, Video.Status.QUEUED)
        # With reported costs, each member's line is the truth (less sends an admin must
        # settle, which nobody is billed for until then).
        if world.simulator.dialect == "poe" and not world.outside:
            owed: dict[int, int] = defaultdict(int)
            for pk, video in videos.items():
                if video.status != Video.Status.UNSETTLED:
                    owed[video.owner_id] += world.truth(plans[pk])
            for member in world.members:
                spent = usage.budget_state(member, now=now).spent
                assert spent == owed[member.pk], member
        # The provider's own total for the whole time equals the simulator's bill.
        everything = selectors.Scope(start=date(2026, 11, 1), end=date(2026, 12, 31))
        billed = sum(
            e["cost_points"]
            for e in world.simulator.ledger.history(limit=100, starting_after=None)["data"]
        )
        assert selectors.books(everything).ledger_total == billed


def scopes() -> Iterator[selectors.Scope]:
    day1, day2 = date(2026, 12, 1), date(2026, 12, 2)
    for start, end in ((day1, day1), (day2, day2), (day1, day2)):
        yield selectors.Scope(start=start, end=end)
        for model in MODELS:
            yield selectors.Scope(start=start, end=end, model=model)


def test_ledger_entries_keep_one_job_each(owner: Any) -> None:
    """The database itself refuses a second job for one charge (a OneToOne)."""
    from django.db import IntegrityError

    from .factories import a_video

    first, second = a_video(owner=owner), a_video(owner=owner)
    entry = LedgerEntry.objects.create(
        query_id="q", created_at=timezone.now(), bot_name="Sora-2", cost_points=1, video=first
    )
    assert entry.video_id == first.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            query_id="q2", created_at=timezone.now(), bot_name="Sora-2", video=first
        )
    assert LedgerEntry.objects.filter(video=second).count() == 0
