"""What `fleet.py` asks for, and how it reads the answers.

A plan is a seeded list of jobs: who sends each, when (seconds after the start), and
its kind (model, seconds, size). The kind decides how long the provider takes, plus
or minus 10 %, so a tracker that learns durations per kind has something to learn;
the prompt tells the simulator that render time with `[render:NN]`.

Members send through the app's own form over HTTP, each in a thread of their own.
Results come from the app's SQLite file, opened read-only.
"""

from __future__ import annotations

import random
import re
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from videostudio.simulator.jobs import decode_id

QUEUE_SECONDS = 2.0  # the simulator's --queue-seconds: render = duration - this
FILES_PER_JOB = 3  # video, thumbnail, spritesheet


@dataclass(frozen=True)
class Kind:
    model: str
    seconds: int
    size: str
    base: float  # provider seconds, create to finish, before the noise


# Bases 24-108 s: with +-10 % every job takes 20-120 s.
KINDS: tuple[Kind, ...] = (
    Kind("Veo-3-Fast", 4, "720x1280", 24),
    Kind("Veo-3-Fast", 8, "1280x720", 32),
    Kind("Veo-3.1-Fast", 6, "720x1280", 28),
    Kind("Sora-2", 4, "720x1280", 27),
    Kind("Sora-2", 8, "1280x720", 40),
    Kind("Sora-2", 12, "720x1280", 55),
    Kind("Veo-3", 8, "720x1280", 62),
    Kind("Sora-2-Pro", 4, "720x1280", 48),
    Kind("Sora-2-Pro", 8, "1024x1792", 72),
    Kind("Sora-2-Pro", 12, "1792x1024", 88),
    Kind("Sora-2-Pro", 16, "720x1280", 98),
    Kind("Sora-2-Pro", 20, "1024x1792", 108),
)
NOISE = 0.10
SHORTEST, LONGEST = 20.0, 120.0


@dataclass(frozen=True)
class Job:
    scenario: str
    index: int
    member: str
    at: float  # seconds after the start
    kind: Kind
    duration: float  # provider seconds, create to finish

    @property
    def render(self) -> float:
        return round(self.duration - QUEUE_SECONDS, 1)

    @property
    def prompt(self) -> str:
        k = self.kind
        return (
            f"{tag(self.scenario)}{self.index:04d}: a {k.seconds} s {k.model} scene "
            f"at {k.size} [render:{self.render}]"
        )


def tag(scenario: str) -> str:
    """Every prompt of a scenario starts with this: how its rows are found again."""
    return f"fleet-{scenario} #"


def plan(
    scenario: str,
    *,
    jobs: int,
    members: list[str],
    window: float,
    seed: int,
    kinds: tuple[Kind, ...] = KINDS,
) -> list[Job]:
    """`jobs` jobs shared evenly among `members`, each at a random moment of `window`."""
    rng = random.Random(f"{scenario}:{seed}")
    out = []
    for index in range(jobs):
        kind = rng.choice(kinds)
        duration = kind.base * rng.uniform(1 - NOISE, 1 + NOISE)
        duration = min(max(duration, SHORTEST), LONGEST)
        at = rng.uniform(0, window) if window > 0 else 0.0
        out.append(Job(scenario, index, members[index % len(members)], at, kind, duration))
    return out


def by_member(jobs: Iterable[Job]) -> dict[str, list[Job]]:
    out: dict[str, list[Job]] = {}
    for job in sorted(jobs, key=lambda j: (j.at, j.index)):
        out.setdefault(job.member, []).append(job)
    return out


# --- Members' browsers ----------------------------------------------------------------------

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="token" value="([^"]+)"')
_MODEL_SELECT = re.compile(r'<select name="model".*?</select>', re.S)
_OPTION = re.compile(r'<option value="([^"]+)"')
_ERROR = re.compile(r'class="error[^"]*"[^>]*>(.*?)</', re.S)


@dataclass(frozen=True)
class Sent:
    job: Job
    status: int  # HTTP status of the POST; 0 when it never got an answer
    seconds: float  # how long the POST took
    at: float  # epoch seconds when the POST was answered
    error: str = ""


