from __future__ import annotations

import pickle
from pathlib import Path

import httpx
import pytest

from videostudio.provider.errors import (
    AuthenticationFailed,
    ConnectionLost,
    DownloadIncomplete,
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    ProtocolError,
    ProviderError,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    error_from_response,
    parse_retry_after,
)

FIXTURES = Path(__file__).parent / "fixtures" / "provider"
KEY = "sk-test-TEAMKEY-0123456789abcdef"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def response(
    status: int,
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request(
        "POST", "https://api.poe.com/v1/videos", headers={"Authorization": f"Bearer {KEY}"}
    )
    all_headers = {"Content-Type": content_type, **(headers or {})}
    return httpx.Response(status, content=body, headers=all_headers, request=request)


@pytest.mark.parametrize(
    ("status", "cls", "error_type", "transient"),
    [
        (400, InvalidRequest, "invalid_request_error", False),
        (401, AuthenticationFailed, "authentication_error", False),
        (402, InsufficientCredits, "insufficient_credits", False),
        (404, NotFound, "not_found", False),
        (429, RateLimited, "rate_limit_error", True),
        (500, ProviderServerError, "provider_error", True),
    ],
)
def test_it_maps_each_documented_error_envelope_to_its_class(
    status: int, cls: type[ProviderError], error_type: str, transient: bool
) -> None:
    error = error_from_response(response(status, fixture(f"error_{status}.json")))

    assert type(error) is cls
    assert error.status == status
    assert error.code == status
    assert error.error_type == error_type
    assert error.transient is transient
    assert error.outcome_unknown is False
    assert error.message


def test_it_keeps_the_providers_message_for_a_400() -> None:
    error = error_from_response(response(400, fixture("error_400.json")))

    assert error.message == "Invalid size '999x999'. Supported sizes: 720x1280, 1280x720."
    assert error.user_message == (
        "The provider rejected the request: "
        "Invalid size '999x999'. Supported sizes: 720x1280, 1280x720."
    )


def test_it_tells_the_user_a_401_is_the_teams_key_and_an_admins_job() -> None:
    text = error_from_response(response(401, fixture("error_401.json"))).user_message

    assert "team's API key" in text
    assert "admin" in text
    assert "VIDEOSTUDIO_API_KEY" in text
    assert "not something you did" in text


def test_it_tells_the_user_a_402_means_the_team_is_out_of_points() -> None:
    text = error_from_response(response(402, fixture("error_402.json"))).user_message

    assert "point balance is used up" in text
    assert "admin" in text


@pytest.mark.parametrize(
    ("status", "fixture_name", "words"),
    [
        (404, "error_404.json", "no longer has this video"),
        (429, "error_429.json", "busy"),
        (500, "error_500.json", "internal error"),
    ],
)
def test_it_explains_other_statuses_in_plain_words(
    status: int, fixture_name: str, words: str
) -> None:
    assert words in error_from_response(response(status, fixture(fixture_name))).user_message


def test_it_reads_the_title_of_an_html_error_page() -> None:
    page = response(502, fixture("error_502.html"), content_type="text/html")

    error = error_from_response(page)

    assert type(error) is ProviderServerError
    assert error.transient
    assert error.message == "502 Bad Gateway"
    assert error.error_type == ""
    assert error.code is None


def test_it_falls_back_to_the_reason_phrase_for_an_empty_body() -> None:
    error = error_from_response(response(503, b"", content_type="text/plain"))

    assert type(error) is ProviderServerError
    assert error.message == "Service Unavailable"


def test_it_keeps_a_plain_text_body_with_its_whitespace_collapsed() -> None:
    error = error_from_response(
        response(500, b"  upstream\n   connect error  \n", content_type="text/plain")
    )

    assert error.message == "upstream connect error"


def test_it_trims_a_very_long_message() -> None:
    error = error_from_response(response(500, b"x" * 5000, content_type="text/plain"))

    assert len(error.message) <= 500
    assert error.message.endswith("…")


def test_it_accepts_json_without_the_envelope() -> None:
    error = error_from_response(response(400, b'{"detail": "prompt is required"}'))

    assert type(error) is InvalidRequest
    assert error.message == "prompt is required"


def test_it_accepts_an_error_given_as_a_bare_string() -> None:
    error = error_from_response(response(400, b'{"error": "bad seconds"}'))

    assert error.message == "bad seconds"


def test_it_makes_an_unknown_4xx_a_generic_permanent_error() -> None:
    error = error_from_response(response(418, b"<h1>I'm a teapot</h1>", content_type="text/html"))

    assert type(error) is ProviderError
    assert error.transient is False
    assert error.message == "I'm a teapot"
    assert error.user_message == "The provider refused the request (HTTP 418): I'm a teapot"


def test_it_trusts_the_error_type_when_a_relay_picks_an_undocumented_status() -> None:
    error = error_from_response(response(403, fixture("error_403_openai_style.json")))

    assert type(error) is InvalidRequest
    assert error.code == "model_not_found"
    assert error.status == 403


def test_it_reads_retry_after_in_seconds_from_a_429() -> None:
    error = error_from_response(
        response(429, fixture("error_429.json"), headers={"Retry-After": "7"})
    )

    assert error.retry_after == 7.0


def test_it_reads_retry_after_as_an_http_date_against_the_answers_own_date() -> None:
    headers = {
        "Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT",
        "Date": "Wed, 21 Oct 2026 07:28:00 GMT",
    }

    error = error_from_response(response(429, fixture("error_429.json"), headers=headers))

    assert error.retry_after == 30.0


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("0", None, 0.0),
        ("2.5", None, 2.5),
        ("-3", None, 0.0),
        ("soon", None, None),
        ("", None, None),
        (None, None, None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", "Wed, 21 Oct 2026 07:29:00 GMT", 0.0),
    ],
)
def test_it_parses_retry_after_leniently(
    value: str | None, date: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, date) == expected


