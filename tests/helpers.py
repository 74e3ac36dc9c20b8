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
