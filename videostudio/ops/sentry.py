"""Optional error reports to Sentry (SENTRY_DSN), without the provider key.

settings.py calls `sentry_init` when SENTRY_DSN is set, so the web server and the
worker both report. No personal data is sent (send_default_pii stays off, no request
bodies: prompts are the team's), and every event, transaction and breadcrumb passes
through a scrubber that replaces the secrets' values (the provider key, Django's
SECRET_KEY) wherever they appear: messages, exception text, local variables, headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration

FILTERED = "[Filtered]"
# A secret shorter than this is not worth hunting in text (and would match too much).
MIN_SECRET = 8


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (an event, or any part of one) with every secret's value filtered out."""
    hidden = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
    if not hidden:
        return value
    return _scrub(value, hidden)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item, secrets) for item in value)
    return value


def _scrub_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, FILTERED)
        # A value cut short ("Bearer sk-abc...") may end in the key's first characters.
        body = text.removesuffix("...").removesuffix("\u2026")
        for size in range(min(len(secret) - 1, len(body)), MIN_SECRET - 1, -1):
            if body.endswith(secret[:size]):
                text = body[:-size] + FILTERED
                break
    return text


def _client_error(hint: Any) -> bool:
    """A log record about a request the client got wrong (a bad host, a body too large:
    Django logs them as errors with a 4xx status). The console calls them warnings
    (`videostudio.logfilters.ClientErrors`); they are no error to report either."""
    record = (hint or {}).get("log_record")
    status = getattr(record, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500


def sentry_options(
    *,
    dsn: str,
    environment: str = "",
    release: str = "",
    traces_sample_rate: float = 0.0,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    hidden = [s for s in secrets if s]

    def before_send(event: Any, hint: Any) -> Any:
        if _client_error(hint):
            return None
        return scrub(event, hidden)

    def before_breadcrumb(crumb: Any, hint: Any) -> Any:
        return scrub(crumb, hidden)

    return {
        "dsn": dsn,
        "integrations": [DjangoIntegration()],
        # No personal data: send_default_pii stays at its default (off); setting it at
        # all is deprecated in favour of data_collection, whose default follows it.
        "max_request_body_size": "never",
        # Nor the values in a failing frame: they hold prompts, private ones included.
        "include_local_variables": False,
        "traces_sample_rate": traces_sample_rate,
        "environment": environment or None,
        "release": release or None,
        "before_send": before_send,
        "before_send_transaction": before_send,
        "before_breadcrumb": before_breadcrumb,
    }


def sentry_init(**options: Any) -> None:
    """Start reporting (see `sentry_options`); `transport` may replace the network (tests)."""
    transport = options.pop("transport", None)
    settings = sentry_options(**options)
    if transport is not None:
        settings["transport"] = transport
    sentry_sdk.init(**settings)
