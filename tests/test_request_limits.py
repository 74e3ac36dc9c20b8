"""Request size caps: a body over the cap is answered 413 before it is read, in the
app's words (a page, or for htmx a message that leaves the form alone); Django's own
caps on form fields give 413 / 400 pages, never a 500."""

from __future__ import annotations

import io
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client

from videostudio.limits import TOO_LARGE, limit_unsized_bodies

from .conftest import png_bytes

NEW = "/videos/new/"
GIGABYTE = 1024**3


def raw_post(base_url: str, path: str, *, length: int, sent: bytes) -> tuple[str, float]:
    """Send the headers with `length` and only `sent` of the body; the answer and how
    long it took to come."""
    parts = urlsplit(base_url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)
        answer = b""
        while b"</html>" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer.decode(errors="replace"), time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_a_huge_body_is_refused_before_it_is_read(live_server: Any) -> None:
    answer, seconds = raw_post(live_server.url, NEW, length=GIGABYTE, sent=b"x" * 4096)
    status = answer.split("\r\n", 1)[0]
    assert status.startswith("HTTP/1.1 413"), answer[:300]
    assert "too large to accept" in answer and "choose a smaller image" in answer
    # Only 4 KB of the gigabyte were ever sent: the answer could not wait for the rest.
    assert seconds < 5


@pytest.mark.django_db(transaction=True)
def test_an_image_over_the_cap_gets_the_page_not_a_500(live_server: Any, settings: Any) -> None:
    import httpx

    settings.VIDEOSTUDIO_MAX_REQUEST_BYTES = 200_000
    image = png_bytes() + b"\0" * 300_000
    response = httpx.post(
        f"{live_server.url}{NEW}",
        data={"prompt": "a lighthouse", "model": "Sora-2"},
        files={"image": ("big.png", image, "image/png")},
        timeout=10,
    )
    assert response.status_code == 413
    assert "Your prompt and settings are still in the form" in response.text


