"""Saving the provider's files: complete or not at all, resumed where a cut left off.

A video runs to tens of megabytes and the provider may delete it an hour after
it is made, so a download that breaks off should not start over on every try.
`PartialFile` keeps what arrived across the attempts of one `download_content`
call and asks for the rest with `Range: bytes=<received>-`. It trusts a resumed
answer only if it is a 206 whose Content-Range starts exactly there and names the
same total (when both are known). A 200 means the whole file came again, so the
file starts over. A 416 or an odd 206 means the provider's file is not the one we
began: that attempt fails as a cut download, and the next one starts over.

A content-encoded body (gzip) is never resumed, because a byte offset into the
decoded file is no offset into what was sent. Memory stays flat (the body is
streamed in chunks), and `dest` appears only when complete, by an atomic rename.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from videostudio.provider.errors import DownloadIncomplete, ProviderError
from videostudio.provider.types import Download

logger = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class _Span:
    first: int
    last: int
    total: int | None


class PartialFile:
    """One download into `dest`, across however many attempts it takes.

    Hand `arguments` to each attempt's request, `save` to its answer, `refusal` to
    its errors, and call `discard` when the call is over, however it ended.
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.received = 0  # bytes in the temporary file, all from one representation
        self.total: int | None = None  # the whole file's size, once the provider said it
        self._tmp: Path | None = None
        self._resumable = False
        self._asked_from: int | None = None  # where this attempt's Range starts

    def arguments(self) -> dict[str, Any]:
        """The request arguments of the next attempt: a Range for the rest, if any arrived."""
        self._asked_from = None
        if self.received > 0 and self._resumable:
            self._asked_from = self.received
            logger.info("resuming %s at byte %d", self.dest.name, self.received)
            return {"headers": {"Range": f"bytes={self.received}-"}}
        return {}

    def refusal(self, error: ProviderError) -> ProviderError:
        """What an error answer means for this download: a 416 to our Range is a restart."""
        if error.status == 416 and self._asked_from is not None:
            offset = self._asked_from
            self._restart()
            return DownloadIncomplete(
                f"the provider would not resume at byte {offset}: starting over", status=416
            )
        return error

    def save(self, response: httpx.Response) -> Download:
        """Stream one answer into the file; move the file into place once it is complete."""
        encoding = response.headers.get("content-encoding", "").strip().lower()
        encoded = encoding not in ("", "identity")
        offset = self._offset(response, encoded=encoded)
        tmp = self._tmp_path()
        written = 0
        with open(tmp, "r+b") as out:
            out.seek(offset)
            out.truncate()
            self.received = offset
            try:
                # As they arrive, not re-chunked: bytes held back in a buffer when the
                # connection breaks would have to be fetched again.
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    written += len(chunk)
                    self.received += len(chunk)
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                raise DownloadIncomplete(
                    f"the connection broke after {response.num_bytes_downloaded} bytes: {exc}",
                    status=response.status_code,
                ) from exc
            finally:
                out.flush()  # what arrived stays for the next attempt, whatever happens
            self._check_complete(response, encoded=encoded, written=written)
            os.fsync(out.fileno())
        os.replace(tmp, self.dest)
        self._tmp = None
        _fsync_directory(self.dest.parent)
        content_type = response.headers.get("content-type", "application/octet-stream")
        return Download(
            path=self.dest,
            size=self.received,
            content_type=content_type.split(";")[0].strip().lower(),
        )

    def discard(self) -> None:
        """Remove the temporary file, if one is left (none is after a success)."""
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    # ----- inside -----------------------------------------------------------------
    def _offset(self, response: httpx.Response, *, encoded: bool) -> int:
        """Where this answer's bytes go in the file; resets the file when it starts over."""
        if response.status_code != 206:
            # The whole file, from its first byte (a provider may ignore Range).
            self.received = 0
            length = _content_length(response)
            self.total = None if encoded else length
            self._resumable = not encoded
            return 0
        span = _content_range(response.headers.get("content-range"))
        expected = self._asked_from or 0
        same_total = span is None or None in (span.total, self.total) or span.total == self.total
        if encoded or span is None or span.first != expected or not same_total:
            what = response.headers.get("content-range") or "no Content-Range"
            self._restart()
            raise DownloadIncomplete(
                f"asked for bytes from {expected}, got {what}: starting over",
                status=response.status_code,
            )
        if span.total is not None:
            self.total = span.total
        self._resumable = True
        return expected

    def _check_complete(self, response: httpx.Response, *, encoded: bool, written: int) -> None:
        promised = _content_length(response)
        if encoded:
            # Content-Length counts wire bytes, which differ from `written` for a compressed
            # body. A body that was already in memory (a mock transport) counted none.
            arrived = response.num_bytes_downloaded or written
            if promised is not None and arrived < promised:
                raise DownloadIncomplete(
                    f"received {arrived} of {promised} bytes", status=response.status_code
                )
        elif self.total is not None and self.received < self.total:
            raise DownloadIncomplete(
                f"received {self.received} of {self.total} bytes", status=response.status_code
            )
        elif promised is not None and written < promised:
            raise DownloadIncomplete(
                f"received {written} of {promised} bytes of a part", status=response.status_code
            )
        if self.received == 0:
            raise DownloadIncomplete("the provider sent an empty file", status=response.status_code)

    def _tmp_path(self) -> Path:
        if self._tmp is None:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            # Beside dest, so os.replace is a rename on one filesystem; O_EXCL, the umask's mode.
            tmp = self.dest.with_name(f".{self.dest.name}.{secrets.token_hex(6)}.part")
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            self._tmp = tmp
        return self._tmp

    def _restart(self) -> None:
        self.received = 0
        self.total = None
        self._resumable = False
        if self._tmp is not None:
            with open(self._tmp, "r+b") as out:
                out.truncate()


def _content_range(value: str | None) -> _Span | None:
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == "*" else int(match.group(3))
    if last < first or (total is not None and last >= total):
        return None
    return _Span(first, last, total)


def _content_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
