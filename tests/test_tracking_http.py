"""The send queue end to end over real HTTP, against a provider that enforces its limit.

Members' browsers (httpx) post forms to the app's live server at the same time; the
tracker sends, follows and archives their jobs through the shared request budget;
the simulator, on its own port, answers 429 to anything over its limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.pacing.database import DatabaseBudget
from videostudio.provider.client import ProviderClient
from videostudio.simulator.server import SimulatorServer, serve
from videostudio.videos import tracking
from videostudio.videos.models import Video

from .conftest import make_user
from .helpers import Browser

pytestmark = pytest.mark.django_db(transaction=True)
LIMIT, BURST = 240, 8  # the provider's: 4 requests a second


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[SimulatorServer]:
    server, _ = serve(
        queue_seconds=1, render_seconds=2, rate_per_minute=LIMIT, burst=BURST,
        stock_media=True, fps=4, cache_dir=tmp_path / "simulator",
    )  # fmt: skip
    yield server
    server.stop()


def app_client(server: SimulatorServer, *, rate: int, burst: int) -> ProviderClient:
    budget = DatabaseBudget(rate_per_minute=rate, burst=burst)
    return ProviderClient(
        base_url=server.url, api_key="sk-test", timeout=10, limiter=budget, gate=budget
    )


def members_send(live_server: Any, jobs_each: int, names: tuple[str, ...]) -> list[int]:
    """Every member posts `jobs_each` forms at once; the answers' status codes."""
    browsers = []
    for name in names:
        make_user(name)
        browsers.append(Browser(live_server.url, name))
    barrier = threading.Barrier(len(browsers))
    answers: list[int] = []
    lock = threading.Lock()

    def act(browser: Browser, name: str) -> None:
        barrier.wait()
        for i in range(jobs_each):
            code = browser.send(f"{name} {i} [render:{1 + i % 3}]").status_code
            with lock:
                answers.append(code)

    threads = [
        threading.Thread(target=act, args=(b, n)) for b, n in zip(browsers, names, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def follow_all(client: ProviderClient, *, within: float) -> None:
    deadline = time.monotonic() + within
    while Video.objects.exclude(next_poll_at=None).exists() and time.monotonic() < deadline:
        tracking.videos_sweep(client=client, seconds=5)
        time.sleep(0.2)


def stats(server: SimulatorServer) -> dict[str, int]:
    return dict(httpx.get(server.url.removesuffix("/v1") + "/_simulator/stats").json())


def test_an_overdriven_key_draws_429s_yet_no_submission_fails_and_none_is_sent_twice(
    live_server: Any, strict: SimulatorServer
) -> None:
    # Set far above what the provider allows: it says "too many requests" often.
    client = app_client(strict, rate=6000, burst=100)
    answers = members_send(live_server, 4, ("ann", "ben", "cy"))
    assert answers == [302] * 12
    follow_all(client, within=90)
    counts = stats(strict)
    assert counts["throttled"] > 0
    charges = strict.simulator.ledger.history(limit=100, starting_after=None)["data"]
    assert len(charges) == 12  # each job made, and paid for, exactly once
    videos = list(Video.objects.all())
    assert [v.status for v in videos] == [Video.Status.COMPLETED] * 12
    assert all(v.is_archived and v.detected_at and v.error_code == "" for v in videos)


def test_with_headroom_the_app_never_draws_a_429(live_server: Any, strict: SimulatorServer) -> None:
    client = app_client(strict, rate=LIMIT * 9 // 10, burst=BURST - 2)
    answers = members_send(live_server, 3, ("dee", "eve", "fay"))
    assert answers == [302] * 9
    follow_all(client, within=90)
    counts = stats(strict)
    assert counts["throttled"] == 0
    assert counts["create"] == 9  # no 429, so every create request made a job
    videos = list(Video.objects.all())
    assert all(v.status == Video.Status.COMPLETED and v.is_archived for v in videos)
    # Each job: one create, its files, and a few looks at most.
    assert counts["retrieve"] <= 4 * len(videos)