class Browser:
    """One member's browser: its cookies, a CSRF token read from each page, no redirects."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        page = self.http.get("/accounts/login/")
        token = _CSRF.search(page.text)
        if token is None:
            raise RuntimeError("no login form")
        data = {"username": username, "password": password, "csrfmiddlewaretoken": token[1]}
        response = self.http.post("/accounts/login/", data=data)
        if response.status_code != 302:
            raise RuntimeError(f"{username} could not log in: HTTP {response.status_code}")

    def close(self) -> None:
        self.http.close()

    def models(self) -> set[str]:
        """The models the New video form offers."""
        select = _MODEL_SELECT.search(self.http.get("/videos/new/").text)
        return set(_OPTION.findall(select.group(0))) if select else set()

    def send(self, job: Job) -> Sent:
        """What a member does: open the form, fill it in, send it. Only the POST is timed."""
        try:
            page = self.http.get("/videos/new/")
            csrf, token = _CSRF.search(page.text), _FORM_TOKEN.search(page.text)
            if csrf is None:
                return Sent(job, page.status_code, 0.0, time.time(), "no form on /videos/new/")
            form = {
                "csrfmiddlewaretoken": csrf[1],
                "model": job.kind.model,
                "prompt": job.prompt,
                "seconds": str(job.kind.seconds),
                "size": job.kind.size,
                "share": "on",
            }
            if token is not None:
                form["token"] = token[1]
            began = time.perf_counter()
            response = self.http.post("/videos/new/", data=form)
            took = time.perf_counter() - began
        except httpx.HTTPError as exc:
            return Sent(job, 0, 0.0, time.time(), f"{type(exc).__name__}: {exc}")
        error = ""
        if response.status_code != 302:
            found = _ERROR.search(response.text)
            error = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found[1])).strip() if found else ""
            error = error or response.text[:200]
        return Sent(job, response.status_code, took, time.time(), error)


def submit_all(
    base_url: str,
    password: str,
    jobs: list[Job],
    *,
    stop: threading.Event,
    on_sent: Callable[[Sent], None] | None = None,
) -> list[Sent]:
    """Every member in a thread of their own, each job sent at its moment (or at once
    when the member is behind). Logging in happens before the clock starts."""
    plans = by_member(jobs)
    browsers = {name: Browser(base_url, name, password) for name in plans}
    results: list[Sent] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def member(name: str) -> None:
        for job in plans[name]:
            if stop.wait(max(start + job.at - time.monotonic(), 0)):
                return
            sent = browsers[name].send(job)
            with lock:
                results.append(sent)
            if on_sent is not None:
                on_sent(sent)

    threads = [threading.Thread(target=member, args=(n,), name=n, daemon=True) for n in plans]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    finally:
        for browser in browsers.values():
            browser.close()
    return results


# --- The app's answers, from its database -------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: int
    member: str
    status: str
    prompt: str
    provider_id: str | None
    created_at: float | None
    submitted_at: float | None
    detected_at: float | None
    archived_at: float | None

    @property
    def finished(self) -> float | None:
        """When the provider finished the job, from its id (exact, unlike its answers)."""
        job = decode_id(self.provider_id) if self.provider_id else None
        return job.finished if job is not None else None

    @property
    def send_delay(self) -> float | None:
        """From the form's answer to the send's start: how long the job waited its turn."""
        if self.submitted_at is None or self.created_at is None:
            return None
        return self.submitted_at - self.created_at


def _epoch(value: str | None) -> float | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # Django stores UTC in SQLite, without an offset
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_only(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from the app's SQLite file, opened without the right to write to it."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def read_rows(db: Path, scenario: str) -> list[Row]:
    """The scenario's jobs, read from the app's SQLite file without writing to it."""
    found = read_only(
        db,
        "SELECT v.id, u.username, v.status, v.prompt, v.provider_id, v.created_at,"
        " v.submitted_at, v.detected_at, v.archived_at"
        " FROM videos_video v JOIN auth_user u ON u.id = v.owner_id"
        " WHERE v.prompt LIKE ? ORDER BY v.id",
        tag(scenario) + "%",
    )
    return [
        Row(pk, member, status, prompt, provider_id, *(_epoch(v) for v in times))
        for pk, member, status, prompt, provider_id, *times in found
    ]


# Nothing more will happen to these on its own within a benchmark's time.
FINAL = {"failed", "unsettled"}
FAILED = {"failed", "unconfirmed", "unsettled", "unknown"}


def settled(rows: list[Row]) -> bool:
    return all(r.archived_at is not None or r.status in FINAL for r in rows)


def wait_for_rows(
    db: Path,
    scenario: str,
    expected: int,
    *,
    timeout: float,
    stop: threading.Event,
    done: Callable[[list[Row]], bool] = settled,
    progress: Callable[[list[Row]], None] | None = None,
) -> tuple[list[Row], bool]:
    """Read the rows every 2 s until `done` says so for all `expected` of them, or time
    runs out. Returns the last reading and whether it was done."""
    deadline = time.monotonic() + timeout
    rows: list[Row] = []
    while True:
        rows = read_rows(db, scenario)
        if len(rows) >= expected and done(rows):
            return rows, True
        if progress is not None:
            progress(rows)
        if time.monotonic() >= deadline or stop.wait(2.0):
            return rows, False


# --- Figures ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between the nearest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: list[float]) -> dict[str, float | None]:
    """Median, p95 and max of a list of delays, rounded to milliseconds."""

    def r(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "n": len(values),
        "median": r(statistics.median(values)) if values else None,
        "p95": r(percentile(values, 95)),
        "max": r(max(values)) if values else None,
    }
