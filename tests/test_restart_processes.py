"""Nothing lost when processes die: the real worker (`manage.py qcluster`) and the real
web server (gunicorn), each SIGKILLed mid-work against the simulator over HTTP.

Each test runs the app in subprocesses on a data dir of its own (SQLite), as
`make run` does; the test reads that database without writing to it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.simulator.server import SimulatorServer, serve

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-restart-test-not-a-real-key"
PASSWORD = "restart-test-password-1"


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorServer]:
    server, _ = serve(
        queue_seconds=1, render_seconds=20, stock_media=True, fps=4, slow_seconds=6,
        cache_dir=tmp_path / "simulator", api_key=KEY,
    )  # fmt: skip
    yield server
    server.stop()


@dataclass
class App:
    data: Path
    env: dict[str, str]

    @property
    def db(self) -> Path:
        return self.data / "db.sqlite3"

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()


@pytest.fixture
def app(tmp_path: Path, simulator: SimulatorServer) -> App:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        VIDEOSTUDIO_DATA_DIR=str(tmp_path / "app"), VIDEOSTUDIO_API_KEY=KEY,
        VIDEOSTUDIO_API_BASE=simulator.url, PYTHONUNBUFFERED="1", LOG_LEVEL="INFO",
        VIDEOSTUDIO_SWEEP_SECONDS="50",
    )  # fmt: skip
    env.pop("POE_API_KEY", None)
    app = App(tmp_path / "app", env)
    app.manage("migrate", "--noinput")
    return app


def kill_group(proc: subprocess.Popen[bytes], signum: int = signal.SIGKILL) -> None:
    """Signal the process group this test started (the process is its leader)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        kill_group(proc, signal.SIGTERM)
    kill_group(proc, signal.SIGKILL)


def epoch(value: str | None) -> float | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def wait_for(what: str, condition: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


SUBMIT = """
from django.contrib.auth import get_user_model
from videostudio.connection import get_client
from videostudio.provider.catalog import find_model
from videostudio.videos.services import video_submit
member = get_user_model().objects.create_user("ann", password="x")
for i in range({jobs}):
    slow = " [slow]" if i < {slow} else ""
    video_submit(owner=member, spec=find_model("Sora-2"), prompt=f"job {{i}}{{slow}} [render:25]",
                 seconds=4, size="720x1280", image=None, client=get_client())
"""


def slow_statuses(app: App) -> list[str]:
    return [status for (status,) in app.rows(
        "SELECT status FROM videos_video WHERE prompt LIKE '%[slow]%'"
    )]  # fmt: skip


def test_a_worker_killed_mid_sweep_is_replaced_and_tracking_resumes_within_seconds(
    app: App, simulator: SimulatorServer, tmp_path: Path
) -> None:
    jobs, slow = 8, 3
    app.manage("shell", "-c", SUBMIT.format(jobs=jobs, slow=slow))
    worker = app.start([sys.executable, "manage.py", "qcluster"], tmp_path / "worker-1.log")
    try:
        # Mid-sweep: the slow sends are out (made and charged at the provider, their
        # answers 6 s away) and the rest are at the provider.
        wait_for(
            "the slow sends to be out and the rest sent",
            lambda: (
                app.rows(
                    "SELECT count(*) FROM videos_video WHERE status='submitting'"
                    " AND lease_token IS NOT NULL"
                )[0][0]
                == slow
                and app.rows("SELECT count(*) FROM videos_video WHERE provider_id IS NOT NULL")[0][
                    0
                ]
                == jobs - slow
            ),
            timeout=40,
        )
        (dead,) = app.rows("SELECT token FROM videos_lease WHERE name='sweep'")[0]
        assert dead is not None
        kill_group(worker)
        killed = time.time()
    finally:
        stop(worker)
    held = dict(app.rows("SELECT id, lease_token FROM videos_video WHERE lease_token IS NOT NULL"))
    assert len(held) >= slow

    restarted = time.time()
    worker = app.start([sys.executable, "manage.py", "qcluster"], tmp_path / "worker-2.log")
    try:

        def resumed() -> float | None:
            rows = app.rows("SELECT token, until FROM videos_lease WHERE name='sweep'")
            token, until = rows[0]
            alive = token not in (None, dead) and (epoch(until) or 0) > time.time()
            return time.time() if alive else None

        resumed_at = wait_for("a new sweep", resumed, timeout=20)
        # The tracker's heartbeat (what /health/ reads) says so too.
        ((beat,),) = app.rows("SELECT at FROM videos_heartbeat WHERE name='tracker'")
        assert restarted < (epoch(beat) or 0) <= resumed_at + 1
        taken: dict[int, float] = {}

        def all_taken_up() -> bool:
            now = time.time()
            for pk, token in held.items():
                status, current = app.rows(
                    "SELECT status, lease_token FROM videos_video WHERE id=?", pk
                )[0]
                if pk not in taken and (current != token or status != "submitting"):
                    taken[pk] = now
            return len(taken) == len(held)

        wait_for("every claimed job to be taken up again", all_taken_up, timeout=40)
        # Tracking goes on: a job at the provider is looked at again after the restart.
        wait_for(
            "a look recorded by the new worker",
            lambda: any(
                (epoch(at) or 0) > resumed_at
                for (at,) in app.rows(
                    "SELECT updated_at FROM videos_video WHERE provider_id IS NOT NULL"
                )
            ),
            timeout=30,
        )
        # The sends that were out when the worker died: given up as unconfirmed (the
        # provider made and charged them), never sent a second time. Taken up is not
        # yet recorded: the new sweep settles them on a thread of its own.
        wait_for(
            "the sends that were out to be given up as unconfirmed",
            lambda: set(slow_statuses(app)) == {"unconfirmed"},
            timeout=30,
        )
    finally:
        stop(worker)
    print(
        f"killed -> restarted {restarted - killed:.1f} s; tracking resumed "
        f"{resumed_at - restarted:.1f} s after the restart; claimed jobs taken up within "
        f"{max(taken.values()) - restarted:.1f} s"
    )
    assert resumed_at - restarted <= 10
    assert max(taken.values()) - restarted <= 30
    assert slow_statuses(app) == ["unconfirmed"] * slow
    counts = httpx.get(simulator.url.removesuffix("/v1") + "/_simulator/stats").json()
    assert counts["create"] == jobs
    log = (tmp_path / "worker-1.log").read_text() + (tmp_path / "worker-2.log").read_text()
    assert "Traceback" not in log and KEY not in log


# --- The web server ------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn(app: App, port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "gunicorn", "videostudio.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
        "--worker-class", "gthread", "--log-level", "warning",
    ]  # fmt: skip
    proc = app.start(argv, log)
    wait_for(
        "the web server",
        lambda: _answers(f"http://127.0.0.1:{port}/accounts/login/"),
        timeout=30,
    )
    return proc


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Member:
    """A browser: logs in, opens the New video form (its CSRF and form tokens), posts."""

    def __init__(self, base: str, name: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)
        page = self.http.get("/accounts/login/")
        data = {"username": name, "password": PASSWORD, "csrfmiddlewaretoken": _csrf(page.text)}
        assert self.http.post("/accounts/login/", data=data).status_code == 302

    def form(self, prompt: str) -> dict[str, str]:
        page = self.http.get("/videos/new/").text
        token = _TOKEN.search(page)
        assert token is not None
        return {
            "csrfmiddlewaretoken": _csrf(page), "token": token[1], "model": "Sora-2",
            "prompt": prompt, "seconds": "4", "size": "720x1280", "share": "on",
        }  # fmt: skip

    def post(self, form: dict[str, str]) -> int:
        try:
            return self.http.post("/videos/new/", data=form).status_code
        except httpx.HTTPError:
            return 0  # no answer: the server died under it


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None
    return found[1]