@pytest.mark.django_db
def test_htmx_gets_a_message_for_the_alert_area_and_the_form_is_left_alone(
    client: Client, owner: Any
) -> None:
    client.force_login(owner)
    response = client.post(
        NEW,
        data=b"x" * 100,
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(GIGABYTE),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 413
    assert response["HX-Retarget"] == "#page-alert" and response["HX-Reswap"] == "innerHTML"
    html = response.content.decode()
    assert "<html" not in html and 'id="request-too-large"' in html
    # The page it lands on has the area, and htmx is told to show a 413 there.
    page = client.get(NEW).content.decode()
    assert 'id="page-alert"' in page
    assert '"code": "413", "swap": true' in page and '"target": "#page-alert"' in page


@pytest.mark.django_db
def test_too_much_form_data_is_a_413_page_not_a_500(
    client: Client, owner: Any, settings: Any
) -> None:
    # How it is logged (a warning, no traceback): tests/test_error_logging.py.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(owner)
    response = client.post(NEW, {"model": "Sora-2", "prompt": "p" * 5000})
    assert response.status_code == 413
    assert "too large to accept" in response.content.decode()
    assert 'class="topbar"' in response.content.decode()


@pytest.mark.django_db
def test_too_many_fields_is_a_400_page_in_the_apps_words(
    client: Client, owner: Any, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client.force_login(owner)
    response = client.post(NEW, {f"field{n}": "x" for n in range(30)})
    assert response.status_code == 400
    page = response.content.decode()
    assert "more fields than this studio accepts (10)" in page and 'class="topbar"' in page


# --- Bodies without a length (chunked) ------------------------------------------------


class Endless(io.RawIOBase):
    """A body that never ends, counting what was read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else size
        self.read_bytes += size
        return b"x" * size


def chunked_environ(body: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": NEW,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "wsgi.input": body,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }


@pytest.mark.django_db
def test_a_chunked_body_is_counted_and_refused_past_the_cap(settings: Any) -> None:
    settings.VIDEOSTUDIO_MAX_REQUEST_BYTES = 1_000_000
    statuses: list[str] = []
    body = Endless()
    app = limit_unsized_bodies(WSGIHandler())
    environ = chunked_environ(body)
    page = b"".join(app(environ, lambda status, headers, *a: statuses.append(status)))
    assert statuses == ["413 Request Entity Too Large"]
    assert b"too large to accept" in page
    assert environ[TOO_LARGE] is True
    # It stopped reading just past the cap.
    assert 1_000_000 < body.read_bytes <= 1_000_000 + 65536


def test_a_chunked_body_within_the_cap_reaches_django_with_its_length(settings: Any) -> None:
    seen: dict[str, Any] = {}

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["length"] = environ["CONTENT_LENGTH"]
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        return []

    limit_unsized_bodies(inner)(chunked_environ(io.BytesIO(b"prompt=hello")), lambda *a: None)
    assert seen == {"length": "12", "body": b"prompt=hello"}


def test_the_counted_copy_of_a_chunked_body_is_closed_with_the_response() -> None:
    kept: dict[str, Any] = {}

    class Response(list[bytes]):
        closed = False

        def close(self) -> None:
            self.closed = True

    def inner(environ: dict[str, Any], start_response: Any) -> Response:
        kept["body"] = environ["wsgi.input"]
        kept["response"] = Response([b"page"])
        return kept["response"]

    response = limit_unsized_bodies(inner)(chunked_environ(io.BytesIO(b"a=b")), lambda *a: None)
    assert list(response) == [b"page"] and not kept["body"].closed
    response.close()  # type: ignore[attr-defined]  # as the server does once it has sent the page
    assert kept["body"].closed and kept["response"].closed


# --- Under ASGI, where Django reads the body before any middleware --------------------


def asgi_post(*, chunks: int, declared: int | None) -> tuple[int, bytes, int]:
    """POST `chunks` of 64 KB (or declare a length) to the app under ASGI: the status,
    the page, and how many chunks the app took from the client."""
    import asyncio

    from asgiref.testing import ApplicationCommunicator
    from django.core.asgi import get_asgi_application

    from videostudio.limits import limit_asgi_bodies

    headers = [(b"host", b"testserver"), (b"content-type", b"application/x-www-form-urlencoded")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": NEW, "raw_path": NEW.encode(), "query_string": b"",
        "headers": headers, "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }  # fmt: skip

    async def run() -> tuple[int, bytes, int]:
        app = limit_asgi_bodies(get_asgi_application())
        talk = ApplicationCommunicator(app, scope)
        for _ in range(chunks):
            await talk.send_input({"type": "http.request", "body": b"x" * 65536, "more_body": True})
        start = await talk.receive_output(10)
        body = b""
        while True:
            part = await talk.receive_output(10)
            body += part.get("body", b"")
            if not part.get("more_body"):
                break
        taken = chunks - talk.input_queue.qsize()
        return start["status"], body, taken

    return asyncio.run(run())


@pytest.mark.django_db(transaction=True)
def test_under_asgi_a_declared_huge_body_is_refused_unread(settings: Any) -> None:
    settings.VIDEOSTUDIO_MAX_REQUEST_BYTES = 1_000_000
    status, page, taken = asgi_post(chunks=40, declared=GIGABYTE)
    assert status == 413 and b"too large to accept" in page
    assert taken == 0


@pytest.mark.django_db(transaction=True)
def test_under_asgi_an_undeclared_body_is_cut_off_at_the_cap(settings: Any) -> None:
    settings.VIDEOSTUDIO_MAX_REQUEST_BYTES = 1_000_000
    status, page, taken = asgi_post(chunks=40, declared=None)
    assert status == 413 and b"too large to accept" in page
    assert taken == 16  # 16 x 64 KB is the first past 1,000,000 bytes; the rest stay unread
