"""Just enough WSGI plumbing for the simulator: requests, responses, errors.

Written against the WSGI spec directly (no framework) so the simulator can run in
any process, Django or not, and be mounted on `httpx.WSGITransport`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from email.message import Message
from email.utils import collapse_rfc2231_value
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

MAX_BODY_BYTES = 32 * 1024 * 1024  # a reference image, with room to spare
CHUNK_BYTES = 64 * 1024

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_credits",
    404: "not_found",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An answer in the provider's error envelope; raised anywhere, rendered once."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        retry_after: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        # Poe fills `metadata` sparingly (e.g. {"param": "model"}); usually it is {}.
        self.metadata = dict(metadata or {})
        # Clients must honour Retry-After on 429, so every 429 carries one.
        self.retry_after = (
            retry_after if retry_after is not None else ("1" if status == 429 else None)
        )
        self.headers = list(headers)

    @property
    def type(self) -> str:
        if self.status in ERROR_TYPES:
            return ERROR_TYPES[self.status]
        return "provider_error" if self.status >= 500 else "invalid_request_error"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: Iterable[bytes]

    @property
    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        return f"{self.status} {phrase}"


def json_response(status: int, data: object, headers: Iterable[tuple[str, str]] = ()) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return Response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
        [body],
    )


def error_response(error: ApiError) -> Response:
    headers = list(error.headers)
    if error.retry_after is not None:
        headers.append(("Retry-After", error.retry_after))
    envelope = {
        "error": {
            "code": error.status,
            "type": error.type,
            "message": error.message,
            "metadata": error.metadata,
        }
    }
    return json_response(error.status, envelope, headers)


class FileBody:
    """A response body streamed from disk in chunks; WSGI servers call close().

    It streams `length` bytes from `start` (the rest of the file by default).
    """

    def __init__(self, file: IO[bytes], *, start: int = 0, length: int | None = None) -> None:
        self._file = file
        self._file.seek(start)
        self._left = length

    def __iter__(self) -> Iterator[bytes]:
        while self._left is None or self._left > 0:
            size = CHUNK_BYTES if self._left is None else min(CHUNK_BYTES, self._left)
            chunk = self._file.read(size)
            if not chunk:
                return
            if self._left is not None:
                self._left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._file.close()


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d+)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes, inclusive, that `Range: bytes=N-` or `bytes=N-M` asks of
    a `size`-byte file; None to send it whole.

    Only a single range is read. Anything else (several ranges, a suffix range, junk,
    M before N) is ignored, as RFC 9110 allows a server to: the answer is the whole
    file, which every client handles. A range that starts past the end is a 416.
    """
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else None
    if last is not None and last < first:
        return None
    if first >= size:
        raise ApiError(
            416,
            f"Range not satisfiable: the file has {size} bytes",
            headers=[("Content-Range", f"bytes */{size}")],
        )
    return first, size - 1 if last is None else min(last, size - 1)


def file_response(path: Path, content_type: str, *, range_header: str | None = None) -> Response:
    """The file, or the part of it `range_header` asks for (206), streamed from disk."""
    file = path.open("rb")  # open first: the size must be of the file we stream
    try:
        size = os.fstat(file.fileno()).st_size
        span = byte_range(range_header, size)
    except BaseException:
        file.close()
        raise
    start, length = (0, size) if span is None else (span[0], span[1] - span[0] + 1)
    body = FileBody(file, start=start, length=length)
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
        ("Accept-Ranges", "bytes"),
    ]
    if span is None:
        return Response(200, headers, body)
    headers.append(("Content-Range", f"bytes {span[0]}-{span[1]}/{size}"))
    return Response(206, headers, body)


class _CutBody:
    """Another body's first `after_bytes` bytes, then nothing."""

    def __init__(self, body: Iterable[bytes], after_bytes: int) -> None:
        self._body = body
        self._left = after_bytes

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            if self._left <= 0:
                return
            piece = chunk[: self._left]
            self._left -= len(piece)
            yield piece

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def cut_short(response: Response, *, after_bytes: int) -> Response:
    """The same response (headers and all) whose body stops after `after_bytes`.

    Its Content-Length still promises the whole body. Over a socket the server then
    closes the connection early (wsgiref speaks HTTP/1.0: one answer per connection),
    which a client reads as a broken download; in-process it sees a body shorter
    than its Content-Length. Either way the download was cut.
    """
    return replace(response, body=_CutBody(response.body, after_bytes))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    environ: dict[str, Any] = field(repr=False)
    _body: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        path = environ.get("PATH_INFO") or "/"
        if len(path) > 1:
            path = path.rstrip("/")
        query = {
            key: values[-1]
            for key, values in parse_qs(
                environ.get("QUERY_STRING", ""), keep_blank_values=True
            ).items()
        }
        return cls(str(environ.get("REQUEST_METHOD", "GET")).upper(), path, query, environ)

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return self.environ.get(key) or None
        value = self.environ.get(f"HTTP_{key}")
        return str(value) if value is not None else None

    def body(self) -> bytes:
        if self._body is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise ApiError(400, "Invalid Content-Length header") from None
            if length > MAX_BODY_BYTES:
                raise ApiError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes")
            stream = self.environ.get("wsgi.input")
            # Read exactly Content-Length: reading further would block on a real socket.
            self._body = stream.read(length) if stream is not None and length > 0 else b""
        return self._body

    def fields(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The body's fields and uploaded files, from JSON, multipart or a url-encoded form."""
        content_type = (self.header("Content-Type") or "").lower()
        body = self.body()
        if content_type.startswith("multipart/form-data"):
            return parse_multipart(body, self.header("Content-Type") or "")
        # `curl -d '{...}'` labels JSON as a form: be kind to manual use and read it as JSON.
        is_form = content_type.startswith("application/x-www-form-urlencoded")
        if is_form and not body.lstrip().startswith(b"{"):
            text = body.decode("utf-8", errors="replace")
            return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}, {}
        if not body.strip():
            raise ApiError(400, "The request body is empty: expected a JSON object")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Malformed JSON in the request body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object")
        return data, {}


def _header_param(message: Message, param: str, header: str) -> str | None:
    value = message.get_param(param, header=header)
    if value is None:
        return None
    return collapse_rfc2231_value(value)


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A small, byte-exact multipart/form-data parser (the stdlib `cgi` module is gone)."""
    head = Message()
    head["Content-Type"] = content_type
    boundary = _header_param(head, "boundary", "content-type")
    if not boundary:
        raise ApiError(400, "multipart/form-data without a boundary")
    fields: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        if part.startswith(b"\r\n"):
            part = part[2:]
        if part.endswith(b"\r\n"):
            part = part[:-2]
        raw_headers, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            raise ApiError(400, "Malformed multipart body")
        headers = Message()
        for line in raw_headers.decode("utf-8", errors="replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip()] = value.strip()
        field_name = _header_param(headers, "name", "content-disposition")
        if field_name is None:
            continue
        if _header_param(headers, "filename", "content-disposition") is not None:
            files[field_name] = content
        else:
            fields[field_name] = content.decode("utf-8", errors="replace")
    return fields, files
