"""/health/, `manage.py health`, the web probe, the staff banner and the admin index."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from videostudio.ops import context_processors, health
from videostudio.ops.health import health_report
from videostudio.ops.probe import probe, probe_host
from videostudio.videos.heartbeat import heartbeat_beat
from videostudio.videos.models import Heartbeat, Video

from .conftest import FakeClock, make_user
from .factories import a_video

ROOT = Path(__file__).resolve().parent.parent
CODES = {
    "ok",
    "unknown",
    health.DATABASE_UNAVAILABLE,
    health.CACHE_UNAVAILABLE,
    health.WORKER_STALE,
    health.WORKER_NEVER_SEEN,
    health.POLLS_OVERDUE,
    health.ARCHIVES_AT_RISK,
    health.SENDS_STUCK,
}
ALL_OK = {name: "ok" for name in health.ALL}
make_member = make_user


@pytest.fixture(autouse=True)
def _fresh_banner() -> Iterator[None]:
    context_processors.forget()
    yield
    context_processors.forget()


@pytest.fixture
def travelling(clock: FakeClock) -> Iterator[FakeClock]:
    with clock.travelling():
        yield clock


@pytest.fixture
def worker_alive(db: None, travelling: FakeClock) -> FakeClock:
    """The tracker's sweep beat just now, as a running worker's does every minute."""
    heartbeat_beat(force=True)
    return travelling


def get_health(client: Client, query: str = "") -> tuple[int, dict[str, Any]]:
    response = client.get(f"/health/{query}")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def waiting_job(**fields: Any) -> Video:
    return a_video(
        **{
            "status": Video.Status.WAITING,
            "progress": 0,
            "provider_id": None,
            "archived_at": None,
            "completed_at": None,
            "video_file": "",
            "thumbnail_file": "",
            "next_poll_at": timezone.now(),
            **fields,
        }
    )


def unsaved_job(**fields: Any) -> Video:
    """Finished at the provider, its files not saved here yet."""
    return a_video(archived_at=None, video_file="", thumbnail_file="", **fields)


# --- /health/ ---------------------------------------------------------------------------


def test_a_healthy_studio_answers_200_to_anyone_and_is_never_cached(
    client: Client, worker_alive: FakeClock
) -> None:
    response = client.get("/health/")

    assert response.status_code == 200  # no login asked
    assert response.json() == {"status": "ok", "checks": ALL_OK}
    assert "no-store" in response["Cache-Control"]
    assert client.head("/health/").status_code == 200
    assert client.post("/health/").status_code == 405


def test_a_worker_not_heard_from_for_a_while_fails_it(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    worker_alive.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS - 10)
    assert get_health(client) == (200, {"status": "ok", "checks": ALL_OK})

    worker_alive.advance(20)
    status, body = get_health(client)

    assert status == 503
    assert body == {"status": "fail", "checks": {**ALL_OK, "worker": "worker_stale"}}


def test_a_failing_report_is_logged_as_one_warning_not_a_server_error(
    client: Client, worker_alive: FakeClock, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    worker_alive.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 10)
    with caplog.at_level(logging.INFO):
        assert get_health(client)[0] == 503
    said = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [("videostudio.ops.views", "WARNING", "health: failing worker=worker_stale")]


def test_a_fresh_install_without_jobs_is_healthy_before_its_worker_checks_in(
    client: Client, db: None, travelling: FakeClock, settings: Any
) -> None:
    assert get_health(client) == (
        200,
        {"status": "ok", "checks": {**ALL_OK, "worker": "worker_never_seen"}},
    )
    # A member sends a job before the worker's first minute is up: still fine...
    waiting_job(owner=make_member("wendy"))
    travelling.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS - 10)
    assert get_health(client)[0] == 200

    # ...but once the job has waited as long as a stale worker is allowed, it fails.
    travelling.advance(20)
    status, body = get_health(client)
    assert status == 503
    assert body["checks"]["worker"] == "worker_never_seen"

    # The worker checks in: healthy again.
    heartbeat_beat(force=True)
    assert get_health(client)[0] == 200


def test_jobs_overdue_for_a_look_fail_it_even_with_a_worker(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    grace = timedelta(seconds=settings.VIDEOSTUDIO_POLL_OVERDUE_SECONDS)
    owner = make_member("otto")
    a_video(running=True, owner=owner, next_poll_at=timezone.now() - grace + timedelta(seconds=5))
    # A member's queue held back by the per-member cap is not overdue work.
    waiting_job(owner=owner, next_poll_at=timezone.now() - 10 * grace)
    assert get_health(client)[0] == 200

    a_video(running=True, owner=owner, next_poll_at=timezone.now() - grace - timedelta(seconds=5))
    status, body = get_health(client)

    assert status == 503
    assert body == {"status": "fail", "checks": {**ALL_OK, "polls": "polls_overdue"}}


def test_unsaved_videos_whose_provider_copy_is_about_to_go_fail_it(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    window = timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)
    owner = make_member("ada")
    now = timezone.now()
    unsaved_job(owner=owner, expires_at=now + window + timedelta(minutes=5))  # time enough
    unsaved_job(owner=owner, expires_at=now - timedelta(minutes=1))  # lost, not at risk
    a_video(owner=owner, expires_at=now + timedelta(minutes=5))  # saved already
    unsaved_job(owner=owner, expires_at=now + timedelta(minutes=5), deleted_at=now)  # deleted
    assert get_health(client)[0] == 200

    unsaved_job(owner=owner, expires_at=now + window - timedelta(minutes=1))
    status, body = get_health(client)

    assert status == 503
    assert body == {"status": "fail", "checks": {**ALL_OK, "archives": "archives_at_risk"}}


def test_a_send_queue_nobody_takes_from_says_so(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    waiting_job(owner=make_member("sam"))
    worker_alive.advance(settings.VIDEOSTUDIO_POLL_OVERDUE_SECONDS + 60)  # worker gone too

    status, body = get_health(client)

    assert status == 503
    assert body["checks"]["worker"] == "worker_stale"
    assert body["checks"]["sends"] == "sends_stuck"


def test_a_database_that_does_not_answer_gives_503_not_500(
    client: Client, worker_alive: FakeClock
) -> None:
    failing = mock.MagicMock()
    failing.return_value.__enter__.return_value.execute.side_effect = OperationalError(
        "could not connect to server: secret-host-name"
    )
    with mock.patch.object(health.connection, "cursor", failing):
        response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "checks": {
            "database": "database_unavailable",
            "cache": "ok",
            # not asked again: each would wait on the same dead server
            "worker": "unknown",
            "polls": "unknown",
            "archives": "unknown",
            "sends": "unknown",
        },
    }
    assert b"secret-host-name" not in response.content


def test_a_check_whose_query_fails_is_unknown_and_fails_it(
    client: Client, worker_alive: FakeClock
) -> None:
    with mock.patch.object(health, "heartbeat_last", side_effect=OperationalError("locked")):
        status, body = get_health(client)

    assert status == 503
    assert body["checks"]["worker"] == "unknown"
    assert body["checks"]["database"] == "ok"


def test_a_cache_that_does_not_answer_fails_it(client: Client, worker_alive: FakeClock) -> None:
    with mock.patch.object(health.cache, "set", side_effect=ConnectionError("redis down")):
        status, body = get_health(client)

    assert status == 503
    assert body == {"status": "fail", "checks": {**ALL_OK, "cache": "cache_unavailable"}}


def test_the_web_probe_asks_only_what_the_web_server_needs(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    worker_alive.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS * 10)
    assert get_health(client)[0] == 503

    assert get_health(client, "?check=web") == (
        200,
        {"status": "ok", "checks": {"database": "ok", "cache": "ok"}},
    )


def test_it_tells_outsiders_nothing_but_codes(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    owner = make_member("private-person")
    for minutes in (10, 20, 30):
        a_video(
            running=True,
            owner=owner,
            prompt="a secret prompt",
            next_poll_at=timezone.now() - timedelta(minutes=minutes),
        )
    unsaved_job(owner=owner, expires_at=timezone.now() + timedelta(minutes=3))
    worker_alive.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 1)

    response = client.get("/health/")
    body = response.json()

    assert set(body) == {"status", "checks"}
    assert set(body["checks"].values()) <= CODES
    text = response.content.decode()
    assert not any(ch.isdigit() for ch in text)  # no counts, no times
    assert "private-person" not in text and "secret" not in text


# --- the report itself ------------------------------------------------------------------


def test_the_report_keeps_counts_and_sentences_for_staff_pages(
    worker_alive: FakeClock, settings: Any
) -> None:
    owner = make_member("cora")
    for _ in range(2):
        a_video(running=True, owner=owner, next_poll_at=timezone.now() - timedelta(hours=1))

    report = health_report()

    polls = report.get("polls")
    assert polls is not None and polls.count == 2 and not polls.ok
    assert "2 job(s) are more than 5 minutes overdue" in polls.detail
    worker = report.get("worker")
    assert worker is not None and worker.ok and worker.last_seen is not None


def test_a_report_of_no_such_check_is_a_mistake(db: None) -> None:
    with pytest.raises(ValueError, match="no such checks"):
        health_report(only=["database", "wokrer"])


# --- the staff banner and the admin index -----------------------------------------------


def test_staff_see_a_banner_while_the_worker_is_away_and_members_never_do(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    member, staff = make_member("mia"), make_member("stan", is_staff=True)
    client.force_login(staff)
    assert "Jobs are not being tracked" not in client.get("/").content.decode()

    worker_alive.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 7 * 60)
    context_processors.forget()  # the banner's check is remembered a few seconds
    page = client.get("/").content.decode()

    assert "Jobs are not being tracked: the worker was last heard from" in page
    assert "10\xa0minutes ago" in page
    client.force_login(member)
    assert "Jobs are not being tracked" not in client.get("/").content.decode()


def test_the_banner_says_when_the_worker_was_never_heard_from(
    client: Client, db: None, travelling: FakeClock, settings: Any
) -> None:
    client.force_login(make_member("stan", is_staff=True))
    waiting_job(owner=make_member("mia"))
    travelling.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 1)

    page = client.get("/").content.decode()

    assert "the worker was last heard from\n    never." in page


def test_the_banner_check_is_remembered_briefly(client: Client, worker_alive: FakeClock) -> None:
    client.force_login(make_member("stan", is_staff=True))
    client.get("/")
    with mock.patch.object(context_processors, "check_worker") as check:
        client.get("/")
    check.assert_not_called()


def test_the_admin_index_shows_the_same_facts_as_health(
    client: Client, worker_alive: FakeClock, settings: Any
) -> None:
    owner = make_member("ivy")
    a_video(running=True, owner=owner, next_poll_at=timezone.now() - timedelta(hours=1))
    worker_alive.advance(settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 1)
    client.force_login(make_member("root", is_staff=True, is_superuser=True))

    page = client.get("/admin/").content.decode()
    _, body = get_health(client)

    assert "something needs attention" in page
    for code in body["checks"].values():
        assert f"<code>{code}</code>" in page
    assert "1 job(s) are more than 5 minutes overdue" in page
    assert "The worker was last heard from 3\xa0minutes ago" in page


# --- the command and the probe, as the containers run them ---------------------------------

COMMAND = r"""
import sys
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]  # the test database
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "health", *sys.argv[2:]])
"""


def run_health_command(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "videostudio.settings", "LOG_LEVEL": "ERROR"}
    return subprocess.run(
        [sys.executable, "-c", COMMAND, str(connection.settings_dict["NAME"]), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_containers_healthcheck_runs_the_real_command() -> None:
    heartbeat_beat(force=True)
    alive = run_health_command("--worker")
    assert (alive.returncode, alive.stdout) == (0, "worker: ok\n"), alive.stderr[-2000:]

    a_video(running=True, owner=make_member("kai"), next_poll_at=timezone.now())
    Video.objects.update(next_poll_at=timezone.now() - timedelta(hours=1))
    Heartbeat.objects.update(at=timezone.now() - timedelta(hours=1))
    gone = run_health_command()

    assert gone.returncode == 1, gone.stderr[-2000:]
    assert "worker: worker_stale\n" in gone.stdout
    assert "polls: polls_overdue\n" in gone.stdout


def test_the_web_probe_asks_under_a_host_name_the_app_accepts(
    live_server: Any, worker_alive: FakeClock, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.ALLOWED_HOSTS = ["studio.example.com"]
    monkeypatch.setenv("ALLOWED_HOSTS", "studio.example.com,localhost")

    assert probe(f"{live_server.url}/health/?check=web") == 0

    monkeypatch.setenv("ALLOWED_HOSTS", "elsewhere.example.com")
    assert probe(f"{live_server.url}/health/?check=web") == 1  # 400: a host it refuses
    assert probe("http://127.0.0.1:9/health/", timeout=1) == 1  # nobody there


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        (None, None),
        ("", None),
        ("*", None),
        (" studio.example.com , localhost", "studio.example.com"),
        (".example.com", "example.com"),
    ],
)
def test_the_probe_picks_the_first_allowed_host(allowed: str | None, host: str | None) -> None:
    assert probe_host(allowed) == host


def test_the_readme_lists_every_reason_code_and_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for code in CODES - {"ok"}:
        assert f"| `{code}` |" in readme, code
    for name in (
        "VIDEOSTUDIO_WORKER_STALE_SECONDS",
        "VIDEOSTUDIO_POLL_OVERDUE_SECONDS",
        "VIDEOSTUDIO_ARCHIVE_RISK_MINUTES",
        "LOG_FORMAT",
        "SENTRY_DSN",
        "SENTRY_ENVIRONMENT",
        "SENTRY_RELEASE",
        "SENTRY_TRACES_SAMPLE_RATE",
    ):
        assert f"| `{name}` |" in readme, name


def test_a_heartbeat_the_database_refuses_does_not_stop_the_tracker(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    from django.db import OperationalError

    from videostudio.videos.heartbeat import heartbeat_beat, heartbeat_last

    with mock.patch(
        "videostudio.videos.heartbeat.Heartbeat.objects.filter",
        side_effect=OperationalError("database is locked"),
    ):
        heartbeat_beat(force=True)  # no exception: the loop goes on
    assert "could not record the tracker heartbeat: database is locked" in caplog.text
    heartbeat_beat(force=True)
    assert heartbeat_last() is not None
