"""`api_view`: a token or 401, the methods it takes or 405, the token's budget or 429
with Retry-After (held across real separate processes), the member as request.user,
no cookies; and every refusal under /v1/ (404, 403, 413, 500) in the provider's error
shape, never a page. The views below are this module's own, wired by `urlpatterns`
next to the app's (whose error handlers are the real ones)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.test import Client
from django.urls import path

from videostudio import urls as app_urls
from videostudio.api import auth
from videostudio.api.auth import api_view
from videostudio.api.errors import api_error
from videostudio.api.models import ApiToken
from videostudio.api.services import token_create, token_revoke
from videostudio.pacing.redis import KEY_PREFIX

from .helpers import ready_together
from .test_pacing import REDIS_URL, connect_redis

URLS = "tests.test_api_auth"


# --- A tiny API, for these tests only -----------------------------------------------------


@api_view(["GET", "POST"])
def whoami(request: HttpRequest) -> JsonResponse:
    token = request.api_token  # type: ignore[attr-defined]
    return JsonResponse({"user": request.user.get_username(), "token": token.name})


@api_view(["POST"])
def read_form(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"fields": len(request.POST)})


@api_view(["GET"])
def broken(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("a bug, with a secret in its message: sk-live-123")


@api_view(["GET"])
def forbidden(request: HttpRequest) -> JsonResponse:
    raise PermissionDenied("not yours")


urlpatterns = [
    path("v1/whoami", whoami),
    path("v1/form", read_form),
    path("v1/broken", broken),
    path("v1/forbidden", forbidden),
    *app_urls.urlpatterns,
]
handler400 = app_urls.handler400
handler403 = app_urls.handler403
handler404 = app_urls.handler404
handler500 = app_urls.handler500

pytestmark = pytest.mark.urls(URLS)


@pytest.fixture(autouse=True)
def budget_prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test's token budgets under names of its own: nothing left in Redis by one
    run (or a real one) meets another."""
    prefix = f"test-{uuid.uuid4().hex}:api-token:"
    monkeypatch.setattr(auth, "BUDGET_PREFIX", prefix)
    yield prefix
    if os.environ.get("REDIS_URL"):
        client = connect_redis()
        keys = client.keys(KEY_PREFIX + prefix + "*")
        if keys:
            client.delete(*keys)
        client.close()


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The provider's error shape, exactly: {"error": {code, type, message, metadata}}."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == {"code", "type", "message", "metadata"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["metadata"], dict)
    return dict(error)


@pytest.fixture
def token(owner: User) -> tuple[ApiToken, str]:
    return token_create(user=owner, name="notebook")


# --- The error shape ----------------------------------------------------------------------


def test_api_error_answers_in_the_providers_shape() -> None:
    response = api_error(
        402,
        type="insufficient_credits",
        code="budget_exhausted",
        message="Your monthly budget is used up.",
        metadata={"remaining": 0},
        headers={"X-Extra": "1"},
    )
    error = error_of(response, 402)
    assert error == {
        "code": 402,  # the status, an integer, as Poe sends it
        "type": "insufficient_credits",
        "message": "Your monthly budget is used up.",
        "metadata": {"reason": "budget_exhausted", "remaining": 0},
    }
    assert response["X-Extra"] == "1"


# --- Who is asking ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_good_token_runs_the_view_as_its_member_with_no_cookies(
    client: Client, token: tuple[ApiToken, str]
) -> None:
    _row, raw = token
    response = client.get("/v1/whoami", headers=bearer(raw))
    assert response.status_code == 200
    assert response.json() == {"user": "olivia", "token": "notebook"}
    assert not response.cookies
    assert "Set-Cookie" not in response
    # A POST needs no CSRF token: nothing here reads a cookie.
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/v1/whoami", headers=bearer(raw)).status_code == 200


