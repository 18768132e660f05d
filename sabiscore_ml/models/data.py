"""Training data for the models: the feature store's offline frame, in kickoff order.

A model only ever sees the catalogue's feature columns; the keys and the
targets ride alongside.  Closing odds never enter here: they are read by
:mod:`sabiscore_ml.models.evaluation`, for scoring only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
from sqlalchemy import Engine, select

from feature_store.api import training_frame
from feature_store.catalog import CATALOG_VERSION, feature_names
from sabiscore_ml.warehouse.models import FeaturePartition


@dataclass(frozen=True)
class TrainingSet:
    """Played matches with their features, sorted by date then match id."""

    frame: pl.DataFrame
    features: tuple[str, ...]

    @property
    def height(self) -> int:
        """Number of matches."""
        return self.frame.height

    def X(self, frame: pl.DataFrame | None = None) -> pd.DataFrame:
        """The feature matrix (float32, NaN for missing) of ``frame`` (default: all rows)."""
        return features_matrix(self.frame if frame is None else frame, self.features)

    def y(self, frame: pl.DataFrame | None = None) -> np.ndarray:
        """The ``H``/``D``/``A`` results."""
        return (self.frame if frame is None else frame)["result"].to_numpy()

    def goals(self, frame: pl.DataFrame | None = None) -> np.ndarray:
        """Home and away goals, shape ``(n, 2)``."""
        frame = self.frame if frame is None else frame
        return frame.select("home_goals", "away_goals").to_numpy().astype(np.float64)

    def where(self, predicate: pl.Expr) -> TrainingSet:
        """The rows matching ``predicate``, order kept."""
        return TrainingSet(self.frame.filter(predicate), self.features)


def match_dates(frame: pl.DataFrame) -> tuple[dt.date, dt.date]:
    """The first and the last ``match_date`` of a frame of matches (with rows)."""
    first, last = frame["match_date"].min(), frame["match_date"].max()
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    return first, last


def features_matrix(frame: pl.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """``frame``'s feature columns as a float32 pandas frame (what the estimators take)."""
    values = frame.select(pl.col(name).cast(pl.Float32) for name in features).to_numpy()
    return pd.DataFrame(values, columns=list(features))


def load_training_set(
    engine: Engine,
    *,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
    as_of: dt.date | None = None,
    history_from: str | None = None,
) -> TrainingSet:
    """Played matches of ``leagues``/``seasons`` before ``as_of``, from the offline store.

    ``history_from`` (a season code) drops earlier seasons.  Raises ``ValueError``
    when nothing is left: the feature store was not built for those leagues.
    """
    frame = training_frame(leagues, seasons, as_of, engine=engine)
    if history_from is not None:
        frame = frame.filter(pl.col("season_code") >= history_from)
    if frame.is_empty():
        raise ValueError(
            f"no played matches with features for leagues {list(leagues or [])} "
            f"seasons {list(seasons or [])}: run `sabiscore features build` first"
        )
    frame = frame.sort("match_date", "match_id")
    return TrainingSet(frame, tuple(feature_names()))


def snapshot_of(engine: Engine, training: TrainingSet) -> dict[str, str]:
    """What the training set was built from: catalogue version, partitions' input hashes, rows.

    Each partition file's SHA-256 (its features were computed from the warehouse
    rows its fingerprint summarises) and the match ids go into one hash, so the
    same hash means the same training data.
    """
    pairs = training.frame.select("league_code", "season_code").unique()
    wanted = {(r[0], r[1]) for r in pairs.iter_rows()}
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                FeaturePartition.league_code,
                FeaturePartition.season_code,
                FeaturePartition.file_sha256,
            )
        ).all()
    digest = hashlib.sha256()
    for league, season, fingerprint in sorted(rows):
        if (league, season) in wanted:
            digest.update(f"{league}/{season}/{fingerprint}\n".encode())
    ids = training.frame["match_id"].to_numpy()
    digest.update(hashlib.sha256(np.ascontiguousarray(ids).tobytes()).digest())
    dates = training.frame["match_date"]
    return {
        "catalog_version": CATALOG_VERSION,
        "data_hash": digest.hexdigest()[:16],
        "matches": str(training.height),
        "partitions": str(len(wanted)),
        "first_match": str(dates.min()),
        "last_match": str(dates.max()),
    }