def test_it_measures_an_http_date_against_local_time_without_a_usable_date_header() -> None:
    wait = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", "not a date")

    assert wait is not None
    assert wait > 365 * 24 * 3600


def test_it_never_shows_the_key_even_when_the_provider_echoes_it() -> None:
    body = f'{{"error": {{"type": "authentication_error", "message": "bad key {KEY}"}}}}'

    error = error_from_response(response(401, body.encode()))

    for text in (str(error), repr(error), error.message, error.user_message, str(error.args)):
        assert KEY not in text
    assert "[redacted]" in error.message


def test_it_never_includes_request_headers_in_str_or_repr() -> None:
    error = error_from_response(response(500, fixture("error_500.json")))

    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert "Authorization" not in repr(error)
    assert not any(
        isinstance(value, httpx.Request | httpx.Response) for value in vars(error).values()
    )


def test_it_describes_itself_with_status_type_and_message() -> None:
    error = error_from_response(response(404, fixture("error_404.json")))

    assert str(error) == "HTTP 404 not_found: Video video_doesnotexist not found"
    assert repr(error).startswith("NotFound(status=404, error_type='not_found'")


def test_it_survives_pickling_with_every_attribute() -> None:
    error = error_from_response(
        response(429, fixture("error_429.json"), headers={"Retry-After": "3"})
    )
    error.outcome_unknown = True

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is RateLimited
    assert vars(copy) == vars(error)
    assert str(copy) == str(error)


def test_it_warns_the_user_when_a_create_may_have_gone_through() -> None:
    error = ProviderTimeout("ReadTimeout", outcome_unknown=True)

    assert "may or may not have started the video" in error.user_message
    assert str(error).endswith("(outcome unknown)")


@pytest.mark.parametrize(
    ("cls", "transient", "words"),
    [
        (ProviderTimeout, True, "did not answer in time"),
        (ProviderUnreachable, True, "Could not reach the provider"),
        (ConnectionLost, True, "broke off"),
        (DownloadIncomplete, True, "cut short"),
        (ProtocolError, False, "could not understand"),
    ],
)
def test_it_gives_network_failures_their_own_plain_words(
    cls: type[ProviderError], transient: bool, words: str
) -> None:
    error = cls("details for the log")

    assert isinstance(error, ProviderError)
    assert error.transient is transient
    assert error.status is None
    assert words in error.user_message
    assert "details for the log" not in error.user_message
