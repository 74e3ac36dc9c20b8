"""Downloads land whole or not at all."""

from __future__ import annotations

import gzip
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import DownloadIncomplete, NotFound, ProviderTimeout

KEY = "sk-test-TEAMKEY-0123456789abcdef"
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
OLD = b"the archived copy from before"

Handler = Callable[[httpx.Request], httpx.Response]


def media(body: bytes, content_type: str = "video/mp4", **headers: str) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"Content-Type": content_type, **headers})


def truncated(body: bytes) -> httpx.Response:
    # Claims more than it carries, as a proxy does when the upstream dies mid-file.
    return media(body[: len(body) // 2], **{"Content-Length": str(len(body))})


class BrokenStream(httpx.SyncByteStream):
    def __init__(self, first: bytes, failure: Exception) -> None:
        self.first = first
        self.failure = failure

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        raise self.failure


class Script:
    def __init__(self, *replies: httpx.Response | Handler) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request) if callable(reply) else reply


def make_client(
    script: Script, sleeps: list[float] | None = None, **options: Any
) -> ProviderClient:
    record = sleeps if sleeps is not None else []
    return ProviderClient(
        base_url="https://api.poe.com/v1",
        api_key=KEY,
        transport=httpx.MockTransport(script),
        sleep=record.append,
        random=lambda: 1.0,
        **options,
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "videos" / "video_1.mp4"
    path.parent.mkdir()
    path.write_bytes(OLD)
    return path


def test_it_downloads_the_video_into_dest(tmp_path: Path) -> None:
    script = Script(media(MP4))
    target = tmp_path / "video_1.mp4"

    download = make_client(script).download_content("video_1", target)

    request = script.requests[0]
    assert request.method == "GET"
    assert str(request.url) == "https://api.poe.com/v1/videos/video_1/content"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert target.read_bytes() == MP4
    assert download.path == target
    assert download.size == len(MP4)
    assert download.content_type == "video/mp4"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("variant", "content_type", "name"),
    [("thumbnail", "image/webp", "thumb.webp"), ("spritesheet", "image/jpeg", "sprites.jpg")],
)
def test_it_asks_for_a_variant_by_query_parameter(
    tmp_path: Path, variant: str, content_type: str, name: str
) -> None:
    script = Script(media(b"RIFF....WEBPVP8 image", f"{content_type}; charset=binary"))

    download = make_client(script).download_content("video_1", tmp_path / name, variant=variant)

    assert script.requests[0].url.params["variant"] == variant
    assert download.content_type == content_type
    assert (tmp_path / name).read_bytes() == b"RIFF....WEBPVP8 image"


def test_it_replaces_an_existing_file_atomically(dest: Path) -> None:
    make_client(Script(media(MP4))).download_content("video_1", dest)

    assert dest.read_bytes() == MP4
    assert leftovers(dest.parent) == []


def test_it_creates_the_destination_folder(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "video.mp4"

    make_client(Script(media(MP4))).download_content("video_1", target)

    assert target.read_bytes() == MP4


def test_it_fsyncs_the_file_before_moving_it_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)

    make_client(Script(media(MP4))).download_content("video_1", tmp_path / "v.mp4")

    assert len(synced) >= 1


def test_a_short_body_raises_download_incomplete_and_leaves_dest_alone(dest: Path) -> None:
    with pytest.raises(DownloadIncomplete) as caught:
        make_client(Script(truncated(MP4)), max_retries=0).download_content("video_1", dest)

    assert caught.value.transient
    assert f"of {len(MP4)} bytes" in caught.value.message
    assert dest.read_bytes() == OLD
    assert leftovers(dest.parent) == []


def test_it_retries_a_truncated_download_then_keeps_the_whole_file(dest: Path) -> None:
    sleeps: list[float] = []
    script = Script(truncated(MP4), media(MP4))

    download = make_client(script, sleeps).download_content("video_1", dest)

    assert len(script.requests) == 2
    assert sleeps == [0.25]
    assert download.size == len(MP4)
    assert dest.read_bytes() == MP4
    assert leftovers(dest.parent) == []


def test_it_gives_up_on_a_download_that_is_always_cut_short(dest: Path) -> None:
    script = Script(truncated(MP4))

    with pytest.raises(DownloadIncomplete):
        make_client(script, max_retries=2).download_content("video_1", dest)

    assert len(script.requests) == 3
    assert dest.read_bytes() == OLD
    assert leftovers(dest.parent) == []


@pytest.mark.parametrize(
    "failure",
    [
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
    ],
)
def test_a_connection_dropped_mid_file_counts_as_incomplete(dest: Path, failure: Exception) -> None:
    reply = httpx.Response(
        200, headers={"Content-Type": "video/mp4"}, stream=BrokenStream(MP4[:100], failure)
    )

    with pytest.raises(DownloadIncomplete) as caught:
        make_client(Script(reply), max_retries=0).download_content("video_1", dest)

    assert "after 100 bytes" in caught.value.message
    assert dest.read_bytes() == OLD
    assert leftovers(dest.parent) == []


def test_a_timeout_mid_file_is_retried(dest: Path) -> None:
    def stalled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"Content-Type": "video/mp4"},
            stream=BrokenStream(MP4[:100], httpx.ReadTimeout("timed out")),
        )

    script = Script(stalled, media(MP4))

    make_client(script).download_content("video_1", dest)

    assert dest.read_bytes() == MP4

    with pytest.raises(ProviderTimeout):
        make_client(Script(stalled), max_retries=0).download_content("video_1", dest)
    assert dest.read_bytes() == MP4
    assert leftovers(dest.parent) == []


