"""The API's refusals, in the provider's error shape: any OpenAI-style client reads
them as it reads the provider's.

    {"error": {"code": ..., "type": ..., "message": ..., "metadata": {...}}}

Every answer under /v1/ that is not the view's own, Django's 404, 403 and 500 and the
request size caps included, comes in this shape too (`refusal`), never as a page.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/v1/"

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
INSUFFICIENT_CREDITS = "insufficient_credits"
PERMISSION = "permission_error"
NOT_FOUND = "not_found"  # Poe's word (OpenAI's is not_found_error)
RATE_LIMIT = "rate_limit_error"
PROVIDER = "provider_error"


def api_error(
    status: int,
    *,
    type: str,
    code: str,
    message: str,
    metadata: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """One refusal, as the provider words its own: `code` is the HTTP status (an
    integer, as Poe sends it), `type` the class of error (clients branch on it), the
    particular reason in `metadata.reason`, `message` for people (never a secret,
    never the token)."""
    body = {
        "error": {
            "code": status,
            "type": type,
            "message": message,
            "metadata": {"reason": code, **(metadata or {})},
        }
    }
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def unauthenticated() -> JsonResponse:
    """The one answer to a missing, malformed, unknown, revoked or expired token: which
    of these it was would help only someone guessing."""
    return api_error(
        401,
        type=AUTHENTICATION,
        code="invalid_api_key",
        message="This request needs a valid personal access token "
        "(Authorization: Bearer vs_...). Members make and revoke theirs at /account/tokens/.",
        headers={"WWW-Authenticate": 'Bearer realm="videostudio"'},
    )


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    return api_error(
        405,
        type=INVALID_REQUEST,
        code="method_not_allowed",
        message=f"{request.method} is not taken here: use {' or '.join(allowed)}.",
        metadata={"allowed": allowed},
        headers={"Allow": ", ".join(allowed)},
    )


def rate_limited(wait: float) -> JsonResponse:
    """429 with Retry-After in whole seconds, at least 1 (0 would mean "now")."""
    seconds = max(1, math.ceil(wait))
    per_minute = settings.VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE
    return api_error(
        429,
        type=RATE_LIMIT,
        code="rate_limit_exceeded",
        message=f"This token has made more requests than it may ({per_minute} a minute, "
        f"after a burst of {settings.VIDEOSTUDIO_API_TOKEN_BURST}): try again in "
        f"{seconds} s.",
        metadata={"retry_after_seconds": seconds},
        headers={"Retry-After": str(seconds)},
    )


def not_found(message: str = "There is nothing at this address.") -> JsonResponse:
    return api_error(404, type=NOT_FOUND, code="not_found", message=message)


def refusal(request: HttpRequest, status: int) -> HttpResponse | None:
    """Django's own refusals (400, 403, 404, 413, 500) for an API path in the API's
    shape; None for any other path (the app's pages answer those)."""
    if not is_api_request(request):
        return None
    if status == 404:
        return not_found()
    if status == 403:
        return api_error(
            403,
            type=PERMISSION,
            code="permission_denied",
            message="This token's member may not do that.",
        )
    if status == 413:
        cap = settings.VIDEOSTUDIO_MAX_REQUEST_BYTES
        # Base64 makes an image a third larger: in JSON, less of one fits in the cap.
        in_json_mb = min(cap * 3 // 4 // (1024 * 1024), settings.MAX_UPLOAD_MB)
        return api_error(
            413,
            type=INVALID_REQUEST,
            code="request_too_large",
            message=f"The request body is larger than the studio takes ({cap // (1024 * 1024)} "
            f"MB). A reference image may be at most {settings.MAX_UPLOAD_MB} MB as a file "
            f"(multipart, input_reference), or about {in_json_mb} MB in base64 "
            "(JSON, input_image).",
            metadata={"max_bytes": settings.VIDEOSTUDIO_MAX_REQUEST_BYTES},
        )
    if status == 400:
        return api_error(
            400,
            type=INVALID_REQUEST,
            code="bad_request",
            message="The request could not be read: check its body and its headers.",
        )
    return api_error(
        500,
        type=PROVIDER,
        code="server_error",
        message="Something went wrong in the studio; it has been logged. Try again later.",
    )
