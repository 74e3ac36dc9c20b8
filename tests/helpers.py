"""Small test doubles that wrap real transports (never replace the simulator)."""

from __future__ import annotations

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
