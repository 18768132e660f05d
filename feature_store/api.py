"""The feature store's public API: build, training frames and online vectors.

``training_frame`` and ``online_features`` return the same columns in the same
order (keys, targets, then the features in catalogue order); targets are null
for fixtures not played yet.  ``scoring_features`` gives a prediction its rows:
the online vectors while they are current, else ``features_as_of``'s
recomputation, with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import polars as pl
from sqlalchemy import Engine

from feature_store.offline import BuildReport, build_offline, read_partitions
from feature_store.online import (
    OnlineRefresh,
    OnlineVectors,
    read_online,
    read_online_vectors,
    refresh_online,
)
from sabiscore_ml.leagues import season_of
from sabiscore_ml.settings import get_feature_store_settings
from sabiscore_ml.warehouse.engine import get_engine

if TYPE_CHECKING:
    from feature_store.inputs import Inputs


@dataclass(frozen=True)
class FeatureBuild:
    """A build of the offline store and the online refresh that followed it."""

    offline: BuildReport
    online: OnlineRefresh


def build_features(
    *,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
    full: bool = False,
    as_of: dt.date | None = None,
    engine: Engine | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> FeatureBuild:
    """Rebuild the stale offline partitions, then refresh the online vectors.

    ``as_of`` (default: today) starts the online horizon: fixtures dated from
    then on, within ``SABISCORE_FEATURES_ONLINE_HORIZON_DAYS``.
    """
    engine = engine or get_engine()
    report = build_offline(engine, leagues=leagues, seasons=seasons, full=full, progress=progress)
    return FeatureBuild(report, refresh_upcoming(engine, as_of=as_of or dt.date.today()))


def refresh_upcoming(engine: Engine, *, as_of: dt.date) -> OnlineRefresh:
    """Refresh the online store from the offline partitions covering the horizon."""
    horizon = get_feature_store_settings().online_horizon_days
    seasons = sorted({season_of(as_of), season_of(as_of + dt.timedelta(days=horizon))})
    return refresh_online(engine, read_partitions(engine, seasons=seasons), as_of=as_of)


def training_frame(
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
    as_of: dt.date | None = None,
    *,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Offline rows of played matches dated before ``as_of`` (all of them by default).

    Every feature of a row was computed from what was known before its match
    day, so the frame is a faithful record of what a model could have seen.
    """
    frame = read_partitions(engine or get_engine(), leagues=leagues, seasons=seasons)
    frame = frame.filter(pl.col("result").is_not_null())
    if as_of is not None:
        frame = frame.filter(pl.col("match_date") < as_of)
    return frame