def test_an_empty_body_is_not_a_video(dest: Path) -> None:
    with pytest.raises(DownloadIncomplete, match="empty"):
        make_client(Script(media(b"")), max_retries=0).download_content("video_1", dest)

    assert dest.read_bytes() == OLD


def test_a_404_leaves_dest_alone_and_is_not_retried(dest: Path) -> None:
    script = Script(httpx.Response(404, json={"error": {"type": "not_found", "message": "gone"}}))

    with pytest.raises(NotFound):
        make_client(script).download_content("video_1", dest)

    assert len(script.requests) == 1
    assert dest.read_bytes() == OLD
    assert leftovers(dest.parent) == []


def test_it_counts_compressed_bytes_against_content_length(tmp_path: Path) -> None:
    packed = gzip.compress(MP4)
    reply = media(packed, **{"Content-Encoding": "gzip", "Content-Length": str(len(packed))})

    download = make_client(Script(reply)).download_content("video_1", tmp_path / "v.mp4")

    assert download.size == len(MP4)
    assert (tmp_path / "v.mp4").read_bytes() == MP4


def test_it_follows_a_redirect_to_storage_without_handing_over_the_key(tmp_path: Path) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.poe.com":
            return httpx.Response(302, headers={"Location": "https://cdn.example/v/abc.mp4?sig=x"})
        return media(MP4)

    script = Script(route)

    make_client(script).download_content("video_1", tmp_path / "v.mp4")

    api, cdn = script.requests
    assert api.headers["authorization"] == f"Bearer {KEY}"
    assert cdn.url.host == "cdn.example"
    assert "authorization" not in cdn.headers
    assert (tmp_path / "v.mp4").read_bytes() == MP4


def test_it_streams_a_large_file_in_chunks(tmp_path: Path) -> None:
    big = os.urandom(3 * 1024 * 1024 + 17)

    download = make_client(Script(media(big))).download_content("video_1", tmp_path / "big.mp4")

    assert download.size == len(big)
    assert (tmp_path / "big.mp4").read_bytes() == big


def test_a_real_socket_closed_mid_file_counts_as_incomplete(dest: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_half_a_file() -> None:
        for _ in range(2):  # the first try and one retry
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                head = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(MP4)}"
                connection.sendall(head.encode() + b"\r\n\r\n" + MP4[:1000])

    server = threading.Thread(target=serve_half_a_file, daemon=True)
    server.start()
    sleeps: list[float] = []
    client = ProviderClient(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=KEY,
        max_retries=1,
        sleep=sleeps.append,
        random=lambda: 1.0,
        timeout=5.0,
    )

    with client, pytest.raises(DownloadIncomplete):
        client.download_content("video_1", dest)

    server.join(timeout=5)
    listener.close()
    assert sleeps == [0.25]
    assert dest.read_bytes() == OLD
    assert leftovers(dest.parent) == []
