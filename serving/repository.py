"""Reading published results: Redis first, the warehouse history when Redis misses or is down.

The rules are those of :mod:`sabiscore_ml.publish`: read the current run id
once, then every document under that id; a document Redis no longer holds
is rebuilt from the warehouse with the same bytes; no pointer at all means
nothing went to Redis, so the warehouse's latest run is served.

Documents are passed through as the bytes published.  A document under a
run id never changes, so each worker keeps the ones it has served in a small
LRU cache keyed by (run id, kind, key): a warm request costs no store call
but the run pointer, itself reused for ``pointer_cache_seconds`` (a new run
is served at most that late; when it is due, one request fetches it while
the others go on with the one they know).  Requests missing the same entry at
once share one fetch.  The few views that filter or trim a
published document (an upcoming list on one date, value bets above an
edge, a prediction without its insight) are built once per run version and
cached the same way.

After a Redis failure the repository leaves Redis alone for
``redis_retry_seconds`` and reads the warehouse, so an outage costs one
failed call per worker, not one per request.  While Redis is down a worker
keeps serving the run the Redis pointer last named (from the warehouse);
one that never read the pointer serves the warehouse's latest published
run, the run Redis names too (:mod:`sabiscore_ml.publish`, "One current
run"), so a Redis outage does not change the current run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from sabiscore_ml.publish.contract import (
    ALL_LEAGUES,
    LEAGUES,
    PREDICTION,
    UPCOMING,
    VALUE_BETS,
    WITHDRAWN,
    document_key,
    encode_document,
    pointer_key,
    prediction_view,
)
from sabiscore_ml.publish.performance import latest_figures, performance_document
from sabiscore_ml.publish.readers import latest_run, warehouse_document
from sabiscore_ml.settings import ServingSettings
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import ModelVersion
from serving.cache import MISSING, LruCache, Missing, SingleFlight
from serving.metrics import ServingMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")

REDIS, WAREHOUSE = "redis", "warehouse"
CHAMPION = "champion"
MODEL_CACHE_SECONDS = 10.0


class StoreUnavailable(Exception):
    """No store could answer (Redis down or without the document, and the warehouse down)."""


@dataclass(frozen=True)
class Document:
    """Bytes to send as they are, their entity tag, and the run they belong to (None: no run)."""

    body: bytes
    etag: str
    run_id: str | None

    @classmethod
    def of(cls, body: bytes, run_id: str | None) -> Document:
        """A document and its strong entity tag (a digest of the bytes)."""
        return cls(body, f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"', run_id)


EMPTY_LIST = Document.of(b"[]", None)
PREDICTION_VIEW = ("prediction",)  # the cache name of a prediction trimmed from its insight


def redis_client(url: str, timeout: float) -> aioredis.Redis:
    """An asyncio Redis client that fails fast (one immediate retry, short timeouts)."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )
    return client


def _filtered(body: bytes, keep: Callable[[dict[str, Any]], bool]) -> bytes:
    return encode_document([entry for entry in json.loads(body) if keep(entry)])


