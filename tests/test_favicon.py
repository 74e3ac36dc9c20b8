"""The icon: every page links it, and /favicon.ico (asked for by browsers and crawlers
whatever a page links) leads to it instead of filling the logs with 404s."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from .conftest import make_user

pytestmark = pytest.mark.django_db

ICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def test_favicon_ico_leads_anyone_to_the_icon(client: Client) -> None:
    for method in (client.get, client.head):
        response = method("/favicon.ico")
        assert response.status_code == 302, response.status_code
        assert response["Location"] == "/static/favicon.svg"
        assert "max-age=86400" in response["Cache-Control"]
    icon = client.get("/favicon.ico", follow=True)
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)  # type: ignore[attr-defined]
    assert client.post("/favicon.ico").status_code == 405


def test_the_app_and_the_admin_link_the_icon(client: Client, owner: Any) -> None:
    assert ICON in client.get(reverse("login")).content.decode()
    client.force_login(owner)
    assert ICON in client.get(reverse("videos:list")).content.decode()
    client.force_login(make_user("ada", is_staff=True, is_superuser=True))
    assert ICON in client.get(reverse("admin:index")).content.decode()
