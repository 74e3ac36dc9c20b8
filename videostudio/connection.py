"""The one provider client of this process, built from settings.

Without a key the client talks to the built-in simulator in-process (demo mode).
The simulator keeps no per-job state, so the web process and the worker, each
with its own instance, agree about every job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import BaseCache, cache

from videostudio.provider.client import ProviderClient
from videostudio.provider.ratelimit import LocalRateGate, LocalRateLimiter
from videostudio.provider.ratelimit_redis import RedisRateGate, RedisRateLimiter, redis_from_url

log = logging.getLogger(__name__)

_lock = threading.Lock()
_client: ProviderClient | None = None


class CacheRateGate:
    """The 429 cooldown shared by every process through Django's cache (the file
    cache on one machine, Redis when scaled out): once the provider says "slow
    down", nobody on the team uses the key until Retry-After has passed."""

    def __init__(
        self,
        cache: BaseCache,
        *,
        key: str = "videostudio:provider:cooldown",
        refresh: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cache = cache
        self._key = key
        self._refresh = refresh
        self._local = LocalRateGate(sleep=sleep)
        self._checked = float("-inf")

    def block_until(self, monotonic_deadline: float) -> None:
        self._local.block_until(monotonic_deadline)
        until = time.time() + (monotonic_deadline - time.monotonic())
        try:
            if until > float(self._cache.get(self._key) or 0):
                self._cache.set(self._key, until, timeout=int(until - time.time()) + 5)
        except Exception:  # the cache is a courtesy; the local gate still holds
            log.warning("could not share the provider cooldown", exc_info=True)

    def wait(self) -> None:
        # Read the shared deadline at most every `refresh` seconds: cheap enough
        # to ask before every call.
        now = time.monotonic()
        if now - self._checked >= self._refresh:
            self._checked = now
            try:
                until = float(self._cache.get(self._key) or 0)
            except Exception:
                log.warning("could not read the provider cooldown", exc_info=True)
                until = 0.0
            if until > time.time():
                self._local.block_until(now + until - time.time())
        self._local.wait()


DEMO_BASE_URL = "http://simulator.invalid/v1"


def build_client(*, transport: httpx.BaseTransport | None = None) -> ProviderClient:
    if settings.VIDEOSTUDIO_DEMO and transport is None:
        from videostudio.simulator.app import Simulator

        simulator = Simulator(
            queue_seconds=settings.VIDEOSTUDIO_SIMULATOR_QUEUE_SECONDS,
            render_seconds=settings.VIDEOSTUDIO_SIMULATOR_RENDER_SECONDS,
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
    """Keep the whole team under the key's request budget, and honour a 429 everywhere.

    With Redis every process shares one budget and one cooldown; without it each
    process paces itself and the cooldown is shared through the file cache.
    """
    rate = settings.VIDEOSTUDIO_PROVIDER_RATE_PER_MINUTE
    if settings.REDIS_URL:
        redis = redis_from_url(settings.REDIS_URL)
        return {
            "limiter": RedisRateLimiter(redis, rate_per_minute=rate),
            "gate": RedisRateGate(redis),
        }
    return {"limiter": LocalRateLimiter(rate), "gate": CacheRateGate(cache)}


def get_client() -> ProviderClient:
    """The process-wide client: one connection pool, shared by every thread."""
    global _client
    with _lock:
        if _client is None:
            _client = build_client()
        return _client
