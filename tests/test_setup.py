"""Settings, start-up commands and the task wiring."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django_q.models import OrmQ, Schedule

from videostudio import env
from videostudio.videos import tasks, tracking

ROOT = Path(__file__).resolve().parent.parent


def test_env_bool_rejects_junk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "yes")
    assert env.env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "0")
    assert env.env_bool("FLAG", True) is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="not a boolean"):
        env.env_bool("FLAG")


def test_env_int_explains_bad_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env.env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env.env_int("N", 5, minimum=1)


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("sk-from-file\n")
    monkeypatch.setenv("VIDEOSTUDIO_API_KEY", "ignored")
    monkeypatch.setenv("VIDEOSTUDIO_API_KEY_FILE", str(secret))
    assert env.env_str("VIDEOSTUDIO_API_KEY") == "sk-from-file"


def test_the_local_secret_key_is_generated_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secret_key"
    first = env.local_secret(path)
    assert len(first) > 40
    assert env.local_secret(path) == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def _settings_in_subprocess(extra_env: dict[str, str], expression: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOSTUDIO", "POE"))}
    clean.update(extra_env, DJANGO_SETTINGS_MODULE="videostudio.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_a_key_it_runs_in_demo_mode_on_sqlite(tmp_path: Path) -> None:
    out = _settings_in_subprocess(
        {"VIDEOSTUDIO_DATA_DIR": str(tmp_path), "DATABASE_URL": ""},
        "settings.VIDEOSTUDIO_DEMO, settings.DATABASES['default']['ENGINE'], "
        "settings.DATABASES['default']['OPTIONS']['transaction_mode'], settings.DEBUG",
    )
    assert out == "True django.db.backends.sqlite3 IMMEDIATE False"
    assert (tmp_path / "secret_key").exists()


def test_poe_api_key_is_accepted_and_turns_demo_mode_off(tmp_path: Path) -> None:
    out = _settings_in_subprocess(
        {"VIDEOSTUDIO_DATA_DIR": str(tmp_path), "POE_API_KEY": "sk-poe"},
        "settings.VIDEOSTUDIO_DEMO, settings.VIDEOSTUDIO_API_BASE",
    )
    assert out == "False https://api.poe.com/v1"


def test_database_and_redis_urls_switch_the_backends(tmp_path: Path) -> None:
    out = _settings_in_subprocess(
        {
            "VIDEOSTUDIO_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://u:p@db.example:5432/studio",
            "REDIS_URL": "redis://cache.example:6379/1",
        },
        "settings.DATABASES['default']['ENGINE'], settings.CACHES['default']['BACKEND']",
    )
    assert out == ("django.db.backends.postgresql django.core.cache.backends.redis.RedisCache")


def test_the_suite_runs_on_the_database_it_was_given() -> None:
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith("postgres") else "sqlite"
    assert connection.vendor == expected
    if os.environ.get("REDIS_URL"):
        assert "Redis" in settings.CACHES["default"]["BACKEND"]


@pytest.mark.django_db
def test_the_first_account_gets_a_random_password_shown_once() -> None:
    out = StringIO()
    call_command("demo_user", stdout=out)
    text = out.getvalue()
    password = text.split("password:")[1].split("|")[0].strip()
    user = get_user_model().objects.get(username="demo")
    assert user.is_superuser and user.check_password(password)
    assert len(password) >= 12

    again = StringIO()
    call_command("demo_user", stdout=again)
    assert password not in again.getvalue()
    assert "make password" in again.getvalue()

    reset = StringIO()
    call_command("demo_user", "--reset", stdout=reset)
    new = reset.getvalue().split("password:")[1].split("|")[0].strip()
    assert new != password
    user.refresh_from_db()
    assert user.check_password(new)


@pytest.mark.django_db
def test_no_demo_account_is_added_to_an_existing_team() -> None:
    get_user_model().objects.create_user(username="ann", password="x")
    call_command("demo_user", stdout=StringIO())
    assert not get_user_model().objects.filter(username="demo").exists()


@pytest.mark.django_db
def test_migrate_installs_the_every_minute_sweep() -> None:
    schedule = Schedule.objects.get(func=tasks.SWEEP_TASK)
    assert schedule.schedule_type == Schedule.MINUTES
    assert schedule.minutes == 1
    assert schedule.repeats == -1


@pytest.mark.django_db
def test_a_wake_up_is_queued_unless_a_sweep_is_already_running() -> None:
    tasks.enqueue_sweep()
    assert OrmQ.objects.count() == 1
    tracking.lease_acquire(tracking.SWEEP_LEASE, uuid.uuid4(), timedelta(seconds=60))
    tasks.enqueue_sweep()
    assert OrmQ.objects.count() == 1


@pytest.mark.django_db
def test_the_sweep_task_reports_what_it_did(monkeypatch: Any, provider: Any) -> None:
    monkeypatch.setattr(settings, "VIDEOSTUDIO_SWEEP_SECONDS", 0)
    assert tasks.sweep() == "sent 0, looked at 0 and archived 0 jobs in 1 passes"


def test_the_apps_client_spends_the_one_budget_of_the_key(settings: Any) -> None:
    from videostudio.connection import build_client
    from videostudio.pacing.database import DatabaseBudget
    from videostudio.pacing.redis import RedisBudget

    settings.VIDEOSTUDIO_PROVIDER_RATE_PER_MINUTE = 300
    settings.VIDEOSTUDIO_PROVIDER_BURST = 12
    settings.REDIS_URL = ""
    client = build_client()
    assert isinstance(client._limiter, DatabaseBudget)
    assert client._gate is client._limiter
    assert (client._limiter.rate_per_minute, client._limiter.burst) == (300, 12)
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    client = build_client()
    assert isinstance(client._limiter, RedisBudget)
    assert client._gate is client._limiter


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            for child in task.read_text().split():
                found.add(int(child))
                todo.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_studio_reads_the_balance_at_start_and_stops_every_process_it_started(
    tmp_path: Path,
) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOSTUDIO", "POE"))}
    env.pop("DATABASE_URL", None)
    env.update(VIDEOSTUDIO_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="videostudio.settings")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    proc = subprocess.Popen(
        [*manage, "studio", "--port", str(port), "--web-workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives `make run`
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        time.sleep(2)  # the worker's own processes are up too
        started = _descendants(proc.pid)
        assert len(started) >= 3  # web server and its worker, the cluster and its workers
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        output, _ = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Stopped." in output
    assert [pid for pid in started if _alive(pid)] == []
    # The header had a balance from the first page on: it was read at start-up.
    import sqlite3

    with contextlib.closing(sqlite3.connect(tmp_path / "db.sqlite3")) as db:
        (snapshots,) = db.execute("SELECT COUNT(*) FROM usage_balancesnapshot").fetchone()
    assert snapshots >= 1