@pytest.mark.django_db
def test_the_token_wins_over_a_browser_session(
    client: Client, token: tuple[ApiToken, str], teammate: User
) -> None:
    client.force_login(teammate)
    _row, raw = token
    response = client.get("/v1/whoami", headers=bearer(raw))
    assert response.json()["user"] == "olivia"
    assert "Set-Cookie" not in response
    # A session alone is not a token.
    error_of(client.get("/v1/whoami"), 401)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer vs_not-a-real-token-at-all-000000000000000000",
        "Bearer sk-the-providers-key",
        "Token {raw}",
        "Basic {raw}",
        "{raw}",
    ],
)
def test_no_good_bearer_token_is_401_in_the_error_shape(
    client: Client, token: tuple[ApiToken, str], authorization: str | None
) -> None:
    _row, raw = token
    headers = {} if authorization is None else {"Authorization": authorization.format(raw=raw)}
    response = client.get("/v1/whoami", headers=headers)
    error = error_of(response, 401)
    assert error["type"] == "authentication_error"
    assert error["code"] == 401 and error["metadata"]["reason"] == "invalid_api_key"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert raw not in response.content.decode()
    assert "Set-Cookie" not in response


@pytest.mark.django_db
def test_revoked_and_expired_tokens_get_the_same_401_as_junk(client: Client, owner: User) -> None:
    revoked, revoked_raw = token_create(user=owner, name="old")
    token_revoke(token=revoked, actor=owner)
    _expired, expired_raw = token_create(user=owner, name="stale")
    ApiToken.objects.filter(name="stale").update(expires_at="2020-01-01T00:00:00Z")

    answers = [
        client.get("/v1/whoami", headers=bearer(raw)).content
        for raw in (revoked_raw, expired_raw, "vs_" + "x" * 43)
    ]
    assert len(set(answers)) == 1  # nothing tells which it was
    error_of(client.get("/v1/whoami", headers=bearer(revoked_raw)), 401)
    for raw in (revoked_raw, expired_raw):
        assert raw.encode() not in answers[0]


@pytest.mark.django_db
def test_a_method_the_view_does_not_take_is_405_in_the_error_shape(
    client: Client, token: tuple[ApiToken, str]
) -> None:
    _row, raw = token
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        response = client.generic(method, "/v1/whoami", headers=bearer(raw))
        error = error_of(response, 405)
        assert error["type"] == "invalid_request_error"
        assert error["code"] == 405 and error["metadata"]["reason"] == "method_not_allowed"
        assert response["Allow"] == "GET, POST"
    response = client.get("/v1/form", headers=bearer(raw))
    assert error_of(response, 405)["metadata"] == {
        "reason": "method_not_allowed",
        "allowed": ["POST"],
    }


# --- The token's budget -------------------------------------------------------------------


@pytest.mark.django_db
def test_past_the_burst_a_token_gets_429_with_retry_after_and_others_go_on(
    client: Client, settings: Any, owner: User, teammate: User
) -> None:
    settings.VIDEOSTUDIO_API_TOKEN_BURST = 3
    settings.VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE = 2  # one every 30 s
    _first, raw = token_create(user=owner, name="busy")
    _second, other = token_create(user=owner, name="quiet")

    answers = [client.get("/v1/whoami", headers=bearer(raw)) for _ in range(4)]

    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    error = error_of(answers[3], 429)
    assert error["type"] == "rate_limit_error"
    retry_after = int(answers[3]["Retry-After"])
    assert 25 <= retry_after <= 30
    assert error["metadata"] == {
        "reason": "rate_limit_exceeded",
        "retry_after_seconds": retry_after,
    }
    # The budget is per token: another token of the same member still goes.
    assert client.get("/v1/whoami", headers=bearer(other)).status_code == 200
    _theirs, theirs_raw = token_create(user=teammate, name="theirs")
    assert client.get("/v1/whoami", headers=bearer(theirs_raw)).status_code == 200


