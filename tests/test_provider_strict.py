"""The client against a strict simulator: what a benchmark of many jobs leans on.

Each test runs the client against the simulator in-process and over a real socket:
the rate limit's 429s are waited out through the client's gate and never make a
job twice, `[render:NN]` times a job, and stock media serves many jobs one render.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from videostudio.simulator import Simulator

from .conftest import FakeClock
from .simulator.kit import QUEUE, START, connect, make_sim

KEY = "sk-test-TEAMKEY-0123456789abcdef"


@pytest.fixture(params=["in-process", "loopback"])
def how(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def charges(sim: Simulator) -> int:
    return len(sim.ledger.history(limit=100, starting_after=None)["data"])


def test_a_429_is_waited_out_through_the_gate_and_makes_nothing_twice(
    how: str, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(clock, tmp_path / "cache", rate_per_minute=60, burst=3)
    with connect(
        sim,
        how=how,
        api_key=KEY,
        sleep=clock.sleep,
        clock=clock.monotonic,
        random=lambda: 1.0,
        timeout=10.0,
    ) as client:
        made = [client.create_video(model="Sora-2", prompt=f"Take {n}") for n in range(6)]

    assert len({video.id for video in made}) == 6
    assert clock.sleeps == [1.0, 1.0, 1.0]  # Retry-After: 1, a token a second
    stats = sim.stats()
    assert (stats["create"], stats["throttled"], stats["total"]) == (9, 3, 9)
    assert charges(sim) == 6  # a throttled create made and charged nothing


def test_a_storm_of_members_gets_every_job_made_exactly_once(
    clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(clock, tmp_path / "cache", rate_per_minute=60, burst=5)
    options = {"sleep": clock.sleep, "clock": clock.monotonic, "max_retries": 60}
    with (
        connect(sim, how="loopback", api_key=KEY, timeout=10.0, **options) as client,
        ThreadPoolExecutor(max_workers=20) as members,
    ):
        prompts = [f"Member {n % 20}, take {n // 20}" for n in range(60)]
        made = list(members.map(lambda p: client.create_video(model="Veo-3", prompt=p), prompts))
        over_http = httpx.get(client.base_url.removesuffix("/v1") + "/_simulator/stats").json()

    assert len({video.id for video in made}) == 60
    assert charges(sim) == 60
    stats = sim.stats()
    assert over_http == stats
    assert stats["throttled"] > 0
    assert stats["create"] == 60 + stats["throttled"]


def test_a_render_marker_times_the_job_the_client_tracks(
    how: str, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(clock, tmp_path / "cache")
    with connect(sim, how=how, api_key=KEY, timeout=10.0) as client:
        video = client.create_video(model="Sora-2", prompt="A long take [render:47.5]")
        clock.advance(QUEUE + 47.4)
        assert client.retrieve_video(video.id).status == "in_progress"
        clock.advance(0.1)
        done = client.retrieve_video(video.id)

    assert done.status == "completed"
    assert done.created_at is not None
    assert done.completed_at is not None
    assert (done.completed_at - done.created_at).total_seconds() == int(QUEUE + 47.5)


def test_stock_media_serves_many_jobs_from_one_render(
    how: str, clock: FakeClock, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    sim = make_sim(clock, cache, stock_media=True)
    with connect(sim, how=how, api_key=KEY, timeout=10.0) as client:
        made = [client.create_video(model="Sora-2", prompt=f"Take {n}") for n in range(8)]
        clock.advance(QUEUE + 10 + 1)
        files = {
            client.download_content(video.id, tmp_path / "archive" / f"{n}.mp4").path.read_bytes()
            for n, video in enumerate(made)
        }

    assert len(files) == 1
    assert [path.suffix for path in cache.iterdir()] == [".mp4"]
