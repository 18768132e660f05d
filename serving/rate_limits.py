"""Rate limits and the free tier's quota, counted by the ``limits`` library.

``SABISCORE_API_RATE_LIMIT`` (``100/minute``; several limits may be given,
``100/minute;2000/hour``) applies per client IP and per caller (key or token
subject), each counted on its own; the free tier may also read
``SABISCORE_API_FREE_INSIGHTS_PER_DAY`` insights in any 24 hours.  Counters live in
Redis (under ``<prefix>:limits``), so every worker and replica shares them; in
memory when no Redis is configured, and, per worker, while Redis is down (a
failed call makes the limiter use memory for ``redis_retry_seconds``).
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Refusal:
    """A request over a limit: which one, its description, and seconds until it frees up."""

    limit: str
    description: str
    retry_after: int


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

    def _limiter(self, quota: bool) -> tuple[RateLimiter, bool]:
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            return (self._quota_redis if quota else self._redis), True  # type: ignore[return-value]
        return (self._quota_memory if quota else self._memory), False

    async def _hit(self, item: RateLimitItem, quota: bool, *identifiers: str) -> Refusal | None:
        limiter, shared = self._limiter(quota)
        try:
            allowed = await limiter.hit(item, *identifiers)
        except StorageError as error:
            if not shared:
                raise
            self.metrics.store_errors.labels("redis", "rate_limit").inc()
            log.warning("rate-limit storage failed (%s); counting in memory", error.storage_error)
            self._redis_down_until = time.monotonic() + self.settings.redis_retry_seconds
            limiter, _ = self._limiter(quota)
            allowed = await limiter.hit(item, *identifiers)
        if allowed:
            return None
        try:
            reset = (await limiter.get_window_stats(item, *identifiers)).reset_time
        except StorageError:
            reset = time.time() + item.get_expiry()
        self.metrics.refused.labels(identifiers[0]).inc()
        return Refusal(identifiers[0], str(item), max(1, math.ceil(reset - time.time())))

    async def check(self, kind: str, identity: str) -> Refusal | None:
        """Count a request of ``identity`` (an IP for ``ip``, a subject for ``key``)."""
        if not self.enabled:
            return None
        for item in self.items:
            refusal = await self._hit(item, False, kind, identity)
            if refusal is not None:
                return refusal
        return None

    async def take_insight(self, subject: str) -> Refusal | None:
        """Count one insight against a free caller's daily quota (None: allowed)."""
        return await self._hit(self.quota, True, INSIGHTS, subject)
