"""The simulator's media (real H.264, thumbnails, spritesheets), remixes and extensions."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from videostudio.simulator import Simulator
from videostudio.simulator.jobs import MAX_ID_CHARS

from ..conftest import FakeClock
from .kit import (
    EXPIRE,
    QUEUE,
    assert_error,
    create,
    finish,
    make_api,
    make_sim,
)


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
