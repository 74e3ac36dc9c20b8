"""Two trackers to hold the app's up against, on the same workload, each against a
simulator of its own with the same limits. Plain httpx, no Django, no pacing: each
waits out a 429 for its Retry-After and tries again, and counts it.

- naive: every job in a thread of its own, sent at its moment, then looked at every
  5 s; its files downloaded in that thread as soon as it is seen completed.
- sweep: jobs sent at their moments (one thread per member); every 15 s one loop
  looks at every job in flight, back to back, then downloads the finished ones.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fleet_stack import API_KEY
from fleet_workload import Job, by_member

VARIANTS: tuple[str | None, ...] = (None, "thumbnail", "spritesheet")


@dataclass
class Track:
    """What a baseline knows of one job; times in epoch seconds."""

    job: Job
    provider_id: str | None = None
    sent_at: float | None = None
    create_seconds: float | None = None  # the create call, 429 waits included
    detected_at: float | None = None
    archived_at: float | None = None
    status: str = "new"  # new, sent, completed, failed, refused
    error: str = ""

    @property
    def done(self) -> bool:
        return self.archived_at is not None or self.status in {"failed", "refused"}


class Caller:
    """The provider over plain HTTP; every 429 waited out for its Retry-After."""

    def __init__(self, base_url: str, stop: threading.Event) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=60,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        )
        self.stop = stop
        self.throttled = 0
        self.unreachable = 0  # no answer at all (refused or dropped connections): tried again
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def _wait(self, response: httpx.Response) -> bool:
        """Count a 429 and sleep its Retry-After; False when told to stop meanwhile."""
        with self._lock:
            self.throttled += 1
        try:
            wait = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            wait = 1.0
        return not self.stop.wait(wait)

    def _unreachable(self) -> bool:
        """Count a request that got no answer and wait a second; False when told to stop."""
        with self._lock:
            self.unreachable += 1
        return not self.stop.wait(1.0)

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        """The first answer that is not a 429; None when stopped or unreachable."""
        while not self.stop.is_set():
            try:
                response = self.http.request(method, path, **kwargs)  # type: ignore[arg-type]
            except httpx.HTTPError:
                if not self._unreachable():
                    return None
                continue
            if response.status_code != 429:
                return response
            if not self._wait(response):
                return None
        return None

    def download(self, provider_id: str, dest: Path) -> bool:
        """The job's three files, one after the other; each streamed to disk, then dropped."""
        for variant in VARIANTS:
            params = {"variant": variant} if variant else {}
            while True:
                if self.stop.is_set():
                    return False
                try:
                    with self.http.stream(
                        "GET", f"videos/{provider_id}/content", params=params
                    ) as response:
                        if response.status_code == 429:
                            response.read()
                            if not self._wait(response):
                                return False
                            continue
                        if response.status_code != 200:
                            response.read()
                            return False
                        with dest.open("wb") as out:
                            for chunk in response.iter_bytes(1 << 20):
                                out.write(chunk)
                        dest.unlink()
                        break
                except httpx.HTTPError:
                    if not self._unreachable():
                        return False
        return True


@dataclass
class Baseline:
    name: str
    tracks: list[Track]
    caller: Caller
    started: float = field(default_factory=time.monotonic)

    def send(self, track: Track) -> bool:
        job = track.job
        body = {
            "model": job.kind.model,
            "prompt": job.prompt,
            "seconds": job.kind.seconds,
            "size": job.kind.size,
        }
        began = time.perf_counter()
        response = self.caller.request("POST", "videos", json=body)
        track.create_seconds = time.perf_counter() - began
        if response is None:
            return False
        if response.status_code >= 300:
            track.status, track.error = "refused", f"HTTP {response.status_code}"
            return False
        track.provider_id = str(response.json()["id"])
        track.sent_at = time.time()
        track.status = "sent"
        return True

    def look(self, track: Track) -> str | None:
        """The job's status now (after any 429 waits), or None without an answer."""
        assert track.provider_id is not None
        response = self.caller.request("GET", f"videos/{track.provider_id}")
        if response is None or response.status_code != 200:
            return None
        status = str(response.json().get("status"))
        if status in {"completed", "failed"}:
            track.detected_at = time.time()
            track.status = status
        return status

    def archive(self, track: Track, workdir: Path) -> None:
        assert track.provider_id is not None
        if self.caller.download(track.provider_id, workdir / f"{track.job.index}.bin"):
            track.archived_at = time.time()


def run_naive(
    base_url: str,
    jobs: list[Job],
    *,
    workdir: Path,
    stop: threading.Event,
    timeout: float,
    every: float = 5.0,
) -> tuple[list[Track], Caller]:
    """A thread per job: send at its moment, look every `every` s, download on completion.
    Returns the tracks and the caller (its counts of 429s and unanswered requests)."""
    local = threading.Event()  # this run's own stop: the deadline, or the harness's
    caller = Caller(base_url, local)
    base = Baseline("naive", [Track(job) for job in jobs], caller)
    start = time.monotonic() + 0.5

    def follow(track: Track) -> None:
        if local.wait(max(start + track.job.at - time.monotonic(), 0)) or not base.send(track):
            return
        while not local.wait(every):
            status = base.look(track)
            if status == "completed":
                base.archive(track, workdir)
                return
            if status == "failed":
                return

    threads = [
        threading.Thread(target=follow, args=(t,), daemon=True, name=f"naive-{t.job.index}")
        for t in base.tracks
    ]
    _run(threads, local, stop, timeout)
    caller.close()
    return base.tracks, caller


def run_sweep(
    base_url: str,
    jobs: list[Job],
    *,
    workdir: Path,
    stop: threading.Event,
    timeout: float,
    every: float = 15.0,
) -> tuple[list[Track], Caller]:
    """Members send at their moments; every `every` s one loop looks at every job in
    flight, back to back, then downloads the finished ones."""
    local = threading.Event()
    caller = Caller(base_url, local)
    base = Baseline("sweep", [Track(job) for job in jobs], caller)
    start = time.monotonic() + 0.5
    lock = threading.Lock()
    in_flight: list[Track] = []
    by_index = {t.job.index: t for t in base.tracks}
    plans = by_member(jobs)

    def member(name: str) -> None:
        for job in plans[name]:
            if local.wait(max(start + job.at - time.monotonic(), 0)):
                return
            track = by_index[job.index]
            if base.send(track):
                with lock:
                    in_flight.append(track)

    def sweeper() -> None:
        due = start
        while not local.wait(max(due - time.monotonic(), 0)):
            due = max(due + every, time.monotonic())  # an overrun starts the next at once
            with lock:
                looking = list(in_flight)
            finished = [t for t in looking if base.look(t) == "completed"]
            for track in finished:
                base.archive(track, workdir)
            with lock:
                in_flight[:] = [t for t in in_flight if t.status == "sent"]
            if all(t.done for t in base.tracks):
                return

    threads = [threading.Thread(target=member, args=(n,), daemon=True) for n in plans]
    threads.append(threading.Thread(target=sweeper, daemon=True, name="sweeper"))
    _run(threads, local, stop, timeout)
    caller.close()
    return base.tracks, caller


def _run(
    threads: list[threading.Thread],
    local: threading.Event,
    stop: threading.Event,
    timeout: float,
) -> None:
    """Start them, and end them all when they finish, time runs out or the harness stops."""
    deadline = time.monotonic() + timeout

    def watch() -> None:
        while not local.is_set():
            if stop.wait(0.5) or time.monotonic() >= deadline:
                local.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    finally:
        local.set()
        watcher.join()
