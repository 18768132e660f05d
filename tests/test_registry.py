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


# --- promotion decisions: the closing-line value of the value bets ----------------------


def test_value_bets_are_the_outcomes_at_the_minimum_edge_with_a_closing_price() -> None:
    p = np.array([[0.50, 0.30, 0.20], [0.40, 0.30, 0.30]])
    prices = np.array([[2.2, 3.0, 5.0], [2.5, np.nan, 4.0]])
    closing = np.array([[0.48, 0.28, 0.24], [np.nan, 0.30, 0.26]])
    # edges: +0.10, -0.10, 0.00 on the first match; 0.00, none, +0.20 on the second
    clv = registry.value_bet_clv(p, prices, closing, 0.042)
    np.testing.assert_allclose(clv, [2.2 * 0.48 - 1, 4.0 * 0.26 - 1])
    # the home bet of the second match has no closing price: left out
    clv = registry.value_bet_clv(p, prices, closing, -0.01)
    np.testing.assert_allclose(clv, [2.2 * 0.48 - 1, 5.0 * 0.24 - 1, 4.0 * 0.26 - 1])


def _clv(mean: float, n: int = 40) -> np.ndarray:
    """``n`` bets' CLV alternating 3 points above and below ``mean``."""
    return mean + np.where(np.arange(n) % 2 == 0, 0.03, -0.03)


def test_the_clv_of_value_bets_keeps_a_challenger_worse_by_two_se(monkeypatch) -> None:
    from sabiscore_ml.settings import clear_settings_cache

    monkeypatch.delenv("SABISCORE_MODEL_PROMOTION_MIN_BETS", raising=False)
    clear_settings_cache()
    outcome, base, _, _ = _season()
    equal = (
        "RPS 0.22344 vs champion v3's 0.22344 on 400 matches of E0 2023-2024: equal within "
        "0.0001 (difference +0.0000, se 0.0000); calibration error 0.00000 vs 0.00000: equal "
        "within 0.001; "
    )

    def judge(challenger: np.ndarray, champion: np.ndarray) -> registry.Decision:
        clv = registry.BetClv(challenger, champion)
        return registry.judge(
            base, base, outcome, matches="E0 2023-2024", champion_version="3", clv=clv
        )

    # alternating ±0.03 on 40 bets: se 0.48% each, 0.68% for the difference
    better = judge(_clv(0.02), _clv(0.0))
    assert better.promote
    assert better.reason == equal + (
        "CLV of value bets +2.00% (40 bets) vs champion v3's +0.00% (40): "
        "better by 2.00% (se 0.68%, 2.9 se): promoted"
    )
    assert better.evidence["clv_challenger"] == pytest.approx(0.02)
    assert better.evidence["clv_champion"] == pytest.approx(0.0)
    assert (better.evidence["clv_bets_challenger"], better.evidence["clv_bets_champion"]) == (
        40,
        40,
    )
    assert better.evidence["clv_difference_se"] == pytest.approx(0.006794, abs=1e-6)

    within = judge(_clv(0.01), _clv(0.0))
    assert within.promote
    assert within.reason == equal + (
        "CLV of value bets +1.00% (40 bets) vs champion v3's +0.00% (40): "
        "equal (difference +1.00%, se 0.68%): promoted"
    )
    # worse, but by less than two se: equal, promoted
    assert judge(_clv(0.0), _clv(0.01)).reason.endswith(
        ": equal (difference -1.00%, se 0.68%): promoted"
    )

    worse = judge(_clv(0.0), _clv(0.02))
    assert not worse.promote
    assert worse.reason == equal + (
        "CLV of value bets +0.00% (40 bets) vs champion v3's +2.00% (40): "
        "worse by 2.00% (se 0.68%, 2.9 se): kept as challenger"
    )

    # too few bets with closing prices on either side: RPS and calibration decide
    few = judge(_clv(-0.05, 12), _clv(0.02))
    assert few.promote
    assert few.reason == equal + (
        "CLV not compared: 12 value bets with closing prices vs champion v3's 40 (need 30): "
        "promoted"
    )
    assert few.evidence["clv_bets_challenger"] == 12

    unpriced = judge(np.empty(0), np.empty(0))  # priced, but no value bet at all
    assert unpriced.reason.endswith(
        "; CLV not compared: 0 value bets with closing prices vs champion v3's 0 (need 30): "
        "promoted"
    )
    assert "clv_challenger" not in unpriced.evidence
    none = registry.judge(base, base, outcome, champion_version="3", clv=registry.BetClv.unpriced())
    assert none.promote
    assert none.reason.endswith(
        "calibration error 0.00000 vs 0.00000: equal within 0.001; "
        "CLV not compared: no closing prices: promoted"
    )
    assert "clv_bets_challenger" not in none.evidence
    # without CLV (the recalibration) the reason is RPS and calibration alone
    alone = registry.judge(base, base, outcome, champion_version="3")
    assert alone.reason.endswith(
        "calibration error 0.00000 vs 0.00000: equal within 0.001: promoted"
    )


