"""Keeping under WeCom's limits, shared by every process that calls WeCom for a corp.

The backend is the gateway's shared state across processes: limiter budgets, the token lock, and
the flags that coalesce callback processing.

Per (corp, API): a requests-per-minute budget under WeCom's 10,000/min and a requests-per-hour one
under its 150,000/hour (a job past it waits for the next clock hour instead of running into 45009,
which would block the API for the rest of WeCom's window), a concurrency cap (WeCom
answers 45033 to too many concurrent calls of one API, seen on ``mark_tag`` and ``remark``), a block
for the rest of the window after a 45009, and a temporarily lowered cap after a 45033.

With Redis (production) the state lives there, so all workers share one budget; in the embedded
default (no Redis) it is per process, which is what one `make run` has anyway.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from .errors import WeComRateLimitedError

# The keys ``admit`` reads: block, per-minute count, per-hour count, lowered cap, slots.
AdmitKeys = tuple[str, str, str, str, str]
# A holder older than this is presumed dead (killed worker) and its concurrency slot reclaimed.
SLOT_LEASE_SECONDS = 60

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


# Everything a call checks before it goes out, in one round trip (a WeCom call otherwise paid five):
# KEYS block, per-minute count, per-hour count, lowered cap, slots; ARGV now, stale-before, configured
# cap, member, slot lease, per-minute limit, per-hour limit. Answers {code, block ms left}: 0 admitted
# (slot held), 1 blocked, 2 per-minute budget used up, 3 per-hour budget used up, 4 no slot free.
_ADMIT = """
local blocked = redis.call('PTTL', KEYS[1])
if blocked > 0 then return {1, blocked} end
local minute = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 120)
if minute > tonumber(ARGV[6]) then return {2, 0} end
local hour = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], 7200)
if hour > tonumber(ARGV[7]) then return {3, 0} end
local cap = tonumber(ARGV[3])
local lowered = redis.call('GET', KEYS[4])
if lowered and tonumber(lowered) < cap then cap = tonumber(lowered) end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[5]) < cap then
  redis.call('ZADD', KEYS[5], ARGV[1], ARGV[4])
  redis.call('EXPIRE', KEYS[5], ARGV[5])
  return {0, 0}
