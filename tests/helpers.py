"""Small test doubles that wrap real transports (never replace the simulator)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx


class RecordingTransport(httpx.BaseTransport):
    """Passes every request to `inner` and remembers it; counts peak concurrency."""

    def __init__(self, inner: httpx.BaseTransport, *, delay: float = 0.0) -> None:
        self.inner = inner
        self.delay = delay
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()
        self._active = 0
        self.peak = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
            self._active += 1
            self.peak = max(self.peak, self._active)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self.inner.handle_request(request)
        finally:
            with self._lock:
                self._active -= 1

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def sent(video: Any, client: Any) -> Any:
    """Send a queued job now, as the tracker would, and return it as recorded."""
    from videostudio.videos import tracking

    return tracking.video_send_now(video=video, client=client)


PASSWORD = "correct horse battery staple"  # conftest.make_user's
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """One member's browser: cookies, CSRF tokens read from the pages, no redirects."""

    def __init__(self, base_url: str, username: str, password: str = PASSWORD) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        response = self.post("/accounts/login/", {"username": username, "password": password})
        assert response.status_code == 302, response.text[:500]

    def post(self, path: str, data: dict[str, str], form_page: str | None = None) -> httpx.Response:
        page = self.http.get(form_page or path)
        token = _TOKEN.search(page.text)
        assert token is not None, f"no form on {form_page or path}"
        return self.http.post(path, data={**data, "csrfmiddlewaretoken": token.group(1)})

    def send(self, prompt: str) -> httpx.Response:
        form = {"model": "Sora-2", "prompt": prompt, "seconds": "4", "size": "720x1280"}
        return self.post("/videos/new/", form)

    def get(self, path: str, **params: str) -> str:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text[:500]
        return response.text


def together(
    script: str, *args: str, processes: int = 2, env: dict[str, str] | None = None,
    timeout: float = 120,
) -> list[Any]:  # fmt: skip
    """Run `script` (Python, `-c`) in `processes` real processes against the test
    database, started together (`ready_together`): it reads the database's name in
    `sys.argv[1]` and `args` after it."""
    import sys

    from django.db import connection

    command = [sys.executable, "-c", script, str(connection.settings_dict["NAME"]), *args]
    return ready_together([command] * processes, env=env, timeout=timeout)


def ready_together(
    commands: list[list[str]], *, env: dict[str, str] | None = None, timeout: float = 90
) -> list[Any]:
    """Run each command (a Python process) and start them all at once: each prints
    "ready" once set up, then reads the start time (seconds since the epoch) on stdin;
    each prints one JSON line last, returned in order."""
    import json
    import os
    import subprocess
    from pathlib import Path

    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "videostudio.settings",
        "LOG_LEVEL": "ERROR",
        **(env or {}),
    }
    procs = [
        subprocess.Popen(
            command,
            cwd=Path(__file__).resolve().parent.parent,
            env=full_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    try:
        for proc in procs:  # every process is set up before any starts
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
        start = time.time() + 0.3
        for proc in procs:  # then all start together
            assert proc.stdin is not None
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-2000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return reports