@pytest.mark.django_db
def test_retry_after_is_never_below_one_second(client: Client, settings: Any, owner: User) -> None:
    settings.VIDEOSTUDIO_API_TOKEN_BURST = 1
    settings.VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE = 6000  # one every 10 ms
    _row, raw = token_create(user=owner, name="fast")
    answers = [client.get("/v1/whoami", headers=bearer(raw)) for _ in range(20)]
    refused = [a for a in answers if a.status_code == 429]
    if not refused:  # a slow machine: every request waited its 10 ms anyway
        pytest.skip("the requests were slower than the rate")
    assert all(a["Retry-After"] == "1" for a in refused)


@pytest.mark.django_db
def test_refused_requests_cost_no_budget(
    client: Client, settings: Any, token: tuple[ApiToken, str]
) -> None:
    settings.VIDEOSTUDIO_API_TOKEN_BURST = 2
    settings.VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE = 1
    _row, raw = token
    for _ in range(5):  # a wrong method, a wrong token: answered before the budget
        error_of(client.delete("/v1/whoami", headers=bearer(raw)), 405)
        error_of(client.get("/v1/whoami", headers=bearer(raw + "x")), 401)
    assert client.get("/v1/whoami", headers=bearer(raw)).status_code == 200
    assert client.get("/v1/whoami", headers=bearer(raw)).status_code == 200
    error_of(client.get("/v1/whoami", headers=bearer(raw)), 429)


# --- Django's refusals under /v1/ ---------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_v1_address_is_a_json_404_and_the_pages_keep_their_html(
    client: Client, owner: User
) -> None:
    for url in ("/v1/nothing-here", "/v1/", "/v1/videos/abc/unknown"):
        error = error_of(client.get(url), 404)
        assert error == {
            "code": 404,
            "type": "not_found",  # Poe's words
            "message": error["message"],
            "metadata": {"reason": "not_found"},
        }
    client.force_login(owner)
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert b"Not found" in page.content


@pytest.mark.django_db
def test_a_crash_under_v1_is_a_json_500_without_a_trace(
    token: tuple[ApiToken, str], caplog: pytest.LogCaptureFixture
) -> None:
    _row, raw = token
    client = Client(raise_request_exception=False)
    response = client.get("/v1/broken", headers=bearer(raw))
    error = error_of(response, 500)
    assert error["type"] == "provider_error"
    body = response.content.decode()
    assert "Traceback" not in body and "RuntimeError" not in body and "sk-live" not in body


@pytest.mark.django_db
def test_permission_denied_under_v1_is_a_json_403(
    client: Client, token: tuple[ApiToken, str]
) -> None:
    _row, raw = token
    error = error_of(client.get("/v1/forbidden", headers=bearer(raw)), 403)
    assert error["type"] == "permission_error"


@pytest.mark.django_db
def test_a_body_over_the_cap_under_v1_is_a_json_413(
    client: Client, settings: Any, token: tuple[ApiToken, str]
) -> None:
    _row, raw = token
    settings.VIDEOSTUDIO_MAX_REQUEST_BYTES = 1000
    response = client.post(
        "/v1/form", b"x" * 2000, content_type="application/octet-stream", headers=bearer(raw)
    )
    error = error_of(response, 413)
    assert error["type"] == "invalid_request_error"
    assert error["metadata"]["reason"] == "request_too_large"
    assert error["metadata"] == {"reason": "request_too_large", "max_bytes": 1000}


@pytest.mark.django_db
def test_form_fields_past_djangos_cap_under_v1_are_a_json_413(
    client: Client, settings: Any, token: tuple[ApiToken, str]
) -> None:
    _row, raw = token
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post("/v1/form", {"prompt": "x" * 3000}, headers=bearer(raw))
    assert error_of(response, 413)["metadata"]["reason"] == "request_too_large"


