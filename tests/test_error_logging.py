"""What the console log says about requests that went wrong: a client's mistake (403,
404, a bad host, a body too large) is one warning line without a traceback; an
unexpected error keeps its level and its traceback."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path, reverse

from videostudio.logfilters import ClientErrors

from .factories import a_video

pytestmark = pytest.mark.django_db


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("an unexpected bug")


# This module is the URLconf of the test that needs an unexpected error.
urlpatterns = [path("boom/", boom), path("", include("videostudio.urls"))]
handler400 = "videostudio.limits.bad_request"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the app's console handler writes, as configured by settings.LOGGING."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, ClientErrors) for f in h.filters)
    ]
    assert len(handlers) == 1, "the console handler carries the client_errors filter"
    handler = handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def lines_about(stream: io.StringIO, text: str) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if text in line]


def said(line: str, level: str, logger: str) -> bool:
    """The plain format: time, level, logger, the request's id, then the message."""
    return re.search(rf" {level} {re.escape(logger)} \[[^\]]+\]: ", line) is not None


def test_a_403_is_a_warning_without_a_traceback(
    client: Client, owner: Any, teammate: Any, console: io.StringIO
) -> None:
    video = a_video(owner=owner)
    client.force_login(teammate)
    response = client.post(reverse("videos:edit", args=[video.pk]), {"title": "x"})
    assert response.status_code == 403
    assert "Only the owner can change this video." in response.content.decode()
    found = lines_about(console, "Forbidden")
    assert found and all(said(line, "WARNING", "django.request") for line in found)
    assert "Traceback" not in console.getvalue()


def test_a_404_raised_deep_in_a_view_is_a_warning_without_a_traceback(
    client: Client, owner: Any, teammate: Any, console: io.StringIO
) -> None:
    video = a_video(owner=owner, private=True)
    client.force_login(teammate)
    assert client.get(reverse("videos:detail", args=[video.pk])).status_code == 404
    assert client.get(reverse("videos:media", args=[video.pk, "nothing"])).status_code == 404
    found = lines_about(console, "Not Found")
    assert len(found) == 2 and all(" WARNING " in line for line in found)
    assert "Traceback" not in console.getvalue()


def test_a_bad_host_is_a_400_page_and_a_warning_without_a_traceback(
    client: Client, console: io.StringIO
) -> None:
    response = client.get("/accounts/login/", HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    found = lines_about(console, "Invalid HTTP_HOST header")
    assert found and all(said(line, "WARNING", "django.security.DisallowedHost") for line in found)
    assert "Traceback" not in console.getvalue()


def test_form_data_over_djangos_cap_is_a_warning_without_a_traceback(
    client: Client, owner: Any, settings: Any, console: io.StringIO
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(owner)
    response = client.post(reverse("videos:new"), {"prompt": "p" * 5000})
    assert response.status_code == 413
    found = lines_about(console, "RequestDataTooBig")
    assert found and all(" WARNING " in line for line in found)
    assert " ERROR " not in console.getvalue() and "Traceback" not in console.getvalue()


@pytest.mark.urls(__name__)
def test_an_unexpected_error_keeps_its_traceback(owner: Any, console: io.StringIO) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    log = console.getvalue()
    assert any(
        said(line, "ERROR", "django.request") and "Internal Server Error: /boom/" in line
        for line in log.splitlines()
    )
    assert "Traceback" in log and "RuntimeError: an unexpected bug" in log
