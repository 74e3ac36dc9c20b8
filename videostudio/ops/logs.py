"""Logs that can be followed: a request id on every line, optionally one JSON object a line.

`RequestIdMiddleware` takes the id from the request's `X-Request-ID` (when it is a
short plain token: a proxy's or a load balancer's) or makes one, keeps it in a
context variable for the log lines of that request, and returns it in the response's
`X-Request-ID`. `RequestIdFilter` (on the console handler) puts it on every record,
"-" outside a request (the worker). settings.LOGGING picks the formatter from
LOG_FORMAT: the plain one, or `JsonFormatter`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponseBase

HEADER = "X-Request-ID"
NONE = "-"
# What an incoming id may look like: a short token, nothing a log reader could trip on.
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

request_id: ContextVar[str] = ContextVar("request_id", default=NONE)


def request_id_for(incoming: str | None) -> str:
    """The incoming id when it is sane, else a new one."""
    if incoming and SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        rid = request_id_for(request.headers.get(HEADER))
        # Not reset when this returns: Django logs a 4xx/5xx ("Not Found: ...") after the
        # middleware is done. `request_finished` resets it once the response is closed.
        request_id.set(rid)
        response = self.get_response(request)
        response[HEADER] = rid
        return response


def _forget_request_id(**kwargs: Any) -> None:
    request_id.set(NONE)


request_finished.connect(_forget_request_id, dispatch_uid="videostudio.ops.logs")


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` (the current request's id, or "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message,
    request_id, and the traceback as text (`exc_info`) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
