"""Request size caps, enforced by the app itself (nginx's client_max_body_size is a
second line, not the only one).

- A body whose Content-Length is over VIDEOSTUDIO_MAX_REQUEST_BYTES is answered 413
  before a byte of it is read.
- A body with no length (chunked; only gunicorn passes those on) is counted as it
  arrives, by `limit_unsized_bodies` around the WSGI app, and given a length if it
  fits; past the cap reading stops and the request is answered 413 the same way.
- Django's own caps on form fields (DATA_UPLOAD_MAX_MEMORY_SIZE,
  DATA_UPLOAD_MAX_NUMBER_FIELDS) raise while the form is parsed; `bad_request` turns
  those into the same 413 page, or a 400 page, in the app's words.

A higher app that answers in a shape of its own (the API's JSON errors under /v1/)
registers a refuser (`register_refuser`): these refusals ask it first.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

# Set on the WSGI environ when a body without a length ran past the cap.
TOO_LARGE = "videostudio.body_too_large"
_CHUNK = 64 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ASGIApp = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Any]
# (request, status) -> its own answer, or None to leave it to the pages here.
Refuser = Callable[[HttpRequest, int], HttpResponse | None]

_refusers: list[Refuser] = []


def register_refuser(refuser: Refuser) -> None:
    """Let `refuser` answer the refusals here first (once each, however often asked)."""
    if refuser not in _refusers:
        _refusers.append(refuser)


class RequestLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cap = settings.VIDEOSTUDIO_MAX_REQUEST_BYTES
        length = _content_length(request)
        cut = request.META.get(TOO_LARGE) or getattr(request, "scope", {}).get(TOO_LARGE)
        if cut or (length is not None and length > cap):
            # django.request logs the 413 as a warning too; this line says why.
            logger.info(
                "Refused a %s body for %s %s: the cap is %s bytes",
                f"{length}-byte" if length else "chunked",
                request.method,
                request.path,
                cap,
            )
            return too_large(request)
        return self.get_response(request)


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def too_large(request: HttpRequest) -> HttpResponse:
    """413, with what to do: the page, or for htmx a message above the form (the form
    itself, and what the user typed in it, stays as it was)."""
    context = {
        "cap_mb": settings.VIDEOSTUDIO_MAX_REQUEST_BYTES // (1024 * 1024),
        "image_mb": settings.MAX_UPLOAD_MB,
    }
    return _refusal(request, "413.html", context, status=413)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: Django's caps on form fields, and any other request it cannot read."""
    if isinstance(exception, RequestDataTooBig):
        return too_large(request)
    context = {
        "too_many": isinstance(exception, TooManyFieldsSent | TooManyFilesSent),
        "max_fields": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
    }
    return _refusal(request, "400.html", context, status=400)


def _refusal(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int
) -> HttpResponse:
    for refuser in _refusers:
        answer = refuser(request, status)
        if answer is not None:
            return answer
    # HtmxMiddleware may not have run yet: read the header itself.
    if request.headers.get("HX-Request") == "true":
        response = render(request, f"{template}#refusal", context, status=status)
        # Shown in the page's alert area; the form that was sent is left alone.
        response["HX-Retarget"] = "#page-alert"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, template, context, status=status)


def limit_unsized_bodies(app: WSGIApp) -> WSGIApp:
    """Count a body that comes without a Content-Length (chunked) while reading it, up
    to the cap: within it, hand Django the body with its length (Django reads no body
    without one); past it, stop reading and let the middleware answer 413."""

    def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            cap = settings.VIDEOSTUDIO_MAX_REQUEST_BYTES
            source = environ["wsgi.input"]
            # Django reads it from here; closed with the response (past 2.5 MB it is a
            # file on disk, which must not wait for the garbage collector).
            body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
            total = 0
            while chunk := source.read(_CHUNK):
                total += len(chunk)
                if total > cap:
                    environ[TOO_LARGE] = True
                    body.truncate(0)
                    total = 0
                    break
                body.write(chunk)
            body.seek(0)
            environ["wsgi.input"] = body
            environ["CONTENT_LENGTH"] = str(total)
            return _Closing(app(environ, start_response), body)
        return app(environ, start_response)

    return counted


class _Closing:
    """A WSGI response that, when the server closes it, also closes `extra`."""

    def __init__(self, response: Iterable[bytes], extra: Any) -> None:
        self.response, self.extra = response, extra

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        try:
            close = getattr(self.response, "close", None)
            if close is not None:
                close()
        finally:
            self.extra.close()


def limit_asgi_bodies(app: ASGIApp) -> ASGIApp:
    """The same cap under ASGI, where Django reads the whole body before any
    middleware runs: stop reading at the declared or counted length past the cap, and
    let the middleware answer 413."""

    async def limited(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        cap = settings.VIDEOSTUDIO_MAX_REQUEST_BYTES
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b""))
        except ValueError:
            declared = None
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            if scope.get(TOO_LARGE):
                # Cut short: nothing more is read. Django only waits here for a
                # disconnect, and cancels the wait once it has answered.
                await asyncio.Event().wait()
            if declared is not None and declared > cap:
                scope[TOO_LARGE] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    scope[TOO_LARGE] = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        return await app(scope, counted, send)

    return limited
