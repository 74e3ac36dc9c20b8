"""Archived media: ranged streaming (RFC 9110), conditional requests, variants, and the
nginx hand-off."""

from __future__ import annotations

import os
import tracemalloc
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import Client
from django.utils.http import http_date

from videostudio.videos.media import parse_range

from .media_kit import BODY, SIZE, archived_video, body_of, drained, media_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


# --- Ranges -------------------------------------------------------------------------------


def test_a_whole_video_streams_with_its_length_and_range_support(
    browser: Client, owner: Any
) -> None:
    response = browser.get(media_url(archived_video(owner)))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"') and "Last-Modified" in response
    assert "Content-Range" not in response
    assert body_of(response) == BODY


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        ("bytes=4000-4999", 4000, 4999),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        ("bytes=9000-", 9000, SIZE - 1),
        ("bytes=9990-20000", 9990, SIZE - 1),
        ("bytes=-20000", 0, SIZE - 1),
        ("Bytes = 10 - 19", 10, 19),
    ],
    ids=[
        "first bytes",
        "first byte only",
        "middle",
        "suffix",
        "open-ended",
        "past the end clipped",
        "suffix longer than the file",
        "any case and spaces",
    ],
)
def test_a_single_range_is_answered_with_206_and_exactly_those_bytes(
    browser: Client, owner: Any, header: str, first: int, last: int
) -> None:
    response = browser.get(media_url(archived_video(owner)), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes" and "ETag" in response
    assert body_of(response) == BODY[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=10000-", "bytes=20000-30000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416_with_the_size(
    browser: Client, owner: Any, header: str
) -> None:
    response = browser.get(media_url(archived_video(owner)), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert body_of(response) == b""


def test_several_ranges_are_answered_with_the_whole_file(browser: Client, owner: Any) -> None:
    response = browser.get(media_url(archived_video(owner)), HTTP_RANGE="bytes=0-9, 20-29")
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE) and "Content-Range" not in response
    assert body_of(response) == BODY


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "bytes=9-2",
        "items=0-9",
        "bytes=",
        "bytes=-",
        "0-9",
        "bytes=\u0661-\u0662",
        "bytes 0-9",
    ],
)
def test_a_malformed_range_header_gets_the_whole_file(
    browser: Client, owner: Any, header: str
) -> None:
    response = browser.get(media_url(archived_video(owner)), HTTP_RANGE=header)
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert body_of(response) == BODY


def test_an_empty_file_has_no_satisfiable_range(browser: Client, owner: Any) -> None:
    url = media_url(archived_video(owner, video=b""))
    whole = browser.get(url)
    assert whole.status_code == 200 and whole["Content-Length"] == "0"
    assert body_of(whole) == b""
    ranged = browser.get(url, HTTP_RANGE="bytes=0-")
    assert ranged.status_code == 416 and ranged["Content-Range"] == "bytes */0"


def test_parse_range_tells_ranges_unsatisfiable_and_ignored_headers_apart() -> None:
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=95-", 100) == (95, 99)
    assert parse_range("bytes=100-", 100) is False
    assert parse_range("bytes=0-1,5-6", 100) is None
    assert parse_range("bytes=7-3", 100) is None


# --- Validators and conditional requests ---------------------------------------------------


def test_if_range_with_the_current_etag_honours_the_range(browser: Client, owner: Any) -> None:
    url = media_url(archived_video(owner))
    etag = browser.head(url)["ETag"]
    response = browser.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert response.status_code == 206 and body_of(response) == BODY[:10]


@pytest.mark.parametrize("if_range", ['"an-older-version"', "W/{etag}", "garbage"])
def test_if_range_that_does_not_match_gets_the_whole_file(
    browser: Client, owner: Any, if_range: str
) -> None:
    url = media_url(archived_video(owner))
    etag = browser.head(url)["ETag"]
    response = browser.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=if_range.format(etag=etag))
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE) and body_of(response) == BODY


