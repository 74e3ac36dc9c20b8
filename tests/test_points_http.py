"""The points, end to end over real HTTP: members' browsers (httpx) against the app's
live server, the app against the simulator on its own port.

Two members send the same model at the same moment; one of alice's jobs fails, a
send of bob's is made but its answer comes too late, one of alice's gets a 500
before anything is made. After the tracker and a "Sync now", the review, its CSV
and each member's own line must equal what the simulator charged.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from videostudio import connection
from videostudio.provider.client import ProviderClient
from videostudio.simulator.server import SimulatorServer, serve
from videostudio.videos import tracking
from videostudio.videos.models import Video

from .conftest import FakeClock, make_user
from .helpers import Browser

# Real threads need committed data (the flush after each test re-seeds the catalog).
pytestmark = pytest.mark.django_db(transaction=True)
SORA_4S = 4 * 3000  # what the simulator charges for four seconds of Sora-2


@pytest.fixture
def traveller(clock: FakeClock) -> Iterator[FakeClock]:
    # Time runs (the live server and the simulator work in it), and jumps when told.
    with clock.travelling(tick=True):
        yield clock


@pytest.fixture(params=["send", "completion"])
def provider(request: Any, tmp_path: Path, traveller: FakeClock) -> Iterator[SimulatorServer]:
    server, _ = serve(
        clock=traveller,
        queue_seconds=1,
        render_seconds=3,
        fps=4,
        charge_at=request.param,
        slow_seconds=3,
        cache_dir=tmp_path / "simulator",
    )
    # The app talks to it over HTTP; a create waits 1.5 s for its answer at most.
    connection._client = ProviderClient(
        base_url=server.url, api_key="sk-test", timeout=1.5, sleep=lambda s: None
    )
    yield server
    connection._client.close()
    connection._client = None
    server.stop()


def test_the_review_and_every_members_line_equal_what_the_provider_charged(
    live_server: Any, provider: SimulatorServer, traveller: FakeClock
) -> None:
    for name in ("alice", "bob"):
        make_user(name)
    make_user("stella", is_staff=True)
    alice, bob = Browser(live_server.url, "alice"), Browser(live_server.url, "bob")
    staff = Browser(live_server.url, "stella")

    # Both at once, the same model, seconds apart at most.
    barrier = threading.Barrier(2)
    answers: dict[str, list[Any]] = {}

    def act(member: Browser, name: str, prompts: list[str]) -> None:
        barrier.wait()
        for prompt in prompts:
            answers.setdefault(name, []).append(member.send(prompt).status_code)

    threads = [
        threading.Thread(
            target=act, args=(alice, "alice", ["a fox on ice", "boom [fail]", "no [error:500]"])
        ),
        threading.Thread(target=act, args=(bob, "bob", ["a fox on ice, too", "late [slow]"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every form is queued at once: the provider is the worker's business.
    assert answers == {"alice": [302, 302, 302], "bob": [302, 302]}, answers
    client = connection._client
    assert client is not None
    # The worker sends them; the 500 is tried again, then given up with its reason.
    tracking.videos_sweep(client=client, seconds=10)
    assert Video.objects.filter(status=Video.Status.UNCONFIRMED).count() == 1  # the slow one
    refused = Video.objects.get(prompt="no [error:500]")
    assert refused.status == Video.Status.FAILED and refused.cost_source == Video.Cost.NONE
    assert "no points were spent" in refused.error_message
    assert "no points were spent" in alice.get(f"/videos/{refused.pk}/")

    time.sleep(3.5)  # the simulator finishes answering the slow create it already charged
    # Later: every job has finished, the unconfirmed window has closed.
    traveller.advance(41 * 60)
    Video.objects.exclude(next_poll_at=None).update(next_poll_at=timezone.now())
    tracking.videos_sweep(client=client, seconds=20)
    response = staff.post("/usage/sync/", {"next": "/usage/"}, form_page="/usage/")
    assert response.status_code == 302

    # What the provider charged, from its own history.
    history = provider.simulator.ledger.history(limit=100, starting_after=None)["data"]
    billed = sum(entry["cost_points"] for entry in history)
    assert billed == 3 * SORA_4S and len(history) == 3  # no charge for the failure or the 500
    truth = {"alice": SORA_4S, "bob": 2 * SORA_4S}

    review = staff.get("/usage/")
    members = review.split('id="per-member"')[1].split("</table>")[0]
    for name, points in truth.items():
        assert f"<td>{name}</td><td>{points}</td><td>0</td>" in members, members
    books = review.split('id="books"')[1].split("</section>")[0]
    assert f'<strong id="books-ledger">{billed}</strong>' in books
    assert f'<strong id="books-attributed">{billed}</strong>' in books
    assert '<strong id="books-unattributed">0</strong>' in books
    assert "The books close" in books

    summary = list(csv.reader(io.StringIO(staff.get("/usage/", export="csv"))))
    assert {row[1]: int(row[2]) for row in summary if row[0] == "member"} == truth
    jobs = list(csv.DictReader(io.StringIO(staff.get("/usage/", tab="jobs", export="csv"))))
    spent: dict[str, int] = {}
    for row in jobs:
        spent[row["member"]] = spent.get(row["member"], 0) + int(row["points"] or 0)
    assert spent == truth
    notes = {row["status"] + ":" + row["charge"] for row in jobs if row["status"] == "failed"}
    assert notes == {
        "failed:not charged",  # the provider's own failure
        "failed:refused by the provider: not charged",  # the 500
        f"failed:charged {SORA_4S} points",  # made, answer lost, its charge found
    }

    for member, name in ((alice, "alice"), (bob, "bob")):
        line = re.search(r"This month: (\d+) points spent", member.get("/"))
        assert line is not None and int(line.group(1)) == truth[name]
