"""Short, renewed leases: a holder that dies is waited out in seconds, a live one is
never pushed aside, and a send whose sender died is never sent again blindly."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone
from django_q.models import OrmQ

from videostudio.provider.catalog import find_model
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.videos import apps, services, states, tracking
from videostudio.videos.leases import lease_acquire, lease_renew, lease_take_over
from videostudio.videos.models import Lease, Video

from .conftest import FakeClock

pytestmark = pytest.mark.django_db(transaction=True)
SHORT = timedelta(seconds=0.6)


def test_a_holder_that_stopped_renewing_is_waited_out_and_taken_over() -> None:
    dead = uuid.uuid4()
    assert lease_acquire("job", dead, SHORT)
    began = time.monotonic()
    assert lease_take_over("job", uuid.uuid4(), SHORT, poll=0.05)
    assert 0.4 <= time.monotonic() - began < 2.0
    assert Lease.objects.get(name="job").token != dead


def test_a_holder_that_renews_keeps_its_lease_and_the_newcomer_gives_up_soon() -> None:
    alive = uuid.uuid4()
    assert lease_acquire("job", alive, SHORT)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(0.1):
            assert lease_renew("job", alive, SHORT)

    keeper = threading.Thread(target=renew)
    keeper.start()
    try:
        began = time.monotonic()
        assert not lease_take_over("job", uuid.uuid4(), SHORT, poll=0.05)
        assert time.monotonic() - began < 0.5  # it saw the renewal and left
    finally:
        stop.set()
        keeper.join()
    assert Lease.objects.get(name="job").token == alive


def test_a_long_lease_is_not_waited_for() -> None:
    assert lease_acquire("job", uuid.uuid4(), timedelta(minutes=5))
    began = time.monotonic()
    assert not lease_take_over("job", uuid.uuid4(), SHORT, poll=0.05)
    assert time.monotonic() - began < 0.2


def test_renewing_a_lease_someone_else_took_says_so() -> None:
    mine = uuid.uuid4()
    assert lease_acquire("job", mine, timedelta(seconds=-1))  # already run out
    assert lease_acquire("job", uuid.uuid4(), SHORT)
    assert not lease_renew("job", mine, SHORT)


def test_a_starting_worker_wakes_the_tracker_even_while_a_dead_sweep_holds_the_lease() -> None:
    # A worker killed a second ago: its lease looks fresh, so a wake-up on a new job
    # would be skipped; a worker that starts wakes the tracker anyway.
    assert lease_acquire(tracking.SWEEP_LEASE, uuid.uuid4(), tracking.SWEEPER_LEASE)
    assert tracking.sweep_running()
    apps._wake_on_start(sender="django_q", proc_name="Process-1")
    assert OrmQ.objects.count() == 1


# --- The loop ------------------------------------------------------------------------------


class Slow(httpx.BaseTransport):
    """Forwards every request; status looks take `delay` seconds and run `during` first."""

    def __init__(self, inner: httpx.BaseTransport, delay: float, during: Any = None) -> None:
        self.inner, self.delay, self.during = inner, delay, during
        self.creates = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if request.method == "POST":
            self.creates += 1
        if request.method == "GET" and "/content" not in request.url.path:
            if self.during is not None:
                self.during()
            time.sleep(self.delay)
        return self.inner.handle_request(request)


def submitted(owner: Any, client: ProviderClient, prompt: str) -> Video:
    spec = find_model("Sora-2")
    assert spec is not None
    return services.video_submit(
        owner=owner, spec=spec, prompt=prompt, seconds=4, size="720x1280", image=None,
        client=client,
    )  # fmt: skip


def test_a_sweep_that_lost_its_lease_claims_nothing_more_and_records_what_is_out(
    owner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = Simulator(queue_seconds=0.5, render_seconds=30, cache_dir=tmp_path)
    thief = uuid.uuid4()

    def steal() -> None:
        # Another worker's sweep took the lease while this one was slow to renew it.
        Lease.objects.filter(name=tracking.SWEEP_LEASE).update(
            token=thief, until=timezone.now() + timedelta(seconds=30)
        )

    client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=Slow(simulator.transport(), 0.3)
    )
    first = submitted(owner, client, "first")
    tracking.video_send_now(video=first, client=client)
    second = submitted(owner, client, "second")
    tracking.video_send_now(video=second, client=client)
    Video.objects.filter(pk=first.pk).update(next_poll_at=timezone.now())
    Video.objects.filter(pk=second.pk).update(next_poll_at=timezone.now() + timedelta(seconds=1))
    client = ProviderClient(
        base_url="http://sim.test/v1",
        api_key="k",
        transport=Slow(simulator.transport(), 0.3, during=steal),
    )
    monkeypatch.setattr(tracking, "RENEW_EVERY", 0.0)
    report = tracking.videos_sweep(client=client, seconds=30)
    assert report.ran and report.refreshed == 1  # the look it had out, recorded
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.lease_token is None and first.provider_status  # looked at
    assert second.lease_token is None  # never claimed: the new holder will
    assert Lease.objects.get(name=tracking.SWEEP_LEASE).token == thief  # not released


def test_the_loop_renews_only_the_jobs_it_holds(owner: Any, tmp_path: Path) -> None:
    simulator = Simulator(queue_seconds=0.5, render_seconds=30, cache_dir=tmp_path)
    client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=simulator.transport()
    )
    held, other = (submitted(owner, client, p) for p in ("held", "other"))
    token = uuid.uuid4()
    now = timezone.now()
    assert states.videos_claim([held.pk, other.pk], token=token, now=now, until=now + SHORT) == 2
    later = now + timedelta(seconds=20)
    assert states.videos_renew(token=token, until=later, pks=[held.pk]) == 1
    held.refresh_from_db()
    other.refresh_from_db()
    assert held.lease_until == later and other.lease_until == now + SHORT


# --- A send whose worker died --------------------------------------------------------------


@pytest.fixture
def traveller(clock: FakeClock) -> Any:
    with clock.travelling():
        yield clock


def test_a_send_out_when_its_worker_died_is_looked_at_as_unconfirmed_never_resent_then_settled(
    owner: Any, tmp_path: Path, traveller: FakeClock
) -> None:
    simulator = Simulator(clock=traveller, queue_seconds=1, render_seconds=5, cache_dir=tmp_path)
    transport = Slow(simulator.transport(), 0.0)
    client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=transport, sleep=lambda s: None
    )
    video = submitted(owner, client, "sent as the worker died")
    # The loop claimed it and the create reached the provider (made, charged); then
    # the worker was killed before it could record the answer.
    now = timezone.now()
    dead = uuid.uuid4()
    assert states.video_sending(video.pk, token=dead, now=now, until=now + services.SEND_LEASE)
    claimed = Video.objects.select_related("parent").get(pk=video.pk)
    assert services.send_call(claimed, client=client, source_id=None).remote is not None
    assert transport.creates == 1

    # While its lease holds, nobody touches it.
    tracking.videos_sweep(client=client, seconds=0)
    video.refresh_from_db()
    assert video.status == Video.Status.SUBMITTING and video.lease_token == dead

    # Its lease runs out (nobody renews it): the next sweep gives it up as unconfirmed.
    traveller.advance(services.SEND_LEASE.total_seconds() + 1)
    tracking.videos_sweep(client=client, seconds=0)
    video.refresh_from_db()
    assert video.status == Video.Status.UNCONFIRMED and video.provider_id is None
    assert video.cost_points is None  # nothing booked on a guess

    # Past its window, the points history shows one charge nobody else explains: it
    # was made, and that charge is its cost. It was never sent a second time.
    traveller.advance(40 * 60)
    Video.objects.exclude(next_poll_at=None).update(next_poll_at=timezone.now())
    tracking.videos_sweep(client=client, seconds=0)
    video.refresh_from_db()
    assert (video.status, video.error_code) == (Video.Status.FAILED, "charged_untracked")
    (charge,) = simulator.ledger.history(limit=10, starting_after=None)["data"]
    assert video.cost_points == charge["cost_points"]
    assert transport.creates == 1
