"""The one provider client of this process, built from settings.

Without a key the client talks to the built-in simulator in-process (demo mode).
The simulator keeps no per-job state, so the web process and the worker, each
with its own instance, agree about every job.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
from django.conf import settings

from videostudio.pacing.budget import DEFAULT_NAME, Budget
from videostudio.pacing.database import DatabaseBudget
from videostudio.pacing.redis import RedisBudget, redis_from_url
from videostudio.provider.client import ProviderClient

_lock = threading.Lock()
_client: ProviderClient | None = None


DEMO_BASE_URL = "http://simulator.invalid/v1"


def build_client(*, transport: httpx.BaseTransport | None = None) -> ProviderClient:
    if settings.VIDEOSTUDIO_DEMO and transport is None:
        from videostudio.simulator.app import Simulator

        simulator = Simulator(
            queue_seconds=settings.VIDEOSTUDIO_SIMULATOR_QUEUE_SECONDS,
            render_seconds=settings.VIDEOSTUDIO_SIMULATOR_RENDER_SECONDS,
            expire_seconds=settings.VIDEOSTUDIO_SIMULATOR_EXPIRE_SECONDS,
            cache_dir=settings.DATA_DIR / "simulator-cache",
            # One balance and history for the web server and the worker.
            ledger_path=settings.DATA_DIR / "simulator-ledger.jsonl",
        )
        transport = simulator.transport()
    return ProviderClient(
        base_url=DEMO_BASE_URL if settings.VIDEOSTUDIO_DEMO else settings.VIDEOSTUDIO_API_BASE,
        api_key=settings.VIDEOSTUDIO_API_KEY or "demo",
        transport=transport,
        timeout=settings.VIDEOSTUDIO_PROVIDER_TIMEOUT,
        max_retries=settings.VIDEOSTUDIO_PROVIDER_RETRIES,
        **_pacing(),
    )


def _pacing() -> dict[str, Any]:
    """One request budget for the key, shared by every process on every host. It paces
    calls (the limiter) and holds everyone after a 429 (the gate)."""
    budget = shared_budget(
        rate_per_minute=settings.VIDEOSTUDIO_PROVIDER_RATE_PER_MINUTE,
        burst=settings.VIDEOSTUDIO_PROVIDER_BURST,
    )
    return {"limiter": budget, "gate": budget}


def shared_budget(name: str = DEFAULT_NAME, *, rate_per_minute: int, burst: int) -> Budget:
    """A request budget named `name`, shared by every process on every host: in Redis
    when there is one, else in the database. The key's is the default one; apps keep
    others under names of their own (the API: one per personal token)."""
    if settings.REDIS_URL:
        return RedisBudget(
            _redis(settings.REDIS_URL), name, rate_per_minute=rate_per_minute, burst=burst
        )
    return DatabaseBudget(name, rate_per_minute=rate_per_minute, burst=burst)


_redis_lock = threading.Lock()  # not `_lock`: get_client holds that while it builds
_redis_clients: dict[str, Any] = {}


def _redis(url: str) -> Any:
    """One Redis client (one connection pool) per URL for every budget of this process."""
    with _redis_lock:
        if url not in _redis_clients:
            _redis_clients[url] = redis_from_url(url)
        return _redis_clients[url]


def get_client() -> ProviderClient:
    """The process-wide client: one connection pool, shared by every thread."""
    global _client
    with _lock:
        if _client is None:
            _client = build_client()
        return _client
