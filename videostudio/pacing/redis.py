"""The request budget in Redis, for every process on every host that shares it.

Each decision is one Lua script, atomic in Redis, mirroring the rules of `budget`
(`decide_take`, `decide_pause`), so no two processes can both take the last token or
shorten each other's pause. The bucket is one hash; a missing hash is a full bucket
with no pause, so it expires once it would be full again.

Redis is a courtesy here, never a dependency: when it fails, this process goes on
with a `LocalBudget` of its own (the provider's 429 and the pause remain the safety
net), with a warning at most once a minute and no new attempt for a few seconds, so
an outage costs neither a crash nor a connect timeout per request. A pause is kept
in that local budget too, so this process honours it while Redis is away.

redis-py is imported only inside `redis_from_url` and `_redis_errors`: this module
loads (and the app runs without Redis) whether or not it is installed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar, Unpack

from videostudio.pacing.budget import (
    DEFAULT_NAME,
    MIN_WAIT,
    BaseBudget,
    LocalBudget,
    State,
    Timing,
)
from videostudio.provider.ratelimit import Priority

logger = logging.getLogger(__name__)

T = TypeVar("T")

KEY_PREFIX = "videostudio:pacing:"
# After a Redis failure, use the local budget for this long before trying Redis again.
RETRY_REDIS_AFTER = 5.0
WARN_EVERY = 60.0

# `decide_take`. KEYS[1]: the bucket; ARGV: now (s), tokens per second, burst, floor, n,
# MIN_WAIT. Returns the wait in seconds as a string (Redis would truncate a Lua number
# to an integer); "0" when taken.
_TAKE = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'paused_until')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
local paused = tonumber(state[3]) or 0
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens)
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
if paused > now then
  return string.format('%.17g', paused - now)
end
if tokens - n < floor then
  return string.format('%.17g', math.max((floor + n - tokens) / rate, tonumber(ARGV[6])))
end
tokens = tokens - n
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'updated', string.format('%.17g', updated))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return '0'
"""

# `decide_pause`. KEYS[1]: the bucket; ARGV: the deadline, now (wall-clock s), tokens
# per second, burst. Returns 1 when the pause was set or extended.
_PAUSE = """
local deadline = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'updated', 'paused_until')
local updated = tonumber(state[1]) or now
local paused = tonumber(state[2]) or 0
if deadline <= now or deadline <= paused then
  return 0
end
updated = math.max(updated, deadline)
redis.call('HSET', KEYS[1], 'tokens', '0', 'updated', string.format('%.17g', updated),
           'paused_until', ARGV[1])
local full = (updated - now) + tonumber(ARGV[4]) / tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(full * 1000) + 1000)
return 1
"""


def redis_from_url(url: str, *, timeout: float = 0.5) -> Any:
    """A redis-py client for pacing: short timeouts, since every provider call waits on it."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class RedisBudget(BaseBudget):
    """A budget kept in Redis under `videostudio:pacing:<name>`."""

    def __init__(
        self,
        redis_client: Any,
        name: str = DEFAULT_NAME,
        *,
        rate_per_minute: int,
        burst: int,
        **timing: Unpack[Timing],
    ) -> None:
        super().__init__(rate_per_minute=rate_per_minute, burst=burst, **timing)
        self.name = name
        self.key = KEY_PREFIX + name
        self._redis = redis_client
        # register_script sends nothing yet: EVALSHA, then EVAL once if Redis lacks it.
        self._take = redis_client.register_script(_TAKE)
        self._pause = redis_client.register_script(_PAUSE)
        self._local = LocalBudget(rate_per_minute=rate_per_minute, burst=burst, **timing)
        self._outage = _Outage(self._clock)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, key={self.key!r})"

    def try_take(self, priority: Priority, n: int = 1) -> float:
        floor = self._floor(priority, n)
        # A pause this process learned while Redis was away still holds.
        paused = self._local.paused_for()
        if paused > 0:
            return paused
        args = [repr(self._clock()), repr(self._per_second), self.burst, floor, n, repr(MIN_WAIT)]
        answer = self._outage.call(lambda: self._take(keys=[self.key], args=args))
        if answer is None:
            return self._local.try_take(priority, n)
        return float(_text(answer))

    def pause_until(self, wall_deadline: float) -> None:
        self._local.pause_until(wall_deadline)
        args = [repr(wall_deadline), repr(self._clock()), repr(self._per_second), self.burst]
        self._outage.call(lambda: self._pause(keys=[self.key], args=args))

    def _state(self) -> State:
        state = self._shared()
        return self._local._state() if state is None else state

    def _paused_until(self) -> float:
        state = self._shared()
        shared = 0.0 if state is None else state.paused_until
        return max(shared, self._local._paused_until())

    def _shared(self) -> State | None:
        """The state in Redis (a missing key: a fresh bucket), or None when Redis fails."""
        fields = ("tokens", "updated", "paused_until")
        answer = self._outage.call(lambda: self._redis.hmget(self.key, fields))
        if answer is None:
            return None
        try:
            tokens, updated, paused = (None if v is None else float(_text(v)) for v in answer)
        except ValueError:
            return self._fresh()  # not ours to read: a fresh bucket beats a crash
        if tokens is None or updated is None:
            return self._fresh()
        return State(tokens, updated, paused or 0.0)


class _Outage:
    """Runs Redis calls; on a Redis failure, answers None, warns, and rests Redis awhile."""

    def __init__(self, clock: Callable[[], float]) -> None:
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
                logger.warning(
                    "Redis failed (%s); pacing this process on its own for now", _describe(exc)
                )
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
