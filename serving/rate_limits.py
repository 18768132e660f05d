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
above 0 (default 1), a worker settles each identity's count with Redis at most
once per interval: the first request of an identity counts in Redis at once and
learns what the window has left; the following ones, until the interval is
over, are taken from that remainder in memory, and the hits taken are added to
Redis's count at the next settlement (on the identity's next request after the
interval, or by a background flush every interval).  A single worker counts
exactly.  With several, one worker learns of the others' hits up to an interval
late, so a client spreading requests over ``n`` workers can, at worst, get up to
``n - 1`` limits' worth beyond its limit before every worker sees the window full.
A refused identity is refused from memory until its window frees a slot.  ``0``
counts every request in Redis.  The insight quota is always counted in Redis
at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
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

from sabiscore_ml.settings import ServingSettings
from serving.metrics import ServingMetrics

log = logging.getLogger(__name__)

STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}
CLIENT, CALLER, INSIGHTS = "ip", "key", "insights"
MAX_SHARES = 100_000  # identities whose remainder a worker keeps between settlements


@dataclass(frozen=True)
class Refusal:
    """A request over a limit: which one, its description, and seconds until it frees up."""

    limit: str
    description: str
    retry_after: int


@dataclass
class _Share:
    """One identity's window as this worker knows it since it last settled with Redis."""

    remaining: int  # what Redis said was left, less the hits taken here since
    reset: float  # when the window frees a slot (seconds since the epoch)
    settled: float  # when this worker settled (monotonic)
    pending: int = 0  # hits taken here since, not yet counted in Redis
    settling: bool = False  # a request is settling it now: the others go on taking from it


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
        if redis is not None and redis_url:
            storage = RedisStorage(
                f"async+{redis_url}",
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=f"{prefix}:limits",
                connection_pool=redis.connection_pool,
            )
            self._redis = strategy(storage)
            self._quota_redis = MovingWindowRateLimiter(storage)
        self._redis_down_until = 0.0
        self._shares: dict[tuple[int, str, str], _Share] = {}
        self._flusher: asyncio.Task[None] | None = None

    def _limiter(self, quota: bool) -> tuple[RateLimiter, bool]:
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            return (self._quota_redis if quota else self._redis), True  # type: ignore[return-value]
        return (self._quota_memory if quota else self._memory), False

    def _redis_failed(self, error: StorageError) -> None:
        self.metrics.store_errors.labels("redis", "rate_limit").inc()
        log.warning("rate-limit storage failed (%s); counting in memory", error.storage_error)
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

    async def _settle(
        self, index: int, item: RateLimitItem, kind: str, identity: str, share: _Share | None
    ) -> Refusal | None:
        """Count this request (and the pending hits) in Redis, and learn what is left."""
        assert self._redis is not None
        pending = 0
        if share is not None:
            pending, share.pending, share.settling = share.pending, 0, True
        try:
            if pending:
                # already answered: counted as far as the window still has room
                await self._redis.hit(item, kind, identity, cost=pending)
            allowed = await self._redis.hit(item, kind, identity)
            stats = await self._redis.get_window_stats(item, kind, identity)
        except StorageError as error:
            self._shares.pop((index, kind, identity), None)
            self._redis_failed(error)
            return await self._hit(item, False, kind, identity)
        if len(self._shares) >= MAX_SHARES:
            self._shares.clear()
        self._shares[(index, kind, identity)] = _Share(
            stats.remaining, stats.reset_time, time.monotonic()
        )
        return None if allowed else self._refusal(item, kind, stats.reset_time)

    async def _take(
        self, index: int, item: RateLimitItem, kind: str, identity: str
    ) -> Refusal | None:
        share = self._shares.get((index, kind, identity))
        if share is not None and (
            share.settling or time.monotonic() - share.settled < self.sync_seconds
        ):
            if share.remaining > 0:
                share.remaining -= 1
                share.pending += 1
                return None
            if time.time() < share.reset:
                return self._refusal(item, kind, share.reset)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_every_interval())
        return await self._settle(index, item, kind, identity, share)

    async def check(self, kind: str, identity: str) -> Refusal | None:
        """Count a request of ``identity`` (an IP for ``ip``, a subject for ``key``)."""
        if not self.enabled:
            return None
        settle = self.sync_seconds > 0 and self._limiter(False)[1]
        for index, item in enumerate(self.items):
            if settle:
                refusal = await self._take(index, item, kind, identity)
            else:
                refusal = await self._hit(item, False, kind, identity)
            if refusal is not None:
                return refusal
        return None

    async def take_insight(self, subject: str) -> Refusal | None:
        """Count one insight against a free caller's daily quota (None: allowed)."""
        return await self._hit(self.quota, True, INSIGHTS, subject)

    async def flush(self) -> None:
        """Add every hit taken in memory to Redis's counts; forget identities gone quiet."""
        if self._redis is None:
            return
        now = time.monotonic()
        for key, share in list(self._shares.items()):
            if share.pending:
                index, kind, identity = key
                pending, share.pending = share.pending, 0
                try:
                    await self._redis.hit(self.items[index], kind, identity, cost=pending)
                except StorageError as error:
                    self._redis_failed(error)
                    return
            if not share.settling and now - share.settled >= self.sync_seconds:
                self._shares.pop(key, None)

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - the flusher must outlive any one failure
                log.exception("flushing the rate-limit counts failed")

    async def close(self) -> None:
        """Stop the background flush and add what is pending to Redis."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - closing must not fail on a lost count
            log.warning("the last rate-limit counts could not reach Redis", exc_info=True)
