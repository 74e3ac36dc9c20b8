"""What the simulator's tests share: constants and small helpers."""

from __future__ import annotations

import contextlib
import io
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from videostudio.provider.client import ProviderClient
from videostudio.simulator import Simulator, serve

from ..conftest import FakeClock

START = 1_790_000_000.0
QUEUE = 2.0
RENDER = 10.0
EXPIRE = 3600.0
AUTH = {"Authorization": "Bearer sk-sim-test"}


def make_sim(clock: FakeClock, cache_dir: Path, **kwargs: Any) -> Simulator:
    options: dict[str, Any] = {
        "clock": clock,
        "queue_seconds": QUEUE,
        "render_seconds": RENDER,
        "expire_seconds": EXPIRE,
        "cache_dir": cache_dir,
        "fps": 6,
    }
    options.update(kwargs)
    return Simulator(**options)


def make_api(sim: Simulator, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(
        transport=sim.transport(),
        base_url="http://simulator.test/v1",
        headers=AUTH if headers is None else headers,
    )


@contextlib.contextmanager
def served(sim: Simulator) -> Iterator[str]:
    """Serve `sim` on a free loopback port; yield its base URL (ending in /v1)."""
    server, thread = serve("127.0.0.1", 0, app=sim)
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(timeout=5)


@contextlib.contextmanager
def over_http(sim: Simulator, headers: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    """Like `make_api`, through a real socket."""
    with (
        served(sim) as url,
        httpx.Client(base_url=url, headers=AUTH if headers is None else headers, timeout=10) as api,
    ):
        yield api


@contextlib.contextmanager
def connect(sim: Simulator, *, how: str, api_key: str, **options: Any) -> Iterator[ProviderClient]:
    """The app's provider client talking to `sim` "in-process" or over "loopback" HTTP.

    `options` go to `ProviderClient` (sleep, clock, random, timeout...). A `transport`
    given for "in-process" must lead to `sim.transport()` (a recorder around it).
    """
    if how == "in-process":
        options.setdefault("transport", sim.transport())
        with ProviderClient(base_url="http://simulator.test/v1", api_key=api_key, **options) as c:
            yield c
        return
    if how != "loopback":
        raise ValueError(f"how must be in-process or loopback, not {how!r}")
    with served(sim) as url, ProviderClient(base_url=url, api_key=api_key, **options) as client:
        yield client


def png(size: tuple[int, int] = (32, 24), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("model", "Sora-2")
    body.setdefault("prompt", "A lighthouse in a storm")
    response = api.post("/videos", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def assert_error(
    response: httpx.Response,
    status: int,
    error_type: str,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == status
    assert error["type"] == error_type
    assert error["metadata"] == (metadata or {})
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def finish(clock: FakeClock) -> None:
    clock.advance(QUEUE + RENDER + 0.01)


@contextlib.contextmanager
def command_line(*options: str) -> Iterator[str]:
    """Run `python -m videostudio.simulator` on a free port; yield the URL it announces."""
    command = [sys.executable, "-m", "videostudio.simulator", "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the simulator did not announce itself"
        line = process.stdout.readline().strip()
        assert line.startswith("Simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1]
        assert url.endswith("/v1")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
