"""Logs with request ids (plain or JSON lines) and error reports without the provider key."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sentry_sdk
from django.conf import settings
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from videostudio.ops import logs
from videostudio.ops.logs import JsonFormatter, RequestIdFilter, request_id_for
from videostudio.ops.sentry import FILTERED, scrub, sentry_init, sentry_options

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-poe-Zq81fVbT0kW3nLr9eXc4"

# --- request ids ---------------------------------------------------------------------------


def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one(
    client: Client, db: None
) -> None:
    made = client.get("/")  # a redirect to the login page: it carries one too
    assert made.status_code == 302
    assert re.fullmatch(r"[0-9a-f]{32}", made["X-Request-ID"])
    assert client.get("/", headers={"X-Request-ID": "lb-7f3a.42"})["X-Request-ID"] == "lb-7f3a.42"

    for insane in ("a b", "x" * 65, "<script>", "id\nInjected: line", "-leading-dash"):
        given = client.get("/", headers={"X-Request-ID": insane})["X-Request-ID"]
        assert given != insane and re.fullmatch(r"[0-9a-f]{32}", given)


def test_request_ids_are_fresh_per_request(client: Client, db: None) -> None:
    ids = {client.get("/accounts/login/")["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
    assert request_id_for("") != request_id_for("")


@given(st.text(max_size=80))
def test_a_request_id_is_always_a_short_plain_token(incoming: str) -> None:
    rid = request_id_for(incoming)
    assert logs.SANE_ID.fullmatch(rid) and len(rid) <= 64
    assert rid == incoming or len(rid) == 32


def record(message: str, **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("videostudio.test", logging.WARNING, __file__, 1, message, (), None)
    rec.__dict__.update(extra)
    return rec


def test_the_filter_adds_the_current_request_id_or_a_dash() -> None:
    outside = record("in the worker")
    RequestIdFilter().filter(outside)
    assert outside.request_id == "-"  # type: ignore[attr-defined]

    token = logs.request_id.set("req-1")
    try:
        inside = record("in a request")
        RequestIdFilter().filter(inside)
    finally:
        logs.request_id.reset(token)
    assert inside.request_id == "req-1"  # type: ignore[attr-defined]


def test_a_json_line_holds_the_traceback_as_text() -> None:
    try:
        raise ValueError('broken "quotes" and\nnewlines')
    except ValueError:
        rec = logging.LogRecord(
            "videostudio.x", logging.ERROR, __file__, 1, "failed %s", ("job 7",), sys.exc_info()
        )
    rec.request_id = "abc"

    line = JsonFormatter().format(rec)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed job 7"
    assert (entry["level"], entry["logger"], entry["request_id"]) == (
        "ERROR",
        "videostudio.x",
        "abc",
    )
    assert entry["time"].endswith("+00:00")
    assert "Traceback" in entry["exc_info"] and "ValueError" in entry["exc_info"]
    assert "exc_info" not in json.loads(JsonFormatter().format(record("plain")))


# The real settings in a process of their own: a 404 (logged by Django after the
# middleware is done) and a django-q2 log line, through the configured handler.
LOGGING_RUN = r"""
import json, logging
import django
django.setup()
from django.test import Client
response = Client().get("/no-such-page/", headers={"X-Request-ID": "trace-4711"})
from django_q.conf import logger
logger.info("a line from the worker")
print(json.dumps({"status": response.status_code, "id": response["X-Request-ID"]}))
"""


@pytest.fixture
def run_with(tmp_path: Path) -> Any:
    def run(log_format: str) -> tuple[dict[str, Any], list[str]]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "videostudio.settings",
            "VIDEOSTUDIO_DATA_DIR": str(tmp_path),
            "ALLOWED_HOSTS": "testserver",
            "LOG_FORMAT": log_format,
            "LOG_LEVEL": "INFO",
        }
        env.pop("DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-c", LOGGING_RUN],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr.splitlines()

    return run


def test_json_logs_carry_the_request_id_of_the_response(run_with: Any) -> None:
    answer, lines = run_with("json")

    assert answer == {"status": 404, "id": "trace-4711"}
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    not_found = next(e for e in entries if e["logger"] == "django.request")
    assert not_found["message"] == "Not Found: /no-such-page/"
    assert (not_found["level"], not_found["request_id"]) == ("WARNING", "trace-4711")
    worker = next(e for e in entries if e["logger"] == "django-q")
    assert (worker["message"], worker["request_id"]) == ("a line from the worker", "-")


def test_plain_logs_show_the_request_id_too(run_with: Any) -> None:
    answer, lines = run_with("plain")

    assert answer["id"] == "trace-4711"
    assert any(
        re.search(r" WARNING django\.request \[trace-4711\]: Not Found: /no-such-page/$", line)
        for line in lines
    ), lines
    assert any(line.endswith("django-q [-]: a line from the worker") for line in lines), lines


def test_an_unknown_log_format_stops_the_start(run_with: Any, tmp_path: Path) -> None:
    env = {**os.environ, "LOG_FORMAT": "xml", "VIDEOSTUDIO_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0 and "LOG_FORMAT='xml' is not plain or json" in done.stderr


# --- Sentry -------------------------------------------------------------------------------


class Captured(Transport):
    """A Sentry transport that keeps what would have been sent."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def sent(self) -> bytes:
        return b"".join(envelope.serialize() for envelope in self.envelopes)


