"""A create whose outcome is unknown is settled from the points history, never resent.

Time moves with time-machine: the simulator reads the same (travelled) clock as
the database, so its charges and the jobs' times meet.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio import connection
from videostudio.provider.catalog import find_model
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.usage import services as usage
from videostudio.usage.models import LedgerEntry
from videostudio.videos import services, tracking
from videostudio.videos.models import Video

from .conftest import FakeClock, make_user
from .helpers import sent

pytestmark = pytest.mark.django_db(transaction=True)

SORA = find_model("Sora-2")
assert SORA is not None
SORA_4S = 4 * 3000  # what the simulator charges for four seconds of Sora-2


class TimeoutAfterCreate(httpx.BaseTransport):
    """Forwards every request; the first create reaches the provider (or not, with
    `deliver=False`) but its answer is lost, as in a read timeout."""

    def __init__(self, inner: httpx.BaseTransport, *, deliver: bool = True) -> None:
        self.inner = inner
        self.deliver = deliver
        self.creates = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/videos":
            self.creates += 1
            if self.creates == 1:
                if self.deliver:
                    request.read()
                    self.inner.handle_request(request)
                raise httpx.ReadTimeout("timed out", request=request)
        return self.inner.handle_request(request)


@pytest.fixture
def traveller(clock: FakeClock) -> Iterator[FakeClock]:
    """Moves the one clock that the database, the app and the simulator all read."""
    with clock.travelling():
        yield clock


@pytest.fixture
def real_time_simulator(tmp_path: Path, traveller: FakeClock) -> Simulator:
    return Simulator(clock=traveller, queue_seconds=1, render_seconds=5, cache_dir=tmp_path)


def make_client(transport: httpx.BaseTransport) -> ProviderClient:
    return ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=transport, sleep=lambda s: None
    )


def send_lost(owner: Any, client: ProviderClient, token: uuid.UUID | None = None) -> Video:
    """A send whose answer never arrives."""
    assert SORA is not None
    video = services.video_submit(
        owner=owner, spec=SORA, prompt="a kite over dunes", seconds=4, size="720x1280",
        image=None, client=client, token=token,
    )  # fmt: skip
    video = sent(video, client)
    assert video.status == Video.Status.UNCONFIRMED
    return video


def send(owner: Any, client: ProviderClient, prompt: str = "known") -> Video:
    assert SORA is not None
    video = services.video_submit(
        owner=owner, spec=SORA, prompt=prompt, seconds=4, size="720x1280", image=None,
        client=client,
    )  # fmt: skip
    return sent(video, client)


def sweep(client: ProviderClient) -> None:
    Video.objects.exclude(next_poll_at=None).update(next_poll_at=timezone.now())
    tracking.videos_sweep(client=client, seconds=0)


def settle_later(traveller: FakeClock, client: ProviderClient, minutes: int = 40) -> None:
    """Past the unconfirmed window (its charge may be stamped at completion): sweep."""
    traveller.advance(minutes * 60)
    sweep(client)


def test_a_create_that_timed_out_is_unconfirmed_and_not_resent(
    owner: Any, real_time_simulator: Simulator
) -> None:
    transport = TimeoutAfterCreate(real_time_simulator.transport())
    token = uuid.uuid4()
    video = send_lost(owner, make_client(transport), token)
    assert video.status == Video.Status.UNCONFIRMED
    assert "will not be sent again" in video.error_message
    assert transport.creates == 1

    # The same form sent again finds the unconfirmed job instead of paying twice.
    again = services.video_submit(
        owner=owner, spec=SORA, prompt="a kite over dunes", seconds=4,  # type: ignore[arg-type]
        size="720x1280", image=None, client=make_client(transport), token=token,
    )  # fmt: skip
    assert again.pk == video.pk and transport.creates == 1


def test_the_one_unexplained_charge_settles_it_as_made_and_is_its_cost(
    owner: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    client = make_client(TimeoutAfterCreate(real_time_simulator.transport()))
    video = send_lost(owner, client)
    sweep(client)  # too early: its window is still open
    video.refresh_from_db()
    assert video.status == Video.Status.UNCONFIRMED and video.next_poll_at is not None

    settle_later(traveller, client)
    video.refresh_from_db()
    assert (video.status, video.error_code) == (Video.Status.FAILED, "charged_untracked")
    assert (video.cost_points, video.cost_source) == (SORA_4S, Video.Cost.LEDGER)
    assert LedgerEntry.objects.get(video=video).cost_points == SORA_4S
    assert video.next_poll_at is None and video.reserved_points == 0


def test_no_charge_in_its_window_settles_it_as_never_made(
    owner: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    client = make_client(TimeoutAfterCreate(real_time_simulator.transport(), deliver=False))
    video = send_lost(owner, client, uuid.uuid4())
    settle_later(traveller, client)
    video.refresh_from_db()
    assert (video.status, video.error_code) == (Video.Status.FAILED, "not_created")
    assert "safe to try again" in video.error_message
    assert video.client_token is None  # the form may be sent again
    assert (video.cost_points, video.cost_source) == (0, Video.Cost.NONE)


def test_teammates_charges_in_the_window_are_theirs_not_the_lost_sends(
    owner: Any, teammate: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    plain = make_client(real_time_simulator.transport())
    known = [send(teammate, plain, f"known {i}") for i in range(3)]
    lost = send_lost(
        owner, make_client(TimeoutAfterCreate(real_time_simulator.transport(), deliver=False))
    )
    traveller.advance(30)
    known.append(send(teammate, plain, "a minute later"))
    settle_later(traveller, plain)
    lost.refresh_from_db()
    assert lost.error_code == "not_created" and lost.cost_points == 0
    for video in known:
        video.refresh_from_db()
        assert (video.cost_points, video.cost_source) == (SORA_4S, Video.Cost.REPORTED)
        assert video.charge.cost_points == SORA_4S


def test_sends_the_provider_answered_500_are_never_billed(
    owner: Any, teammate: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    # A 500 in the provider's own envelope says it failed the request: nothing was made.
    plain = make_client(real_time_simulator.transport())
    failed = []
    for i in range(4):
        send(teammate, plain, f"teammate {i}")
        video = send(owner, plain, f"mine {i} [error:500]")
        # Nothing was made, so it is sent again (never twice at once), then given up.
        for _ in range(services.SEND_ATTEMPTS - 1):
            assert video.status == Video.Status.WAITING
            Video.objects.filter(pk=video.pk).update(next_poll_at=timezone.now())
            video = sent(video, plain)
        failed.append(video)
        traveller.advance(20)
    for video in failed:
        assert (video.status, video.cost_points, video.cost_source) == ("failed", 0, "none")
        assert "no points were spent" in video.error_message and video.client_token is None
    settle_later(traveller, plain)
    assert usage.budget_state(owner).spent == 0
    assert usage.budget_state(teammate).spent == 4 * SORA_4S
    assert not LedgerEntry.objects.filter(video__isnull=True).exists()


def test_a_bare_gateway_error_on_a_create_is_an_unknown_outcome(
    owner: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    inner = real_time_simulator.transport()

    def gateway(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/videos":
            request.read()
            inner.handle_request(request)  # it reached the provider, which made it
            return httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>")
        return inner.handle_request(request)

    video = send_lost(owner, make_client(httpx.MockTransport(gateway)))
    assert video.status == Video.Status.UNCONFIRMED
    settle_later(traveller, make_client(inner))
    video.refresh_from_db()
    assert (video.error_code, video.cost_points) == ("charged_untracked", SORA_4S)


def test_a_failed_teammate_job_never_takes_the_charge_of_a_made_send(
    owner: Any, teammate: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    plain = make_client(real_time_simulator.transport())
    failing = send(teammate, plain, "boom [fail]")
    lost = send_lost(owner, make_client(TimeoutAfterCreate(real_time_simulator.transport())))
    settle_later(traveller, plain)
    failing.refresh_from_db()
    lost.refresh_from_db()
    assert failing.status == Video.Status.FAILED
    assert (failing.cost_points, failing.cost_source) == (0, Video.Cost.NONE)
    assert lost.error_code == "charged_untracked" and lost.cost_points == SORA_4S


def test_when_a_charge_could_be_either_send_both_stay_unsettled_for_an_admin(
    client: Client, owner: Any, staff: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    # Two lost sends, one of which reached the provider: one charge, two claimants.
    made = send_lost(owner, make_client(TimeoutAfterCreate(real_time_simulator.transport())))
    kim = make_user("kim")
    other = send_lost(
        kim, make_client(TimeoutAfterCreate(real_time_simulator.transport(), deliver=False))
    )
    plain = make_client(real_time_simulator.transport())
    settle_later(traveller, plain)
    for video in (made, other):
        video.refresh_from_db()
        assert video.status == Video.Status.UNSETTLED
        assert video.cost_points is None and video.reserved_points == 0  # nothing on a guess
        assert len(usage.unsettled_evidence(video)) == 1
    assert usage.budget_state(owner).spent == usage.budget_state(kim).spent == 0

    client.force_login(staff)
    page = client.get(reverse("usage:review"), {"tab": "unsettled"}).content.decode()
    assert f'id="unsettled-{made.pk}"' in page and page.count('name="charge"') == 4
    entry = usage.unsettled_evidence(made)[0]
    response = client.post(reverse("usage:settle", args=[made.pk]), {"charge": str(entry.pk)})
    assert response.status_code == 302
    made.refresh_from_db()
    assert (made.error_code, made.cost_points) == ("charged_untracked", entry.cost_points)
    # With the charge explained, the other send is settled by the rules: never made.
    usage.ledger_match()
    other.refresh_from_db()
    assert (other.error_code, other.cost_points) == ("not_created", 0)


def test_an_admin_can_say_an_unsettled_send_was_never_made(
    client: Client, owner: Any, staff: Any, real_time_simulator: Simulator, tmp_path: Path
) -> None:
    video = send_lost(owner, make_client(TimeoutAfterCreate(real_time_simulator.transport())))
    Video.objects.filter(pk=video.pk).update(status=Video.Status.UNSETTLED)
    client.force_login(staff)
    url = reverse("usage:settle", args=[video.pk])
    assert client.post(url, {"charge": "99999999999999999999"}).status_code == 302
    video.refresh_from_db()
    assert video.status == Video.Status.UNSETTLED  # junk changes nothing
    client.post(url, {"charge": "none"})
    video.refresh_from_db()
    assert (video.error_code, video.cost_points) == ("not_created", 0)
    client.force_login(owner)
    assert client.post(url, {"charge": "none"}).status_code == 302  # to the admin login


def test_without_a_usage_history_it_ends_unsettled_not_guessed(
    owner: Any, real_time_simulator: Simulator, traveller: FakeClock
) -> None:
    def no_usage(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/usage"):
            body = {"error": {"code": 404, "type": "not_found", "message": "no such endpoint"}}
            return httpx.Response(404, json=body)
        return real_time_simulator.transport().handle_request(request)

    client = make_client(TimeoutAfterCreate(httpx.MockTransport(no_usage)))
    video = send_lost(owner, client)
    settle_later(traveller, client)
    video.refresh_from_db()
    assert video.status == Video.Status.UNCONFIRMED  # the history was never read whole
    settle_later(traveller, client, minutes=90)
    video.refresh_from_db()
    assert video.status == Video.Status.UNSETTLED
    assert "could not settle it" in video.error_message
    assert video.next_poll_at is None


def test_an_unconfirmed_send_says_so_on_its_card(
    client: Client, owner: Any, real_time_simulator: Simulator
) -> None:
    app = connection._client = make_client(TimeoutAfterCreate(real_time_simulator.transport()))
    try:
        client.force_login(owner)
        data = {"model": "Sora-2", "prompt": "a kite", "seconds": "4", "size": "720x1280"}
        response = client.post(reverse("videos:new"), data, follow=True)
        assert response.redirect_chain[-1][0] == reverse("videos:list")
        assert "Waiting to send" in response.content.decode()
        sent(Video.objects.get(), app)
    finally:
        connection._client = None
    html = client.get(reverse("videos:list")).content.decode()
    assert "will not be sent again" in html
    assert "Unconfirmed" in html
