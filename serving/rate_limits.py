"""Rate limits and the free tier's quota, counted by the ``limits`` library.

``SABISCORE_API_RATE_LIMIT`` (``100/minute``; several limits may be given,
``100/minute;2000/hour``) applies per client IP and per caller (key or token
subject), each counted on its own; the free tier may also read
``SABISCORE_API_FREE_INSIGHTS_PER_DAY`` insights in any 24 hours.  Counters live in
Redis (under ``<prefix>:limits``), so every worker and replica shares them; in
memory when no Redis is configured, and, per worker, while Redis is down (a
failed call makes the limiter use memory for ``redis_retry_seconds``).

Counting every request in Redis costs a round trip per limit, several times
what a cached answer costs.  So, with ``SABISCORE_API_RATE_LIMIT_SYNC_SECONDS``
above 0 (default 1) and the moving window, a worker *leases* slots of an
identity's window: one ``hit`` of ``limits`` with a cost of ``s`` slots takes
them in Redis at once (all or nothing, as any hit), and the worker answers the
next ``s`` requests of that identity from them in memory.  A lease lasts an
interval: what is left of it then (or when the worker stops) is given back to
the window, and the next request leases again.  When the window has fewer than
``s`` slots left, the worker leases what is left; when it has none, the
identity is refused from memory with the window's ``Retry-After`` for at most an
interval (another worker may give slots back meanwhile).

Every slot a client uses was taken in Redis before it was used, so the window's
count is never behind.  What a client can get beyond its limit in any window
comes only from leases taken just before that window and used in it: at most
the slots leased and unused at one moment, over every worker.  A lease is
therefore ``s = limit x 10% / (n + 1)`` slots (at least 1, at most
``MAX_LEASE``), ``n`` being the workers registered in Redis (each refreshes its
entry of ``<prefix>:limits:workers`` every interval and removes it when it
stops; one more leaves room for a worker that has not been seen yet): a client
gets at most its limit plus 10%, whatever the number of workers, once each
worker has seen the others (an interval).  A limit below 10 per window is
leased one slot at a time, which is counting every request in Redis.  Leased
slots a client does not use are not available to its other workers for up to
an interval.  A worker that dies without stopping leaves its unused slots in
the window until they expire.

Giving slots back is the one thing ``limits`` does not offer: its moving window
(a Redis list of hit timestamps, newest first, under the key ``limits`` names
``<prefix>:limits:<item key>``) has no call to remove entries.  ``_GIVE_BACK``
is a Lua script removing the unused entries of one lease from that list: the
entries one ``hit`` pushed are identical and adjacent, so it finds the newest
entry not newer than the lease and removes that many copies of it.  Counting
itself stays in ``limits``.  The fixed window and the sliding-window counter
could not give slots back the same way (their counters roll over), so with
those strategies, as with ``..._SYNC_SECONDS=0``, every request is counted in
Redis at once.  The insight quota is always counted in Redis at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis
from limits import RateLimitItem, parse, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from redis.exceptions import RedisError

from sabiscore_ml.settings import ServingSettings
from serving.metrics import ServingMetrics

log = logging.getLogger(__name__)

STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}
CLIENT, CALLER, INSIGHTS = "ip", "key", "insights"
MAX_LEASES = 100_000  # identities a worker holds leases for; beyond, requests count at once
LEASE_SHARE = 0.1  # what all the workers' leases together may hold of a limit
MAX_LEASE = 1_000  # slots in one lease, however large the limit
WORKERS_STALE = 3  # intervals without a refresh after which a worker no longer counts

_GIVE_BACK = """
local since, newest, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local low, high, found = 0, redis.call('llen', KEYS[1]) - 1, nil
while low <= high do
    local mid = math.floor((low + high) / 2)
    if tonumber(redis.call('lindex', KEYS[1], mid)) <= newest then
        found = mid
        high = mid - 1
    else
        low = mid + 1
    end
end
if found == nil then
    return 0
end
local entry = redis.call('lindex', KEYS[1], found)
if tonumber(entry) < since then
    return 0
end
return redis.call('lrem', KEYS[1], count, entry)
"""


@dataclass(frozen=True)
class Refusal:
    """A request over a limit: which one, its description, and seconds until it frees up."""

    limit: str
    description: str
    retry_after: int


@dataclass
class _Lease:
    """Slots of one identity's window this worker took in Redis, for one interval."""

    left: int  # slots not used yet
    since: float  # time.time() before the hit that took them: their entries are dated
    newest: float  # between ``since`` and this
    expires: float  # monotonic time after which what is left goes back
    reset: float = 0.0  # a refusal (no slot): when the window frees one