@pytest.mark.django_db
def test_too_large_elsewhere_is_still_the_apps_page(
    client: Client, settings: Any, owner: User
) -> None:
    settings.VIDEOSTUDIO_MAX_REQUEST_BYTES = 1000
    client.force_login(owner)
    response = client.post(
        "/account/tokens/", b"x" * 2000, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")


# --- One token's budget across real separate processes ------------------------------------

RATE = 600  # a minute: 10 a second
BURST = 5

CALLER = r"""
import json, os, sys, time
database, redis_url, raw, run = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
from django.conf import settings
settings.DATABASES["default"]["NAME"] = database  # the test database
settings.REDIS_URL = redis_url  # "": the budget lives in the database
settings.ROOT_URLCONF = "tests.test_api_auth"
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()  # the test client's host is allowed
from videostudio.api import auth
auth.BUDGET_PREFIX = os.environ["TEST_BUDGET_PREFIX"]
client = Client()
headers = {"Authorization": f"Bearer {raw}"}
assert client.get("/v1/nothing", headers=headers).status_code == 404  # set up, costs nothing
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    time.sleep(0.002)
report = {"granted": [], "refused": 0, "other": []}
while time.time() < start + run:
    asked = time.time()
    response = client.get("/v1/whoami", headers=headers)
    answered = time.time()
    if response.status_code == 200:
        report["granted"].append([asked, answered])
    elif response.status_code == 429:
        report["refused"] += 1
        time.sleep(0.01)
    else:
        report["other"].append(response.status_code)
print(json.dumps(report), flush=True)
"""


def call_at_once(redis_url: str, raw: str, prefix: str, *, processes: int, run: float) -> list[Any]:
    env = {
        "VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE": str(RATE),
        "VIDEOSTUDIO_API_TOKEN_BURST": str(BURST),
        "TEST_BUDGET_PREFIX": prefix,
    }
    database = str(connection.settings_dict["NAME"])
    command = [sys.executable, "-c", CALLER, database, redis_url, raw, str(run)]
    return ready_together([command] * processes, env=env)


@pytest.fixture(
    params=[
        # Committed for real: the callers must see the token.
        pytest.param("database", marks=pytest.mark.django_db(transaction=True)),
        pytest.param("redis", marks=pytest.mark.django_db(transaction=True)),
    ]
)
def shared(request: pytest.FixtureRequest, budget_prefix: str) -> Iterator[str]:
    """Where the token's budget lives: Redis's URL, or "" for the database."""
    if request.param == "database":
        yield ""
        return
    client = connect_redis()
    yield REDIS_URL
    keys = client.keys(KEY_PREFIX + budget_prefix + "*")
    if keys:
        client.delete(*keys)
    client.close()


def test_one_tokens_limit_holds_across_processes_calling_at_once(
    shared: str, owner: User, budget_prefix: str
) -> None:
    _row, raw = token_create(user=owner, name="shared by four processes")
    run = 2.5

    reports = call_at_once(shared, raw, budget_prefix, processes=4, run=run)

    assert all(report["other"] == [] for report in reports), reports
    granted = sorted(
        (asked, answered) for report in reports for asked, answered in report["granted"]
    )
    per_second = RATE / 60
    # Everything granted: never more than the burst plus the refill over the run.
    elapsed = max(answered for _asked, answered in granted) - granted[0][0]
    assert len(granted) <= BURST + per_second * elapsed
    # Nor in any stretch of it: grants asked for from one moment on were decided by the
    # time the last of them was answered.
    for i, (first, _answered) in enumerate(granted):
        for j in range(i, len(granted)):
            last = max(answered for _asked, answered in granted[i : j + 1])
            assert j - i + 1 <= BURST + per_second * (last - first), (j - i + 1, last - first)
    # The limit was met (the processes asked for more than it allows), and it was
    # shared, not starved: every process got some, and the budget was spent.
    assert sum(report["refused"] for report in reports) > 0
    assert all(report["granted"] for report in reports), [len(r["granted"]) for r in reports]
    assert len(granted) >= 0.6 * (BURST + per_second * run)
