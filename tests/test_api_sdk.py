"""The studio's /v1/ through the official `openai` package, unmodified, over real HTTP:
the live server, with a member's personal token as the key, and the app behind it
talking to the simulator on its own port with the team's key.

A script makes videos (JSON with a base64 image, and multipart), the tracker sends,
follows and archives them while `client.videos.poll` waits; the script downloads every
variant (the archive's bytes, Range too), remixes, extends, lists and deletes. The
refusals come as the SDK's own exceptions, in the provider's error shape. Through all
of it, the team's key appears in no answer (body or header) and no log line.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import httpx2
import openai
import pytest
from django.utils import timezone
from openai.types import Video as SdkVideo

from videostudio import connection
from videostudio.api import auth
from videostudio.api.services import token_create, token_revoke
from videostudio.provider.client import ProviderClient
from videostudio.simulator.server import SimulatorServer, serve
from videostudio.usage.models import Budget, UsagePolicy
from videostudio.videos import tracking
from videostudio.videos.models import Video

from .conftest import FakeClock, make_user, png_bytes
from .helpers import Browser

# Real threads (the live server, the tracker) need committed data.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The SDK marks its Videos methods deprecated (OpenAI retired Sora); the studio is not.
    pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning"),
]

PROVIDER_KEY = "sk-provider-SECRET-123"


class Answers:
    """Every answer the SDK got: its status, headers and body, read in full."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, bytes]] = []
        self._lock = threading.Lock()

    def __call__(self, response: httpx2.Response) -> None:
        body = response.read()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        with self._lock:
            self.seen.append((response.status_code, headers, body))

    def add(self, response: httpx.Response) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append((response.status_code, headers, response.content))

    def videos(self, video_id: str) -> list[dict[str, Any]]:
        """The video objects answered for `video_id`, in order."""
        found = []
        for _status, headers, body in self.seen:
            if "application/json" in headers and f'"id": "{video_id}"'.encode() in body:
                answer = json.loads(body)
                if answer.get("object") == "video":
                    found.append(answer)
        return found

    def holding(self, secret: str) -> list[int]:
        raw = secret.encode()
        return [status for status, headers, body in self.seen if secret in headers or raw in body]


