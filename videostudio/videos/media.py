"""Serving stored files with HTTP Range support, so a <video> can seek.

Files are streamed from storage in chunks; nothing loads a whole video into memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import http_date, quote_etag

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """The (first, last) byte of a single-range header.

    None: no usable range (serve the whole file); False: unsatisfiable (416).
    Several ranges are answered with the whole file, which RFC 9110 allows.
    """
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size:
        return False
    if end < start:
        return None
    return start, min(end, size - 1)


def _chunks(fh: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            data = fh.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        fh.close()


def ranged_file_response(
    request: HttpRequest,
    fieldfile: FieldFile,
    *,
    content_type: str,
    download_name: str | None = None,
) -> HttpResponseBase:
    storage, name = fieldfile.storage, fieldfile.name
    assert name
    size = storage.size(name)
    try:
        modified = storage.get_modified_time(name).timestamp()
    except NotImplementedError:
        modified = None
    etag = quote_etag(f"{size:x}-{int(modified or 0):x}")
    common = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    if modified is not None:
        common["Last-Modified"] = http_date(modified)

    if etag in request.headers.get("If-None-Match", ""):
        return _bare(304, common)

    wanted = None
    if_range = request.headers.get("If-Range")
    if "Range" in request.headers and (if_range is None or if_range == etag):
        wanted = parse_range(request.headers["Range"], size)
    if wanted is False:
        return _bare(416, {**common, "Content-Range": f"bytes */{size}"})

    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = max(end - start + 1, 0)
    status = 206 if wanted else 200
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        chunks = _chunks(storage.open(name, "rb"), start, length)
        response = StreamingHttpResponse(chunks, status=status, content_type=content_type)
    for key, value in common.items():
        response[key] = value
    response["Content-Length"] = str(length)
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response


def _bare(status: int, headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(status=status)
    for key, value in headers.items():
        response[key] = value
    return response
