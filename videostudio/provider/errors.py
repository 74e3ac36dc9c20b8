"""What can go wrong when talking to the provider, sorted by what to do about it.

Callers decide on two flags rather than on HTTP codes: `transient` (trying again
later may work) and `outcome_unknown` (a create may or may not have reached the
provider, so resubmitting could pay for the same video twice). `user_message` is
what a team member sees; `message` is the provider's own text, for the logs.

No error ever holds the request or its headers: the team's key must not end up
in a log line, a traceback or a task result.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import time
from typing import Any

import httpx

_MAX_MESSAGE = 500
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_BEARER = re.compile(r"^\s*bearer\s+", re.IGNORECASE)


class ProviderError(Exception):
    """A call to the provider failed; the subclass says how."""

    default_transient = False

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str | int | None = None,
        error_type: str = "",
        transient: bool | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        self.message = _trim(message)
        self.status = status
        self.code = code
        self.error_type = error_type
        self.transient = self.default_transient if transient is None else transient
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        super().__init__(self.message)

    def __str__(self) -> str:
        head = f"HTTP {self.status}" if self.status is not None else type(self).__name__
        if self.error_type:
            head = f"{head} {self.error_type}"
        text = f"{head}: {self.message}" if self.message else head
        return f"{text} (outcome unknown)" if self.outcome_unknown else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, error_type={self.error_type!r}, "
            f"message={self.message!r}, transient={self.transient!r}, "
            f"outcome_unknown={self.outcome_unknown!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling; task queues pickle errors.
        return (_rebuild, (type(self), self.__dict__.copy()))

    @property
    def user_message(self) -> str:
        if self.status is not None and 400 <= self.status < 500:
            detail = f": {self.message}" if self.message else "."
            return f"The provider refused the request (HTTP {self.status}){detail}"
        return self._with_unknown_outcome("Something went wrong while talking to the provider.")

    def _with_unknown_outcome(self, text: str) -> str:
        if not self.outcome_unknown:
            return text
        return (
            f"{text} The provider may or may not have started the video; "
            "check the list before submitting it again."
        )


def _rebuild(cls: type[ProviderError], state: dict[str, Any]) -> ProviderError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class InvalidRequest(ProviderError):
    @property
    def user_message(self) -> str:
        return f"The provider rejected the request: {self.message or 'no reason given'}"


class AuthenticationFailed(ProviderError):
    @property
    def user_message(self) -> str:
        return (
            "The provider rejected the team's API key. This is not something you did: "
            "an admin needs to fix VIDEOSTUDIO_API_KEY."
        )


class InsufficientCredits(ProviderError):
    @property
    def user_message(self) -> str:
        return "The team's provider point balance is used up. Ask an admin to add points."


class NotFound(ProviderError):
    @property
    def user_message(self) -> str:
        return "The provider no longer has this video (it may have expired or been deleted)."


class RateLimited(ProviderError):
    default_transient = True

    @property
    def user_message(self) -> str:
        return "The provider is busy right now; we will try again shortly."


class BudgetBusy(ProviderError):
    """Not sent: the team's request budget had no turn for a call this unhurried (the
    usage history, the balance, a catalog sync) while videos kept it busy."""

    default_transient = True

    @property
    def user_message(self) -> str:
        return (
            "The team's request budget is busy with videos right now, so this was not "
            "asked of the provider; try again in a minute."
        )


class ProviderServerError(ProviderError):
    default_transient = True

    @property
    def user_message(self) -> str:
        return self._with_unknown_outcome("The provider had an internal error.")


class ProviderTimeout(ProviderError):
    default_transient = True

    @property
    def user_message(self) -> str:
        return self._with_unknown_outcome("The provider did not answer in time.")


class ProviderUnreachable(ProviderError):
    """The connection failed before the request was sent: safe to send again."""

    default_transient = True

    @property
    def user_message(self) -> str:
        return "Could not reach the provider (the connection failed)."


class ConnectionLost(ProviderError):
    """The connection broke while the request or the answer was on the wire."""

    default_transient = True

    @property
    def user_message(self) -> str:
        return self._with_unknown_outcome("The connection to the provider broke off.")


class DownloadIncomplete(ProviderError):
    default_transient = True

    @property
    def user_message(self) -> str:
        return "The download from the provider was cut short."


class ListUnsupported(ProviderError):
    """The provider has no `GET /v1/videos` (Poe documents none): track each job on its own."""

    @property
    def user_message(self) -> str:
        return "The provider cannot list videos; each one is checked on its own."


class ProtocolError(ProviderError):
    """A success answer we could not make sense of."""

    @property
    def user_message(self) -> str:
        return self._with_unknown_outcome("The provider sent an answer we could not understand.")


_BY_STATUS: dict[int, type[ProviderError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    402: InsufficientCredits,
    404: NotFound,
    429: RateLimited,
}

# Relays do not always pick the documented status; their error type still says what happened.
_BY_TYPE: dict[str, type[ProviderError]] = {
    "invalid_request_error": InvalidRequest,
    "authentication_error": AuthenticationFailed,
    "insufficient_credits": InsufficientCredits,
    "not_found": NotFound,
    "rate_limit_error": RateLimited,
}


def error_from_response(response: httpx.Response) -> ProviderError:
    """The error a non-2xx answer stands for. The body must have been read already."""
    status = response.status_code
    code: str | int | None = None
    error_type = ""
    message = ""
    payload = _json_or_none(response)
    if isinstance(payload, dict):
        envelope = payload.get("error")
        if isinstance(envelope, dict):
            raw_code = envelope.get("code")
            code = raw_code if isinstance(raw_code, str | int) else None
            error_type = _text(envelope.get("type"))
            message = _text(envelope.get("message"))
        elif isinstance(envelope, str):
            message = envelope
        else:
            message = _text(payload.get("message") or payload.get("detail"))
    elif payload is None:
        message = _plain_text(response)
    if not message:
        message = response.reason_phrase or f"HTTP {status}"

    if status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = ProviderServerError
    else:
        cls = _BY_TYPE.get(error_type, ProviderError)
    return cls(
        _redact(message, response),
        status=status,
        code=code,
        error_type=error_type,
        retry_after=parse_retry_after(
            response.headers.get("retry-after"), response.headers.get("date")
        ),
    )


def parse_retry_after(value: str | None, date: str | None = None) -> float | None:
    """Seconds to wait, from delta seconds or an HTTP-date.

    An HTTP-date is measured against the answer's own Date header when there is
    one, so a skewed local clock does not stretch or cancel the wait.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time()
    if date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            now = email.utils.parsedate_to_datetime(date).timestamp()
    return max(0.0, when - now)


def _json_or_none(response: httpx.Response) -> object | None:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _plain_text(response: httpx.Response) -> str:
    try:
        text = response.content.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:
        text = response.content.decode("utf-8", errors="replace")
    # An HTML error page's title says more than its first 500 characters of markup.
    title = _TITLE.search(text)
    if title and title.group(1).strip():
        return title.group(1)
    return _TAG.sub(" ", text)


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _trim(message: str) -> str:
    message = _SPACE.sub(" ", message).strip()
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1].rstrip() + "…"
    return message


def _redact(message: str, response: httpx.Response) -> str:
    # A provider that echoes the key back ("invalid key sk-...") must not put it in our logs.
    try:
        header = response.request.headers.get("authorization", "")
    except RuntimeError:  # a Response built by hand has no request
        return message
    token = _BEARER.sub("", header).strip()
    if len(token) >= 4:
        message = message.replace(token, "[redacted]")
    return message