def features_as_of(
    as_of: dt.date,
    until: dt.date,
    *,
    leagues: Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Feature rows of the fixtures dated ``as_of`` to ``until``, as known on ``as_of``'s morning.

    Rebuilt from the countries' whole history with every fact dated from
    ``as_of`` on hidden (:func:`~feature_store.inputs.hidden_from`): results of
    matches between ``as_of`` and a fixture are not known yet, exactly as when
    the prediction was made.  Targets are null.  Same columns as
    :func:`training_frame`.
    """
    from feature_store.offline import fingerprints

    engine = engine or get_engine()
    digests = fingerprints(engine)
    inputs = _history(engine, digests, leagues)
    if inputs is None:
        return pl.DataFrame()
    return _recomputed(inputs, as_of, until, leagues)


def _history(
    engine: Engine, digests: dict[tuple[str, str], str], leagues: Sequence[str] | None
) -> Inputs | None:
    """The inputs of the whole history of the countries of ``leagues`` (None: no data)."""
    from feature_store.snapshots import cached_inputs
    from sabiscore_ml.leagues import LEAGUES

    countries = {LEAGUES[code].country for code in leagues or LEAGUES}
    history = [pair for pair in sorted(digests) if LEAGUES[pair[0]].country in countries]
    if not history:
        return None
    return cached_inputs(engine, history, digests)[0]


def _recomputed(
    inputs: Inputs, as_of: dt.date, until: dt.date, leagues: Sequence[str] | None
) -> pl.DataFrame:
    from feature_store.build import build_frame
    from feature_store.inputs import hidden_from

    frame = build_frame(hidden_from(inputs, as_of))
    return frame.filter(_window(as_of, until, leagues)).sort("match_date", "match_id")


def _window(as_of: dt.date, until: dt.date, leagues: Sequence[str] | None) -> pl.Expr:
    window = (pl.col("match_date") >= as_of) & (pl.col("match_date") <= until)
    if leagues:
        window &= pl.col("league_code").is_in(list(leagues))
    return window


@dataclass(frozen=True)
class ScoringFeatures:
    """The feature rows a prediction scores, where they came from, and why."""

    frame: pl.DataFrame
    source: str  # "online" (the vectors build_features wrote) or "recomputed"
    reason: str


def scoring_features(
    as_of: dt.date,
    until: dt.date,
    *,
    leagues: Sequence[str] | None = None,
    engine: Engine | None = None,
) -> ScoringFeatures:
    """:func:`features_as_of`, read from the online store when its vectors are current.

    The online vectors of the fixtures dated ``as_of`` to ``until`` are used when
    every fixture has one, built with this catalogue version, from inputs with
    the fingerprints the warehouse gives now (per country,
    :func:`~feature_store.offline.country_fingerprints`), and when the
    warehouse holds nothing dated from ``as_of`` on that a replay hides
    (:func:`~feature_store.inputs.hidden_from`, e.g. the results after an
    ``--as-of`` date): the offline rows are then exactly what
    :func:`features_as_of` computes.  Otherwise the rows are recomputed, and the
    reason says why.  Same columns and order as :func:`features_as_of`.
    """
    from feature_store.offline import fingerprints

    engine = engine or get_engine()
    digests = fingerprints(engine)
    ids = fixture_ids(engine, as_of, until, leagues)
    vectors = read_online_vectors(engine, ids) if ids else None
    reason = _stale_reason(vectors, ids, digests) if vectors is not None else "no fixture"
    inputs = None
    if reason is None:
        inputs = _history(engine, digests, leagues)
        reason = _hides(inputs, as_of)
    if reason is None:
        assert vectors is not None  # "no fixture" otherwise
        frame = vectors.frame.sort("match_date", "match_id")
        return ScoringFeatures(frame, "online", f"{frame.height} online vector(s), current")
    if inputs is None:
        inputs = _history(engine, digests, leagues)
    frame = pl.DataFrame() if inputs is None else _recomputed(inputs, as_of, until, leagues)
    return ScoringFeatures(frame, "recomputed", reason)


def fixture_ids(
    engine: Engine, as_of: dt.date, until: dt.date, leagues: Sequence[str] | None
) -> list[int]:
    """The warehouse's matches dated ``as_of`` to ``until`` (of ``leagues``), by id."""
    from sqlalchemy import select

    from sabiscore_ml.warehouse.models import Match

    stmt = select(Match.id).where(Match.match_date >= as_of, Match.match_date <= until)
    if leagues:
        stmt = stmt.where(Match.league_code.in_(list(leagues)))
    with engine.connect() as connection:
        return sorted(connection.execute(stmt).scalars())


def _stale_reason(
    vectors: OnlineVectors, ids: Sequence[int], digests: dict[tuple[str, str], str]
) -> str | None:
    """Why the online vectors of ``ids`` are not current, or None when they are."""
    from feature_store.catalog import CATALOG_VERSION
    from feature_store.offline import country_fingerprints
    from sabiscore_ml.leagues import LEAGUES

    missing = [m for m in ids if m not in vectors.catalog_versions]
    if missing:
        return f"{len(missing)} of {len(ids)} fixture(s) have no online vector"
    older = [m for m in ids if vectors.catalog_versions[m] != CATALOG_VERSION]
    if older:
        return f"{len(older)} online vector(s) built with other feature definitions"
    current = country_fingerprints(digests)
    countries = dict(vectors.frame.select("match_id", "league_code").iter_rows())
    changed = sorted(
        {
            LEAGUES[countries[m]].country
            for m in ids
            if vectors.inputs_fingerprints[m] != current.get(LEAGUES[countries[m]].country)
        }
    )
    if changed:
        return (
            f"the warehouse data of {', '.join(changed)} changed since the online vectors "
            "were built (inputs fingerprint)"
        )
    return None


def _hides(inputs: Inputs | None, as_of: dt.date) -> str | None:
    """What a replay from ``as_of`` hides of ``inputs`` (None: nothing)."""
    from feature_store.inputs import hidden_from

    if inputs is None:
        return "no data"
    hidden = hidden_from(inputs, as_of)
    kinds = [
        kind.name
        for kind in fields(inputs)
        if not getattr(inputs, kind.name).equals(getattr(hidden, kind.name))
    ]
    if kinds:
        return (
            f"the warehouse holds facts dated from {as_of} on ({', '.join(kinds)}), "
            "which the online vectors know and a prediction on that day must not"
        )
    return None


def online_features(match_ids: Sequence[int], *, engine: Engine | None = None) -> pl.DataFrame:
    """The online vectors of ``match_ids`` (Redis, else the warehouse), in request order."""
    frame = read_online(engine or get_engine(), match_ids)
    order = pl.DataFrame({"match_id": [int(m) for m in match_ids]}, schema={"match_id": pl.Int64})
    return order.join(frame, on="match_id", how="inner", maintain_order="left")
