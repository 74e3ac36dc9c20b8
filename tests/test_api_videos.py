"""/v1/videos request by request, through Django's test client: what a job reads as
while its files are saved, Idempotency-Key, a base64 image past Django's cap on form
fields, the "via API" mark on the member's pages, and junk of every kind answered 4xx
in the provider's error shape, never a 500."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from PIL import Image

from videostudio.api import auth
from videostudio.api.models import ApiToken
from videostudio.api.services import token_create
from videostudio.api.videos import api_id
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.usage.models import UsagePolicy
from videostudio.videos.models import Video

from .factories import a_video

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def budget_prefix(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    settings.VIDEOSTUDIO_API_TOKEN_BURST = 100  # these tests ask more than 10 at once
    monkeypatch.setattr(auth, "BUDGET_PREFIX", f"test-{uuid.uuid4().hex}:api-token:")


@pytest.fixture
def token(owner: User) -> tuple[ApiToken, str]:
    return token_create(user=owner, name="notebook")


@pytest.fixture
def api(client: Client, token: tuple[ApiToken, str]) -> Any:
    """Requests to /v1/ with the owner's token: api("post", "/v1/videos", json=...)."""
    headers = {"Authorization": f"Bearer {token[1]}"}

    def call(method: str, path: str, json_body: Any = None, **extra: Any) -> Any:
        if json_body is not None:
            extra.setdefault("content_type", "application/json")
            extra["data"] = json.dumps(json_body)
        extra["headers"] = {**headers, **extra.get("headers", {})}
        return getattr(client, method)(path, **extra)

    return call


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    error = response.json()["error"]
    assert set(error) == {"code", "type", "message", "metadata"} and error["code"] == status
    assert error["message"] and "Traceback" not in error["message"]
    return dict(error)


SORA = {"model": "Sora-2", "prompt": "a fox on ice"}


# --- What a job reads as --------------------------------------------------------------------


def test_a_finished_job_reads_in_progress_at_100_until_its_files_are_saved(
    api: Any, owner: User
) -> None:
    later = timezone.now() + timedelta(hours=1)
    video = a_video(owner=owner, archived_at=None, video_file="", thumbnail_file="",
                    progress=100, next_poll_at=timezone.now(), expires_at=later)  # fmt: skip
    seen = api("get", f"/v1/videos/{api_id(video)}").json()
    assert (seen["status"], seen["progress"]) == ("in_progress", 100)
    assert seen["completed_at"] is None and seen["expires_at"] is None
    # The provider's progress may lag (it said 90, then completed): still 100 here.
    Video.objects.filter(pk=video.pk).update(progress=90)
    seen = api("get", f"/v1/videos/{api_id(video)}").json()
    assert (seen["status"], seen["progress"]) == ("in_progress", 100)

    # Saving failed for good: failed, saying why.
    Video.objects.filter(pk=video.pk).update(next_poll_at=None, archive_error="disk full")
    seen = api("get", f"/v1/videos/{api_id(video)}").json()
    assert seen["status"] == "failed" and seen["error"]["code"] == "not_archived"
    assert "disk full" in seen["error"]["message"]

    # Saved: completed, and nothing expires.
    Video.objects.filter(pk=video.pk).update(
        archived_at=timezone.now(), archive_error="", video_file="videos/test/video.mp4"
    )
    seen = api("get", f"/v1/videos/{api_id(video)}").json()
    assert (seen["status"], seen["progress"], seen["expires_at"]) == ("completed", 100, None)
    assert seen["completed_at"] is not None and seen["error"] is None


# --- Creating -----------------------------------------------------------------------------------


def test_an_idempotency_key_makes_a_retried_post_the_same_job(
    api: Any,
    provider: ProviderClient,
    simulator: Simulator,
    owner: User,
    teammate: User,
    client: Client,
) -> None:
    key = {"Idempotency-Key": "batch-7/row-12"}
    first = api("post", "/v1/videos", SORA, headers=key).json()
    again = api("post", "/v1/videos", SORA, headers=key).json()
    assert again["id"] == first["id"] and again["status"] == "queued"
    assert Video.objects.count() == 1
    # Retried after the team's points ran out: still the job the first one made.
    simulator.ledger.set_balance(0)
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(out_of_points_since=timezone.now())
    assert api("post", "/v1/videos", SORA, headers=key).json()["id"] == first["id"]
    error_of(api("post", "/v1/videos", SORA, headers={"Idempotency-Key": "new"}), 402)
    simulator.ledger.set_balance(10**6)
    # Another key, or none: new jobs.
    other = api("post", "/v1/videos", SORA, headers={"Idempotency-Key": "batch-7/row-13"})
    plain = api("post", "/v1/videos", SORA)
    assert len({first["id"], other.json()["id"], plain.json()["id"]}) == 3
    # The same key from another member's token is theirs, not hers.
    _theirs, raw = token_create(user=teammate, name="theirs")
    theirs = client.post("/v1/videos", json.dumps(SORA), content_type="application/json",
                         headers={"Authorization": f"Bearer {raw}", **key})  # fmt: skip
    assert theirs.status_code == 200 and theirs.json()["id"] != first["id"]
    # Remixes and extensions take the key too.
    source = a_video(owner=owner)
    remix = [
        api("post", f"/v1/videos/{api_id(source)}/remix", {"prompt": "in snow"},
            headers={"Idempotency-Key": "remix-1"}).json()["id"]
        for _ in range(2)
    ]  # fmt: skip
    extension = [
        api("post", "/v1/videos/extensions", {"video": {"id": api_id(source)}, "prompt": "on",
            "seconds": 4}, headers={"Idempotency-Key": "extend-1"}).json()["id"]
        for _ in range(2)
    ]  # fmt: skip
    assert remix[0] == remix[1] and extension[0] == extension[1] and remix[0] != extension[0]
    assert Video.objects.filter(parent=source).count() == 2


