"""The processes `fleet.py` measures: simulators on their own ports, and the app as
`make run` runs it (migrate, collectstatic, accounts, then `manage.py studio`: gunicorn
and the qcluster worker, each its own process).

Every child starts in a session of its own, so a Ctrl-C reaches the harness only,
which then stops each one by its id: the whole process group, then any descendant
that left it (the studio command starts its two servers in sessions of their own).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
API_KEY = "sk-bench-not-a-real-key"
PASSWORD = "fleet-bench-password-1"
STAFF = "lead"
_LISTENING = re.compile(r"Simulator listening on (http://\S+)")
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def member_names(count: int) -> list[str]:
    return [f"member{i:02d}" for i in range(1, count + 1)]


# --- Processes by id -------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(parent pid, start time in ticks, CPU seconds) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / _TICKS


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of `pid`: {pid: start time}, to kill only those very processes."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            starts[int(entry.name)] = stat[1]
    found: dict[int, int] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child in starts and child not in found:
            found[child] = starts[child]
            todo.extend(children.get(child, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of these processes and their live descendants."""
    total = 0.0
    seen: set[int] = set()
    for pid in pids:
        for each in [pid, *descendants(pid)]:
            stat = _stat(each)
            if each not in seen and stat is not None:
                seen.add(each)
                total += stat[2]
    return total


class MachineLoad:
    """How busy the whole machine's CPUs were, sampled every second from /proc/stat (the
    machine is shared: this counts everyone's work, which is the point)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="machine-load")

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    def _run(self) -> None:
        total, idle = self._read()
        while not self._stop.wait(1.0):
            now_total, now_idle = self._read()
            if now_total > total:
                self.samples.append(1 - (now_idle - idle) / (now_total - total))
            total, idle = now_total, now_idle

    def __enter__(self) -> MachineLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float | None]:
        """Mean and peak busy fraction of all CPUs together (1.0: every core busy)."""
        if not self.samples:
            return {"mean": None, "max": None}
        mean = sum(self.samples) / len(self.samples)
        return {"mean": round(mean, 2), "max": round(max(self.samples), 2)}


@dataclass
class Child:
    """A process the harness started, in its own session, its output in a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    known: dict[int, int] = field(default_factory=dict)

    @classmethod
    def start(cls, name: str, argv: list[str], *, env: dict[str, str], log_path: Path) -> Child:
        log: IO[bytes] = log_path.open("ab")
        try:
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        return cls(name, proc, log_path)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def remember(self) -> None:
        """Note the descendants now: once the parent is gone they cannot be found."""
        if self.alive():
            self.known.update(descendants(self.pid))

    def stop(self, grace: float = 20.0) -> None:
        self.remember()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)  # the studio command stops its own
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid, started in self.known.items():
            stat = _stat(pid)
            if stat is not None and stat[1] == started:  # the same process, not a reused id
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


# --- The simulator ----------------------------------------------------------------------


@dataclass
class SimulatorProcess:
    child: Child
    url: str  # ends in /v1

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    def stats(self, *, reset: bool = False) -> dict[str, int]:
        params = {"reset": "1"} if reset else {}
        response = httpx.get(f"{self.root}/_simulator/stats", params=params, timeout=10)
        response.raise_for_status()
        counts = response.json()
        assert isinstance(counts, dict)
        return {str(k): int(v) for k, v in counts.items()}

    def cpu(self) -> float:
        return cpu_seconds([self.child.pid])

    def warm(self, kinds: list[tuple[str, int, str]], *, rate_per_minute: int) -> None:
        """Render every stock clip the workload will ask for ((model, seconds, size) each,
        one per size and length), so that no run pays for it: rendering is the
        simulator's only heavy work. Then let the rate limit refill and zero the counters."""
        used = 0
        with httpx.Client(
            base_url=self.url + "/", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120
        ) as http:

            def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                nonlocal used
                while True:
                    used += 1
                    response = http.request(method, path, **kwargs)
                    if response.status_code != 429:
                        return response
                    time.sleep(float(response.headers.get("Retry-After", "1")))

            ids = []
            for model, seconds, size in kinds:
                body = {"model": model, "seconds": seconds, "size": size}
                response = call("POST", "videos", json=body | {"prompt": "warm-up [render:0]"})
                response.raise_for_status()
                ids.append(response.json()["id"])
            for video_id in ids:
                for variant in ("video", "thumbnail", "spritesheet"):
                    params = {} if variant == "video" else {"variant": variant}
                    while True:
                        response = call("GET", f"videos/{video_id}/content", params=params)
                        if response.status_code != 400:  # 400: not ready yet
                            response.raise_for_status()
                            break
                        time.sleep(0.5)
        time.sleep(min(used, 100) * 60 / rate_per_minute + 1)
        self.stats(reset=True)


