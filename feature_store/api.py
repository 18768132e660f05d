"""The feature store's public API: build, training frames and online vectors.

``training_frame`` and ``online_features`` return the same columns in the same
order (keys, targets, then the features in catalogue order); targets are null
for fixtures not played yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine

from feature_store.offline import BuildReport, build_offline, read_partitions
from feature_store.online import OnlineRefresh, read_online, refresh_online
from sabiscore_ml.leagues import season_of
from sabiscore_ml.settings import get_feature_store_settings
from sabiscore_ml.warehouse.engine import get_engine


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
    progress=None,
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
    from feature_store.build import build_frame
    from feature_store.inputs import hidden_from
    from feature_store.offline import fingerprints
    from feature_store.snapshots import cached_inputs
    from sabiscore_ml.leagues import LEAGUES

    engine = engine or get_engine()
    digests = fingerprints(engine)
    countries = {LEAGUES[code].country for code in leagues or LEAGUES}
    history = [pair for pair in sorted(digests) if LEAGUES[pair[0]].country in countries]
    if not history:
        return pl.DataFrame()
    inputs, _ = cached_inputs(engine, history, digests)
    frame = build_frame(hidden_from(inputs, as_of))
    window = (pl.col("match_date") >= as_of) & (pl.col("match_date") <= until)
    if leagues:
        window &= pl.col("league_code").is_in(list(leagues))
    return frame.filter(window).sort("match_date", "match_id")


def online_features(match_ids: Sequence[int], *, engine: Engine | None = None) -> pl.DataFrame:
    """The online vectors of ``match_ids`` (Redis, else the warehouse), in request order."""
    frame = read_online(engine or get_engine(), match_ids)
    order = pl.DataFrame({"match_id": [int(m) for m in match_ids]}, schema={"match_id": pl.Int64})
    return order.join(frame, on="match_id", how="inner", maintain_order="left")