MEMBERS = """
from django.contrib.auth import get_user_model
from videostudio.usage.models import Budget
users = get_user_model()
for name in {names!r}:
    user = users.objects.create_user(name, password={password!r})
    Budget.objects.create(user=user, monthly_points=10_000_000)
"""


def test_a_web_server_killed_mid_request_loses_nothing_and_makes_nothing_twice(
    app: App, tmp_path: Path
) -> None:
    names = [f"member{i}" for i in range(4)]
    app.manage("shell", "-c", MEMBERS.format(names=names, password=PASSWORD))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = gunicorn(app, port, tmp_path / "web-1.log")
    answers: dict[str, int] = {}
    forms: dict[str, tuple[Member, dict[str, str]]] = {}
    try:
        members = [Member(base, name) for name in names]
        for member, name in zip(members, names, strict=True):
            for i in range(15):
                forms[f"{name}-{i}"] = (member, member.form(f"{name} job {i}"))
        lock = threading.Lock()

        def send(name: str) -> None:
            for key, (_, form) in forms.items():
                if key.startswith(f"{name}-"):
                    status = forms[key][0].post(form)
                    with lock:
                        answers[key] = status

        threads = [threading.Thread(target=send, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        # Killed while the members' forms are arriving.
        wait_for("some forms to be answered", lambda: len(answers) >= 12, timeout=60)
        kill_group(web)
        for thread in threads:
            thread.join(timeout=60)
    finally:
        stop(web)
    lost = [key for key, status in answers.items() if status != 302]
    assert lost, "the server died after every request was answered: kill it sooner"

    # What the database holds is whole: every job with its owner, its token, its
    # hold on the budget, waiting to be sent; none without its form's token.
    rows = app.rows(
        "SELECT v.client_token, v.status, v.reserved_points, v.next_poll_at, u.username"
        " FROM videos_video v JOIN auth_user u ON u.id = v.owner_id"
    )
    assert all(status == "waiting" and held > 0 and due for _, status, held, due, _ in rows)
    recorded = {str(token).replace("-", "") for token, *_ in rows}
    for key, status in answers.items():
        if status == 302:  # answered: it was recorded
            assert forms[key][1]["token"].replace("-", "") in recorded

    # The members send again whatever got no answer (as a browser's retry would):
    # each form makes its job once, whether or not the first try had made it.
    web = gunicorn(app, port, tmp_path / "web-2.log")
    try:
        for key in sorted(set(forms) - set(answers) | set(lost)):
            member, form = forms[key]
            assert member.post(form) == 302
    finally:
        stop(web)
    rows = app.rows("SELECT client_token, reserved_points, owner_id FROM videos_video")
    assert len(rows) == len(forms) == len({token for token, *_ in rows})
    # Each member's budget holds exactly their jobs' estimates, nothing twice.
    for name in names:
        (held,) = app.rows(
            "SELECT coalesce(sum(v.reserved_points), 0) FROM videos_video v"
            " JOIN auth_user u ON u.id = v.owner_id WHERE u.username=?",
            name,
        )[0]
        assert held == 15 * rows[0][1]
    log = (tmp_path / "web-1.log").read_text() + (tmp_path / "web-2.log").read_text()
    assert KEY not in log