def noise_png(megabytes: float) -> bytes:
    """A PNG that does not compress: about `megabytes` large."""
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def test_a_base64_image_larger_than_djangos_form_cap_is_taken(
    api: Any, provider: ProviderClient, settings: Any
) -> None:
    image = noise_png(3)
    body = {**SORA, "input_image": "data:image/png;base64," + base64.b64encode(image).decode()}
    assert len(json.dumps(body)) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = api("post", "/v1/videos", body)
    assert response.status_code == 200, response.content[:300]
    assert Video.objects.get().reference_image


def test_a_body_past_the_cap_is_413_saying_what_fits(api: Any, provider: ProviderClient) -> None:
    image = noise_png(9)  # under the 10 MB for a file; in base64, past the 11 MB body
    response = api("post", "/v1/videos", {**SORA, "input_image": base64.b64encode(image).decode()})
    error = error_of(response, 413)
    assert error["metadata"]["reason"] == "request_too_large"
    assert "at most 10 MB as a file" in error["message"]
    assert "about 8 MB in base64" in error["message"]
    assert not Video.objects.exists()


def test_paging_on_after_deleting_the_last_video_seen_keeps_its_place(
    api: Any, owner: User, teammate: User
) -> None:
    now = timezone.now()
    videos = [a_video(owner=owner) for _ in range(5)]
    for n, video in enumerate(videos):  # newest first (created_at is auto_now_add)
        Video.objects.filter(pk=video.pk).update(created_at=now - timedelta(minutes=n))
    hidden = a_video(owner=teammate, private=True)
    first = api("get", "/v1/videos?limit=2").json()
    assert [v["id"] for v in first["data"]] == [api_id(v) for v in videos[:2]]
    api("delete", f"/v1/videos/{first['last_id']}")
    rest = api("get", f"/v1/videos?limit=10&after={first['last_id']}").json()
    assert [v["id"] for v in rest["data"]] == [api_id(v) for v in videos[2:]]
    assert not rest["has_more"]
    # Another member's private video is no cursor, deleted or not.
    error_of(api("get", f"/v1/videos?after={api_id(hidden)}"), 400)


# --- Marked on the member's pages -------------------------------------------------------------


def test_a_job_made_through_the_api_is_marked_with_its_tokens_name(
    api: Any, provider: ProviderClient, owner: User, client: Client
) -> None:
    made = api("post", "/v1/videos", {**SORA, "visibility": "team"}).json()
    assert made["made_through_api"] is True
    video = Video.objects.get()
    assert video.api_token_name == "notebook" and video.visibility == "team"
    by_hand = a_video(owner=owner, prompt="made in the browser")
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.COMPLETED, archived_at=timezone.now(), progress=100,
        video_file="videos/test/video.mp4", next_poll_at=None,
    )  # fmt: skip
    client.force_login(owner)

    listing = client.get("/").content.decode()
    card = listing.split(f'id="video-{video.pk}"')[1].split("</article>")[0]
    assert "via API · notebook" in card
    hand_card = listing.split(f'id="video-{by_hand.pk}"')[1].split("</article>")[0]
    assert "via API" not in hand_card
    gallery = client.get("/gallery/").content.decode()
    card = gallery.split(f'id="gallery-{video.pk}"')[1].split("</article>")[0]
    assert "via API · notebook" in card
    assert "via API" not in gallery.split(f'id="gallery-{by_hand.pk}"')[1].split("</article>")[0]
    detail = client.get(f"/videos/{video.pk}/").content.decode()
    assert '<dt>Made</dt><dd class="via-api">via API · notebook</dd>' in detail
    assert "<dt>Made</dt>" not in client.get(f"/videos/{by_hand.pk}/").content.decode()


