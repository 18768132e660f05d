"""Publishing a run: the warehouse, then Redis, so that both name one current run.

The steps and what a publication killed at each of them leaves are described
in :mod:`sabiscore_ml.publish` ("One current run").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from sabiscore_ml.publish.contract import current_run_id
from sabiscore_ml.publish.readers import run_info
from sabiscore_ml.publish.redis_store import RedisPublish, RedisTtls, publish_to_redis
from sabiscore_ml.publish.run import PublishedRun
from sabiscore_ml.publish.warehouse import WarehousePublish, mark_published, publish_to_warehouse
from sabiscore_ml.settings import get_redis_settings

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True)
class PublishReport:
    """What :func:`publish` did: the warehouse's part, and Redis's (None without Redis)."""

    run_id: str
    warehouse: WarehousePublish
    redis: RedisPublish | None


def publish(
    run: PublishedRun,
    *,
    engine: Engine,
    redis_client: redis.Redis | None = None,
    prefix: str | None = None,
    ttl: RedisTtls | None = None,
) -> PublishReport:
    """Publish a run to the warehouse, then to Redis when ``redis_client`` is given.

    Without Redis the run is published in the warehouse at once.  With Redis:
    :func:`reconcile` first, then the run's warehouse rows (``pending``), its
    Redis documents, the pointer switch, the warehouse's mark that the run is
    published, and its alerts; a publication killed at any step leaves both
    stores naming the same current run, and publishing again completes it.
    Redis gets the run as the warehouse stores it (the ``created_at`` of its
    first publication), so retrying a publish writes the same bytes.
    ``prefix`` defaults to ``SABISCORE_REDIS_PREFIX``.
    """
    if redis_client is None:
        stored = publish_to_warehouse(engine, run)
        mark_published(engine, run.run_id)  # a run left pending by a Redis publication
        return PublishReport(run.run_id, _as_stored(engine, stored), None)
    prefix = prefix or get_redis_settings().redis_prefix
    reconcile(engine, redis_client, prefix)
    stored = publish_to_warehouse(engine, run, pending=True)
    cached = publish_to_redis(
        redis_client,
        prefix,
        run.with_created_at(stored.run.created_at),
        ttl,
        after_switch=lambda _current: mark_published(engine, run.run_id),
    )
    return PublishReport(run.run_id, _as_stored(engine, stored), cached)


def reconcile(engine: Engine, redis_client: redis.Redis | None, prefix: str) -> str | None:
    """Mark published the run the Redis pointer names, if the warehouse still has it pending.

    Only a publisher killed between the pointer switch and the warehouse's mark
    leaves that state; :func:`publish` calls this first.  Returns the run id
    marked, or None.
    """
    current = current_run_id(redis_client, prefix)
    if current is None:
        return None
    info = run_info(engine, current)
    if info is None or info.published or not mark_published(engine, current):
        return None
    return current


def _as_stored(engine: Engine, report: WarehousePublish) -> WarehousePublish:
    """``report`` with the run as the warehouse holds it now (its status after the mark)."""
    info = run_info(engine, report.run_id)
    assert info is not None  # written before
    return replace(report, run=info)