def _priced_season(n: int = 400) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A season where one model bets every home win and the other every draw, and the prices.

    Best prices 2.4, 3.4, 3.4 on every match.  At 0.45 home the first model's
    home edge is +8% (its draw and away edges negative); at 0.31 draw the
    other's draw edge is +5.4% (home −4%, away −1.4%).  The closing line has the
    home win at 0.44 and 0.42 in turn (CLV +5.6% and +0.8%: +3.2% on average),
    the draw at 0.29 and 0.27 (−1.4% and −8.2%: −4.8%).
    """
    outcome = _season(n)[0]
    frame = pl.DataFrame(
        {
            "match_id": np.arange(n),
            "league_code": ["E0"] * n,
            "season_code": ["2023-2024"] * n,
            "match_date": [dt.date(2023, 8, 1) + dt.timedelta(days=int(d) // 2) for d in range(n)],
            "result": np.array(["H", "D", "A"])[outcome],
        }
    )

    def model(p: tuple[float, float, float]) -> pl.DataFrame:
        return frame.with_columns(
            pl.lit(p[k]).alias(c) for k, c in enumerate(("p_home", "p_draw", "p_away"))
        )

    even = np.arange(n) % 2 == 0
    home, draw = np.where(even, 0.44, 0.42), np.where(even, 0.29, 0.27)
    prices = pl.DataFrame(
        {
            "match_id": np.arange(n),
            "price_home": [2.4] * n,
            "price_draw": [3.4] * n,
            "price_away": [3.4] * n,
            "p_close_home": home,
            "p_close_draw": draw,
            "p_close_away": 1.0 - home - draw,
        }
    )
    return model((0.45, 0.275, 0.275)), model((0.40, 0.31, 0.29)), prices


def test_decide_measures_each_models_value_bets_at_the_prices(monkeypatch) -> None:
    from sabiscore_ml.settings import clear_settings_cache

    # RPS and calibration within these; the closing line decides
    monkeypatch.setenv("SABISCORE_MODEL_PROMOTION_RPS_TOLERANCE", "1")
    monkeypatch.setenv("SABISCORE_MODEL_ECE_TOLERANCE", "1")
    monkeypatch.delenv("SABISCORE_MODEL_PROMOTION_MIN_BETS", raising=False)
    monkeypatch.delenv("SABISCORE_MODEL_PROMOTION_MIN_MATCHES", raising=False)
    clear_settings_cache()
    home_bettor, draw_bettor, prices = _priced_season()
    # deviations ±2.4 and ±3.4 points on 400 bets: se 0.12% and 0.17%, 0.21% together
    better = registry.decide(
        home_bettor, draw_bettor, champion_version="4", prices=prices, min_edge=0.042
    )
    assert better.promote, better.reason
    assert better.reason.endswith(
        "; CLV of value bets +3.20% (400 bets) vs champion v4's -4.80% (400): "
        "better by 8.00% (se 0.21%, 38.4 se): promoted"
    )
    assert better.reason.startswith("RPS ") and " on 400 matches of E0 2023-2024: " in better.reason
    assert better.evidence["clv_challenger"] == pytest.approx(0.032)
    assert better.evidence["clv_champion"] == pytest.approx(-0.048)

    worse = registry.decide(
        draw_bettor, home_bettor, champion_version="4", prices=prices, min_edge=0.042
    )
    assert not worse.promote
    assert worse.reason.endswith(
        "; CLV of value bets -4.80% (400 bets) vs champion v4's +3.20% (400): "
        "worse by 8.00% (se 0.21%, 38.4 se): kept as challenger"
    )
    # above the draw bettor's edge: the champion has no value bet left
    assert registry.decide(
        home_bettor, draw_bettor, champion_version="4", prices=prices, min_edge=0.06
    ).reason.endswith(
        "; CLV not compared: 400 value bets with closing prices vs champion v4's 0 (need 30): "
        "promoted"
    )

    # closing prices on 12 matches only
    few = prices.with_columns(
        pl.when(pl.col("match_id") < 12).then(pl.col(c)).alias(c)
        for c in ("p_close_home", "p_close_draw", "p_close_away")
    )
    decision = registry.decide(
        draw_bettor, home_bettor, champion_version="4", prices=few, min_edge=0.042
    )
    assert decision.promote
    assert decision.reason.endswith(
        "; CLV not compared: 12 value bets with closing prices vs champion v4's 12 (need 30): "
        "promoted"
    )

    # no closing prices at all, or no prices: RPS and calibration decide
    unclosed = few.filter(pl.col("match_id") >= 12)
    for given in (unclosed, None):
        decision = registry.decide(
            draw_bettor, home_bettor, champion_version="4", prices=given, min_edge=0.042
        )
        assert decision.promote
        assert decision.reason.endswith(
            "within 1; CLV not compared: no closing prices: promoted"
        ), decision.reason
        assert "clv_bets_challenger" not in decision.evidence
    with pytest.raises(ValueError, match="minimum edge"):
        registry.decide(draw_bettor, home_bettor, prices=prices)