@pytest.fixture(autouse=True)
def budgets(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for a script that polls four times a second; budgets of this test's own."""
    settings.VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE = 6000
    settings.VIDEOSTUDIO_API_TOKEN_BURST = 200
    monkeypatch.setattr(auth, "BUDGET_PREFIX", f"test-{uuid.uuid4().hex}:api-token:")


@pytest.fixture
def provider(tmp_path: Path, clock: FakeClock) -> Iterator[SimulatorServer]:
    """The simulator on its own port, taking only the team's key."""
    with clock.travelling(tick=True):
        server, _ = serve(
            clock=clock, queue_seconds=1, render_seconds=2, fps=4,
            cache_dir=tmp_path / "simulator", api_key=PROVIDER_KEY,
        )  # fmt: skip
        connection._client = ProviderClient(
            base_url=server.url, api_key=PROVIDER_KEY, timeout=5, sleep=lambda s: None
        )
        yield server
        connection._client.close()
        connection._client = None
        server.stop()


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def sdk(live_server: Any, answers: Answers) -> Iterator[Callable[[str], openai.OpenAI]]:
    """An OpenAI client for a token, as a member's script makes one."""
    made: list[openai.OpenAI] = []

    def make(raw: str) -> openai.OpenAI:
        http = httpx2.Client(event_hooks={"response": [answers]}, timeout=30)
        client = openai.OpenAI(
            base_url=f"{live_server.url}/v1", api_key=raw, max_retries=0, http_client=http
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def no_key_anywhere(answers: Answers, logs: pytest.LogCaptureFixture) -> None:
    assert answers.seen
    assert answers.holding(PROVIDER_KEY) == []
    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(record) for record in logs.records]
    assert lines  # the app did log (requests, the tracker): none of it holds the key
    assert [line for line in lines if PROVIDER_KEY in line] == []


def track(seconds: float = 20) -> threading.Thread:
    """The tracker (as the worker runs it), in the background."""
    client = connection._client
    assert client is not None
    thread = threading.Thread(
        target=tracking.videos_sweep, kwargs={"client": client, "seconds": seconds}, daemon=True
    )
    thread.start()
    return thread


def poll(client: openai.OpenAI, video_id: str, *, within: float = 30) -> SdkVideo:
    """`client.videos.poll`, with a deadline (it would wait for ever)."""
    result: list[SdkVideo] = []
    waiter = threading.Thread(
        target=lambda: result.append(client.videos.poll(video_id, poll_interval_ms=250)),
        daemon=True,
    )
    waiter.start()
    waiter.join(within)
    assert result, f"{video_id} did not finish within {within} s"
    return result[0]


def body_error(exc: openai.APIStatusError) -> dict[str, Any]:
    """The error object the studio sent, in the provider's shape."""
    error = exc.response.json()["error"]
    assert set(error) == {"code", "type", "message", "metadata"}
    assert error["code"] == exc.status_code
    return dict(error)


def archived(video_id: str) -> Video:
    return Video.objects.get(uid=uuid.UUID(hex=video_id.removeprefix("video_")))


def image_b64() -> str:
    return base64.b64encode(png_bytes((72, 128), "navy")).decode()


# --- A script's day --------------------------------------------------------------------


def test_a_script_makes_follows_downloads_builds_on_lists_and_deletes_videos(
    live_server: Any,
    provider: SimulatorServer,
    sdk: Callable[[str], openai.OpenAI],
    answers: Answers,
    logs: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    olivia = make_user("olivia")
    theo = make_user("theo")
    _row, raw = token_create(user=olivia, name="notebook")
    _theirs, theo_raw = token_create(user=theo, name="theo's bot")
    client = sdk(raw)

    # JSON, with the image in base64 (the provider's dialect), shared with the team.
    shared = client.post(
        "/videos",
        body={
            "model": "Sora-2", "prompt": "a lighthouse at dusk", "seconds": 4,
            "size": "720x1280", "input_image": image_b64(), "visibility": "team",
        },
        cast_to=SdkVideo,
    )  # fmt: skip
    assert shared.status == "queued" and shared.progress == 0
    assert shared.id.startswith("video_") and shared.model == "Sora-2"
    assert shared.seconds == "4" and shared.size == "720x1280"
    assert shared.expires_at is None
    # Multipart, the SDK's own create, the reference image an open file; private.
    picture = tmp_path / "first-frame.png"
    picture.write_bytes(png_bytes((64, 64), "orange"))
    with picture.open("rb") as file:
        private = client.videos.create(
            model="sora-2",  # the SDK's spelling: the catalog's, whatever the case
            prompt="a kettle boiling",
            seconds="4",
            input_reference=file,
            extra_body={"visibility": "private"},
        )
    assert private.status == "queued" and private.model == "Sora-2"
    assert archived(shared.id).reference_image and archived(private.id).reference_image

    # The tracker sends, follows and archives while the script waits.
    tracker = track()
    done = poll(client, shared.id)
    other = poll(client, private.id)
    tracker.join(30)
    assert (done.status, done.progress) == ("completed", 100)
    assert other.status == "completed"
    assert done.completed_at is not None and done.expires_at is None
    assert done.remixed_from_video_id is None
    # What the script read while it waited: never back, never completed before saved.
    order = ["queued", "in_progress", "completed"]
    read = [order.index(v["status"]) for v in answers.videos(done.id)]
    assert read == sorted(read) and read[-1] == 2 and read.count(2) == 1
    row = archived(done.id)
    assert row.is_archived and row.api_token_name == "notebook"
    assert row.provider_id and row.provider_id not in done.id

    # Every variant, byte for byte what the archive holds.
    variants: list[tuple[Literal["video", "thumbnail", "spritesheet"], Any]] = [
        ("video", row.video_file),
        ("thumbnail", row.thumbnail_file),
        ("spritesheet", row.spritesheet_file),
    ]
    for variant, fieldfile in variants:
        with fieldfile.open("rb") as saved:
            kept = saved.read()
        assert kept
        assert client.videos.download_content(done.id, variant=variant).content == kept
    with row.video_file.open("rb") as saved:
        whole = saved.read()
    assert client.videos.download_content(done.id).content == whole  # the mp4 by default
    # Range, as a player seeking asks it.
    ranged = httpx.get(
        f"{live_server.url}/v1/videos/{done.id}/content",
        headers={"Authorization": f"Bearer {raw}", "Range": "bytes=10-109"},
    )
    answers.add(ranged)
    assert ranged.status_code == 206
    assert ranged.content == whole[10:110]
    assert ranged.headers["Content-Range"] == f"bytes 10-109/{len(whole)}"

    # Remix (the SDK's own) and extend (the provider's JSON form), both followed.
    remix = client.videos.remix(done.id, prompt="the same, in watercolour")
    assert remix.remixed_from_video_id == done.id and remix.status == "queued"
    extension = client.post(
        "/videos/extensions",
        body={"video": {"id": done.id}, "prompt": "the light turns on", "seconds": 4},
        cast_to=SdkVideo,
    )
    assert extension.remixed_from_video_id == done.id
    assert extension.seconds == "8"  # the stitched total, as the provider counts it
    tracker = track()
    remix, extension = poll(client, remix.id), poll(client, extension.id)
    tracker.join(30)
    assert remix.status == extension.status == "completed"
    assert archived(extension.id).parent == row
    with archived(extension.id).video_file.open("rb") as saved:
        assert client.videos.download_content(extension.id).content == saved.read()
    assert archived(remix.id).api_token_name == "notebook"

    # Idempotency-Key: a retried POST is the same job, a new key a new one.
    first = client.videos.remix(
        done.id, prompt="once only", extra_headers={"Idempotency-Key": "retry-1"}
    )
    again = client.videos.remix(
        done.id, prompt="once only", extra_headers={"Idempotency-Key": "retry-1"}
    )
    assert again.id == first.id
    assert Video.objects.filter(prompt="once only").count() == 1

    # theo's: one shared, one private.
    theirs = sdk(theo_raw)
    theo_shared = theirs.post(
        "/videos", body={"model": "Sora-2", "prompt": "theo's shared", "visibility": "team"},
        cast_to=SdkVideo,
    )  # fmt: skip
    theo_private = theirs.post(
        "/videos", body={"model": "Sora-2", "prompt": "theo's own", "visibility": "private"},
        cast_to=SdkVideo,
    )  # fmt: skip
    tracker = track()
    for script, video_id in (
        (theirs, theo_shared.id),
        (theirs, theo_private.id),
        (client, first.id),
    ):
        assert poll(script, video_id).status == "completed"
    tracker.join(30)

    # The list: hers and the team's shared, newest first, in pages; never theo's private.
    mine_and_shared = [theo_shared.id, first.id, extension.id, remix.id, private.id, shared.id]
    page = client.videos.list(limit=2)
    assert [v.id for v in page.data] == mine_and_shared[:2] and page.has_more
    # Auto-pagination: every page, each video once, newest first.
    assert [v.id for v in client.videos.list(limit=2)] == mine_and_shared
    # theo sees his own and her shared ones, never her private one.
    theirs_seen = {v.id for v in theirs.videos.list()}
    assert private.id not in theirs_seen and {shared.id, theo_private.id} <= theirs_seen

    # Others' videos: a private one is not there; a shared one is readable, not deletable.
    with pytest.raises(openai.NotFoundError) as missing:
        client.videos.retrieve(theo_private.id)
    assert body_error(missing.value)["type"] == "not_found"
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(theo_private.id)
    assert client.videos.retrieve(theo_shared.id).status == "completed"
    assert client.videos.download_content(theo_shared.id).content
    with pytest.raises(openai.PermissionDeniedError) as forbidden:
        client.videos.delete(theo_shared.id)
    assert body_error(forbidden.value)["type"] == "permission_error"
    assert theirs.videos.retrieve(theo_shared.id).status == "completed"

    # The member's pages: each job in her list, the shared ones in the gallery, marked.
    browser = Browser(live_server.url, "olivia")
    listing = browser.get("/")
    for video_id in (shared.id, private.id, remix.id, extension.id):
        assert f'id="video-{archived(video_id).pk}"' in listing
    assert listing.count("via API · notebook") >= 4
    gallery = browser.get("/gallery/")
    assert f'id="gallery-{row.pk}"' in gallery
    assert f'id="gallery-{archived(private.id).pk}"' not in gallery
    assert "via API · notebook" in gallery and "via API · theo&#x27;s bot" in gallery
    assert "via API · notebook" in browser.get(f"/videos/{row.pk}/")

    # Delete: gone from the API and from her list; the row stays for the records.
    deleted = client.videos.delete(private.id)
    assert (deleted.id, deleted.deleted) == (private.id, True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(private.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(private.id)
    assert private.id not in {v.id for v in client.videos.list(limit=100)}
    assert f'id="video-{archived(private.id).pk}"' not in browser.get("/")
    assert archived(private.id).deleted_at is not None

    # The models the catalog offers.
    names = {m.id for m in client.models.list()}
    assert {"Sora-2", "Sora-2-Pro"} <= names

    # Through all of it: the team's key in no answer and no log line; no provider id.
    no_key_anywhere(answers, logs)
    for provider_id in Video.objects.values_list("provider_id", flat=True):
        assert provider_id and answers.holding(provider_id) == []


# --- Refusals ---------------------------------------------------------------------------


def test_refusals_come_as_the_sdks_own_errors_in_the_providers_shape(
    settings: Any,
    live_server: Any,
    provider: SimulatorServer,
    sdk: Callable[[str], openai.OpenAI],
    answers: Answers,
    logs: pytest.LogCaptureFixture,
) -> None:
    olivia = make_user("olivia")
    token, raw = token_create(user=olivia, name="notebook")
    client = sdk(raw)
    sora = {"model": "Sora-2", "prompt": "a fox on ice"}

    # What the catalog refuses: 400, saying what is offered.
    cases: list[tuple[dict[str, Any], str]] = [
        ({**sora, "model": "Sora-9"}, "not a model offered here"),
        ({**sora, "seconds": 7}, "not a length Sora 2 makes"),
        ({**sora, "size": "640x480"}, "not a size Sora 2 makes"),
        ({"model": "Sora-2"}, "“prompt” is required"),
        ({"prompt": "no model"}, "“model” is required"),
        ({**sora, "prompt": "x" * 40_000}, "the limit is"),
        ({**sora, "input_image": "not base64!"}, "not base64"),
        ({**sora, "input_image": base64.b64encode(b"not an image").decode()}, "not an image"),
        ({**sora, "visibility": "everyone"}, "“visibility”"),
    ]
    for body, words in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            client.post("/videos", body=body, cast_to=SdkVideo)
        error = body_error(refused.value)
        assert error["type"] == "invalid_request_error", body
        assert words in error["message"], (body, error)
    # Not JSON at all; an image far past the cap (JSON and multipart): 400 and 413.
    junk = httpx.post(
        f"{live_server.url}/v1/videos", content=b'{"model": "Sora-2", "prompt": ',
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
    )  # fmt: skip
    answers.add(junk)
    assert junk.status_code == 400 and "not JSON" in junk.json()["error"]["message"]
    huge = b"\x89PNG\r\n\x1a\n" + bytes(20 * 1024 * 1024)
    with pytest.raises(openai.APIStatusError) as too_large:
        client.videos.create(model="sora-2", prompt="big", input_reference=("big.png", huge))
    assert too_large.value.status_code == 413
    assert "MB" in body_error(too_large.value)["message"]
    with pytest.raises(openai.APIStatusError) as too_large:
        client.post(
            "/videos", body={**sora, "input_image": base64.b64encode(huge).decode()},
            cast_to=SdkVideo,
        )  # fmt: skip
    assert too_large.value.status_code == 413
    assert not Video.objects.exists()  # nothing was recorded for any of them

    # A budget used up: 402, insufficient_credits.
    budget = Budget.objects.create(user=olivia, monthly_points=10)
    with pytest.raises(openai.APIStatusError) as broke:
        client.post("/videos", body=sora, cast_to=SdkVideo)
    assert broke.value.status_code == 402
    error = body_error(broke.value)
    assert error["type"] == "insufficient_credits" and "budget" in error["message"]
    budget.delete()

    # The team's points used up (the provider said 402; the balance still reads 0).
    provider.simulator.ledger.set_balance(0)
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(out_of_points_since=timezone.now())
    with pytest.raises(openai.APIStatusError) as broke:
        client.post("/videos", body=sora, cast_to=SdkVideo)
    assert broke.value.status_code == 402
    error = body_error(broke.value)
    assert error["type"] == "insufficient_credits" and "team's points" in error["message"]
    # Points added: the next request goes through.
    provider.simulator.ledger.set_balance(1_000_000)
    made = client.post("/videos", body=sora, cast_to=SdkVideo)
    assert made.status == "queued"

    # Building on what cannot be built on: in flight, or a model that only creates.
    with pytest.raises(openai.BadRequestError) as refused:
        client.post(
            "/videos/extensions", body={"video": {"id": made.id}, "prompt": "more"},
            cast_to=SdkVideo,
        )  # fmt: skip
    error = body_error(refused.value)
    assert error["message"] == "Only a finished video can be extended."
    assert error["metadata"] == {"reason": "lineage_refused"}
    with pytest.raises(openai.NotFoundError):
        client.videos.remix("video_" + uuid.uuid4().hex, prompt="of nothing")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("vid_not-ours")
    with pytest.raises(openai.NotFoundError) as unready:
        client.videos.download_content(made.id)
    assert "not ready" in body_error(unready.value)["message"]
    with pytest.raises(openai.ConflictError):
        client.videos.delete(made.id)  # still being made

    # A revoked token: 401 at once, the SDK's AuthenticationError.
    token_revoke(token=token, actor=olivia)
    with pytest.raises(openai.AuthenticationError) as refused_token:
        client.videos.list()
    assert body_error(refused_token.value)["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        client.videos.retrieve(made.id)

    # Past a token's own budget: 429 with Retry-After, the SDK's RateLimitError.
    settings.VIDEOSTUDIO_API_TOKEN_BURST = 2
    settings.VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE = 1
    _busy, busy_raw = token_create(user=olivia, name="busy")
    busy = sdk(busy_raw)
    busy.models.list(), busy.models.list()
    with pytest.raises(openai.RateLimitError) as limited:
        busy.models.list()
    assert body_error(limited.value)["type"] == "rate_limit_error"
    assert int(limited.value.response.headers["Retry-After"]) >= 1

    # No answer was a 500, none held a traceback or the team's key.
    assert all(status < 500 for status, _h, _b in answers.seen)
    assert not [body for _s, _h, body in answers.seen if b"Traceback" in body]
    assert not [r for r in logs.records if r.exc_info is not None]
    no_key_anywhere(answers, logs)