end
return {4, 0}
"""
ADMITTED, BLOCKED, MINUTE_USED, HOUR_USED, NO_SLOT = range(5)


class RedisBackend:
    """State in the cache's Redis, under the cache's key prefix (so environments sharing a Redis,
    or tests, never see each other's budgets).

    It keeps one Redis client: Django's RedisCache builds a new client object per operation, which
    costs more than the round trip itself on the callback fast path.
    """

    def __init__(self, cache: RedisCache):
        self.cache = cache
        self.redis = cache._cache.get_client(write=True)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._admit = self.redis.register_script(_ADMIT)

    def _key(self, key: str) -> str:
        return self.cache.make_key(key)

    def count_in_window(self, key: str, window: int) -> int:
        pipe = self.redis.pipeline()
        pipe.incr(self._key(key))
        pipe.expire(self._key(key), window * 2)
        return int(pipe.execute()[0])

    def try_acquire(self, key: str, cap: int, member: str) -> bool:
        now = time.time()
        args = [now, now - SLOT_LEASE_SECONDS, cap, member, SLOT_LEASE_SECONDS]
        return bool(self._acquire(keys=[self._key(key)], args=args))

    def admit(
        self, keys: AdmitKeys, *, cap: int, member: str, per_minute: int, per_hour: int
    ) -> tuple[int, float]:
        now = time.time()
        args = [now, now - SLOT_LEASE_SECONDS, cap, member, SLOT_LEASE_SECONDS, per_minute, per_hour]
        code, blocked_ms = self._admit(keys=[self._key(k) for k in keys], args=args)
        return int(code), int(blocked_ms) / 1000

    def release(self, key: str, member: str) -> None:
        self.redis.zrem(self._key(key), member)

    def set_for(self, key: str, value: int, seconds: float) -> None:
        self.redis.set(self._key(key), value, px=max(1, int(seconds * 1000)))

    def get_with_ttl(self, key: str) -> tuple[int | None, float]:
        pipe = self.redis.pipeline()
        pipe.get(self._key(key))
        pipe.pttl(self._key(key))
        value, ttl = pipe.execute()
        return (int(value) if value is not None else None), max(0.0, ttl / 1000)

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        with self.redis.lock(self._key(name), timeout=timeout, blocking_timeout=timeout):
            yield

    def add_flag(self, key: str, seconds: int) -> bool:
        """SET NX with a TTL: True if the flag was not set (and now is)."""
        return bool(self.redis.set(self._key(key), 1, nx=True, ex=seconds))

    def delete(self, key: str) -> None:
        self.redis.delete(self._key(key))


class LocalBackend:
    def __init__(self):
        self._mutex = threading.Lock()
        self._counts: dict[str, int] = defaultdict(int)
        self._slots: dict[str, set[str]] = defaultdict(set)
        self._values: dict[str, tuple[int, float]] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def count_in_window(self, key: str, window: int) -> int:
        with self._mutex:
            self._counts[key] += 1
            # Old windows' counters are never read again; drop them so the dict cannot grow forever.
            if len(self._counts) > 10_000:
                self._counts = defaultdict(int, {key: self._counts[key]})
            return self._counts[key]

    def try_acquire(self, key: str, cap: int, member: str) -> bool:
        with self._mutex:
            if len(self._slots[key]) < cap:
                self._slots[key].add(member)
                return True
            return False

    def admit(
        self, keys: AdmitKeys, *, cap: int, member: str, per_minute: int, per_hour: int
    ) -> tuple[int, float]:
        block, minute, hour, lowered, slots = keys
        _, blocked_for = self.get_with_ttl(block)
        if blocked_for:
            return BLOCKED, blocked_for
        if self.count_in_window(minute, 60) > per_minute:
            return MINUTE_USED, 0.0
        if self.count_in_window(hour, 3600) > per_hour:
            return HOUR_USED, 0.0
        value, _ = self.get_with_ttl(lowered)
        return (ADMITTED if self.try_acquire(slots, min(cap, value or cap), member) else NO_SLOT), 0.0

    def release(self, key: str, member: str) -> None:
        with self._mutex:
            self._slots[key].discard(member)

    def set_for(self, key: str, value: int, seconds: float) -> None:
        with self._mutex:
            self._values[key] = (value, time.monotonic() + seconds)

    def get_with_ttl(self, key: str) -> tuple[int | None, float]:
        with self._mutex:
            value, until = self._values.get(key, (None, 0.0))
            remaining = until - time.monotonic()
            return (value, remaining) if remaining > 0 else (None, 0.0)

    def add_flag(self, key: str, seconds: int) -> bool:
        # A flag in one process's memory cannot coordinate with the others (web and worker are
        # separate processes): without shared state every caller acts, as if the flag were free.
        return True

    def delete(self, key: str) -> None:
        return None

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        lock = self._locks[name]
        if not lock.acquire(timeout=timeout):
            raise TimeoutError(f"could not take the lock {name} within {timeout}s")
        try:
            yield
        finally:
            lock.release()


class Limiter:
    def __init__(self, backend: RedisBackend | LocalBackend):
        self.backend = backend

    @staticmethod
    def configured_cap(api: str) -> int:
        return settings.WECOM_CONCURRENCY_OVERRIDES.get(api, settings.WECOM_CONCURRENCY)

    def cap(self, corp_id: str, api: str) -> int:
        lowered, _ = self.backend.get_with_ttl(f"wecom:cap:{corp_id}:{api}")
        configured = self.configured_cap(api)
        return min(configured, lowered) if lowered else configured

    @contextmanager
    def slot(self, corp_id: str, api: str) -> Iterator[None]:
        """Hold one of the API's concurrency slots for one call, within the per-minute and per-hour
        budgets: one backend round trip when a slot is free (``admit``)."""
        now = time.time()
        key = f"wecom:slots:{corp_id}:{api}"
        keys = (
            f"wecom:block:{corp_id}:{api}",
            f"wecom:rpm:{corp_id}:{api}:{int(now // 60)}",
            f"wecom:rph:{corp_id}:{api}:{int(now // 3600)}",
            f"wecom:cap:{corp_id}:{api}",
            key,
        )
        member = uuid.uuid4().hex
        code, blocked_for = self.backend.admit(
            keys,
            cap=self.configured_cap(api),
            member=member,
            per_minute=settings.WECOM_REQUESTS_PER_MINUTE,
            per_hour=settings.WECOM_REQUESTS_PER_HOUR,
        )
        if code == BLOCKED:
            raise WeComRateLimitedError(
                api, 45009, "blocked after a rate-limit answer", retry_after=blocked_for
            )
        if code == MINUTE_USED:
            raise WeComRateLimitedError(api, None, "per-minute budget used up", retry_after=60 - now % 60)
        if code == HOUR_USED:
            raise WeComRateLimitedError(api, None, "hourly budget used up", retry_after=3600 - now % 3600)
        if code == NO_SLOT:
            # Counted in the budgets already: only the slot is waited for.
            deadline = time.monotonic() + settings.WECOM_CONCURRENCY_WAIT_SECONDS
            delay = 0.005
            while not self.backend.try_acquire(key, self.cap(corp_id, api), member):
                if time.monotonic() > deadline:
                    raise WeComRateLimitedError(api, None, "no concurrency slot became free", retry_after=5)
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            self.backend.release(key, member)

    def block(self, corp_id: str, api: str, seconds: float) -> None:
        """After a 45009 WeCom blocks the API for its whole window: stop calling until it ends."""
        self.backend.set_for(f"wecom:block:{corp_id}:{api}", 1, seconds)

    def lower_concurrency(self, corp_id: str, api: str) -> None:
        """After a 45033: halve the API's cap (at least 1) for a minute."""
        self.backend.set_for(f"wecom:cap:{corp_id}:{api}", max(1, self.cap(corp_id, api) // 2), 60)


_limiter: Limiter | None = None
_limiter_mutex = threading.Lock()


def get_limiter() -> Limiter:
    global _limiter
    with _limiter_mutex:
        if _limiter is None:
            cache = caches["default"]
            _limiter = Limiter(RedisBackend(cache) if isinstance(cache, RedisCache) else LocalBackend())
        return _limiter
