"""Serving archived files (videos, thumbnails, spritesheets) to the team only.

The view checks who may see a file, then one of three deliveries answers
(`VIDEOSTUDIO_MEDIA_DELIVERY`):

- ``django`` (default): `ranged_file_response` streams the file from storage in
  chunks with HTTP Range support (RFC 9110), so a <video> can seek. Nothing loads
  a whole file into memory; on S3 each request is one ranged GET.
- ``x-accel``: an empty answer with ``X-Accel-Redirect``; nginx serves the file
  from an ``internal`` location (and handles Range itself).
- ``signed``: a redirect to a short-lived signed storage URL (S3).

`handoff_response` answers for the last two and returns None for ``django``.
"""

from __future__ import annotations

import inspect
import sys
import zlib
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

DELIVERIES = ("django", "x-accel", "signed")
CHUNK = 64 * 1024


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...
    def close(self) -> None: ...


# --- Range header ---------------------------------------------------------------------


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """The (first, last) byte of a single-range ``Range`` header (RFC 9110 14.2).

    None: no usable range, serve the whole file (a malformed header, another unit,
    or several ranges, which RFC 9110 allows answering with the whole file);
    False: unsatisfiable (416).
    """
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first or last) or not _digits(first) or not _digits(last):
        return None
    if not first:
        # A suffix: the last N bytes (all of them when the file is shorter).
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: the header is ignored
    if start >= size:
        return False
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def _digits(text: str) -> bool:
    return text == "" or (text.isascii() and text.isdigit())


def _if_range_matches(value: str, etag: str, modified: int | None) -> bool:
    """If-Range (RFC 9110 13.1.5): a strong ETag match or the exact Last-Modified date."""
    value = value.strip()
    if value.startswith('"'):
        return value == etag
    if value.startswith("W/"):
        return False  # a weak validator never matches
    return modified is not None and parse_http_date_safe(value) == modified


# --- Streaming from storage -------------------------------------------------------------


class _Chunks:
    """`length` bytes of an open file, in chunks; the file is closed with the response,
    even when the response is never iterated."""

    def __init__(self, fh: _Readable, length: int) -> None:
        self.fh, self.length = fh, length

    def __iter__(self) -> Iterator[bytes]:
        remaining = self.length
        while remaining > 0:
            data = self.fh.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data

    def close(self) -> None:
        self.fh.close()


def _s3_object(storage: Storage, name: str) -> Any | None:
    """The boto3 Object behind `name` when `storage` is django-storages' S3Storage."""
    if "storages.backends.s3" not in sys.modules:
        return None  # no S3Storage exists in this process
    from storages.backends.s3 import S3Storage
    from storages.utils import clean_name

    if not isinstance(storage, S3Storage):
        return None
    return storage.bucket.Object(storage._normalize_name(clean_name(name)))


def _stat(storage: Storage, name: str) -> tuple[int, float | None, Any | None]:
    """Size, modification time (None if the storage cannot tell) and the S3 object."""
    obj = _s3_object(storage, name)
    if obj is not None:
        from botocore.exceptions import ClientError

        try:
            obj.load()  # one HEAD for both
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(name) from None
            raise
        return obj.content_length, obj.last_modified.timestamp(), obj
    size = storage.size(name)
    try:
        modified: float | None = storage.get_modified_time(name).timestamp()
    except NotImplementedError:
        modified = None
    return size, modified, None


def _open_range(storage: Storage, name: str, obj: Any | None, start: int, length: int) -> _Chunks:
    if length <= 0:
        return _Chunks(_Empty(), 0)
    if obj is not None:
        # A ranged GET: S3File would download the whole object before seeking.
        body = obj.get(Range=f"bytes={start}-{start + length - 1}")["Body"]
        return _Chunks(body, length)
    fh = storage.open(name, "rb")
    try:
        fh.seek(start)
    except BaseException:
        fh.close()
        raise
    return _Chunks(fh, length)


class _Empty:
    def read(self, size: int = -1, /) -> bytes:
        return b""

    def close(self) -> None:
        pass


# --- The three deliveries -------------------------------------------------------------------


def _private(response: HttpResponseBase, max_age: int) -> None:
    """Media is private to the team: never in a shared cache."""
    response["Cache-Control"] = f"private, max-age={max_age}"
    patch_vary_headers(response, ["Cookie"])