# --- Junk, never a 500 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("[1, 2]", "application/json", 400),
        ("null", "application/json", 400),
        ('{"model": "Sora-2", "prompt": ', "application/json", 400),
        ("\xff\xfe", "application/json", 400),
        ('{"model": 5, "prompt": "x"}', "application/json", 400),
        ('{"model": ["Sora-2"], "prompt": "x"}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": {"a": 1}}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "seconds": true}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "seconds": 4.5}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "seconds": "four"}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "size": [720, 1280]}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "input_image": 12}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "input_image": "data:,"}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "visibility": ["team"]}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "x", "visibility": {}}', "application/json", 400),
        ('{"model": "Sora-2", "prompt": "\\u0000"}', "application/json", 400),
        ("model=Sora-2", "application/x-www-form-urlencoded", 400),
        ("model: Sora-2", "text/plain", 400),
        ("", "application/json", 400),
    ],
)
def test_junk_in_a_create_is_400_in_the_error_shape(
    api: Any, provider: ProviderClient, body: str, content_type: str, status: int
) -> None:
    response = api("post", "/v1/videos", data=body, content_type=content_type)
    error_of(response, status)
    assert not Video.objects.exists()


def test_junk_anywhere_else_is_4xx_in_the_error_shape(
    api: Any, provider: ProviderClient, owner: User
) -> None:
    source = a_video(owner=owner)
    sid = api_id(source)
    extend = "/v1/videos/extensions"
    asks: list[tuple[str, str, Any, int]] = [
        ("get", "/v1/videos?limit=abc", None, 400),
        ("get", "/v1/videos?limit=0", None, 400),
        ("get", "/v1/videos?limit=101", None, 400),
        ("get", "/v1/videos?after=junk", None, 400),
        ("get", "/v1/videos?order=up", None, 400),
        ("get", "/v1/videos/junk", None, 404),
        ("get", "/v1/videos/video_" + "z" * 32, None, 404),
        ("get", f"/v1/videos/{sid}/content?variant=poster", None, 400),
        ("get", "/v1/videos/junk/content", None, 404),
        ("delete", "/v1/videos/junk", None, 404),
        ("put", f"/v1/videos/{sid}", None, 405),
        ("post", f"/v1/videos/{sid}/remix", {}, 400),
        ("post", f"/v1/videos/{sid}/remix", {"prompt": ["x"]}, 400),
        ("post", f"/v1/videos/{sid}/remix", {"prompt": "x", "visibility": "all"}, 400),
        ("post", "/v1/videos/junk/remix", {"prompt": "x"}, 404),
        ("post", extend, {}, 400),
        ("post", extend, {"video": "x", "prompt": "p"}, 400),
        ("post", extend, {"video": {"id": 5}, "prompt": "p"}, 400),
        ("post", extend, {"video": {"id": sid}, "prompt": "p", "seconds": 7}, 400),
        ("post", extend, {"video": {"id": sid}, "prompt": "p", "seconds": 99}, 400),
        ("post", extend, {"video": {"id": sid}}, 400),
        ("post", "/v1/models", {}, 405),
    ]  # fmt: skip
    for method, path, body, status in asks:
        response = api(method, path, body) if body is not None else api(method, path)
        error = error_of(response, status)
        assert "__all__" not in json.dumps(error), (path, error)
    assert not Video.objects.exclude(pk=source.pk).exists()


# --- After review -------------------------------------------------------------------------


def test_ids_are_only_as_the_studio_writes_them(api: Any, owner: User) -> None:
    video = a_video(owner=owner)
    good = api_id(video)
    assert api("get", f"/v1/videos/{good}").status_code == 200
    hexed = good.removeprefix("video_")
    for other in (good.upper(), f"video_{{{hexed}}}", f"video_urn:uuid:{hexed}", f"{good}0"):
        error_of(api("get", f"/v1/videos/{other}"), 404)
    deleted = api("delete", f"/v1/videos/{good}").json()
    assert deleted == {"id": good, "object": "video.deleted", "deleted": True}


def test_a_teammates_video_is_403_to_delete_in_flight_or_not_and_ones_own_409(
    api: Any, owner: User, teammate: User
) -> None:
    for theirs in (a_video(owner=teammate), a_video(owner=teammate, running=True)):
        error = error_of(api("delete", f"/v1/videos/{api_id(theirs)}"), 403)
        assert error["metadata"]["reason"] == "not_yours"
    mine = a_video(owner=owner, running=True)
    error = error_of(api("delete", f"/v1/videos/{api_id(mine)}"), 409)
    assert error["metadata"]["reason"] == "in_flight"


def test_json_nested_past_any_use_is_400(api: Any) -> None:
    response = api("post", "/v1/videos", data=b"[" * 100_000, content_type="application/json")
    assert error_of(response, 400)["metadata"]["reason"] == "invalid_json"


