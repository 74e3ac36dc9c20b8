"""Content for benchmarks and flaky networks: byte ranges, downloads cut short, stock clips."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image

from videostudio.simulator import Simulator
from videostudio.videos.sprites import sprite_grid

from ..conftest import FakeClock
from .kit import assert_error, create, finish, make_api, make_sim, over_http


@pytest.fixture(params=["in-process", "loopback"])
def content_api(request: pytest.FixtureRequest, sim: Simulator) -> Iterator[httpx.Client]:
    """An API client to `sim`, in-process or through a real socket."""
    if request.param == "in-process":
        with make_api(sim) as api:
            yield api
    else:
        with over_http(sim) as api:
            yield api


def finished(api: httpx.Client, clock: FakeClock, **body: object) -> str:
    video_id: str = create(api, **body)["id"]
    finish(clock)
    return video_id


def test_it_answers_a_single_byte_range_with_206(
    content_api: httpx.Client, sim_clock: FakeClock
) -> None:
    url = f"/videos/{finished(content_api, sim_clock)}/content"
    whole = content_api.get(url)
    body = whole.content
    size = len(body)
    assert whole.headers["Accept-Ranges"] == "bytes"

    for header, first, last in [
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, size - 1),
        (f"bytes=10-{size * 2}", 10, size - 1),
        (f"bytes={size - 1}-", size - 1, size - 1),
        ("Bytes = 0 - 0", 0, 0),
    ]:
        part = content_api.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert int(part.headers["Content-Length"]) == last - first + 1
        assert part.content == body[first : last + 1]
        assert part.headers["Content-Type"] == "video/mp4"

    thumbnail = content_api.get(
        url, params={"variant": "thumbnail"}, headers={"Range": "bytes=0-3"}
    )
    assert (thumbnail.status_code, thumbnail.content) == (206, b"RIFF")


def test_a_range_past_the_end_is_416(content_api: httpx.Client, sim_clock: FakeClock) -> None:
    url = f"/videos/{finished(content_api, sim_clock)}/content"
    size = len(content_api.get(url).content)

    for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}"):
        response = content_api.get(url, headers={"Range": header})
        assert_error(response, 416, "invalid_request_error")
        assert response.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize(
    "header", ["bytes=-100", "bytes=0-9,20-29", "items=0-9", "bytes=9-0", "bytes=x-", "bytes"]
)
def test_a_range_it_does_not_read_gets_the_whole_file(
    content_api: httpx.Client, sim_clock: FakeClock, header: str
) -> None:
    url = f"/videos/{finished(content_api, sim_clock)}/content"
    body = content_api.get(url).content

    response = content_api.get(url, headers={"Range": header})

    assert response.status_code == 200
    assert "Content-Range" not in response.headers
    assert response.content == body


def test_a_cut_download_ends_short_in_process(
    api: httpx.Client, sim: Simulator, sim_clock: FakeClock
) -> None:
    url = f"/videos/{finished(api, sim_clock)}/content"
    body = api.get(url).content
    sim.inject_cut(count=2, after_bytes=1000)

    with api.stream("GET", url) as cut:
        received = b"".join(cut.iter_bytes())
        assert int(cut.headers["Content-Length"]) == len(body)  # it promised the whole file
    assert received == body[:1000]

    with api.stream("GET", url, headers={"Range": "bytes=1000-"}) as cut_range:
        received = b"".join(cut_range.iter_bytes())
        assert cut_range.status_code == 206
        assert int(cut_range.headers["Content-Length"]) == len(body) - 1000
    assert received == body[1000:2000]

    assert api.get(url).content == body
    assert sim.stats()["cut"] == 2


def test_a_cut_download_closes_the_socket_early_over_http(
    sim: Simulator, sim_clock: FakeClock
) -> None:
    with over_http(sim) as api:
        url = f"/videos/{finished(api, sim_clock)}/content"
        body = api.get(url).content
        sim.inject_cut(after_bytes=1000)

        with pytest.raises(
            httpx.RemoteProtocolError, match=f"received 1000 bytes, expected {len(body)}"
        ):
            api.get(url)

        assert api.get(url).content == body


def test_a_cut_longer_than_the_body_lets_it_through(
    api: httpx.Client, sim: Simulator, sim_clock: FakeClock
) -> None:
    url = f"/videos/{finished(api, sim_clock)}/content"
    sim.inject_cut(after_bytes=10**9)

    response = api.get(url, params={"variant": "thumbnail"})

    assert int(response.headers["Content-Length"]) == len(response.content)
    assert sim.stats()["cut"] == 1


def test_it_refuses_a_cut_it_cannot_make(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="count"):
        sim.inject_cut(count=0, after_bytes=10)
    with pytest.raises(ValueError, match="after_bytes"):
        sim.inject_cut(after_bytes=-1)


def test_stock_media_renders_one_clip_per_size_and_length(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, stock_media=True)
    with make_api(sim) as api:
        same = [create(api, prompt=f"Take {n}", seconds=4)["id"] for n in range(3)]
        longer = create(api, prompt="Take 4", seconds=8)["id"]
        finish(sim_clock)
        same.append(api.post(f"/videos/{same[0]}/remix", json={"prompt": "Again"}).json()["id"])
        finish(sim_clock)

        videos = {api.get(f"/videos/{video_id}/content").content for video_id in same}
        assert len(videos) == 1
        assert api.get(f"/videos/{longer}/content").content not in videos
        for variant in ("thumbnail", "spritesheet"):
            files = {
                api.get(f"/videos/{video_id}/content", params={"variant": variant}).content
                for video_id in same
            }
            assert len(files) == 1

    rendered = sorted(path.suffix for path in cache_dir.iterdir())
    assert rendered == [".jpg", ".mp4", ".mp4", ".webp"]

    # Real files, as the app reads them: H.264 of the job's shape, a WebP, a sprite grid.
    with av.open(io.BytesIO(videos.pop()), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (720, 1280)
        assert container.duration is not None
        assert container.duration / 1_000_000 == pytest.approx(4, abs=0.25)
    sheet = next(path for path in cache_dir.iterdir() if path.suffix == ".jpg")
    grid = sprite_grid(sheet, "720x1280")
    assert grid is not None and (grid.columns, grid.rows, grid.frames) == (5, 2, 10)
    thumbnail = next(path for path in cache_dir.iterdir() if path.suffix == ".webp")
    with Image.open(thumbnail) as image:
        assert (image.format, image.width) == ("WEBP", 360)
