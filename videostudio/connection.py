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

from videostudio.pacing.budget import Budget
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
    """One request budget for the key, shared by every process on every host: in Redis
    when there is one, else in the database. It paces calls (the limiter) and holds
    everyone after a 429 (the gate)."""
    options: dict[str, Any] = {
        "rate_per_minute": settings.VIDEOSTUDIO_PROVIDER_RATE_PER_MINUTE,
        "burst": settings.VIDEOSTUDIO_PROVIDER_BURST,
    }
    budget: Budget
    if settings.REDIS_URL:
        budget = RedisBudget(redis_from_url(settings.REDIS_URL), **options)
    else:
        budget = DatabaseBudget(**options)
    return {"limiter": budget, "gate": budget}


def get_client() -> ProviderClient:
    """The process-wide client: one connection pool, shared by every thread."""
    global _client
    with _lock:
        if _client is None:
            _client = build_client()
        return _client
