from __future__ import annotations

import threading
import time
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone

from videostudio.ops.alerts import alerts_now_and_then
from videostudio.ops.health import Check, check_worker

# Pages do not pay for the check: each process asks at most this often.
MEMO_SECONDS = 10.0

_lock = threading.Lock()
_memo: tuple[float, Check] | None = None


def worker_banner(request: HttpRequest) -> dict[str, Any]:
    """Staff see a banner while the worker is away (jobs are not being tracked). The
    check runs only when a template shows the banner (templates call the value):
    a progress poll's partial does not."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {}

    def away() -> Check | None:
        worker = _worker()
        if worker is None or worker.ok:
            return None
        alerts_now_and_then(worker=worker)  # and staff hear of it where they are not
        return worker

    return {"worker_away": away}


def _worker() -> Check | None:
    global _memo
    now = time.monotonic()
    with _lock:
        if _memo is not None and now - _memo[0] < MEMO_SECONDS:
            return _memo[1]
    try:
        check = check_worker(timezone.now())
    except DatabaseError:
        return None  # the page has bigger problems; /health/ says which
    with _lock:
        _memo = (now, check)
    return check


def forget() -> None:
    """Drop the remembered check (tests)."""
    global _memo
    with _lock:
        _memo = None
