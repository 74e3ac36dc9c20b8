"""The simulator speaks Poe's Videos API contract, statelessly, with real media."""

from __future__ import annotations

import base64
import contextlib
import io
import select
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from videostudio.simulator import DEFAULT_STARTING_BALANCE, Simulator, serve
from videostudio.simulator import catalog as sim_catalog
from videostudio.simulator.__main__ import Injection, build_parser
from videostudio.simulator.jobs import MAX_ID_CHARS

from .conftest import FakeClock

START = 1_790_000_000.0
QUEUE = 2.0
RENDER = 10.0
EXPIRE = 3600.0
AUTH = {"Authorization": "Bearer sk-sim-test"}


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "sim-cache"


def make_sim(clock: FakeClock, cache_dir: Path, **kwargs: Any) -> Simulator:
    options: dict[str, Any] = {
        "clock": clock,
        "queue_seconds": QUEUE,
        "render_seconds": RENDER,
        "expire_seconds": EXPIRE,
        "cache_dir": cache_dir,
        "fps": 6,
    }
    options.update(kwargs)
    return Simulator(**options)


def make_api(sim: Simulator, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(
        transport=sim.transport(),
        base_url="http://simulator.test/v1",
        headers=AUTH if headers is None else headers,
    )


@pytest.fixture
def sim(sim_clock: FakeClock, cache_dir: Path) -> Simulator:
    return make_sim(sim_clock, cache_dir)


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with make_api(sim) as client:
        yield client


def png(size: tuple[int, int] = (32, 24), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("model", "Sora-2")
    body.setdefault("prompt", "A lighthouse in a storm")
    response = api.post("/videos", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def assert_error(
    response: httpx.Response,
    status: int,
    error_type: str,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == status
    assert error["type"] == error_type
    assert error["metadata"] == (metadata or {})
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def finish(clock: FakeClock) -> None:
    clock.advance(QUEUE + RENDER + 0.01)


# ----- creating ---------------------------------------------------------------------
def test_it_creates_a_queued_video_from_json(api: httpx.Client) -> None:
    video = create(api, model="Sora-2", prompt="A fox", seconds=8, size="1280x720")

    assert video["id"].startswith("video_")
    assert len(video["id"]) <= MAX_ID_CHARS
    assert video["object"] == "video"
    assert video["status"] == "queued"
    assert video["created_at"] == int(START)
    assert video["completed_at"] is None
    assert video["expires_at"] is None
    assert video["model"] == "Sora-2"
    assert video["progress"] == 0
    assert video["seconds"] == 8
    assert video["size"] == "1280x720"
    assert video["remixed_from_video_id"] is None
    assert video["error"] is None


def test_it_creates_a_video_from_multipart_with_a_reference_image(api: httpx.Client) -> None:
    response = api.post(
        "/videos",
        data={"model": "veo-3", "prompt": "The dog jumps", "seconds": "4", "size": "720x1280"},
        files={"input_reference": ("dog.png", png(), "image/png")},
    )

    assert response.status_code == 200, response.text
    video = response.json()
    assert (video["model"], video["seconds"], video["status"]) == ("Veo-3", 4, "queued")


def test_it_accepts_a_base64_image_and_rejects_one_pillow_cannot_read(api: httpx.Client) -> None:
    encoded = base64.b64encode(png()).decode()
    assert create(api, input_image=encoded)["status"] == "queued"
    assert create(api, input_image=f"data:image/png;base64,{encoded}")["status"] == "queued"

    junk = base64.b64encode(b"not an image").decode()
    response = api.post("/videos", json={"model": "Sora-2", "prompt": "x", "input_image": junk})
    assert "image" in assert_error(response, 400, "invalid_request_error")["message"]

    response = api.post(
        "/videos",
        data={"model": "Sora-2", "prompt": "x"},
        files={"input_reference": ("x.png", b"garbage", "image/png")},
    )
    assert_error(response, 400, "invalid_request_error")


def test_it_applies_each_models_defaults(api: httpx.Client) -> None:
    sora = create(api, model="Sora-2")
    veo = create(api, model="Veo-3.1-Fast")

    assert (sora["seconds"], sora["size"]) == (4, "720x1280")
    assert (veo["seconds"], veo["size"]) == (8, "720x1280")
    assert create(api, model="sora-2-pro", seconds="12")["seconds"] == 12


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": "x"}, "model"),
        ({"model": "Sora-2"}, "prompt"),
        ({"model": "Sora-2", "prompt": "   "}, "prompt"),
        ({"model": "Sora-2", "prompt": "x", "seconds": 5}, "seconds"),
        ({"model": "Veo-2", "prompt": "x", "seconds": 12}, "seconds"),
        ({"model": "Sora-2", "prompt": "x", "seconds": "four"}, "seconds"),
        ({"model": "Sora-2", "prompt": "x", "seconds": True}, "seconds"),
        ({"model": "Sora-2", "prompt": "x", "size": "big"}, "size"),
        ({"model": "Sora-2", "prompt": "x", "size": "1024x1792"}, "size"),
        ({"model": "Sora-2", "prompt": "x", "input_image": "***"}, "base64"),
    ],
)
def test_it_rejects_invalid_create_requests(
    api: httpx.Client, body: dict[str, Any], words: str
) -> None:
    error = assert_error(api.post("/videos", json=body), 400, "invalid_request_error")
    assert words in error["message"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
def test_it_rejects_a_body_that_is_not_a_json_object(api: httpx.Client, content: bytes) -> None:
    response = api.post("/videos", content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request_error")


def test_it_reads_url_encoded_forms_and_json_mislabelled_as_a_form(api: httpx.Client) -> None:
    form = api.post("/videos", data={"model": "Veo-2", "prompt": "A form", "seconds": "6"})
    assert (form.status_code, form.json()["seconds"]) == (200, 6)

    curl_style = api.post(
        "/videos",
        content=b'{"model": "Sora-2", "prompt": "curl -d"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (curl_style.status_code, curl_style.json()["model"]) == (200, "Sora-2")


# ----- the timeline -----------------------------------------------------------------
def test_it_moves_from_queued_through_in_progress_to_completed(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    video_id = create(api, model="Sora-2", seconds=4)["id"]

    def poll() -> dict[str, Any]:
        data: dict[str, Any] = api.get(f"/videos/{video_id}").json()
        return data

    sim_clock.advance(QUEUE - 0.5)
    assert (poll()["status"], poll()["progress"]) == ("queued", 0)

    sim_clock.advance(0.5)
    seen = []
    for _ in range(4):
        video = poll()
        assert video["status"] == "in_progress"
        seen.append(video["progress"])
        sim_clock.advance(RENDER / 4 - 0.01)
    assert seen == sorted(seen)
    assert seen[0] == 0
    assert seen[-1] >= 70
    assert all(p <= 99 for p in seen)

    sim_clock.advance(1)
    video = poll()
    done = int(START + QUEUE + RENDER)
    assert video["status"] == "completed"
    assert video["progress"] == 100
    assert video["completed_at"] == done
    assert video["expires_at"] == done + int(EXPIRE)
    assert video["usage"] == {"cost_points": 4 * 3000}


def test_it_fails_a_job_whose_prompt_carries_the_fail_marker(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    video_id = create(api, prompt="A crash [FAIL] please")["id"]
    sim_clock.advance(QUEUE + 1)
    assert api.get(f"/videos/{video_id}").json()["status"] == "in_progress"

    finish(sim_clock)
    video = api.get(f"/videos/{video_id}").json()

    assert video["status"] == "failed"
    assert set(video["error"]) >= {"code", "message"}
    assert video["completed_at"] is None
    assert_error(api.get(f"/videos/{video_id}/content"), 404, "not_found")


# ----- errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "insufficient_credits"),
        (404, "not_found"),
        (429, "rate_limit_error"),
        (500, "provider_error"),
    ],
)
def test_it_answers_a_prompt_error_marker_at_once(
    api: httpx.Client, sim: Simulator, status: int, error_type: str
) -> None:
    response = api.post("/videos", json={"model": "Sora-2", "prompt": f"x [error:{status}]"})

    assert_error(response, status, error_type)
    assert response.headers.get("Retry-After") == ("1" if status == 429 else None)
    assert sim.ledger.balance == DEFAULT_STARTING_BALANCE  # nothing was charged


def test_it_answers_injected_errors_for_matching_requests_then_recovers(
    api: httpx.Client, sim: Simulator
) -> None:
    video_id = create(api)["id"]
    sim.inject_error(429, count=2, path_contains="/videos/video_", retry_after="3")
    sim.inject_error(503, path_contains="/models")

    assert api.get("/usage/current_balance").status_code == 200  # not matching: untouched
    for _ in range(2):
        response = api.get(f"/videos/{video_id}")
        assert_error(response, 429, "rate_limit_error")
        assert response.headers["Retry-After"] == "3"
    assert api.get(f"/videos/{video_id}").status_code == 200

    assert_error(api.get("/models"), 503, "provider_error")
    assert api.get("/models").status_code == 200

    sim.inject_error(429)
    assert api.get("/models").headers["Retry-After"] == "1"


def test_it_requires_a_bearer_token_and_checks_it_when_configured(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    open_sim = make_sim(sim_clock, cache_dir)
    with make_api(open_sim, headers={}) as anonymous:
        assert_error(anonymous.get("/models"), 401, "authentication_error")
        basic = {"Authorization": "Basic dXNlcjpwdw=="}
        assert_error(anonymous.get("/models", headers=basic), 401, "authentication_error")
    with make_api(open_sim, headers={"Authorization": "Bearer anything"}) as anyone:
        assert anyone.get("/models").status_code == 200

    locked = make_sim(sim_clock, cache_dir, api_key="right")
    with make_api(locked, headers={"Authorization": "Bearer wrong"}) as wrong:
        assert_error(wrong.get("/models"), 401, "authentication_error")
    with make_api(locked, headers={"Authorization": "Bearer right"}) as right:
        assert right.get("/models").status_code == 200


def test_it_answers_unknown_paths_wrong_methods_and_junk_ids_with_envelopes(
    api: httpx.Client,
) -> None:
    assert_error(api.get("/nothing/here"), 404, "not_found")
    response = api.delete("/videos")
    assert_error(response, 405, "invalid_request_error")
    assert response.headers["Allow"] == "POST"
    assert_error(api.get("/videos/video_junk"), 404, "not_found")
    assert_error(api.get("/videos/not-even-prefixed/content"), 404, "not_found")

    real = create(api)["id"]
    tampered = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
    assert_error(api.get(f"/videos/{tampered}"), 404, "not_found")


def test_it_answers_500_instead_of_a_traceback(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> dict[str, object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim_catalog, "models_payload", explode)

    error = assert_error(api.get("/models"), 500, "provider_error")
    assert "boom" not in error["message"]


# ----- content ----------------------------------------------------------------------
def test_it_serves_a_real_mp4_thumbnail_and_spritesheet(
    api: httpx.Client, sim_clock: FakeClock, cache_dir: Path
) -> None:
    video_id = create(api, model="Sora-2", seconds=4, size="1280x720")["id"]
    finish(sim_clock)

    response = api.get(f"/videos/{video_id}/content")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert int(response.headers["Content-Length"]) == len(response.content)
    with av.open(io.BytesIO(response.content), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (1280, 720)
        assert container.duration is not None
        assert container.duration / 1_000_000 == pytest.approx(4, abs=0.25)
        assert len(list(container.decode(stream))) == 4 * 6
    # moov before mdat (faststart): a browser can seek before the whole file arrives
    assert response.content.find(b"moov") < response.content.find(b"mdat")

    thumbnail = api.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
    assert thumbnail.headers["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert image.format == "WEBP"
        assert image.width == 360
        assert image.height in (202, 203)  # 360 * 720 / 1280, rounded

    sheet = api.get(f"/videos/{video_id}/content", params={"variant": "spritesheet"})
    assert sheet.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(sheet.content)) as image:
        assert image.format == "JPEG"

    # Rendered once, cached, and no temporary files left behind.
    assert api.get(f"/videos/{video_id}/content").content == response.content
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".jpg", ".mp4", ".webp"]


def test_it_refuses_content_before_completion_after_expiry_and_for_bad_variants(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    video_id = create(api)["id"]
    assert_error(api.get(f"/videos/{video_id}/content"), 400, "invalid_request_error")
    sim_clock.advance(QUEUE + 1)
    assert_error(api.get(f"/videos/{video_id}/content"), 400, "invalid_request_error")

    finish(sim_clock)
    bad = api.get(f"/videos/{video_id}/content", params={"variant": "gif"})
    assert_error(bad, 400, "invalid_request_error")
    thumb = api.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
    assert thumb.status_code == 200

    sim_clock.advance(EXPIRE + 1)
    assert_error(api.get(f"/videos/{video_id}/content"), 404, "not_found")
    assert api.get(f"/videos/{video_id}").json()["status"] == "completed"


def test_it_renders_one_file_safely_for_two_instances_sharing_a_cache(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    one, two = make_sim(sim_clock, cache_dir), make_sim(sim_clock, cache_dir)
    with make_api(one) as api:
        video_id = create(api)["id"]
    finish(sim_clock)

    def fetch(sim: Simulator) -> bytes:
        with make_api(sim) as client:
            response = client.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
            assert response.status_code == 200
            return response.content

    with ThreadPoolExecutor(max_workers=4) as pool:
        bodies = list(pool.map(fetch, [one, two, one, two]))

    assert len(set(bodies)) == 1
    assert [p.suffix for p in cache_dir.iterdir()] == [".webp"]


# ----- remix and extensions ----------------------------------------------------------
def test_it_remixes_a_sora_video_and_names_its_source(api: httpx.Client) -> None:
    source = create(api, model="Sora-2-Pro", seconds=8, size="1792x1024")

    response = api.post(f"/videos/{source['id']}/remix", json={"prompt": "As anime"})

    assert response.status_code == 200, response.text
    remix = response.json()
    assert remix["id"] != source["id"]
    assert remix["remixed_from_video_id"] == source["id"]
    assert (remix["model"], remix["seconds"], remix["size"]) == ("Sora-2-Pro", 8, "1792x1024")
    assert remix["status"] == "queued"
    again = api.get(f"/videos/{remix['id']}").json()
    assert again["remixed_from_video_id"] == source["id"]


def test_it_refuses_to_remix_veo_unknown_or_promptless_videos(api: httpx.Client) -> None:
    veo = create(api, model="Veo-3")["id"]
    sora = create(api)["id"]

    assert_error(
        api.post(f"/videos/{veo}/remix", json={"prompt": "x"}), 400, "invalid_request_error"
    )
    assert_error(api.post("/videos/video_nope/remix", json={"prompt": "x"}), 404, "not_found")
    assert_error(api.post(f"/videos/{sora}/remix", json={}), 400, "invalid_request_error")


def test_it_keeps_ids_bounded_through_long_remix_chains(api: httpx.Client) -> None:
    parent = create(api)["id"]
    exact = 0
    for _ in range(8):
        remix = api.post(f"/videos/{parent}/remix", json={"prompt": "again"}).json()
        assert len(remix["id"]) <= MAX_ID_CHARS
        exact += remix["remixed_from_video_id"] == parent
        # A parent is either named exactly or not at all: never wrongly.
        assert remix["remixed_from_video_id"] in (parent, None)
        parent = remix["id"]
    assert exact >= 6


def test_it_extends_only_completed_sora_videos_up_to_120_seconds(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    def extend(video_id: str, seconds: int | None = None) -> httpx.Response:
        body: dict[str, Any] = {"video": {"id": video_id}, "prompt": "It goes on"}
        if seconds is not None:
            body["seconds"] = seconds
        return api.post("/videos/extensions", json=body)

    source = create(api, model="Sora-2", seconds=20)
    assert_error(extend(source["id"]), 400, "invalid_request_error")  # not completed yet
    veo = create(api, model="Veo-3")
    finish(sim_clock)
    assert_error(extend(veo["id"]), 400, "invalid_request_error")
    assert_error(extend("video_missing"), 404, "not_found")
    bad_body = api.post("/videos/extensions", json={"prompt": "x"})
    assert_error(bad_body, 400, "invalid_request_error")

    current = source["id"]
    total = 20
    for _ in range(5):  # 20 + 5 * 20 = 120: exactly the cap
        response = extend(current, 20)
        assert response.status_code == 200, response.text
        extension = response.json()
        total += 20
        assert extension["seconds"] == total
        assert extension["model"] == "Sora-2"
        current = extension["id"]
        assert len(current) <= MAX_ID_CHARS
        finish(sim_clock)

    error = assert_error(extend(current, 4), 400, "invalid_request_error")
    assert "120" in error["message"]
    default = extend(source["id"]).json()
    assert default["seconds"] == 24  # the model's default 4 s of new footage


def test_it_bills_an_extension_only_for_its_new_seconds(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    source = create(api, model="Sora-2", seconds=8)
    finish(sim_clock)
    body = {"video": {"id": source["id"]}, "prompt": "more", "seconds": 4}
    extension_id = api.post("/videos/extensions", json=body).json()["id"]
    finish(sim_clock)

    assert api.get(f"/videos/{extension_id}").json()["usage"] == {"cost_points": 4 * 3000}


# ----- dialects and statelessness ----------------------------------------------------
def test_it_speaks_the_openai_dialect(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, dialect="openai")
    with make_api(sim) as api:
        video = create(api, model="Sora-2", seconds=8)
        assert video["status"] == "pending"
        assert video["seconds"] == "8"
        assert "quality" in video  # an extra field clients must ignore
        finish(sim_clock)
        done = api.get(f"/videos/{video['id']}").json()
        assert (done["status"], done["seconds"]) == ("completed", "8")


def test_it_agrees_with_another_instance_about_one_job(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    web = make_sim(sim_clock, tmp_path / "web")
    worker = make_sim(sim_clock, tmp_path / "worker")
    with make_api(web) as web_api, make_api(worker) as worker_api:
        video = create(web_api, prompt="Shared")
        for step in (0.0, QUEUE + 1, RENDER):
            sim_clock.advance(step)
            assert worker_api.get(f"/videos/{video['id']}").json() == (
                web_api.get(f"/videos/{video['id']}").json()
            )
        response = worker_api.get(f"/videos/{video['id']}/content", params={"variant": "thumbnail"})
        assert response.status_code == 200


# ----- catalog and usage -------------------------------------------------------------
def test_it_lists_the_video_models_and_some_others(api: httpx.Client) -> None:
    listing = api.get("/models").json()

    assert listing["object"] == "list"
    video = [
        m["id"] for m in listing["data"] if m["architecture"]["output_modalities"] == ["video"]
    ]
    assert video == [
        "Sora-2",
        "Sora-2-Pro",
        "Veo-2",
        "Veo-3",
        "Veo-3-Fast",
        "Veo-3.1",
        "Veo-3.1-Fast",
    ]
    assert len(listing["data"]) > len(video)
    assert all({"id", "object", "created", "owned_by"} <= set(m) for m in listing["data"])


def video_model_ids(api: httpx.Client) -> list[str]:
    listing = api.get("/models").json()["data"]
    return [m["id"] for m in listing if m["architecture"]["output_modalities"] == ["video"]]


def assert_model_not_available(response: httpx.Response, name: str) -> None:
    error = assert_error(response, 404, "not_found", {"param": "model"})
    assert error["message"] == f"Model '{name}' does not exist or is not available"


def test_it_describes_each_model_in_the_listing(api: httpx.Client) -> None:
    sora = next(m for m in api.get("/models").json()["data"] if m["id"] == "Sora-2")

    assert sora["owned_by"] == "openai"
    assert isinstance(sora["created"], int)
    assert "remix" in sora["description"]
    assert "20 seconds" in sora["description"]
    assert sora["architecture"]["modality"] == "text,image->video"


def test_it_does_not_offer_tomorrows_model_by_default(api: httpx.Client, sim: Simulator) -> None:
    assert sim.models == sim_catalog.DEFAULT_MODELS
    assert "Sora-3" not in video_model_ids(api)
    assert sim_catalog.VIDEO_MODELS[-1].name == "Sora-3"  # appended: old ids keep their model

    assert_model_not_available(
        api.post("/videos", json={"model": "sora-3", "prompt": "x"}), "sora-3"
    )
    assert_model_not_available(
        api.post("/videos", json={"model": "Dall-E-9", "prompt": "x"}), "Dall-E-9"
    )
    assert sim.ledger.balance == DEFAULT_STARTING_BALANCE


def test_it_offers_only_the_models_it_is_given(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, models=["sora-3", "VEO-3", "Veo-3"])
    with make_api(sim) as api:
        assert sim.models == ("Veo-3", "Sora-3")
        assert video_model_ids(api) == ["Veo-3", "Sora-3"]
        assert "Claude-Sonnet-4.5" in [m["id"] for m in api.get("/models").json()["data"]]

        video = create(api, model="Sora-3", seconds=25, size="1920x1080")
        assert (video["model"], video["seconds"], video["size"]) == ("Sora-3", 25, "1920x1080")
        assert api.get(f"/videos/{video['id']}").json()["size"] == "1920x1080"
        assert create(api, model="Sora-3")["seconds"] == 4
        too_big = {"model": "Sora-3", "prompt": "x", "size": "1792x1024"}
        assert_error(api.post("/videos", json=too_big), 400, "invalid_request_error")
        finish(sim_clock)
        remix = api.post(f"/videos/{video['id']}/remix", json={"prompt": "Again"})
        assert remix.json()["model"] == "Sora-3"

        sora2 = api.post("/videos", json={"model": "Sora-2", "prompt": "x"})
        assert_model_not_available(sora2, "Sora-2")


def test_it_keeps_todays_sizes_and_durations_for_todays_models(api: httpx.Client) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("Sora-2", {"seconds": 25}),
        ("Sora-2-Pro", {"size": "1920x1080"}),
        ("Veo-3", {"size": "1080x1920"}),
    ]
    for model, body in cases:
        response = api.post("/videos", json={"model": model, "prompt": "x", **body})
        assert_error(response, 400, "invalid_request_error")


def test_it_still_shows_old_videos_of_a_withdrawn_model(
    api: httpx.Client, sim: Simulator, sim_clock: FakeClock
) -> None:
    video_id = create(api, model="Sora-2", seconds=4)["id"]
    finish(sim_clock)

    sim.models = ["Veo-3"]

    assert video_model_ids(api) == ["Veo-3"]
    assert api.get(f"/videos/{video_id}").json()["status"] == "completed"
    thumbnail = api.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
    assert thumbnail.status_code == 200
    remix = api.post(f"/videos/{video_id}/remix", json={"prompt": "x"})
    assert_model_not_available(remix, "Sora-2")
    extension = api.post("/videos/extensions", json={"video": {"id": video_id}, "prompt": "x"})
    assert_model_not_available(extension, "Sora-2")
    assert_model_not_available(
        api.post("/videos", json={"model": "Sora-2", "prompt": "x"}), "Sora-2"
    )

    sim.models = sim_catalog.DEFAULT_MODELS
    assert api.post(f"/videos/{video_id}/remix", json={"prompt": "x"}).status_code == 200


def test_it_can_offer_no_video_model_at_all(sim_clock: FakeClock, cache_dir: Path) -> None:
    with make_api(make_sim(sim_clock, cache_dir, models=[])) as api:
        assert video_model_ids(api) == []
        assert_model_not_available(
            api.post("/videos", json={"model": "Veo-3", "prompt": "x"}), "Veo-3"
        )


def test_it_refuses_to_offer_a_model_it_does_not_know(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    with pytest.raises(ValueError, match="Sora-9"):
        make_sim(sim_clock, cache_dir, models=["Sora-2", "Sora-9"])
    with pytest.raises(TypeError):
        make_sim(sim_clock, cache_dir, models="Sora-2")


def test_it_can_play_a_provider_without_a_models_endpoint(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    with make_api(make_sim(sim_clock, cache_dir, models_endpoint=False)) as api:
        assert_error(api.get("/models"), 404, "not_found")
        assert create(api, model="Veo-3")["status"] == "queued"
        assert api.get("/usage/current_balance").status_code == 200


def test_it_charges_points_and_pages_through_history_newest_first(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    for seconds in (4, 8, 12, 16, 20):
        create(api, model="Sora-2", seconds=seconds)
        sim_clock.advance(1)

    spent = (4 + 8 + 12 + 16 + 20) * 3000
    assert api.get("/usage/current_balance").json() == {
        "current_point_balance": DEFAULT_STARTING_BALANCE - spent
    }
    assert api.get("/usage/current_balance").json() == (
        api.get("http://simulator.test/usage/current_balance").json()
    )

    first = api.get("/usage/points_history", params={"limit": 2}).json()
    assert (first["has_more"], first["length"]) == (True, 2)
    assert [e["cost_points"] for e in first["data"]] == [60_000, 48_000]
    entry = first["data"][0]
    assert entry["bot_name"] == "Sora-2"
    assert entry["usage_type"] == "API"
    assert entry["creation_time"] == int((START + 4) * 1_000_000)

    cursor = first["data"][-1]["query_id"]
    second = api.get("/usage/points_history", params={"limit": 2, "starting_after": cursor})
    assert [e["cost_points"] for e in second.json()["data"]] == [36_000, 24_000]
    cursor = second.json()["data"][-1]["query_id"]
    last = api.get("/usage/points_history", params={"limit": 2, "starting_after": cursor}).json()
    assert (last["has_more"], last["length"]) == (False, 1)

    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"starting_after": "q_nope"}):
        response = api.get("/usage/points_history", params=params)
        assert_error(response, 400, "invalid_request_error")


def test_it_answers_402_once_the_balance_cannot_pay(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, starting_balance=15_000)
    with make_api(sim) as api:
        create(api, model="Sora-2", seconds=4)  # 12,000 points
        response = api.post("/videos", json={"model": "Sora-2", "prompt": "x", "seconds": 4})
        assert_error(response, 402, "insufficient_credits")
        assert api.get("/usage/current_balance").json()["current_point_balance"] == 3000


# ----- over a real socket ------------------------------------------------------------
def test_it_serves_over_real_http_on_a_loopback_port(sim_clock: FakeClock, cache_dir: Path) -> None:
    server, thread = serve("127.0.0.1", 0, app=make_sim(sim_clock, cache_dir))
    try:
        assert server.port != 0
        assert server.url == f"http://127.0.0.1:{server.port}/v1"
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as api:
            video = create(api, prompt="Over the wire")
            finish(sim_clock)
            response = api.get(f"/videos/{video['id']}/content", params={"variant": "spritesheet"})
            assert response.status_code == 200
            assert int(response.headers["Content-Length"]) == len(response.content)
            assert_error(api.get("/videos/video_nope"), 404, "not_found")
            multipart = api.post(
                "/videos",
                data={"model": "Sora-2", "prompt": "Image"},
                files={"input_reference": ("a.png", png(), "image/png")},
            )
            assert multipart.status_code == 200, multipart.text
    finally:
        server.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


@contextlib.contextmanager
def command_line(*options: str) -> Iterator[str]:
    """Run `python -m videostudio.simulator` on a free port; yield the URL it announces."""
    command = [sys.executable, "-m", "videostudio.simulator", "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the simulator did not announce itself"
        line = process.stdout.readline().strip()
        assert line.startswith("Simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1]
        assert url.endswith("/v1")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_it_runs_from_the_command_line_and_prints_its_url() -> None:
    with command_line() as url:
        response = httpx.get(f"{url}/models", headers=AUTH, timeout=10)
        assert response.status_code == 200


def test_it_takes_models_and_injected_errors_on_the_command_line() -> None:
    options = ("--models", "Sora-3,veo-3", "--no-models-endpoint", "--inject", "503:2:/usage")
    with command_line(*options) as url, httpx.Client(base_url=url, headers=AUTH) as api:
        assert_error(api.get("/models"), 404, "not_found")
        for _ in range(2):
            assert_error(api.get("/usage/current_balance"), 503, "provider_error")
        assert api.get("/usage/current_balance").status_code == 200
        assert create(api, model="Sora-3", seconds=25)["seconds"] == 25
        assert create(api, model="Veo-3")["model"] == "Veo-3"
        refused = api.post("/videos", json={"model": "Sora-2", "prompt": "x"})
        assert_error(refused, 404, "not_found", {"param": "model"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("429", Injection(429)),
        ("500:3", Injection(500, 3)),
        ("429:2:/videos/", Injection(429, 2, "/videos/")),
        ("404::/content", Injection(404, 1, "/content")),
        ("503:1:a:b", Injection(503, 1, "a:b")),
    ],
)
def test_it_reads_error_injections_from_the_command_line(text: str, expected: Injection) -> None:
    args = build_parser().parse_args(["--inject", text, "--inject", "500"])
    assert args.inject == [expected, Injection(500)]


@pytest.mark.parametrize(
    "argv",
    [
        ["--inject", "teapot"],
        ["--inject", "200"],
        ["--inject", "429:0"],
        ["--inject", "429:x"],
        ["--models", "Sora-2,Dall-E-9"],
    ],
)
def test_it_rejects_bad_command_line_options(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_its_command_line_defaults_to_todays_models_and_the_models_endpoint() -> None:
    args = build_parser().parse_args(["--models", " sora-2 , Veo-3,"])
    assert args.models == ("sora-2", "Veo-3")
    defaults = build_parser().parse_args([])
    assert (defaults.models, defaults.models_endpoint, defaults.inject) == (None, True, [])


def test_two_simulators_with_one_ledger_file_share_a_balance_and_history(tmp_path: Path) -> None:
    """Demo mode: the web server and the worker each run a simulator; one bill."""
    path = tmp_path / "ledger.jsonl"
    web = Simulator(ledger_path=path, cache_dir=tmp_path / "a")
    worker = Simulator(ledger_path=path, cache_dir=tmp_path / "b")
    with httpx.Client(transport=web.transport(), base_url="http://sim/v1") as client:
        created = client.post(
            "/videos",
            json={"model": "Sora-2", "prompt": "shared bill", "seconds": 4},
            headers={"Authorization": "Bearer k"},
        )
        assert created.status_code == 200
    assert worker.ledger.balance == web.ledger.balance == DEFAULT_STARTING_BALANCE - 4 * 3000
    history = worker.ledger.history(limit=10, starting_after=None)
    assert [e["bot_name"] for e in history["data"]] == ["Sora-2"]