def _attachment(response: HttpResponseBase, download_name: str | None) -> None:
    if download_name:
        response["Content-Disposition"] = content_disposition_header(True, download_name)


def ranged_file_response(
    request: HttpRequest,
    fieldfile: FieldFile,
    *,
    content_type: str,
    download_name: str | None = None,
) -> HttpResponseBase:
    """The file streamed from storage: 200 whole, 206 for one satisfiable range, 416
    for an unsatisfiable one, 304 when the client's copy is current. HEAD answers the
    same headers without a body. A file missing from storage raises FileNotFoundError."""
    storage, name = fieldfile.storage, fieldfile.name
    assert name
    size, modified, obj = _stat(storage, name)
    last_modified = int(modified) if modified is not None else None
    stamp = int(modified * 1_000_000) if modified is not None else 0
    etag = f'"{size:x}-{stamp:x}-{zlib.crc32(name.encode()):08x}"'

    # Headers every answer carries, 304 and 416 included.
    base = HttpResponse()
    base["ETag"] = etag
    base["Accept-Ranges"] = "bytes"
    if last_modified is not None:
        base["Last-Modified"] = http_date(last_modified)
    _private(base, settings.VIDEOSTUDIO_MEDIA_CACHE_SECONDS)
    conditional = get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=base
    )
    if conditional is not None and conditional is not base:
        return conditional  # 304 Not Modified, or 412 for a failed If-Match

    wanted: tuple[int, int] | bool | None = None
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    # Range is defined for GET only; HEAD answers as a plain GET would.
    if (
        range_header is not None
        and request.method == "GET"
        and (if_range is None or _if_range_matches(if_range, etag, last_modified))
    ):
        wanted = parse_range(range_header, size)
    if wanted is False:
        base.status_code = 416
        base["Content-Range"] = f"bytes */{size}"
        return base

    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = end - start + 1
    status = 206 if isinstance(wanted, tuple) else 200
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        chunks = _open_range(storage, name, obj, start, length)
        response = StreamingHttpResponse(chunks, status=status, content_type=content_type)
    for header in ("ETag", "Accept-Ranges", "Last-Modified", "Cache-Control", "Vary"):
        if header in base:
            response[header] = base[header]
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    _attachment(response, download_name)
    return response


def x_accel_response(
    fieldfile: FieldFile, *, content_type: str, download_name: str | None = None
) -> HttpResponse:
    """An empty answer telling nginx which file to serve from its internal location."""
    assert fieldfile.name
    response = HttpResponse(content_type=content_type)
    response["X-Accel-Redirect"] = settings.VIDEOSTUDIO_X_ACCEL_PREFIX + quote(fieldfile.name)
    _private(response, settings.VIDEOSTUDIO_MEDIA_CACHE_SECONDS)
    _attachment(response, download_name)
    return response


def signed_redirect(
    fieldfile: FieldFile, *, content_type: str, download_name: str | None = None
) -> HttpResponseRedirect:
    """A redirect to a short-lived signed URL of the storage (S3)."""
    storage, name = fieldfile.storage, fieldfile.name
    assert name
    if "parameters" in inspect.signature(storage.url).parameters:
        # S3Storage.url(name, parameters=...): the storage answers with these headers.
        parameters = {"ResponseContentType": content_type}
        if download_name:
            parameters["ResponseContentDisposition"] = content_disposition_header(
                True, download_name
            )
        url = storage.url(name, parameters=parameters)  # type: ignore[call-arg]
    else:
        url = storage.url(name)
    response = HttpResponseRedirect(url)
    # The URL is a credential for a while: keep it out of every cache.
    response["Cache-Control"] = "private, no-store"
    return response


def handoff_response(
    fieldfile: FieldFile, *, content_type: str, download_name: str | None = None
) -> HttpResponseBase | None:
    """The production hand-off chosen by VIDEOSTUDIO_MEDIA_DELIVERY, after the caller
    checked the user; None when Django serves the file itself (`ranged_file_response`)."""
    delivery = settings.VIDEOSTUDIO_MEDIA_DELIVERY
    if delivery == "x-accel":
        return x_accel_response(fieldfile, content_type=content_type, download_name=download_name)
    if delivery == "signed":
        return signed_redirect(fieldfile, content_type=content_type, download_name=download_name)
    return None
