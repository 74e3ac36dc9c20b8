"""The rate limiter and the 429 gate, shared by every process through Redis.

Web processes and workers all spend one key's budget, so the count has to live
outside any one of them. Each decision is one Lua script, atomic in Redis, so no
two processes can both take the last token or shorten each other's cooldown.

Redis is a courtesy here, never a dependency: when it fails, calls go ahead
(the provider's own 429 and the gate in this process remain the safety net),
with a warning at most once a minute and no new attempt for a few seconds, so
an outage costs neither a crash nor a connect timeout per request.

Times in Redis are wall-clock seconds (`time.time`), the only clock processes on
different hosts share; they are assumed NTP-synced, and a clock that lags only
delays its own refills (a stored time never moves backwards).

redis-py is imported only inside `redis_from_url` and `_redis_errors`: this
module loads (and the app runs without Redis) whether or not it is installed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from videostudio.provider.ratelimit import LocalRateGate, default_burst

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_LIMITER_KEY = "videostudio:provider:rate"
DEFAULT_GATE_KEY = "videostudio:provider:cooldown"
# After a Redis failure, go ahead unpaced for this long before trying Redis again.
RETRY_REDIS_AFTER = 5.0
WARN_EVERY = 60.0

# The token bucket of `LocalRateLimiter`, kept in one hash. KEYS[1]: the bucket;
# ARGV: now (s), tokens per second, burst. Returns the wait in seconds as a string
# (Redis would truncate a Lua number to an integer).
_TOKEN_BUCKET = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'updated', string.format('%.6f', updated))
-- Once it would be full again, a missing bucket means the same thing: let it go.
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.6f', math.max(0, -tokens / rate))
"""

# KEYS[1]: the gate; ARGV: the new deadline and now (wall-clock s). Only extends.
_EXTEND_DEADLINE = """
local deadline = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]))
if current ~= nil and current >= deadline then
  return 0
end
local ttl = math.ceil((deadline - tonumber(ARGV[2])) * 1000) + 1000
redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(ttl, 1000))
return 1
"""


def redis_from_url(url: str, *, timeout: float = 0.5) -> Any:
    """A redis-py client for pacing: short timeouts, since every provider call waits on it."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class RedisRateLimiter:
    """`LocalRateLimiter`'s token bucket, one per key for every process using it."""

    def __init__(
        self,
        redis_client: Any,
        *,
        key: str = DEFAULT_LIMITER_KEY,
        rate_per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError(f"rate_per_minute must be at least 1, not {rate_per_minute}")
        self.key = key
        self.rate_per_minute = rate_per_minute
        self.burst = default_burst(rate_per_minute) if burst is None else burst
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst}")
        self._clock = clock
        self._sleep = sleep
        # register_script sends nothing yet: EVALSHA, then EVAL once if Redis lacks it.
        self._script = redis_client.register_script(_TOKEN_BUCKET)
        self._fallback = _Fallback("pacing", clock)

    def reserve(self) -> float:
        """Take a token now; return how many seconds to wait (0 when Redis fails)."""
        args = [f"{self._clock():.6f}", repr(self.rate_per_minute / 60.0), str(self.burst)]
        answer = self._fallback.call(lambda: self._script(keys=[self.key], args=args))
        return 0.0 if answer is None else max(0.0, float(_text(answer)))

    def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)


class RedisRateGate:
    """The 429 cooldown for every process: one wall-clock deadline under `key`.

    A gate in this process holds the same deadline too, so this process keeps
    its cooldown while Redis is down.
    """

    def __init__(
        self,
        redis_client: Any,
        *,
        key: str = DEFAULT_GATE_KEY,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self._redis = redis_client
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._extend = redis_client.register_script(_EXTEND_DEADLINE)
        self._local = LocalRateGate(clock=monotonic, sleep=sleep)
        self._fallback = _Fallback("the shared 429 cooldown", clock)

    def block_until(self, monotonic_deadline: float) -> None:
        self._local.block_until(monotonic_deadline)
        # The client counts on its monotonic clock; other hosts only share wall time.
        now = self._clock()
        deadline = monotonic_deadline - self._monotonic() + now
        if deadline <= now:
            return
        args = [f"{deadline:.6f}", f"{now:.6f}"]
        self._fallback.call(lambda: self._extend(keys=[self.key], args=args))

    def deadline(self) -> float | None:
        """The shared deadline (wall clock) or None when there is none or Redis fails."""
        answer = self._fallback.call(lambda: self._redis.get(self.key))
        if answer is None:
            return None
        try:
            return float(_text(answer))
        except ValueError:
            return None  # not ours to read: an open gate beats a crash

    def blocked_for(self) -> float:
        """Seconds left in the current cooldown, here or anywhere (0 when open)."""
        shared = self.deadline()
        remaining = 0.0 if shared is None else shared - self._clock()
        return max(0.0, remaining, self._local.blocked_for())

    def wait(self) -> None:
        self._local.wait()
        while True:
            deadline = self.deadline()
            if deadline is None:
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)
            # As in LocalRateGate: go round again only if someone pushed the deadline.
            later = self.deadline()
            if later is None or later <= deadline:
                return


class _Fallback:
    """Runs Redis calls; on a Redis failure, answers None, warns, and rests Redis awhile."""

    def __init__(self, what: str, clock: Callable[[], float]) -> None:
        self._what = what
        self._clock = clock
        self._errors = _redis_errors()
        self._lock = threading.Lock()
        self._resume_at = float("-inf")
        self._next_warning = float("-inf")

    def call(self, command: Callable[[], T]) -> T | None:
        with self._lock:
            if self._clock() < self._resume_at:
                return None
        try:
            return command()
        except self._errors as exc:
            now = self._clock()
            with self._lock:
                self._resume_at = now + RETRY_REDIS_AFTER
                warn = now >= self._next_warning
                if warn:
                    self._next_warning = now + WARN_EVERY
            if warn:
                logger.warning("Redis failed (%s); going on without %s", _describe(exc), self._what)
            return None


def _redis_errors() -> tuple[type[Exception], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # a stand-in client without redis-py installed
        return (OSError,)
    return (RedisError, OSError)


def _text(value: object) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
