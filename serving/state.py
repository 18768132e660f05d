"""What one running application holds: settings, metrics, store clients, caches and limits.

Built when the application starts (its lifespan), from the settings read
then, and closed when it stops; nothing is read or connected at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from sabiscore_ml.settings import (
    ServingSettings,
    get_model_settings,
    get_redis_settings,
    get_serving_settings,
)
from serving.metrics import ServingMetrics
from serving.rate_limits import RateLimits
from serving.repository import Repository, redis_client
from serving.security import Authenticator
from serving.stream import EventHub


@dataclass(frozen=True)
class ServingState:
    """The application's collaborators, shared by every request of the worker."""

    settings: ServingSettings
    metrics: ServingMetrics
    repository: Repository
    authenticator: Authenticator
    limits: RateLimits
    model_name: str
    redis: aioredis.Redis | None
    stream: EventHub | None = None  # GET /v1/stream's reader, with Redis only

    async def close(self) -> None:
        """End the event streams, add the last rate-limit counts to Redis, close connections."""
        if self.stream is not None:
            await self.stream.close()
        await self.limits.close()
        if self.redis is not None:
            await self.redis.aclose()


def build_state(settings: ServingSettings | None = None) -> ServingState:
    """The state for the current settings (``settings`` overrides the API's own)."""
    settings = settings or get_serving_settings()
    redis_settings = get_redis_settings()
    metrics = ServingMetrics()
    client = (
        redis_client(redis_settings.redis_url, settings.redis_timeout_seconds)
        if redis_settings.redis_url
        else None
    )
    return ServingState(
        settings=settings,
        metrics=metrics,
        repository=Repository(settings, metrics, redis=client, prefix=redis_settings.redis_prefix),
        authenticator=Authenticator(settings, metrics),
        limits=RateLimits(
            settings,
            metrics,
            redis=client,
            redis_url=redis_settings.redis_url,
            prefix=redis_settings.redis_prefix,
        ),
        model_name=get_model_settings().name,
        redis=client,
        stream=EventHub(
            redis_settings.redis_url,
            redis_settings.redis_prefix,
            block_seconds=settings.stream_block_seconds,
            queue_size=settings.stream_queue_size,
            max_subscribers=settings.stream_max_subscribers,
        )
        if redis_settings.redis_url
        else None,
    )