def test_if_range_with_the_last_modified_date_honours_the_range(
    browser: Client, owner: Any
) -> None:
    url = media_url(archived_video(owner))
    last_modified = browser.head(url)["Last-Modified"]
    matching = browser.get(url, HTTP_RANGE="bytes=5-9", HTTP_IF_RANGE=last_modified)
    assert matching.status_code == 206 and body_of(matching) == BODY[5:10]
    older = browser.get(url, HTTP_RANGE="bytes=5-9", HTTP_IF_RANGE=http_date(1_000_000_000))
    assert older.status_code == 200 and body_of(older) == BODY


@pytest.mark.parametrize("if_none_match", ["{etag}", "*", '"something-else", {etag}', "W/{etag}"])
def test_a_copy_that_is_still_current_gets_304(
    browser: Client, owner: Any, if_none_match: str
) -> None:
    url = media_url(archived_video(owner))
    etag = browser.head(url)["ETag"]
    response = browser.get(url, HTTP_IF_NONE_MATCH=if_none_match.format(etag=etag))
    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response["Cache-Control"].startswith("private")
    assert body_of(response) == b""


def test_a_stale_copy_gets_the_file_again(browser: Client, owner: Any) -> None:
    url = media_url(archived_video(owner))
    response = browser.get(url, HTTP_IF_NONE_MATCH='"an-older-version"')
    assert response.status_code == 200 and body_of(response) == BODY


def test_if_modified_since_the_last_change_gets_304(browser: Client, owner: Any) -> None:
    url = media_url(archived_video(owner))
    last_modified = browser.head(url)["Last-Modified"]
    assert browser.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    earlier = http_date(1_000_000_000)
    assert browser.get(url, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


def test_a_304_beats_a_range_request(browser: Client, owner: Any) -> None:
    url = media_url(archived_video(owner))
    etag = browser.head(url)["ETag"]
    response = browser.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304


def test_head_answers_the_headers_of_a_get_without_a_body(browser: Client, owner: Any) -> None:
    url = media_url(archived_video(owner))
    get = browser.get(url)
    head = browser.head(url)
    assert head.status_code == 200 and head.content == b""
    for header in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
        assert head[header] == get[header]
    # RFC 9110 defines Range for GET only: a HEAD ignores it.
    ranged = browser.head(url, HTTP_RANGE="bytes=0-9")
    assert ranged.status_code == 200 and ranged["Content-Length"] == str(SIZE)


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_RANGE": "bytes=0-9"}, {"HTTP_RANGE": "bytes=99999-"}],
    ids=["200", "206", "416"],
)
def test_media_is_cached_only_privately_and_varies_by_cookie(
    browser: Client, owner: Any, headers: dict[str, str]
) -> None:
    response = browser.get(media_url(archived_video(owner)), **headers)  # type: ignore[arg-type]
    assert response["Cache-Control"] == "private, max-age=3600"
    assert "public" not in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_the_cache_lifetime_is_a_setting(browser: Client, owner: Any, settings: Any) -> None:
    settings.VIDEOSTUDIO_MEDIA_CACHE_SECONDS = 60
    response = browser.get(media_url(archived_video(owner)))
    assert response["Cache-Control"] == "private, max-age=60"


# --- Variants, downloads, missing files -------------------------------------------------


def test_thumbnails_and_spritesheets_have_their_own_content_types(
    browser: Client, owner: Any
) -> None:
    video = archived_video(owner, thumbnail=b"RIFF-thumb", spritesheet=b"\xff\xd8sprites")
    thumbnail = browser.get(media_url(video, "thumbnail"))
    assert thumbnail["Content-Type"] == "image/webp" and body_of(thumbnail) == b"RIFF-thumb"
    sprites = browser.get(media_url(video, "spritesheet"))
    assert sprites["Content-Type"] == "image/jpeg" and body_of(sprites) == b"\xff\xd8sprites"
    assert sprites["Content-Length"] == "9"


