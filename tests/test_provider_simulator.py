"""The client against the simulator, in-process and over a real loopback socket.

The unit tests pin the client to recorded bodies; these show that the client and
the fake provider (written separately, against the same contract) agree.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import (
    AuthenticationFailed,
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    ProviderServerError,
)
from videostudio.provider.types import RemoteVideo
from videostudio.simulator.app import Simulator

from .conftest import FakeClock
from .simulator.kit import connect

KEY = "sk-test-TEAMKEY-0123456789abcdef"
QUEUE = 2.0
RENDER = 10.0
START = 1_761_000_000.0


@dataclass
class Setup:
    client: ProviderClient
    sim: Simulator
    clock: FakeClock
    sleeps: list[float]
    dialect: str


@pytest.fixture(
    params=[("in-process", "poe"), ("in-process", "openai"), ("loopback", "poe")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    how, dialect = request.param
    clock = FakeClock(START)
    sim = Simulator(
        clock=clock,
        queue_seconds=QUEUE,
        render_seconds=RENDER,
        api_key=KEY,
        dialect=dialect,
        cache_dir=tmp_path / "sim-cache",
        fps=4,
    )
    sleeps: list[float] = []
    monotonic = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        monotonic[0] += seconds

    options = {"sleep": sleep, "clock": lambda: monotonic[0], "random": lambda: 1.0}
    with connect(sim, how=how, api_key=KEY, timeout=10.0, **options) as client:
        yield Setup(client, sim, clock, sleeps, dialect)


def poll_until_finished(setup: Setup, video: RemoteVideo) -> list[RemoteVideo]:
    """What a worker sees when it polls every few (simulated) seconds."""
    seen = [video]
    for _ in range(20):
        if seen[-1].is_finished:
            return seen
        setup.clock.advance(3.0)
        seen.append(setup.client.retrieve_video(video.id))
    raise AssertionError(f"{video.id} never finished: {seen[-1]}")


def test_it_creates_polls_and_downloads_every_variant(setup: Setup, tmp_path: Path) -> None:
    created = setup.client.create_video(
        model="Sora-2", prompt="A fox in the snow", seconds=4, size="1280x720"
    )

    assert created.status == "queued"
    assert created.raw_status == ("pending" if setup.dialect == "openai" else "queued")
    assert created.seconds == 4
    assert created.size == "1280x720"
    assert created.model == "Sora-2"

    seen = poll_until_finished(setup, created)

    statuses = [video.status for video in seen]
    assert "in_progress" in statuses
    assert statuses[-1] == "completed"
    progress = [v.progress for v in seen if v.progress is not None]
    assert progress == sorted(progress)
    done = seen[-1]
    assert done.completed_at is not None
    assert done.expires_at is not None
    assert done.expires_at > done.completed_at

    expected = {None: "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
    for variant, content_type in expected.items():
        dest = tmp_path / "archive" / f"{variant or 'video'}.bin"
        download = setup.client.download_content(done.id, dest, variant=variant)
        assert download.content_type == content_type
        assert download.size == dest.stat().st_size > 0
    assert (tmp_path / "archive" / "video.bin").read_bytes()[4:8] == b"ftyp"
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == [
        "spritesheet.bin",
        "thumbnail.bin",
        "video.bin",
    ]


def test_it_remixes_and_extends_a_finished_video(setup: Setup) -> None:
    original = poll_until_finished(
        setup, setup.client.create_video(model="Sora-2", prompt="A paper boat", seconds=4)
    )[-1]

    remix = setup.client.remix_video(original.id, prompt="Now as an anime")
    assert remix.remixed_from_video_id == original.id
    assert poll_until_finished(setup, remix)[-1].status == "completed"

    extension = setup.client.extend_video(original.id, prompt="It sails on", seconds=4)
    assert extension.id not in (original.id, remix.id)
    finished = poll_until_finished(setup, extension)[-1]
    assert finished.status == "completed"
    assert finished.seconds == 8


def test_it_reads_the_balance_and_pages_through_the_history(setup: Setup) -> None:
    before = setup.client.current_balance()
    for prompt in ("one", "two", "three"):
        setup.client.create_video(model="Veo-3", prompt=prompt)
        setup.clock.advance(1.0)

    assert setup.client.current_balance() < before
    pages = [setup.client.points_history(limit=2)]
    while pages[-1].has_more:
        pages.append(setup.client.points_history(limit=2, starting_after=pages[-1].last_query_id))

    entries = [entry for page in pages for entry in page.entries]
    assert len(pages) == 2
    assert len(entries) == 3
    assert [e.bot_name for e in entries] == ["Veo-3"] * 3
    times = [e.created_at for e in entries]
    assert all(t is not None for t in times)
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]
    assert sum(e.cost_points or 0 for e in entries) == before - setup.client.current_balance()


def test_it_lists_the_video_models(setup: Setup) -> None:
    models = setup.client.list_models()

    video_models = {m.id for m in models if "video" in m.output_modalities}
    assert {"Sora-2", "Sora-2-Pro", "Veo-3"} <= video_models


def test_it_retries_an_injected_500_then_succeeds(setup: Setup) -> None:
    video = setup.client.create_video(model="Sora-2", prompt="A lighthouse")
    setup.sim.inject_error(500, count=2, path_contains="/videos/")

    fetched = setup.client.retrieve_video(video.id)

    assert fetched.id == video.id
    assert setup.sleeps == [0.25, 0.5]


def test_it_does_not_resubmit_a_create_after_an_injected_500(setup: Setup) -> None:
    setup.sim.inject_error(500, count=1, path_contains="/videos")

    with pytest.raises(ProviderServerError) as caught:
        setup.client.create_video(model="Sora-2", prompt="A lighthouse")

    # The provider said it failed (its envelope): nothing made, yet nothing resent either.
    assert not caught.value.outcome_unknown
    assert setup.sleeps == []
    assert not setup.client.points_history().entries


def test_it_waits_out_an_injected_429(setup: Setup) -> None:
    setup.sim.inject_error(429, count=1, path_contains="/models", retry_after="3")

    assert setup.client.list_models()
    assert setup.sleeps == [3.0]


def test_it_sends_a_reference_image_both_ways(setup: Setup) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(buffer, format="PNG")
    image = ("red.png", buffer.getvalue(), "image/png")

    for mode in ("multipart", "json"):
        video = setup.client.create_video(
            model="Sora-2", prompt="A red room", seconds=4, image=image, image_mode=mode
        )
        assert video.status == "queued"


def test_it_surfaces_failures_and_refusals(setup: Setup) -> None:
    failed = poll_until_finished(
        setup, setup.client.create_video(model="Veo-3", prompt="A storm [fail]")
    )[-1]
    assert failed.status == "failed"
    assert failed.error_message

    with pytest.raises(InsufficientCredits) as caught:
        setup.client.create_video(model="Veo-3", prompt="A storm [error:402]")
    assert "admin" in caught.value.user_message
    assert caught.value.outcome_unknown is False

    with pytest.raises(InvalidRequest):
        setup.client.create_video(model="Veo-3", prompt="A storm", seconds=20)

    with pytest.raises(NotFound):
        setup.client.retrieve_video("video_does_not_exist")


def test_it_reports_a_wrong_key_as_the_teams_problem(setup: Setup) -> None:
    transport = setup.sim.transport() if "simulator" in setup.client.base_url else None
    with (
        ProviderClient(
            base_url=setup.client.base_url, api_key="sk-wrong", transport=transport
        ) as client,
        pytest.raises(AuthenticationFailed) as caught,
    ):
        client.current_balance()

    assert "VIDEOSTUDIO_API_KEY" in caught.value.user_message
    assert "sk-wrong" not in repr(caught.value)