def start_simulator(
    name: str,
    log_path: Path,
    *,
    rate_per_minute: int,
    burst: int,
    queue_seconds: float,
    extra: tuple[str, ...] = (),
) -> SimulatorProcess:
    """`extra`: more command-line options (faults, `--api-key`)."""
    argv = [
        PYTHON, "-m", "videostudio.simulator", "--port", "0",
        "--rate-per-minute", str(rate_per_minute), "--burst", str(burst),
        "--stock-media", "--queue-seconds", str(queue_seconds), *extra,
    ]  # fmt: skip
    child = Child.start(name, argv, env=dict(os.environ), log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return SimulatorProcess(child, found.group(1))
        if not child.alive():
            break
        time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"{name} did not start:\n{tail(log_path)}")


# --- The app --------------------------------------------------------------------------------


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class AppProcess:
    child: Child
    url: str
    data_dir: Path

    @property
    def db(self) -> Path:
        return self.data_dir / "db.sqlite3"

    def cpu(self) -> float:
        return cpu_seconds([self.child.pid])


def app_env(data_dir: Path, api_base: str) -> dict[str, str]:
    """The embedded deployment against `api_base`: SQLite, no Redis, default settings."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env.update(
        VIDEOSTUDIO_DATA_DIR=str(data_dir),
        VIDEOSTUDIO_API_KEY=API_KEY,
        VIDEOSTUDIO_API_BASE=api_base,
        PYTHONUNBUFFERED="1",
    )
    env.pop("POE_API_KEY", None)
    return env


def _manage(args: list[str], env: dict[str, str], log_path: Path) -> None:
    with log_path.open("ab") as log:
        subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=True, timeout=300,
        )  # fmt: skip


_ACCOUNTS = """
from django.contrib.auth import get_user_model
users = get_user_model()
for name in {names!r}:
    users.objects.create_user(name, password={password!r})
users.objects.create_user({staff!r}, password={password!r}, is_staff=True)
print("accounts:", users.objects.count())
"""


def prepare_app(
    data_dir: Path, api_base: str, *, members: int, log_path: Path, **settings: str
) -> dict[str, str]:
    """`make run`'s steps before it starts anything, on a fresh data dir: the app's
    environment (`settings` added to it)."""
    env = app_env(data_dir, api_base) | settings
    _manage(["migrate", "--noinput"], env, log_path)
    _manage(["collectstatic", "--noinput", "--verbosity", "0"], env, log_path)
    script = _ACCOUNTS.format(names=member_names(members), password=PASSWORD, staff=STAFF)
    _manage(["shell", "-c", script], env, log_path)
    return env


def start_app(data_dir: Path, api_base: str, *, members: int, log_path: Path) -> AppProcess:
    """`make run`'s steps against a fresh data dir, then wait for the login page and
    for the worker to say it runs."""
    env = prepare_app(data_dir, api_base, members=members, log_path=log_path)
    port = free_port()
    argv = [PYTHON, "manage.py", "studio", "--port", str(port)]
    child = Child.start("app", argv, env=env, log_path=log_path)
    app = AppProcess(child, f"http://127.0.0.1:{port}", data_dir)
    try:
        _wait_until_ready(app)
    except BaseException:
        child.stop()
        raise
    return app


def _wait_until_ready(app: AppProcess, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    web = False
    while time.monotonic() < deadline:
        if not app.child.alive():
            raise RuntimeError(f"the app stopped while starting:\n{tail(app.child.log_path)}")
        if not web:
            with contextlib.suppress(httpx.HTTPError):
                web = httpx.get(f"{app.url}/accounts/login/", timeout=5).status_code == 200
        # django-q2 says so once its workers are up: before that nothing is sent.
        if web and "running." in app.child.log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the app was not ready within {timeout:.0f} s:\n{tail(app.child.log_path)}")


def log_problems(path: Path, limit: int = 8) -> dict[str, Any]:
    """Counts of the app log's ERROR and WARNING lines and tracebacks, and the first few
    distinct ones: evidence for the report, not a verdict."""
    levels = {"ERROR": 0, "WARNING": 0, "CRITICAL": 0, "Traceback": 0}
    samples: list[str] = []
    seen: set[str] = set()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        text = ""
    for raw in text.splitlines():
        level = next((name for name in levels if f" {name} " in raw), None)
        if raw.startswith("Traceback"):
            level = "Traceback"
        if level is None:
            continue
        levels[level] += 1
        # One sample per kind of message: drop the timestamp, the request id and the numbers.
        message = re.sub(r" \[[^\]]*\]: ", ": ", raw.split(f" {level} ", 1)[-1], count=1)
        key = re.sub(r"\d+", "#", message)[:120]
        if key not in seen and len(samples) < limit:
            seen.add(key)
            samples.append(raw[:300])
    return {"counts": levels, "samples": samples}


def dump(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
