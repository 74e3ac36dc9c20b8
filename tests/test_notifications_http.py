"""Notifications end to end over real HTTP: members' browsers (httpx) against the live
server, the app against the simulator on its own port, two trackers at once.

Three members send at the same moment, one job fails at the provider, one is refused
before anything is made, bob remixes alice's video while carol remixes it privately.
Each member's bell must then count exactly what happened to them, once; the mail
server (a real one) must hold one email per event and member, as they chose; and the
webhook receivers (real ones) one signed call per event, without private prompts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from videostudio import connection
from videostudio.notifications.delivery import deliveries_send
from videostudio.notifications.emails import digests_send
from videostudio.notifications.models import Event, Notification
from videostudio.provider.client import ProviderClient
from videostudio.simulator.server import SimulatorServer, serve
from videostudio.videos import tracking
from videostudio.videos.models import Video

from .conftest import FakeClock, make_user
from .helpers import Browser
from .mail_kit import MailServer, smtp
from .test_webhooks import Receiver, hook, receiver

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["receiver", "smtp"]  # fixtures, used by name


@pytest.fixture
def provider(tmp_path: Path, clock: FakeClock) -> Iterator[SimulatorServer]:
    with clock.travelling(tick=True):
        server, _ = serve(
            clock=clock, queue_seconds=1, render_seconds=2, fps=4,
            cache_dir=tmp_path / "simulator",
        )  # fmt: skip
        connection._client = ProviderClient(
            base_url=server.url, api_key="sk-test", timeout=5, sleep=lambda s: None
        )
        yield server
        connection._client.close()
        connection._client = None
        server.stop()


def bell(member: Browser) -> int:
    label = re.search(r'id="bell"[^>]*aria-label="Notifications, ([^"]+)"', member.get("/"))
    assert label is not None
    return 0 if label.group(1) == "none unread" else int(label.group(1).split()[0])


def share(member: Browser, prompt: str) -> int:
    """Send a job shared with the team (as the New video form does); its status code."""
    form = {"model": "Sora-2", "prompt": prompt, "seconds": "4", "size": "720x1280"}
    return member.post("/videos/new/", {**form, "share": "on"}).status_code


def sweep_twice_at_once() -> None:
    """Two trackers (as on two hosts) follow the same jobs at the same moment."""
    client = connection._client
    assert client is not None
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        tracking.videos_sweep(client=client, seconds=12)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_every_members_bell_counts_what_happened_to_them_once(
    live_server: Any, provider: SimulatorServer, smtp: MailServer, receiver: Receiver
) -> None:
    users = {
        name: make_user(name, email=f"{name}@example.com") for name in ("alice", "bob", "carol")
    }
    stella = make_user("stella", is_staff=True)
    hook(receiver, "/team", owner=None, created_by=stella)
    hook(receiver, "/alice", owner=users["alice"])
    members = {name: Browser(live_server.url, name) for name in ("alice", "bob", "carol")}
    prompts = {
        "alice": ["a heron in fog", "a heron [fail]"],
        "bob": ["a tram at night", "no [error:500]"],
        "carol": ["a kettle boiling"],
    }
    barrier = threading.Barrier(len(members))
    answers: dict[str, list[int]] = {}

    def act(name: str) -> None:
        barrier.wait()
        answers[name] = [share(members[name], prompt) for prompt in prompts[name]]

    threads = [threading.Thread(target=act, args=(name,)) for name in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {"alice": [302, 302], "bob": [302, 302], "carol": [302]}
    sweep_twice_at_once()
    statuses = dict(Video.objects.values_list("prompt", "status"))
    assert statuses == {
        "a heron in fog": "completed",
        "a heron [fail]": "failed",
        "a tram at night": "completed",
        "no [error:500]": "failed",
        "a kettle boiling": "completed",
    }, statuses
    assert (bell(members["alice"]), bell(members["bob"]), bell(members["carol"])) == (2, 2, 1)

    # Teammates build on alice's video at once: bob shares his remix, carol keeps hers.
    heron = Video.objects.get(prompt="a heron in fog")
    remixes = {"bob": ("in the rain", True), "carol": ("at dawn", False)}
    barrier = threading.Barrier(2)

    def remix(name: str) -> None:
        prompt, share = remixes[name]
        barrier.wait()
        form = {"prompt": prompt, **({"share": "on"} if share else {})}
        page = f"/videos/{heron.pk}/"
        answers[name] = [members[name].post(f"{page}remix/", form, page).status_code]

    threads = [threading.Thread(target=remix, args=(name,)) for name in remixes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers["bob"] == [302] and answers["carol"] == [302], answers
    sweep_twice_at_once()
    assert not Video.objects.exclude(status__in=["completed", "failed"]).exists()
    # alice: two of hers, and bob's shared remix (carol's private one is hers alone);
    # bob and carol: their jobs and their finished remixes.
    assert (bell(members["alice"]), bell(members["bob"]), bell(members["carol"])) == (3, 3, 2)
    told = sorted(Notification.objects.values_list("recipient__username", "event__kind"))
    assert told == sorted(
        [
            ("alice", "video.completed"),
            ("alice", "video.failed"),
            ("alice", "video.remixed"),
            ("bob", "video.completed"),
            ("bob", "video.completed"),
            ("bob", "video.failed"),
            ("carol", "video.completed"),
            ("carol", "video.completed"),
        ]
    ), told
    assert Event.objects.count() == len(told)
    page = members["alice"].get("/notifications/")
    assert "bob remixed your video" in page and "in the rain" in page and "at dawn" not in page

    # Mail: the worker's senders, two at once, and the day's digest (twice: once).
    senders = [threading.Thread(target=deliveries_send) for _ in range(2)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    assert digests_send() == 1 and digests_send() == 0
    mails = sorted((m["To"].split("@")[0], str(m["Subject"])) for m in smtp.inbox.messages)
    assert mails == sorted(
        [
            ("alice", "videostudio: Your video is ready"),
            ("alice", "videostudio: Your video failed"),
            ("alice", "videostudio: your daily digest (1 notification)"),
            ("bob", "videostudio: Your video is ready"),
            ("bob", "videostudio: Your video is ready"),
            ("bob", "videostudio: Your video failed"),
            ("carol", "videostudio: Your video is ready"),
            ("carol", "videostudio: Your video is ready"),
        ]
    ), mails

    # Webhooks: alice's own gets her three; the team's gets every member's eight, each
    # once, signed, and carol's private remix without its prompt.
    alices = receiver.seen("/alice")
    assert sorted(call.json["type"] for call in alices) == sorted(
        ["video.completed", "video.failed", "video.remixed"]
    )
    team = receiver.seen("/team")
    ids = [call.headers["Videostudio-Delivery"] for call in team]
    assert len(ids) == len(set(ids)) == 8
    assert all(call.valid for call in [*alices, *team])
    assert not [call for call in team if b"at dawn" in call.body]
    assert [call for call in team if b"in the rain" in call.body]