class Repository:
    """Published documents of the current run, and the champion model, for the routes."""

    def __init__(
        self,
        settings: ServingSettings,
        metrics: ServingMetrics,
        *,
        redis: aioredis.Redis | None,
        prefix: str,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.redis = redis
        self.prefix = prefix
        self._documents: LruCache[Document | None] = LruCache(settings.document_cache_size)
        self._pointer: LruCache[str | None] = LruCache(1, ttl=settings.pointer_cache_seconds)
        self._model: LruCache[Document | None] = LruCache(1, ttl=MODEL_CACHE_SECONDS)
        self._performance: LruCache[Document | None] = LruCache(1, ttl=MODEL_CACHE_SECONDS)
        self._figures: LruCache[list[dict[str, Any]]] = LruCache(1, ttl=MODEL_CACHE_SECONDS)
        self._pointer_fetches: SingleFlight[str | None] = SingleFlight()
        self._document_fetches: SingleFlight[Document | None] = SingleFlight()
        self._redis_down_until = 0.0
        self._redis_run_id: str | None = None  # the run the Redis pointer named last

    # --- stores ---------------------------------------------------------------------------------

    @property
    def redis_usable(self) -> bool:
        """Whether Redis is configured and not resting after a failure."""
        return self.redis is not None and time.monotonic() >= self._redis_down_until

    def _redis_failed(self, operation: str, error: Exception) -> None:
        self.metrics.store_errors.labels(REDIS, operation).inc()
        self._redis_down_until = time.monotonic() + self.settings.redis_retry_seconds
        log.warning("Redis %s failed (%s); reading the warehouse", operation, type(error).__name__)

    async def _redis_get(self, key: str, operation: str) -> bytes | None | Missing:
        """The value of ``key``, None when absent, ``MISSING`` when Redis is not usable."""
        if not self.redis_usable:
            return MISSING
        assert self.redis is not None
        try:
            value: bytes | None = await self.redis.get(key)
            return value
        except (RedisError, OSError) as error:
            self._redis_failed(operation, error)
            return MISSING

    async def _warehouse(self, operation: str, function: Callable[..., T], *args: Any) -> T:
        """``function(engine, *args)`` in a worker thread; StoreUnavailable when it fails."""
        try:
            return await run_in_threadpool(function, get_engine(), *args)
        except (SQLAlchemyError, OSError) as error:
            self.metrics.store_errors.labels(WAREHOUSE, operation).inc()
            log.warning("warehouse %s failed: %s", operation, type(error).__name__)
            raise StoreUnavailable(operation) from error

    # --- the current run ------------------------------------------------------------------------

    async def current_run_id(self) -> str | None:
        """The run served now: the Redis pointer, else the warehouse's latest run (or None).

        While Redis is down, the run the pointer named last, when this worker read it.
        """
        cached = self._pointer.get("run", MISSING)
        if cached is not MISSING:
            self.metrics.cache_lookup("pointer", True)
            return cached
        self.metrics.cache_lookup("pointer", False)
        return await self._pointer_fetches.run("pointer", self._fetch_run_id)

    async def _fetch_run_id(self) -> str | None:
        raw = await self._redis_get(pointer_key(self.prefix), "pointer")
        if raw is not MISSING and raw is not None:
            run_id: str | None = raw.decode() if isinstance(raw, bytes) else str(raw)
            self._redis_run_id = run_id
        elif raw is MISSING and self._redis_run_id is not None:
            run_id = self._redis_run_id  # Redis down: the run it named stays current
        else:
            info = await self._warehouse("latest_run", latest_run, self.settings.run_mode)
            run_id = None if info is None else info.run_id
        self._pointer.put("run", run_id)
        return run_id

    # --- documents ------------------------------------------------------------------------------

    async def document(self, run_id: str, kind: str, key: str | None = None) -> Document | None:
        """A published document of ``run_id`` (None: not in the run), from the cache or a store."""
        cache_key = (run_id, kind, key)
        cached = self._documents.get(cache_key, MISSING)
        if cached is not MISSING:
            self.metrics.cache_lookup("documents", True)
            return cached
        self.metrics.cache_lookup("documents", False)
        return await self._document_fetches.run(
            cache_key, lambda: self._fetch_document(run_id, kind, key)
        )

    async def _fetch_document(self, run_id: str, kind: str, key: str | None) -> Document | None:
        body = await self._redis_get(document_key(self.prefix, run_id, kind, key), kind)
        if body is not MISSING:
            self.metrics.store_reads.labels(REDIS, "missing" if body is None else "found").inc()
        if body is MISSING or body is None:
            body = await self._warehouse(kind, warehouse_document, run_id, kind, key)
            self.metrics.store_reads.labels(WAREHOUSE, "missing" if body is None else "found").inc()
        document = None if body is None else Document.of(body, run_id)
        self._documents.put((run_id, kind, key), document)
        return document

    async def view(
        self,
        run_id: str,
        kind: str,
        key: str | None,
        name: tuple[Any, ...],
        build: Callable[[bytes], bytes],
    ) -> Document | None:
        """A document built from a published one (``build`` of its bytes), cached by ``name``."""
        cache_key = (run_id, kind, key, name)
        cached = self._documents.get(cache_key, MISSING)
        if cached is not MISSING:
            self.metrics.cache_lookup("documents", True)
            return cached
        base = await self.document(run_id, kind, key)
        document = None if base is None else Document.of(build(base.body), run_id)
        self._documents.put(cache_key, document)
        return document

    def cached(
        self, kind: str, key: str | None = None, view: tuple[Any, ...] | None = None
    ) -> Document | None:
        """A document of the current run already in this worker's caches, else None.

        No store is asked.  When the run pointer is due for a refresh, one
        refresh starts and the run known until then is still used meanwhile.
        """
        run_id = self._pointer.get("run")
        if run_id is None:
            run_id = self._pointer.get_stale("run") if self._pointer.ttl else None
            if run_id is None:
                return None
            self._pointer_fetches.start("pointer", self._fetch_run_id)
        cache_key = (run_id, kind, key) if view is None else (run_id, kind, key, view)
        document = self._documents.get(cache_key)
        if document is not None:
            self.metrics.cache_lookup("pointer", True)
            self.metrics.cache_lookup("documents", True)
        return document

    # --- what the routes ask for ----------------------------------------------------------------

    async def leagues(self) -> Document:
        """The current run's leagues and their numbers of predictions."""
        run_id = await self.current_run_id()
        if run_id is None:
            return EMPTY_LIST
        return await self.document(run_id, LEAGUES) or Document.of(b"[]", run_id)

    async def upcoming(self, league: str | None, date: dt.date | None) -> Document:
        """Compact predictions by kickoff: every league's or one league's, on a date or all."""
        run_id = await self.current_run_id()
        if run_id is None:
            return EMPTY_LIST
        key = league or ALL_LEAGUES
        if date is None:
            document = await self.document(run_id, UPCOMING, key)
        else:
            day = date.isoformat()
            document = await self.view(
                run_id,
                UPCOMING,
                key,
                ("date", day),
                lambda body: _filtered(body, lambda entry: entry["match_date"] == day),
            )
        return document or Document.of(b"[]", run_id)

    async def value_bets(self, league: str | None, min_edge: float | None) -> Document:
        """Value bets, largest edge first: all, or of a league, or with an edge of at least."""
        run_id = await self.current_run_id()
        if run_id is None:
            return EMPTY_LIST
        if league is None and min_edge is None:
            document = await self.document(run_id, VALUE_BETS)
        else:

            def keep(entry: dict[str, Any]) -> bool:
                return (league is None or entry["league_code"] == league) and (
                    min_edge is None or entry["edge"] >= min_edge
                )

            document = await self.view(
                run_id,
                VALUE_BETS,
                None,
                ("filter", league, min_edge),
                lambda body: _filtered(body, keep),
            )
        return document or Document.of(b"[]", run_id)

    async def withdrawn(self, league: str | None) -> Document:
        """The previous run's value bets the current run withdraws, by kickoff (of a league)."""
        run_id = await self.current_run_id()
        if run_id is None:
            return EMPTY_LIST
        if league is None:
            document = await self.document(run_id, WITHDRAWN)
        else:
            document = await self.view(
                run_id,
                WITHDRAWN,
                None,
                ("filter", league),
                lambda body: _filtered(body, lambda entry: entry["league_code"] == league),
            )
        return document or Document.of(b"[]", run_id)

    async def insight(self, match_id: int) -> Document | None:
        """Everything published about a match of the current run (None: not in it)."""
        run_id = await self.current_run_id()
        if run_id is None:
            return None
        return await self.document(run_id, PREDICTION, str(match_id))

    async def prediction(self, match_id: int) -> Document | None:
        """A match's prediction in the current run (None: not in it)."""
        run_id = await self.current_run_id()
        if run_id is None:
            return None
        return await self.view(run_id, PREDICTION, str(match_id), PREDICTION_VIEW, prediction_view)

    async def champion(self, model_name: str) -> Document | None:
        """The champion version of ``model_name`` and its evaluation, from the warehouse.

        Kept for a few seconds; while the warehouse is down the last one read is served.
        """
        cached = self._model.get(model_name, MISSING)
        if cached is not MISSING:
            self.metrics.cache_lookup("model", True)
            return cached
        self.metrics.cache_lookup("model", False)
        try:
            document = await self._warehouse("champion", _champion_document, model_name)
        except StoreUnavailable:
            stale = self._model.get_stale(model_name, MISSING)
            if stale is MISSING:
                raise
            return stale
        self._model.put(model_name, document)
        return document

    async def performance(self, model_name: str) -> Document | None:
        """The monitor's latest figures of the champion version, per league (None: none yet).

        Kept for a few seconds; while the warehouse is down the last one read is served.
        """
        cached = self._performance.get(model_name, MISSING)
        if cached is not MISSING:
            self.metrics.cache_lookup("performance", True)
            return cached
        self.metrics.cache_lookup("performance", False)
        try:
            document = await self._warehouse("performance", _performance_document, model_name)
        except StoreUnavailable:
            stale = self._performance.get_stale(model_name, MISSING)
            if stale is MISSING:
                raise
            return stale
        self._performance.put(model_name, document)
        return document

    async def monitor_figures(self, model_name: str) -> list[dict[str, Any]]:
        """The rows of the monitor's latest computation (for the metrics); stale when down."""
        cached = self._figures.get(model_name, MISSING)
        if cached is not MISSING:
            return cached
        try:
            rows = await self._warehouse("monitor_figures", latest_figures, model_name)
        except StoreUnavailable:
            stale = self._figures.get_stale(model_name, MISSING)
            return [] if stale is MISSING else stale
        self._figures.put(model_name, rows)
        return rows

    # --- readiness ------------------------------------------------------------------------------

    async def redis_state(self) -> Literal["ok", "unreachable", "disabled"]:
        """``ok``, ``unreachable`` or ``disabled`` (no Redis configured)."""
        if self.redis is None:
            return "disabled"
        try:
            await self.redis.ping()
        except (RedisError, OSError) as error:
            self._redis_failed("ping", error)
            return "unreachable"
        self._redis_down_until = 0.0
        return "ok"

    async def warehouse_state(self) -> Literal["ok", "unreachable"]:
        """``ok`` or ``unreachable``."""
        try:
            await self._warehouse("ping", _ping)
        except StoreUnavailable:
            return "unreachable"
        return "ok"


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _champion_document(engine: Engine, model_name: str) -> Document | None:
    query = (
        select(ModelVersion)
        .where(ModelVersion.name == model_name, ModelVersion.alias == CHAMPION)
        .order_by(ModelVersion.created_at.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    if row is None:
        return None
    metrics = json.loads(row.metrics_json) if row.metrics_json else {}
    body = encode_document(
        {
            "name": row.name,
            "version": row.version,
            "alias": row.alias,
            "mlflow_run_id": row.mlflow_run_id,
            "trained_at": row.trained_at,  # when it was fitted, not when it was promoted
            "metrics": metrics,
        }
    )
    return Document.of(body, None)


def _champion_version(engine: Engine, model_name: str) -> str | None:
    query = (
        select(ModelVersion.version)
        .where(ModelVersion.name == model_name, ModelVersion.alias == CHAMPION)
        .order_by(ModelVersion.created_at.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        version: str | None = connection.execute(query).scalar_one_or_none()
    return version


def _performance_document(engine: Engine, model_name: str) -> Document | None:
    version = _champion_version(engine, model_name)
    if version is None:
        return None
    document = performance_document(engine, model_name, version)
    return None if document is None else Document.of(encode_document(document), None)
