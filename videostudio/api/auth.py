"""`api_view`: a view of the API, reached with a personal access token.

A request carries `Authorization: Bearer vs_...`; the token acts as its member
(`request.user`, and `request.api_token`), with no session and no cookies. Each token
has its own request budget (VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE, after a burst of
VIDEOSTUDIO_API_TOKEN_BURST), kept where the key's is (Redis, else the database), so
it holds across every process on every host; beyond it the answer is 429 with
Retry-After. That budget is the token's own: what the team's key may spend is still
paced by the key's budget, behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from videostudio.api import errors, services
from videostudio.api.models import ApiToken
from videostudio.connection import shared_budget
from videostudio.pacing.budget import Budget
from videostudio.provider.ratelimit import Priority

View = Callable[..., HttpResponseBase]

BUDGET_PREFIX = "api-token:"
# Budgets kept per process (a Redis one remembers an outage, and its stand-in's count).
_KEPT = 1000
_budgets: dict[tuple[str, int, int, str], Budget] = {}
_budgets_lock = threading.Lock()


def token_budget(token: ApiToken) -> Budget:
    """The token's request budget, shared by every process (one name per token)."""
    rate = settings.VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE
    burst = settings.VIDEOSTUDIO_API_TOKEN_BURST
    key = (f"{BUDGET_PREFIX}{token.pk}", rate, burst, settings.REDIS_URL)
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            if len(_budgets) >= _KEPT:
                _budgets.clear()
            budget = _budgets[key] = shared_budget(key[0], rate_per_minute=rate, burst=burst)
    return budget


def bearer_token(request: HttpRequest) -> str | None:
    """The token in `Authorization: Bearer <token>`, or None (no header, another scheme)."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def _token_of(request: HttpRequest) -> ApiToken | None:
    """The request's token, if good. Read here, so that the token itself is in no frame
    of a traceback from the view (error reports show the locals of each frame)."""
    raw = bearer_token(request)
    return services.token_authenticate(raw) if raw else None


def _member(member: Any) -> Callable[[], Any]:
    """`request.auser` (async views) answering the token's member, not the session's."""

    async def auser() -> Any:
        return member

    return auser


def api_view(methods: list[str]) -> Callable[[View], View]:
    """Make `view` an API view taking only `methods`: no CSRF (no cookies are read), no
    login page; a token, or 401; within the token's budget, or 429. Every refusal is in
    the API's error shape."""
    allowed = [method.upper() for method in methods]

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                return errors.method_not_allowed(request, allowed)
            token = _token_of(request)
            if token is None:
                return errors.unauthenticated()
            wait = token_budget(token).try_take(Priority.SEND)
            if wait > 0:
                return errors.rate_limited(wait)
            member = token.user
            request.user = member
            request.auser = _member(member)
            request.api_token = token  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return csrf_exempt(login_not_required(wrapped))

    return decorator