def test_a_download_is_an_attachment_with_a_file_name(browser: Client, owner: Any) -> None:
    video = archived_video(owner, thumbnail=b"RIFF-thumb")
    response = browser.get(media_url(video) + "?download=1")
    assert response["Content-Disposition"] == f'attachment; filename="video-{video.pk}-video.mp4"'
    assert body_of(response) == BODY
    thumbnail = browser.get(media_url(video, "thumbnail") + "?download=1")
    assert thumbnail["Content-Disposition"].endswith(f'"video-{video.pk}-thumbnail.webp"')
    assert "Content-Disposition" not in browser.get(media_url(video))


def test_a_file_missing_from_storage_is_a_404(browser: Client, owner: Any) -> None:
    video = archived_video(owner)
    assert video.video_file.name
    video.video_file.storage.delete(video.video_file.name)
    assert browser.get(media_url(video)).status_code == 404


def test_streaming_a_large_video_does_not_load_it_into_memory(browser: Client, owner: Any) -> None:
    big = 20 * 1024 * 1024
    video = archived_video(owner, video=b"")
    with video.video_file.open("wb") as fh:
        for _ in range(big // (1024 * 1024)):
            fh.write(os.urandom(1024 * 1024))
    url = media_url(video)
    browser.get(url)  # warm up imports and caches outside the measurement

    tracemalloc.start()
    try:
        response = browser.get(url)
        received = drained(response)
        ranged = browser.get(url, HTTP_RANGE=f"bytes={big // 2}-")
        received_range = drained(ranged)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == big and received_range == big - big // 2
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while streaming {big}"


def test_the_file_is_closed_even_when_the_answer_is_never_read(browser: Client, owner: Any) -> None:
    url = media_url(archived_video(owner))
    opened: list[Any] = []
    original = FileSystemStorage._open  # type: ignore[attr-defined]

    def recording_open(self: FileSystemStorage, name: str, mode: str = "rb") -> Any:
        fh = original(self, name, mode)
        opened.append(fh)
        return fh

    with mock.patch.object(FileSystemStorage, "_open", recording_open):
        response = browser.get(url, HTTP_RANGE="bytes=0-9")
        response.close()
    assert len(opened) == 1 and opened[0].closed


# --- nginx: X-Accel-Redirect ----------------------------------------------------------------


def test_x_accel_hands_the_file_to_nginx_after_the_permission_check(
    browser: Client, owner: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_MEDIA_DELIVERY = "x-accel"
    video = archived_video(owner, name="phare à l'aube.mp4")
    name = video.video_file.name
    assert name and not name.isascii()
    response = browser.get(media_url(video), HTTP_RANGE="bytes=0-9")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected-media/" + quote(name)
    assert response["Content-Type"] == "video/mp4"
    assert response.content == b""
    assert response["Cache-Control"].startswith("private")
    assert "Content-Disposition" not in response

    download = browser.get(media_url(video) + "?download=1")
    assert download["Content-Disposition"] == f'attachment; filename="video-{video.pk}-video.mp4"'


def test_x_accel_uses_the_configured_prefix(browser: Client, owner: Any, settings: Any) -> None:
    settings.VIDEOSTUDIO_MEDIA_DELIVERY = "x-accel"
    settings.VIDEOSTUDIO_X_ACCEL_PREFIX = "/internal/media/"
    video = archived_video(owner, thumbnail=b"RIFF")
    response = browser.get(media_url(video, "thumbnail"))
    assert response["X-Accel-Redirect"] == f"/internal/media/videos/{video.pk}/thumb.webp"
    assert response["Content-Type"] == "image/webp"


def test_x_accel_gives_strangers_no_redirect(client: Client, owner: Any, settings: Any) -> None:
    settings.VIDEOSTUDIO_MEDIA_DELIVERY = "x-accel"
    response = client.get(media_url(archived_video(owner)))
    assert response.status_code == 302 and "X-Accel-Redirect" not in response


def test_x_accel_still_404s_a_video_that_is_not_archived(
    browser: Client, owner: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_MEDIA_DELIVERY = "x-accel"
    video = archived_video(owner)
    response = browser.get(media_url(video, "spritesheet"))
    assert response.status_code == 404 and "X-Accel-Redirect" not in response
