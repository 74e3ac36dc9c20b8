"""A create whose outcome is unknown is settled from the usage history, never resent."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio.provider.catalog import find_model
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.usage.models import LedgerEntry
from videostudio.videos import connection, services, tracking
from videostudio.videos.models import Video
from videostudio.videos.reconcile import SETTLE, WINDOW, history_around, reconcile_fields

pytestmark = pytest.mark.django_db

SORA = find_model("Sora-2")
assert SORA is not None


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
def real_time_simulator(tmp_path: Path) -> Simulator:
    # The usage history is compared with database times: both use the real clock.
    return Simulator(clock=time.time, queue_seconds=1, render_seconds=5, cache_dir=tmp_path)


def make_client(transport: httpx.BaseTransport) -> ProviderClient:
    return ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=transport, sleep=lambda s: None
    )


def send(owner: Any, client: ProviderClient, token: uuid.UUID | None = None) -> Video:
    assert SORA is not None
    with pytest.raises(services.SubmitFailed) as raised:
        services.video_submit(
            owner=owner,
            spec=SORA,
            prompt="a kite over dunes",
            seconds=4,
            size="720x1280",
            image=None,
            client=client,
            token=token,
        )
    return raised.value.video


def sweep(client: ProviderClient) -> None:
    Video.objects.exclude(next_poll_at=None).update(next_poll_at=timezone.now())
    tracking.videos_sweep(client=client, seconds=0)


def test_a_create_that_timed_out_is_unconfirmed_and_not_resent(
    owner: Any, real_time_simulator: Simulator
) -> None:
    transport = TimeoutAfterCreate(real_time_simulator.transport())
    token = uuid.uuid4()
    video = send(owner, make_client(transport), token)
    assert video.status == Video.Status.UNCONFIRMED
    assert "will not be sent again" in video.error_message
    assert transport.creates == 1

    # The same form sent again finds the unconfirmed job instead of paying twice.
    again = services.video_submit(
        owner=owner,
        spec=SORA,  # type: ignore[arg-type]
        prompt="a kite over dunes",
        seconds=4,
        size="720x1280",
        image=None,
        client=make_client(transport),
        token=token,
    )
    assert again.pk == video.pk and transport.creates == 1


def test_a_charge_nobody_accounts_for_settles_it_as_made_but_untracked(
    owner: Any, real_time_simulator: Simulator
) -> None:
    client = make_client(TimeoutAfterCreate(real_time_simulator.transport()))
    video = send(owner, client)
    sweep(client)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert video.error_code == "charged_untracked"
    assert video.next_poll_at is None


def test_no_charge_after_the_window_settles_it_as_never_made(
    owner: Any, real_time_simulator: Simulator
) -> None:
    client = make_client(TimeoutAfterCreate(real_time_simulator.transport(), deliver=False))
    token = uuid.uuid4()
    video = send(owner, client, token)

    sweep(client)  # too early to conclude
    video.refresh_from_db()
    assert video.status == Video.Status.UNCONFIRMED
    assert video.next_poll_at is not None

    Video.objects.filter(pk=video.pk).update(
        created_at=timezone.now() - WINDOW - SETTLE - timedelta(minutes=1)
    )
    sweep(client)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert video.error_code == "not_created"
    assert "safe to try again" in video.error_message
    assert video.client_token is None  # the form may be sent again


def test_a_known_job_in_the_window_accounts_for_its_own_charge(
    owner: Any, real_time_simulator: Simulator
) -> None:
    plain = make_client(real_time_simulator.transport())
    services.video_submit(
        owner=owner,
        spec=SORA,  # type: ignore[arg-type]
        prompt="known",
        seconds=4,
        size="720x1280",
        image=None,
        client=plain,
    )
    client = make_client(TimeoutAfterCreate(real_time_simulator.transport(), deliver=False))
    video = send(owner, client)
    sweep(client)
    video.refresh_from_db()
    assert video.status == Video.Status.UNCONFIRMED  # one charge, one known job


def test_without_a_usage_history_it_says_it_cannot_be_settled(
    owner: Any, real_time_simulator: Simulator
) -> None:
    def no_usage(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/usage"):
            body = {"error": {"code": 404, "type": "not_found", "message": "no such endpoint"}}
            return httpx.Response(404, json=body)
        return real_time_simulator.transport().handle_request(request)

    client = make_client(TimeoutAfterCreate(httpx.MockTransport(no_usage)))
    video = send(owner, client)
    sweep(client)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "may or may not have been made" in video.error_message


def test_the_form_moves_on_to_the_list_with_a_warning(
    client: Client, owner: Any, real_time_simulator: Simulator
) -> None:
    connection._client = make_client(TimeoutAfterCreate(real_time_simulator.transport()))
    try:
        client.force_login(owner)
        data = {"model": "Sora-2", "prompt": "a kite", "seconds": "4", "size": "720x1280"}
        response = client.post(reverse("videos:new"), data, follow=True)
    finally:
        connection._client = None
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("videos:list")
    assert "will not be sent again" in html
    assert "Unconfirmed" in html


def test_an_uncharged_known_job_never_makes_a_charged_one_look_safe(
    owner: Any, real_time_simulator: Simulator
) -> None:
    # A teammate's job the provider knows (and did not charge, say) ...
    known = a_known_job(owner, real_time_simulator)
    # ... and ours: made and charged, but its answer was lost.
    client = make_client(TimeoutAfterCreate(real_time_simulator.transport()))
    video = send(owner, client)
    Video.objects.filter(pk=known.pk).update(submitted_at=video.created_at)
    late = video.created_at + WINDOW + SETTLE + timedelta(minutes=1)
    # One charge in the window, one known job: it cannot be told whose it is.
    entries = history_around(video, client)
    fields = reconcile_fields(video, entries[:1], late)
    assert fields["error_code"] == "unsettled"
    assert "client_token" not in fields  # sending the same form again finds this job


def test_a_charge_found_for_an_untracked_job_is_its_cost(
    owner: Any, real_time_simulator: Simulator
) -> None:
    client = make_client(TimeoutAfterCreate(real_time_simulator.transport()))
    video = send(owner, client)
    sweep(client)
    video.refresh_from_db()
    assert video.error_code == "charged_untracked"
    assert video.cost_points == 4000 and video.cost_source == Video.Cost.MEASURED
    assert LedgerEntry.objects.get(video=video).cost_points == 4000


def a_known_job(owner: Any, simulator: Simulator) -> Video:
    assert SORA is not None
    return services.video_submit(
        owner=owner, spec=SORA, prompt="known", seconds=4, size="720x1280", image=None,
        client=make_client(simulator.transport()),
    )  # fmt: skip