def test_a_completed_job_nothing_more_is_tried_for_reads_failed(api: Any, owner: User) -> None:
    """Not saved, and nothing will try again (even without a word why): a script's poll
    must end."""
    video = a_video(owner=owner, archived_at=None, video_file="", next_poll_at=None,
                    archive_error="")  # fmt: skip
    seen = api("get", f"/v1/videos/{api_id(video)}").json()
    assert seen["status"] == "failed" and seen["error"]["code"] == "not_archived"


def test_a_private_source_of_a_shared_remix_is_not_named(
    api: Any, owner: User, teammate: User
) -> None:
    private = a_video(owner=teammate, private=True)
    shared = a_video(owner=teammate, kind="remix", parent=private, root=private)
    assert api("get", f"/v1/videos/{api_id(shared)}").json()["remixed_from_video_id"] is None
    mine = a_video(owner=owner, private=True)
    remix = a_video(owner=owner, kind="remix", parent=mine, root=mine)
    seen = api("get", f"/v1/videos/{api_id(remix)}").json()
    assert seen["remixed_from_video_id"] == api_id(mine)


def test_an_idempotency_key_is_the_same_job_on_its_own_endpoint_only(
    api: Any, provider: ProviderClient, owner: User
) -> None:
    source = a_video(owner=owner)
    key = {"Idempotency-Key": "k-1"}
    made = api("post", "/v1/videos", SORA, headers=key).json()
    remix = api("post", f"/v1/videos/{api_id(source)}/remix", {"prompt": "noir"}, headers=key)
    assert remix.status_code == 200 and remix.json()["id"] != made["id"]
    assert remix.json()["remixed_from_video_id"] == api_id(source)


def test_the_list_pages_oldest_first_with_order_asc(api: Any, owner: User) -> None:
    videos = [a_video(owner=owner) for _ in range(5)]
    start = timezone.now() - timedelta(hours=1)
    for index, video in enumerate(videos):
        Video.objects.filter(pk=video.pk).update(created_at=start + timedelta(minutes=index))
    seen, after = [], ""
    while True:
        query = {"order": "asc", "limit": "2", **({"after": after} if after else {})}
        page = api("get", "/v1/videos", data=query).json()
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == [api_id(video) for video in videos]
    error_of(api("get", "/v1/videos", data={"order": "sideways"}), 400)


def test_a_job_in_flight_says_when_to_ask_again(api: Any, owner: User) -> None:
    soon = a_video(owner=owner, running=True, next_poll_at=timezone.now() + timedelta(seconds=6))
    response = api("get", f"/v1/videos/{api_id(soon)}")
    assert 6_000 <= int(response["openai-poll-after-ms"]) <= 7_100
    now = a_video(owner=owner, running=True, next_poll_at=timezone.now())
    assert api("get", f"/v1/videos/{api_id(now)}")["openai-poll-after-ms"] == "2000"
    later = a_video(owner=owner, running=True, next_poll_at=timezone.now() + timedelta(hours=1))
    assert api("get", f"/v1/videos/{api_id(later)}")["openai-poll-after-ms"] == "15000"
    done = a_video(owner=owner)
    assert "openai-poll-after-ms" not in api("get", f"/v1/videos/{api_id(done)}")


def test_extending_an_unknown_video_is_404_and_no_video_400(api: Any) -> None:
    error_of(api("post", "/v1/videos/extensions", {"video": {"id": "abc"}, "prompt": "on"}), 404)
    missing = api("post", "/v1/videos/extensions", {"prompt": "and then"})
    assert error_of(missing, 400)["metadata"]["reason"] == "missing_field"


def test_the_tokens_page_names_the_address_the_member_reached(client: Client, owner: User) -> None:
    client.force_login(owner)
    page = client.get("/account/tokens/", HTTP_HOST="localhost:8011").content.decode()
    assert "<code>http://localhost:8011/v1</code>" in page


def test_a_job_made_through_the_api_tells_its_owner_when_it_is_ready(
    api: Any, provider: ProviderClient, owner: User
) -> None:
    from videostudio.notifications.models import Notification
    from videostudio.videos import states

    made = api("post", "/v1/videos", SORA).json()
    video = Video.objects.get(uid=uuid.UUID(hex=made["id"].removeprefix("video_")))
    Video.objects.filter(pk=video.pk).update(status=Video.Status.IN_PROGRESS)
    video.refresh_from_db()
    now = timezone.now()
    assert states.video_observed(
        video,
        fields={"status": Video.Status.COMPLETED, "archived_at": now,
                "video_file": "videos/x/video.mp4"},
    )  # fmt: skip
    told = Notification.objects.filter(recipient=owner).values_list("event__kind", flat=True)
    assert list(told) == ["video.completed"]
