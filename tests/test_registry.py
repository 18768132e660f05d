"""Registered versions in a real local MLflow store: resolved once, loaded by number, dated.

The bundles are Elo ordered logits fitted on the ratings of the bundled Premier
League 2023-24 sample (``samples/football-data``), small enough to register in
a few seconds.
"""

from __future__ import annotations

import datetime as dt
import logging

import mlflow
import numpy as np
import polars as pl
import pytest
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR
from sqlalchemy import Engine, select

from feature_store.catalog import CATALOG_VERSION
from feature_store.ratings import football_data_input, rating_features
from sabiscore_ml.jobs.predict import load_model
from sabiscore_ml.jobs.training import _record_version
from sabiscore_ml.models import registry
from sabiscore_ml.models.bundle import ModelBundle
from sabiscore_ml.models.data import features_matrix
from sabiscore_ml.models.estimators import CalibratedModel, EloOrderedLogit
from sabiscore_ml.sources.football_data import parse_football_data
from sabiscore_ml.warehouse.models import ModelVersion

FEATURES = ("elo_diff", "elo_home_advantage")


@pytest.fixture(scope="module")
def rated() -> pl.DataFrame:
    """Played E0 2023-24 matches with their Elo features and results."""
    path = SAMPLE_DIR / "E0" / "2023-2024.csv"
    parsed = parse_football_data(path.read_bytes(), path.name, today=dt.date(2026, 1, 1))
    matches = football_data_input([parsed])
    features = rating_features(matches)
    result = (
        pl.when(pl.col("home_goals") > pl.col("away_goals"))
        .then(pl.lit("H"))
        .when(pl.col("home_goals") == pl.col("away_goals"))
        .then(pl.lit("D"))
        .otherwise(pl.lit("A"))
    )
    return (
        matches.select("match_id", "match_date", result.alias("result"))
        .join(features.select("match_id", *FEATURES), on="match_id")
        .drop_nulls()
        .sort("match_date", "match_id")
    )


def register(frame: pl.DataFrame, marker: str, trained_at: dt.datetime):
    """Fit an Elo ordered logit on ``frame``, register it; the registered version."""
    outcome = CalibratedModel(EloOrderedLogit(), method=None).fit(
        features_matrix(frame, FEATURES), frame["result"].to_numpy()
    )
    bundle = ModelBundle(
        features=FEATURES,
        outcome=outcome,
        goals=None,
        catalog_version=CATALOG_VERSION,
        trained_until=frame["match_date"].max(),
        trained_at=trained_at,
        description={"marker": marker},
    )
    with mlflow.start_run(experiment_id=registry.experiment("1x2")):
        return registry.log_bundle(bundle, frame)


def test_a_promotion_between_resolving_and_loading_leaves_the_version_used(
    sabiscore_home, rated, monkeypatch
):
    first = register(rated.head(200), "first", dt.datetime(2024, 1, 5, 4, 0))
    second = register(rated.head(300), "second", dt.datetime(2024, 2, 5, 4, 0))
    registry.set_alias(first.version, registry.CHAMPION)
    resolve = registry.resolve_version

    def resolve_then_promote(reference: str):
        resolved = resolve(reference)
        registry.set_alias(second.version, registry.CHAMPION)  # a promotion in between
        return resolved

    monkeypatch.setattr(registry, "resolve_version", resolve_then_promote)
    version, bundle = load_model("champion")
    # the run is labelled with the version whose bundle it scores with
    assert version.version == first.version
    assert bundle.description["marker"] == "first"
    # ... although the alias names the other one by now
    assert registry.version_by_alias("champion").version == second.version
    assert registry.load_bundle("champion").description["marker"] == "second"

    # a version number is loaded as it is; an unknown alias or number is refused
    monkeypatch.setattr(registry, "resolve_version", resolve)
    assert load_model(first.version)[1].description["marker"] == "first"
    with pytest.raises(LookupError, match="alias 'nobody'"):
        load_model("nobody")
    with pytest.raises(LookupError, match="no version 99"):
        load_model("99")


def test_the_training_time_goes_with_the_version_and_survives_its_promotion(
    warehouse: Engine, rated
):
    fitted = dt.datetime(2024, 1, 5, 4, 0, 12)
    version = register(rated.head(200), "first", fitted)
    tags = registry.client().get_model_version("sabiscore-1x2", version.version).tags
    assert tags[registry.TRAINED_AT_TAG] == "2024-01-05T04:00:12Z"

    _record_version(
        warehouse, version.version, version.run_id, "challenger", {"rps": 0.2}, trained_at=fitted
    )
    _record_version(warehouse, version.version, version.run_id, "champion", None)
    with warehouse.connect() as connection:
        row = connection.execute(select(ModelVersion)).one()
    assert (row.alias, row.trained_at) == ("champion", fitted)
    assert row.created_at > fitted  # when it was promoted: another time
    assert row.metrics_json == '{"rps": 0.2}'


def test_a_run_is_labelled_with_the_version_it_scored_with(
    warehouse: Engine, rated, monkeypatch, caplog
):
    from feature_store.api import build_features, scoring_features
    from sabiscore_ml.jobs.football_data import (
        ingest_football_data_file,
        ingest_football_data_fixtures_file,
    )
    from sabiscore_ml.jobs.predict import PredictRequest, predict

    taken_on = dt.date(2024, 8, 8)
    assert (
        ingest_football_data_file(SAMPLE_DIR / "E0" / "2023-2024.csv", engine=warehouse).status
        == "loaded"
    )
    fixtures = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
    assert (
        ingest_football_data_fixtures_file(fixtures, engine=warehouse, today=taken_on).status
        == "loaded"
    )
    build_features(engine=warehouse, as_of=taken_on)
    first = register(rated.head(150), "first", dt.datetime(2024, 1, 5, 4, 0))
    second = register(rated.tail(150), "second", dt.datetime(2024, 2, 5, 4, 0))
    registry.set_alias(first.version, registry.CHAMPION)
    resolve = registry.resolve_version

    def resolve_then_promote(reference: str):
        resolved = resolve(reference)
        registry.set_alias(second.version, registry.CHAMPION)
        return resolved

    monkeypatch.setattr(registry, "resolve_version", resolve_then_promote)
    with caplog.at_level(logging.INFO, logger="sabiscore_ml.jobs.predict"):
        run = predict(
            PredictRequest(as_of=taken_on.isoformat(), replay=False, leagues=("E0",)),
            engine=warehouse,
        )
    assert run.model_version == first.version
    assert "features: the online store's vectors (10 online vector(s), current)" in caplog.text
    frame = scoring_features(taken_on, dt.date(2024, 8, 12), leagues=["E0"], engine=warehouse).frame
    scored = run.predictions.sort("match_date", "match_id")["p_home"].to_numpy()
    by_first = registry.load_bundle(first.version).predict(frame)["p_home"].to_numpy()
    by_second = registry.load_bundle(second.version).predict(frame)["p_home"].to_numpy()
    assert np.allclose(scored, by_first) and not np.allclose(scored, by_second)
