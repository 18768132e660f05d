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


# --- promotion decisions: what was compared, the tolerance, the verdict -----------------


def _season(n: int = 400) -> tuple[np.ndarray, ...]:
    """Results (45% home, 27.5% draw, 27.5% away in blocks of 40) and three forecasts.

    The base rates (calibrated), a sharp calibrated forecast (0.9 home, 0.1 draw on
    the first half of a block, which holds its 18 home wins and 2 draws; 0.45 draw,
    0.55 away on the other), and a sharp miscalibrated one (0.9 home where home wins
    come, 0.3 home elsewhere).
    """
    outcome = np.array((([0] * 18 + [1] * 11 + [2] * 11) * n)[:n])
    base = np.tile([0.45, 0.275, 0.275], (n, 1))  # off the calibration bins' edges
    first_half = (np.arange(n) % 40 < 20)[:, None]
    calibrated = np.where(first_half, [0.9, 0.1, 0.0], [0.0, 0.45, 0.55])
    sharp = np.where((outcome == 0)[:, None], [0.9, 0.05, 0.05], [0.3, 0.35, 0.35])
    return outcome, base, calibrated, sharp


def test_an_equal_challenger_reads_equal_whatever_the_rounding(monkeypatch) -> None:
    from sabiscore_ml.settings import clear_settings_cache

    monkeypatch.delenv("SABISCORE_MODEL_PROMOTION_RPS_TOLERANCE", raising=False)
    clear_settings_cache()
    outcome, base, _, _ = _season()
    # a refit on unchanged data: the same forecast up to noise in the 7th decimal
    noise = np.random.default_rng(0).normal(0, 1e-6, base.shape)
    refit = (base + noise) / (base + noise).sum(axis=1, keepdims=True)
    decision = registry.judge(refit, base, outcome, matches="E0 2023-2024", champion_version="3")
    gap = decision.evidence["rps_challenger_minus_champion"]
    assert gap != 0 and abs(gap) < 1e-4
    assert decision.promote
    rps = decision.evidence["rps_champion"]
    assert decision.reason.startswith(
        f"RPS {rps:.5f} vs champion v3's {rps:.5f} on 400 matches of E0 2023-2024: "
        "equal within 0.0001 (difference "
    )
    assert "worse" not in decision.reason and "0.0000," not in decision.reason
    assert decision.reason.endswith(
        "calibration error 0.00000 vs 0.00000: equal within 0.001: promoted"
    )
    assert f"difference {'+' if gap > 0 else '-'}0.0000" in decision.reason


def test_better_worse_and_miscalibrated_challengers(monkeypatch) -> None:
    from sabiscore_ml.settings import clear_settings_cache

    monkeypatch.setenv("SABISCORE_MODEL_ECE_TOLERANCE", "0.01")
    clear_settings_cache()
    outcome, base, calibrated, sharp = _season()
    better = registry.judge(calibrated, base, outcome, matches="E0 2023-2024")
    assert better.promote, better.reason
    diff, se = (better.evidence[k] for k in ("rps_challenger_minus_champion", "rps_difference_se"))
    assert diff < -0.01
    assert f": better by {registry.figure(-diff)} (se {registry.figure(se)}, " in better.reason
    assert better.reason.endswith(": promoted") and "vs champion " in better.reason

    worse = registry.judge(base, calibrated, outcome, matches="E0 2023-2024")
    assert not worse.promote
    assert f": worse by {registry.figure(-diff)} (se " in worse.reason
    assert worse.reason.endswith("tolerance 0.0001): kept as challenger")
    assert "calibration" not in worse.reason  # decided on RPS alone

    # better on RPS than the calibrated base rates, but its calibration error is far worse
    miscalibrated = registry.judge(sharp, base, outcome, matches="E0 2023-2024")
    assert not miscalibrated.promote
    ece_new, ece_old = (miscalibrated.evidence[k] for k in ("ece_challenger", "ece_champion"))
    assert ece_new - ece_old > 0.01
    assert ": better by " in miscalibrated.reason
    assert miscalibrated.reason.endswith(
        f"; calibration error {ece_new:.5f} vs {ece_old:.5f}: worse by "
        f"{registry.figure(ece_new - ece_old)} (tolerance 0.01): kept as challenger"
    )


def test_a_tiny_difference_beyond_a_zero_tolerance_is_printed_in_full(monkeypatch) -> None:
    from sabiscore_ml.settings import clear_settings_cache

    monkeypatch.setenv("SABISCORE_MODEL_PROMOTION_RPS_TOLERANCE", "0")
    clear_settings_cache()
    outcome, base, _, _ = _season()
    worse = base.copy()
    # a home win 0.1% less likely than the base rates: the RPS is worse by about 5e-7 (at a
    # calibrated forecast the first-order change is nil)
    worse[:, 0] -= 1e-3
    worse[:, 1] += 1e-3
    decision = registry.judge(worse, base, outcome)
    assert not decision.promote
    gap = decision.evidence["rps_challenger_minus_champion"]
    assert 1e-7 < gap < 1e-6
    printed = decision.reason.split("worse by ")[1].split(" ")[0]
    assert printed.startswith("0.000000") and float(printed) == pytest.approx(gap, rel=0.1)
    assert " on 400 paired matches: worse by " in decision.reason
    assert decision.reason.endswith("; tolerance 0): kept as challenger")
    assert (registry.figure(3e-7), registry.figure(0.0012), registry.figure(0.0)) == (
        "0.00000030",
        "0.0012",
        "0.0000",
    )


def test_decide_names_the_matches_and_too_few_are_kept() -> None:
    outcome, base, _, sharp = _season(120)
    labels = np.array(["H", "D", "A"])[outcome]
    frame = pl.DataFrame(
        {
            "match_id": np.arange(120),
            "league_code": ["E0"] * 60 + ["E1"] * 60,
            "season_code": ["2023-2024"] * 120,
            "match_date": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in range(120)],
            "result": labels,
        }
    )
    challenger = frame.with_columns(
        *(pl.Series(c, sharp[:, k]) for k, c in enumerate(("p_home", "p_draw", "p_away")))
    )
    champion = frame.with_columns(
        *(pl.Series(c, base[:, k]) for k, c in enumerate(("p_home", "p_draw", "p_away")))
    )
    decision = registry.decide(challenger, champion, champion_version="4")
    assert not decision.promote
    rps = decision.evidence["rps_champion"]
    assert f" vs champion v4's {rps:.5f} on 120 matches of E0, E1 2023-2024: " in decision.reason
    assert decision.reason.endswith(": only 120 paired matches (need 300): kept as challenger")
    assert decision.evidence["leagues"] == ["E0", "E1"]
    assert registry.decide(challenger, None).reason == "no champion yet: promoted"