class RateLimits:
    """The per-IP and per-caller rate limits and the insight quota of one application."""

    def __init__(
        self,
        settings: ServingSettings,
        metrics: ServingMetrics,
        *,
        redis: aioredis.Redis | None,
        redis_url: str | None,
        prefix: str,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.enabled = settings.rate_limiting
        self.sync_seconds = settings.rate_limit_sync_seconds
        self.items: list[RateLimitItem] = parse_many(settings.rate_limit)
        self.quota = parse(f"{settings.free_insights_per_day}/day")
        strategy = STRATEGIES[settings.rate_limit_strategy]
        self._memory = strategy(MemoryStorage())
        self._quota_memory = MovingWindowRateLimiter(self._memory.storage)
        self._redis: RateLimiter | None = None
        self._quota_redis: RateLimiter | None = None
        self._client = redis
        self._key_prefix = f"{prefix}:limits"
        self._leasing_on = self.sync_seconds > 0 and strategy is MovingWindowRateLimiter
        if redis is not None and redis_url:
            storage = RedisStorage(
                f"async+{redis_url}",
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=self._key_prefix,
                # the stub types **options as scalars; they are redis-py's client arguments
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            )
            self._redis = strategy(storage)
            self._quota_redis = MovingWindowRateLimiter(storage)
            self._give_back_script = redis.register_script(_GIVE_BACK)
        self._redis_down_until = 0.0
        self._leases: dict[tuple[int, str, str], _Lease] = {}
        self._leasing: dict[tuple[int, str, str], asyncio.Event] = {}
        self._worker = uuid.uuid4().hex
        self._workers: int | None = None  # registered workers, as last read from Redis
        self._flusher: asyncio.Task[None] | None = None

    def _limiter(self, quota: bool) -> tuple[RateLimiter, bool]:
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            return (self._quota_redis if quota else self._redis), True  # type: ignore[return-value]
        return (self._quota_memory if quota else self._memory), False

    def _redis_failed(self, error: Exception) -> None:
        self.metrics.store_errors.labels("redis", "rate_limit").inc()
        cause = error.storage_error if isinstance(error, StorageError) else error
        log.warning("rate-limit storage failed (%s); counting in memory", cause)
        self._redis_down_until = time.monotonic() + self.settings.redis_retry_seconds

    def _refusal(self, item: RateLimitItem, kind: str, reset: float) -> Refusal:
        self.metrics.refused.labels(kind).inc()
        return Refusal(kind, str(item), max(1, math.ceil(reset - time.time())))

    async def _hit(self, item: RateLimitItem, quota: bool, *identifiers: str) -> Refusal | None:
        limiter, shared = self._limiter(quota)
        try:
            allowed = await limiter.hit(item, *identifiers)
        except StorageError as error:
            if not shared:
                raise
            self._redis_failed(error)
            limiter, _ = self._limiter(quota)
            allowed = await limiter.hit(item, *identifiers)
        if allowed:
            return None
        try:
            reset = (await limiter.get_window_stats(item, *identifiers)).reset_time
        except StorageError:
            reset = time.time() + item.get_expiry()
        return self._refusal(item, identifiers[0], reset)

    @property
    def _workers_key(self) -> str:
        return f"{self._key_prefix}:workers"

    async def _register(self) -> None:
        """Refresh this worker's entry among the registered workers and count them."""
        assert self._client is not None
        now = time.time()
        stale = WORKERS_STALE * self.sync_seconds
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(self._workers_key, {self._worker: now})
            pipe.zremrangebyscore(self._workers_key, "-inf", now - stale)
            pipe.zcard(self._workers_key)
            pipe.expire(self._workers_key, max(1, math.ceil(stale)))
            _, _, workers, _ = await pipe.execute()
        self._workers = max(1, int(workers))

    def lease_size(self, item: RateLimitItem) -> int:
        """Slots one lease takes of ``item``: 10% of it shared by the workers and one more."""
        workers = self._workers or 1
        return max(1, min(MAX_LEASE, int(item.amount * LEASE_SHARE / (workers + 1))))

    def _window_key(self, item: RateLimitItem, kind: str, identity: str) -> str:
        return f"{self._key_prefix}:{item.key_for(kind, identity)}"

    async def _give_back(self, index: int, kind: str, identity: str, lease: _Lease) -> None:
        """Remove the unused slots of a lease from the window in Redis."""
        left, lease.left = lease.left, 0
        if left > 0:
            await self._give_back_script(
                keys=[self._window_key(self.items[index], kind, identity)],
                args=[lease.since, lease.newest, left],
            )

    async def _lease(
        self, index: int, item: RateLimitItem, kind: str, identity: str
    ) -> Refusal | None:
        """Give back the identity's expired lease, take a new one and count this request from it."""
        assert self._redis is not None
        key = (index, kind, identity)
        old = self._leases.pop(key, None)
        try:
            if old is not None:
                await self._give_back(index, kind, identity, old)
            if self._workers is None:
                await self._register()
            size = self.lease_size(item)
            since = time.time()
            if not await self._redis.hit(item, kind, identity, cost=size):
                stats = await self._redis.get_window_stats(item, kind, identity)
                size = min(size, stats.remaining)
                since = time.time()
                if size <= 0 or not await self._redis.hit(item, kind, identity, cost=size):
                    self._leases[key] = _Lease(
                        0, since, since, time.monotonic() + self.sync_seconds, stats.reset_time
                    )
                    return self._refusal(item, kind, stats.reset_time)
        except (StorageError, RedisError) as error:
            self._redis_failed(error)
            return await self._hit(item, False, kind, identity)
        lease = _Lease(size - 1, since, time.time(), time.monotonic() + self.sync_seconds)
        self._leases[key] = lease
        return None

    async def _take(
        self, index: int, item: RateLimitItem, kind: str, identity: str
    ) -> Refusal | None:
        """Count a request from the identity's lease, leasing again when it is spent or old."""
        key = (index, kind, identity)
        while True:
            lease = self._leases.get(key)
            if lease is not None and time.monotonic() < lease.expires:
                if lease.left > 0:
                    lease.left -= 1
                    return None
                if lease.reset > time.time():
                    return self._refusal(item, kind, lease.reset)
            waiting = self._leasing.get(key)
            if waiting is None:
                break
            await waiting.wait()  # another request is leasing for it: take from that lease
        if not self._limiter(False)[1] or (
            key not in self._leases and len(self._leases) >= MAX_LEASES
        ):
            return await self._hit(item, False, kind, identity)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_every_interval())
        done = self._leasing[key] = asyncio.Event()
        try:
            return await self._lease(index, item, kind, identity)
        finally:
            del self._leasing[key]
            done.set()

    async def check(self, kind: str, identity: str) -> Refusal | None:
        """Count a request of ``identity`` (an IP for ``ip``, a subject for ``key``)."""
        if not self.enabled:
            return None
        lease = self._leasing_on and self._limiter(False)[1]
        for index, item in enumerate(self.items):
            if lease:
                refusal = await self._take(index, item, kind, identity)
            else:
                refusal = await self._hit(item, False, kind, identity)
            if refusal is not None:
                return refusal
        return None

    async def take_insight(self, subject: str) -> Refusal | None:
        """Count one insight against a free caller's daily quota (None: allowed)."""
        return await self._hit(self.quota, True, INSIGHTS, subject)

    async def flush(self, *, everything: bool = False) -> None:
        """Give back the unused slots of expired leases (``everything``: of every lease).

        Also refreshes this worker's entry among the registered workers.
        """
        if not self._limiter(False)[1] or (not self._leases and self._workers is None):
            return  # no Redis, Redis left alone after a failure, or nothing leased yet
        try:
            if not everything:
                await self._register()
            now = time.monotonic()
            for key, lease in list(self._leases.items()):
                if key in self._leasing or not (everything or now >= lease.expires):
                    continue
                self._leases.pop(key, None)
                await self._give_back(*key, lease)
        except (StorageError, RedisError) as error:
            self._redis_failed(error)

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - the flusher must outlive any one failure
                log.exception("giving back the rate-limit leases failed")

    async def close(self) -> None:
        """Stop the background flush, give every lease back and leave the registered workers."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        try:
            await self.flush(everything=True)
            if self._client is not None and self._workers is not None:
                await self._client.zrem(self._workers_key, self._worker)
        except Exception:  # noqa: BLE001 - closing must not fail on a lost count
            log.warning("the last rate-limit leases could not reach Redis", exc_info=True)
