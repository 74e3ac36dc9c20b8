"""`GET /v1/videos`: the jobs one simulator made, newest first, in OpenAI's list shape.

Poe documents no list endpoint, so it is off by default (`list_endpoint=False`);
OpenAI's Videos API has one, and a tracker that can list saves a poll per job.
Jobs live in their ids (`jobs.py`), so this is the only memory of which jobs
exist: kept per `Simulator` instance (another process's simulator lists its own),
bounded to the newest `MAX_LISTED` jobs. A listed job's object is computed at the
moment of the request, exactly as `GET /v1/videos/{id}` would answer it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from videostudio.simulator import jobs
from videostudio.simulator.web import ApiError

MAX_LISTED = 10_000
DEFAULT_LIMIT = 20


class JobList:
    """The newest jobs, oldest first in memory; thread-safe.

    Each job gets the next sequence number, so a cursor (`after=<id>`) finds its
    place by arithmetic while older jobs fall off the front.
    """

    def __init__(self, *, capacity: int = MAX_LISTED) -> None:
        self._lock = threading.Lock()
        self._jobs: deque[jobs.Job] = deque()
        self._seq: dict[str, int] = {}
        self._next = 0
        self._capacity = capacity

    def add(self, job: jobs.Job) -> None:
        with self._lock:
            if len(self._jobs) >= self._capacity:
                self._seq.pop(self._jobs.popleft().id, None)
            self._jobs.append(job)
            self._seq[job.id] = self._next
            self._next += 1

    def everything(self) -> list[jobs.Job]:
        """Every job still remembered, oldest first."""
        with self._lock:
            return list(self._jobs)

    def page(self, *, limit: int, after: str | None) -> tuple[list[jobs.Job], bool]:
        """Up to `limit` jobs, newest first, older than `after`; and whether more follow."""
        with self._lock:
            end = len(self._jobs)  # exclusive, in deque positions
            if after is not None:
                seq = self._seq.get(after)
                if seq is None:
                    raise ApiError(
                        400, f"Unknown after cursor {after!r}", metadata={"param": "after"}
                    )
                end = seq - (self._next - len(self._jobs))
            start = max(0, end - limit)
            picked = [self._jobs[i] for i in range(end - 1, start - 1, -1)]
        return picked, start > 0


def page_payload(
    job_list: JobList, query: dict[str, str], *, now: float, dialect: str
) -> dict[str, Any]:
    """The answer to `GET /v1/videos?limit=&after=`, OpenAI's list object."""
    raw_limit = query.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise ApiError(400, "limit must be an integer from 1 to 100", metadata={"param": "limit"})
    picked, has_more = job_list.page(limit=int(raw_limit), after=query.get("after") or None)
    data = [jobs.video_object(job, now, dialect) for job in picked]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
