"""A download cut short is resumed where it stopped, and still lands whole or not at all."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from videostudio.provider.errors import DownloadIncomplete
from videostudio.simulator import Simulator

from .conftest import FakeClock
from .helpers import RecordingTransport
from .simulator.kit import START, connect, make_sim
from .test_provider_download import (
    MP4,
    OLD,
    BrokenStream,
    Script,
    leftovers,
    make_client,
    media,
    truncated,
)

KEY = "sk-test-TEAMKEY-0123456789abcdef"
HALF = len(MP4) // 2


def part(
    body: bytes, first: int, *, total: int | None = None, stop: int | None = None
) -> httpx.Response:
    """A 206 with bytes `first`.. of `body`, promising them all; `stop` cuts it short there."""
    rest = body[first:]
    headers = {
        "Content-Type": "video/mp4",
        "Content-Range": f"bytes {first}-{len(body) - 1}/{len(body) if total is None else total}",
        "Content-Length": str(len(rest)),
    }
    return httpx.Response(
        206, content=rest if stop is None else rest[: stop - first], headers=headers
    )


def ranges(script: Script) -> list[str | None]:
    return [request.headers.get("range") for request in script.requests]


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "videos" / "video_1.mp4"
    path.parent.mkdir()
    path.write_bytes(OLD)
    return path


# ----- against scripted answers -------------------------------------------------------
def test_it_asks_for_the_rest_and_appends_it(dest: Path) -> None:
    sleeps: list[float] = []
    script = Script(truncated(MP4), part(MP4, HALF))

    download = make_client(script, sleeps).download_content("video_1", dest)

    assert ranges(script) == [None, f"bytes={HALF}-"]
    assert sleeps == [0.25]  # paced like any retry
    assert download.size == len(MP4)
    assert dest.read_bytes() == MP4
    assert leftovers(dest.parent) == []


def test_it_resumes_again_after_a_second_cut(dest: Path) -> None:
    quarter = len(MP4) // 4
    cut_again = part(MP4, quarter, stop=HALF)
    script = Script(
        media(MP4[:quarter], **{"Content-Length": str(len(MP4))}), cut_again, part(MP4, HALF)
    )

    make_client(script).download_content("video_1", dest)

    assert ranges(script) == [None, f"bytes={quarter}-", f"bytes={HALF}-"]
    assert dest.read_bytes() == MP4


def test_it_resumes_after_the_connection_drops_mid_file(dest: Path) -> None:
    broken = httpx.Response(
        200,
        headers={"Content-Type": "video/mp4", "Content-Length": str(len(MP4))},
        stream=BrokenStream(MP4[:100], httpx.RemoteProtocolError("peer closed connection")),
    )
    script = Script(broken, part(MP4, 100))

    make_client(script).download_content("video_1", dest)

    assert ranges(script) == [None, "bytes=100-"]
    assert dest.read_bytes() == MP4


def test_it_resumes_after_a_timeout_mid_file(dest: Path) -> None:
    stalled = httpx.Response(
        200,
        headers={"Content-Type": "video/mp4"},
        stream=BrokenStream(MP4[:100], httpx.ReadTimeout("timed out")),
    )
    script = Script(stalled, part(MP4, 100))

    make_client(script).download_content("video_1", dest)

    assert ranges(script) == [None, "bytes=100-"]
    assert dest.read_bytes() == MP4


def test_a_whole_file_instead_of_the_rest_starts_the_file_over(dest: Path) -> None:
    script = Script(truncated(MP4), media(MP4))

    make_client(script).download_content("video_1", dest)

    assert ranges(script) == [None, f"bytes={HALF}-"]
    assert dest.read_bytes() == MP4


@pytest.mark.parametrize(
    "odd",
    [
        part(MP4, HALF - 10),  # starts elsewhere
        part(MP4, HALF, total=len(MP4) + 1),  # a different file
        httpx.Response(206, content=MP4[HALF:], headers={"Content-Type": "video/mp4"}),
    ],
    ids=["elsewhere", "other-total", "no-content-range"],
)
def test_a_part_it_did_not_ask_for_starts_the_file_over(dest: Path, odd: httpx.Response) -> None:
    script = Script(truncated(MP4), odd, media(MP4))

    make_client(script).download_content("video_1", dest)

    assert ranges(script) == [None, f"bytes={HALF}-", None]
    assert dest.read_bytes() == MP4
    assert leftovers(dest.parent) == []


def test_a_416_to_a_resume_starts_over_within_the_retry_budget(dest: Path) -> None:
    unsatisfiable = httpx.Response(416, headers={"Content-Range": f"bytes */{HALF}"})
    script = Script(truncated(MP4), unsatisfiable, media(MP4))

    make_client(script).download_content("video_1", dest)

    assert ranges(script) == [None, f"bytes={HALF}-", None]
    assert dest.read_bytes() == MP4

    spent = Script(truncated(MP4), unsatisfiable)
    with pytest.raises(DownloadIncomplete, match="would not resume"):
        make_client(spent, max_retries=1).download_content("video_1", dest)
    assert len(spent.requests) == 2
    assert leftovers(dest.parent) == []


def test_a_resumed_download_that_runs_out_of_tries_leaves_nothing(dest: Path) -> None:
    script = Script(truncated(MP4), part(MP4, HALF, stop=HALF + 10))

    with pytest.raises(DownloadIncomplete, match=f"received {HALF + 10} of {len(MP4)} bytes"):
        make_client(script, max_retries=1).download_content("video_1", dest)

    assert dest.read_bytes() == OLD
    assert leftovers(dest.parent) == []


def test_it_never_resumes_a_compressed_body(dest: Path) -> None:
    packed = gzip.compress(MP4)
    cut = media(packed[:100], **{"Content-Encoding": "gzip", "Content-Length": str(len(packed))})
    whole = media(packed, **{"Content-Encoding": "gzip", "Content-Length": str(len(packed))})
    script = Script(cut, whole)

    make_client(script).download_content("video_1", dest)

    assert ranges(script) == [None, None]
    assert dest.read_bytes() == MP4


# ----- against the simulator ----------------------------------------------------------
@pytest.mark.parametrize("how", ["in-process", "loopback"])
@pytest.mark.parametrize("variant", [None, "spritesheet"])
def test_a_cut_download_from_the_simulator_resumes_byte_identical(
    how: str, variant: str | None, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    sim = make_sim(clock, tmp_path / "cache")
    inner = sim.transport() if how == "in-process" else httpx.HTTPTransport()
    recorder = RecordingTransport(inner)
    with connect(
        sim, how=how, api_key=KEY, transport=recorder, sleep=lambda s: None, timeout=10.0
    ) as client:
        video = client.create_video(model="Sora-2", prompt="A long take", seconds=4)
        clock.advance(13)
        uncut = client.download_content(video.id, tmp_path / "uncut", variant=variant)
        sim.inject_cut(count=2, after_bytes=1000)

        resumed = client.download_content(video.id, tmp_path / "resumed", variant=variant)

    assert [r.headers.get("range") for r in recorder.requests[-3:]] == [
        None,
        "bytes=1000-",
        "bytes=2000-",
    ]
    assert resumed.size == uncut.size > 2000
    assert (tmp_path / "resumed").read_bytes() == (tmp_path / "uncut").read_bytes()
    assert resumed.content_type == uncut.content_type
    assert leftovers(tmp_path) == []
    assert (sim.stats()["content"], sim.stats()["cut"]) == (4, 2)


def test_the_simulator_answers_what_the_client_resumes_from(tmp_path: Path) -> None:
    """The same resume, looked at from the provider's side: one 200 cut, one 206 whole."""
    clock = FakeClock(START)
    sim: Simulator = make_sim(clock, tmp_path / "cache")
    answers: list[tuple[int, str | None]] = []

    class Spy(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = sim.transport().handle_request(request)
            answers.append((response.status_code, response.headers.get("content-range")))
            return response

    with connect(sim, how="in-process", api_key=KEY, transport=Spy(), sleep=lambda s: None) as c:
        video = c.create_video(model="Veo-3", prompt="A short take", seconds=4)
        clock.advance(13)
        sim.inject_cut(after_bytes=500)
        download = c.download_content(video.id, tmp_path / "v.mp4")

    assert answers[-2:] == [(200, None), (206, f"bytes 500-{download.size - 1}/{download.size}")]