@pytest.fixture
def sentry() -> Iterator[Captured]:
    transport = Captured()
    sentry_init(
        dsn="https://public@sentry.example.invalid/1",
        environment="test",
        release="videostudio@test",
        secrets=[KEY, "short"],
        transport=transport,
    )
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_error_reports_never_carry_the_provider_key(sentry: Captured) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}  # a local variable Sentry sends
    try:
        raise RuntimeError(f"the provider refused {headers['Authorization']}")
    except RuntimeError:
        sentry_sdk.capture_exception()
    sentry_sdk.add_breadcrumb(message=f"calling with {KEY}")
    sentry_sdk.capture_message(f"cut short: Bearer {KEY[:12]}...")
    sentry_sdk.flush()

    sent = sentry.sent()
    assert len(sentry.envelopes) == 2
    assert KEY.encode() not in sent and KEY[:10].encode() not in sent
    assert FILTERED.encode() in sent
    assert b"the provider refused Bearer [Filtered]" in sent
    assert b'"environment":"test"' in sent and b"videostudio@test" in sent


def test_a_failing_request_is_reported_without_the_key_or_the_members_data(
    sentry: Captured, db: None
) -> None:
    client = Client(raise_request_exception=False)
    boom = RuntimeError(f"boom with {KEY}")
    with mock.patch("videostudio.ops.views.health_report", side_effect=boom):
        response = client.get(
            "/health/", headers={"Authorization": f"Bearer {KEY}", "Cookie": "sessionid=s3cr3t"}
        )
    sentry_sdk.flush()

    assert response.status_code == 500
    sent = sentry.sent()
    assert b"boom with [Filtered]" in sent
    assert KEY.encode() not in sent and b"s3cr3t" not in sent


def test_a_clients_mistake_is_not_reported_but_an_error_is(sentry: Captured, db: None) -> None:
    client = Client(raise_request_exception=False)
    # Django logs a bad Host header as an error (django.security.DisallowedHost, 400).
    assert client.get("/health/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/no-such-page/").status_code in {302, 404}
    # ... and a form past DATA_UPLOAD_MAX_MEMORY_SIZE (django.security.RequestDataTooBig).
    big = {"username": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "password": "p"}
    assert client.post("/accounts/login/", big).status_code == 413
    sentry_sdk.flush()
    assert sentry.envelopes == []

    with mock.patch("videostudio.ops.views.health_report", side_effect=RuntimeError("bug")):
        assert client.get("/health/").status_code == 500
    sentry_sdk.flush()
    assert len(sentry.envelopes) == 1


def test_a_4xx_record_is_dropped_whichever_handler_saw_it_first() -> None:
    # The console filter turns these into warnings; Sentry may see the record before it.
    before_send = sentry_options(dsn="https://public@sentry.example.invalid/1")["before_send"]
    record = logging.LogRecord("django.security.X", logging.ERROR, __file__, 1, "x", None, None)
    record.status_code = 400
    assert before_send({"message": "x"}, {"log_record": record}) is None
    record.status_code = 500
    assert before_send({"message": "x"}, {"log_record": record}) == {"message": "x"}
    assert before_send({"message": "x"}, {}) == {"message": "x"}


def test_the_scrubber_walks_every_part_of_an_event() -> None:
    event = {"a": [KEY, ("x", {"k": f"pre{KEY}post"})], KEY: 3, "n": 1}
    assert scrub(event, [KEY]) == {
        "a": [FILTERED, ("x", {"k": f"pre{FILTERED}post"})],
        FILTERED: 3,
        "n": 1,
    }
    assert scrub("short value", ["short"]) == "short value"  # too short to hunt for


@given(before=st.text(max_size=40), after=st.text(max_size=40), cut=st.integers(8, len(KEY)))
def test_no_text_around_the_key_or_cut_from_it_keeps_it(before: str, after: str, cut: int) -> None:
    whole = scrub({"m": before + KEY + after}, [KEY])["m"]
    assert KEY not in whole
    truncated = scrub(before + KEY[:cut] + "...", [KEY])
    assert KEY[:cut] not in truncated or KEY[:cut] in before


def test_error_reports_hold_no_personal_data(sentry: Captured) -> None:
    assert sentry_sdk.get_client().should_send_default_pii() is False
    assert sentry_sdk.get_client().options["max_request_body_size"] == "never"
    # A local Sentry would send (made here: the source lines around a frame go too).
    prompt = "-".join(["private", "surprise", "party", "plans"])
    try:
        raise RuntimeError("sending failed")
    except RuntimeError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()
    assert len(sentry.envelopes) == 1 and prompt.encode() not in sentry.sent()


def test_sentry_is_off_unless_a_dsn_is_set() -> None:
    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()
