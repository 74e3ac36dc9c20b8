"""The processes and the people of `soak.py`: the app as process groups that can be
killed and restarted, a monitor of the tracker's lease and heartbeat, members'
browsers that send a form again (with its token) when it got no answer."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fleet_stack import PASSWORD, PYTHON, Child, _stat, descendants, tail
from fleet_workload import _epoch
from fleet_workload import read_only as rows
from PIL import Image

STOP = threading.Event()


class InFlight:
    """How many forms are on their way to the app right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> None:
        with self._lock:
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.count -= 1

    def wait(self, timeout: float) -> bool:
        """Until a form is on its way (True), or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while self.count == 0 and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.count > 0


POSTING = InFlight()


# --- The app, a process group each ---------------------------------------------------------


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    port: int
    web: Child | None = None
    worker: Child | None = None
    logs: list[Path] = field(default_factory=list)
    incarnations: dict[str, int] = field(default_factory=lambda: {"web": 0, "worker": 0})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return Path(self.env["VIDEOSTUDIO_DATA_DIR"]) / "db.sqlite3"

    def _log(self, name: str) -> Path:
        self.incarnations[name] += 1
        path = self.root / f"{name}-{self.incarnations[name]}.log"
        self.logs.append(path)
        return path

    def start_web(self) -> None:
        # As `manage.py studio` starts it.
        argv = [
            PYTHON, "-m", "gunicorn", "videostudio.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "8",
            "--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "10",
            "--log-level", "warning",
        ]  # fmt: skip
        self.web = Child.start("web", argv, env=self.env, log_path=self._log("web"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/accounts/login/", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the web server did not start:\n{tail(self.web.log_path)}")

    def start_worker(self) -> None:
        argv = [PYTHON, "manage.py", "qcluster"]
        self.worker = Child.start("worker", argv, env=self.env, log_path=self._log("worker"))

    def kill(self, child: Child | None) -> None:
        """SIGKILL the child's whole process group (and any descendant that left it)."""
        if child is None:
            return
        known = descendants(child.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        for pid, started in known.items():
            stat = _stat(pid)
            if stat is not None and stat[1] == started:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=10)

    def stop(self) -> None:
        for child in (self.web, self.worker):
            if child is not None:
                child.stop(grace=15)


class Monitor:
    """Samples the sweep lease and the tracker's heartbeat every half second."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.samples: list[tuple[float, str | None, float | None, float | None]] = []
        self._thread = threading.Thread(target=self._run, daemon=True, name="monitor")

    def _run(self) -> None:
        while not STOP.wait(0.5):
            with contextlib.suppress(sqlite3.Error):
                lease = rows(self.db, "SELECT token, until FROM videos_lease WHERE name='sweep'")
                beat = rows(self.db, "SELECT at FROM videos_heartbeat WHERE name='tracker'")
                token, until = lease[0] if lease else (None, None)
                at = _epoch(beat[0][0]) if beat else None
                self.samples.append((time.time(), token, _epoch(until), at))

    def start(self) -> None:
        self._thread.start()

    def resumed_after(self, killed: float, restarted: float, timeout: float = 60) -> float | None:
        """When a sweep that did not run before the kill first held the lease."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = {token for at, token, _, _ in self.samples if at <= killed and token}
            for at, token, until, _ in list(self.samples):
                if at > restarted and token and token not in before and (until or 0) > at:
                    return at
            time.sleep(0.5)
        return None

    def beat_gap(self, killed: float) -> float | None:
        """From the last heartbeat before the kill to the first one after it."""
        beats = sorted({at for _, _, _, at in self.samples if at is not None})
        last = max((b for b in beats if b <= killed), default=None)
        first = min((b for b in beats if b > killed), default=None)
        return first - last if last is not None and first is not None else None


# --- Members ----------------------------------------------------------------------------------


def image_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    rng = random.Random(seed)
    color = tuple(rng.randrange(256) for _ in range(3))
    Image.new("RGB", (96, 160), color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Post:
    key: str
    kind: str
    tries: int = 0
    status: int = 0  # the last answer's HTTP status (0: none)
    lost: int = 0  # tries that got no answer (the server was down, or died mid-request)


class Member:
    def __init__(self, base: str, name: str) -> None:
        self.name = name
        self.http = httpx.Client(base_url=base, timeout=30)
        self.http.get("/accounts/login/")
        self.csrf = self.http.cookies["csrftoken"]
        data = {"username": name, "password": PASSWORD, "csrfmiddlewaretoken": self.csrf}
        if self.http.post("/accounts/login/", data=data).status_code != 302:
            raise RuntimeError(f"{name} could not log in")
        self.csrf = self.http.cookies.get("csrftoken") or self.csrf

    def send(self, post: Post, path: str, data: dict[str, str], files: Any = None) -> Post:
        """Post the form until the app answers (the same token: it is made once)."""
        form = {"csrfmiddlewaretoken": self.csrf, "token": str(uuid.uuid4()), "share": "on"}
        form |= data
        deadline = time.monotonic() + 120
        while not STOP.is_set():
            post.tries += 1
            try:
                with POSTING:
                    post.status = self.http.post(path, data=form, files=files).status_code
            except httpx.HTTPError:
                post.status = 0
            if post.status in (200, 302, 403, 404) or time.monotonic() > deadline:
                return post
            post.lost += 1
            time.sleep(1.0)
        return post
