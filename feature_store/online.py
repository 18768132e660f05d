"""The online store: feature vectors of upcoming fixtures, for the serving side.

With ``SABISCORE_REDIS_URL`` set the vectors go to Redis, a hash per match
(``<prefix>:features:match:<id>``, one field per column, values as JSON) with
a TTL, plus a run record (``<prefix>:features:online``) listing the matches of
the current run.  One refresh is one ``MULTI``/``EXEC`` transaction: readers
see the previous run or the new one, never a mixture.  Without Redis the same
vectors go to the warehouse table ``online_features``, replaced in one
database transaction.

Upcoming fixtures are the matches dated from ``as_of`` up to ``as_of`` plus the
horizon.  Their vectors are the offline store's rows, which are computed from
what was known before each match day.

Each vector records what it was built from: the catalogue version and, per
country, the digest of the fingerprints its offline partitions were built at
(:func:`feature_store.offline.country_fingerprints`; the run record's
``inputs`` in Redis, the ``inputs_fingerprint`` column in the warehouse).  The
fingerprints count the odds snapshots, so a new copy of the fixtures makes the
vectors of its countries stale until the next build.
:func:`read_online_vectors` returns them with the vectors, so a reader can tell
a vector still equal to a recomputation from a stale one
(:func:`feature_store.api.scoring_features`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import polars as pl
from sqlalchemy import Engine, delete, insert, select

from feature_store.catalog import CATALOG_VERSION, FAMILIES, frame_schema
from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.settings import get_feature_store_settings, get_redis_settings
from sabiscore_ml.warehouse.models import OnlineFeatures

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True)
class OnlineVectors:
    """Online vectors and, per match, the catalogue version and inputs fingerprint behind them."""

    frame: pl.DataFrame
    catalog_versions: dict[int, str]
    inputs_fingerprints: dict[int, str | None]


@dataclass(frozen=True)
class OnlineRefresh:
    """What an online refresh wrote."""

    run_id: str
    backend: str  # "redis" or "warehouse"
    matches: int
    as_of: dt.date
    until: dt.date


def _encode(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        value = None
    if isinstance(value, dt.date):
        value = value.isoformat()
    return json.dumps(value)


def _rows(frame: pl.DataFrame) -> Iterable[dict[str, object]]:
    return frame.iter_rows(named=True)


def _decode_frame(records: Sequence[Mapping[str, object]]) -> pl.DataFrame:
    schema = frame_schema(FAMILIES)
    if not records:
        return pl.DataFrame(schema=schema)
    frame = pl.DataFrame(records, schema={name: pl.String for name in schema}, orient="row")
    casts = []
    for name, dtype in schema.items():
        column = pl.col(name)
        casts.append(
            column.str.to_date("%Y-%m-%d").alias(name) if dtype == pl.Date else column.cast(dtype)
        )
    return frame.with_columns(casts)


def redis_client() -> redis.Redis | None:
    """A Redis client for ``SABISCORE_REDIS_URL``, or None in embedded mode."""
    url = get_redis_settings().redis_url
    if not url:
        return None
    import redis

    client: redis.Redis = redis.Redis.from_url(url)
    return client


def _keys() -> tuple[str, str]:
    prefix = get_redis_settings().redis_prefix
    return f"{prefix}:features:match:", f"{prefix}:features:online"


def refresh_online(
    engine: Engine, frame: pl.DataFrame, *, as_of: dt.date, client: redis.Redis | None = None
) -> OnlineRefresh:
    """Replace the online vectors with the rows of ``frame`` dated in the horizon."""
    settings = get_feature_store_settings()
    until = as_of + dt.timedelta(days=settings.online_horizon_days)
    upcoming = frame.filter(pl.col("match_date").is_between(as_of, until, closed="left"))
    run_id = uuid.uuid4().hex
    client = client if client is not None else redis_client()
    built_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    inputs = _built_from(engine)
    if client is not None:
        match_prefix, run_key = _keys()
        # redis-py types a synchronous client's answers as maybe awaitable
        previous = cast(bytes | None, client.hget(run_key, "match_ids"))
        old_ids = json.loads(previous) if previous else []
        ids = upcoming["match_id"].to_list()
        with client.pipeline(transaction=True) as pipe:
            stale = set(old_ids) - set(ids)
            if stale:
                pipe.delete(*(f"{match_prefix}{m}" for m in stale))
            for row in _rows(upcoming):
                key = f"{match_prefix}{row['match_id']}"
                pipe.delete(key)
                pipe.hset(key, mapping={name: _encode(value) for name, value in row.items()})
                pipe.expire(key, settings.online_ttl_seconds)
            pipe.delete(run_key)
            pipe.hset(
                run_key,
                mapping={
                    "run_id": run_id,
                    "catalog_version": CATALOG_VERSION,
                    "built_at": built_at.isoformat(),
                    "as_of": as_of.isoformat(),
                    "match_ids": json.dumps(ids),
                    "inputs": json.dumps(inputs, sort_keys=True),
                },
            )
            pipe.expire(run_key, settings.online_ttl_seconds)
            pipe.execute()
        return OnlineRefresh(run_id, "redis", len(ids), as_of, until)
    with engine.begin() as connection:
        connection.execute(delete(OnlineFeatures))
        rows = [
            {
                "match_id": row["match_id"],
                "run_id": run_id,
                "catalog_version": CATALOG_VERSION,
                "built_at": built_at,
                "features_json": json.dumps(
                    {name: json.loads(_encode(value)) for name, value in row.items()}
                ),
                "inputs_fingerprint": inputs.get(LEAGUES[str(row["league_code"])].country),
            }
            for row in _rows(upcoming)
        ]
        if rows:
            connection.execute(insert(OnlineFeatures), rows)
    return OnlineRefresh(run_id, "warehouse", upcoming.height, as_of, until)


def _built_from(engine: Engine) -> dict[str, str]:
    """Per country, the digest of the fingerprints the offline partitions were built at."""
    from feature_store.offline import country_fingerprints, read_index

    return country_fingerprints(
        {key: entry.fingerprint for key, entry in read_index(engine).items()}
    )


def read_online(
    engine: Engine, match_ids: Sequence[int], *, client: redis.Redis | None = None
) -> pl.DataFrame:
    """The online vectors of ``match_ids`` (those present), as a typed frame."""
    return read_online_vectors(engine, match_ids, client=client).frame


def read_online_vectors(
    engine: Engine, match_ids: Sequence[int], *, client: redis.Redis | None = None
) -> OnlineVectors:
    """The online vectors of ``match_ids`` (those present) and what each was built from."""
    client = client if client is not None else redis_client()
    if client is not None:
        return _read_redis(client, match_ids)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                OnlineFeatures.match_id,
                OnlineFeatures.catalog_version,
                OnlineFeatures.inputs_fingerprint,
                OnlineFeatures.features_json,
            ).where(OnlineFeatures.match_id.in_([int(m) for m in match_ids]))
        ).all()
    records = [{k: _as_text(v) for k, v in json.loads(row.features_json).items()} for row in rows]
    return OnlineVectors(
        _decode_frame(records),
        {row.match_id: row.catalog_version for row in rows},
        {row.match_id: row.inputs_fingerprint for row in rows},
    )


def _read_redis(client: redis.Redis, match_ids: Sequence[int]) -> OnlineVectors:
    match_prefix, run_key = _keys()
    with client.pipeline(transaction=True) as pipe:  # the vectors and their run record together
        for match_id in match_ids:
            pipe.hgetall(f"{match_prefix}{int(match_id)}")
        pipe.hgetall(run_key)
        *stored, run = pipe.execute()
    records = [
        {k.decode(): _as_text(json.loads(v)) for k, v in values.items()}
        for values in stored
        if values
    ]
    frame = _decode_frame(records)
    listed = set(json.loads(run.get(b"match_ids", b"[]")))
    catalog = run.get(b"catalog_version", b"").decode()
    inputs = json.loads(run.get(b"inputs", b"{}"))
    countries = {
        match_id: LEAGUES[league].country
        for match_id, league in frame.select("match_id", "league_code").iter_rows()
        if match_id in listed
    }
    return OnlineVectors(
        frame,
        {match_id: catalog for match_id in countries},
        {match_id: inputs.get(country) for match_id, country in countries.items()},
    )


def _as_text(value: object) -> str | None:
    return None if value is None else str(value)
