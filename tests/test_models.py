"""Scores, estimators and walk-forward evaluation on simulated and hand-computed cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone

from sabiscore_ml.models import estimators as E
from sabiscore_ml.models.data import TrainingSet
from sabiscore_ml.models.metrics import (
    expected_calibration_error,
    log_loss_per_match,
    outcome_index,
    paired_difference,
    rps_per_match,
    score,
)
from sabiscore_ml.models.walkforward import walk_forward

# --- metrics -------------------------------------------------------------------------


def test_rps_hand_computed():
    probs = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [1.0, 0.0, 0.0]])
    outcome = np.array([0, 2, 0])
    # home win: cumulative (0.5, 0.8) vs (1, 1): ((0.5)^2 + (0.2)^2) / 2 = 0.145
    # away win: (0.5, 0.8) vs (0, 0): (0.25 + 0.64) / 2 = 0.445
    np.testing.assert_allclose(rps_per_match(probs, outcome), [0.145, 0.445, 0.0])


def test_log_loss_and_labels():
    probs = np.array([[0.5, 0.25, 0.25]])
    assert log_loss_per_match(probs, outcome_index(["D"]))[0] == pytest.approx(np.log(4))
    with pytest.raises(ValueError, match="'X' is not one of H, D, A"):
        outcome_index(["H", "X"])


def test_calibration_error_zero_when_frequencies_match_and_large_when_not():
    outcome = np.array([0] * 50 + [1] * 25 + [2] * 25)
    calibrated = np.tile([0.5, 0.25, 0.25], (100, 1))
    assert expected_calibration_error(calibrated, outcome) == pytest.approx(0.0, abs=1e-12)
    overconfident = np.tile([0.95, 0.03, 0.02], (100, 1))
    assert expected_calibration_error(overconfident, outcome) > 0.25


def test_paired_difference_standard_error():
    a = np.array([0.2, 0.3, 0.25, 0.22])
    b = a - np.array([0.01, 0.03, 0.02, 0.02])
    diff = paired_difference(a, b)
    assert diff.n == 4 and diff.mean == pytest.approx(0.02)
    assert diff.se == pytest.approx(np.std([0.01, 0.03, 0.02, 0.02], ddof=1) / 2)
    with_nan = paired_difference(np.append(a, np.nan), np.append(b, 0.1))
    assert with_nan.n == 4


# --- a simulated league: strengths drive goals, a market knows them ------------------


def _simulated(n: int = 3000, seed: int = 7) -> TrainingSet:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 0.35, size=(n, 2))
    lam_h = np.exp(0.25 + strength[:, 0] - strength[:, 1])
    lam_a = np.exp(strength[:, 1] - strength[:, 0])
    hg, ag = rng.poisson(lam_h), rng.poisson(lam_a)
    result = np.where(hg > ag, "H", np.where(hg == ag, "D", "A"))
    from sabiscore_ml.models.score_grid import score_grid_probabilities

    fair = score_grid_probabilities(lam_h, lam_a, 0.0)
    start = dt.date(2010, 8, 1)
    dates = [start + dt.timedelta(days=int(d)) for d in np.sort(rng.integers(0, 365 * 6, n))]
    seasons = [f"{d.year - (d.month < 7)}-{d.year - (d.month < 7) + 1}" for d in dates]
    frame = pl.DataFrame(
        {
            "match_id": np.arange(n),
            "league_code": ["E0"] * n,
            "season_code": seasons,
            "match_date": dates,
            "home_team_id": np.zeros(n, dtype=np.int64),
            "away_team_id": np.ones(n, dtype=np.int64),
            "home_goals": hg,
            "away_goals": ag,
            "result": result,
            "elo_diff": 400 * (strength[:, 0] - strength[:, 1]) / 0.7,
            "elo_home_advantage": np.full(n, 60.0),
            "strength_home": strength[:, 0],
            "strength_away": strength[:, 1],
            "noise": rng.normal(size=n),
            "mkt_pinnacle_p_home": fair["p_home"],
            "mkt_pinnacle_p_draw": fair["p_draw"],
            "mkt_pinnacle_p_away": fair["p_away"],
            "dc_p_home": fair["p_home"],
            "dc_p_draw": fair["p_draw"],
            "dc_p_away": fair["p_away"],
        }
    )
    features = tuple(
        c
        for c in frame.columns
        if c
        not in (
            "match_id",
            "league_code",
            "season_code",
            "match_date",
            "home_team_id",
            "away_team_id",
            "home_goals",
            "away_goals",
            "result",
        )
    )
    return TrainingSet(frame, features)


@pytest.fixture(scope="module")
def league() -> TrainingSet:
    return _simulated()


SMALL = dict(
    rf_params={"n_estimators": 30, "n_jobs": 1},
    xgb_params={"n_estimators": 40, "n_jobs": 1},
    lgbm_params={"n_estimators": 40, "n_jobs": 1},
)


@pytest.mark.parametrize(
    "model",
    [
        E.MarketImplied(),
        E.EloOrderedLogit(),
        E.DixonColes(),
        E.TreeEnsemble(**SMALL),
        E.TreeEnsemble(members=("rf", "xgb", "lgbm"), weights="design", **SMALL),
        E.CalibratedModel(E.TreeEnsemble(**SMALL), "isotonic"),
        E.CalibratedModel(E.TreeEnsemble(**SMALL), "sigmoid"),
        E.CalibratedModel(E.TreeEnsemble(**SMALL), "temperature"),
    ],
    ids=lambda m: type(m).__name__ + getattr(m, "method", "") * isinstance(m, E.CalibratedModel),
)
def test_estimator_contract_and_skill(league, model):
    train, test = league.where(pl.col("match_id") < 2400), league.where(pl.col("match_id") >= 2400)
    cloned = clone(model)
    assert cloned.get_params().keys() == model.get_params().keys()
    assert cloned.fit(train.X(), train.y()) is cloned
    assert list(cloned.classes_) == ["H", "D", "A"]
    probs = cloned.predict_proba(test.X())
    assert probs.shape == (test.height, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert (probs > 0).all()
    outcome = outcome_index(test.y())
    base_rate = np.bincount(outcome_index(train.y()), minlength=3) / train.height
    skill = score(probs, outcome).rps
    assert skill < score(np.tile(base_rate, (test.height, 1)), outcome).rps - 0.01
    assert set(cloned.predict(test.X())) <= {"H", "D", "A"}


def test_fixed_weights_must_cover_members(league):
    model = E.TreeEnsemble(members=("rf", "xgb"), weights="design", **SMALL)
    with pytest.raises(ValueError, match="must cover exactly the members"):
        model.fit(league.X(), league.y())


def test_stacking_learns_to_trust_the_informed_member(league):
    """With a market that knows the true rates, the stack scores like it, not like the trees."""
    train, test = league.where(pl.col("match_id") < 2400), league.where(pl.col("match_id") >= 2400)
    model = E.TreeEnsemble(members=("xgb", "market"), **SMALL).fit(train.X(), train.y())
    outcome = outcome_index(test.y())
    parts = model.member_probabilities(test.X())
    stacked = score(model.predict_proba(test.X()), outcome).rps
    market, trees = score(parts["market"], outcome).rps, score(parts["xgb"], outcome).rps
    assert market < trees
    assert stacked < trees and stacked - market < (trees - market) / 2


def test_ordered_logit_recovers_the_direction(league):
    model = E.EloOrderedLogit().fit(league.X(), league.y())
    beta, c1, log_gap = model.params_
    assert beta > 0.5 and np.exp(log_gap) > 0
    strong = pd.DataFrame({"elo_diff": [300.0], "elo_home_advantage": [60.0]})
    weak = pd.DataFrame({"elo_diff": [-300.0], "elo_home_advantage": [60.0]})
    assert model.predict_proba(strong)[0, 0] > 0.6 > model.predict_proba(weak)[0, 0]


def test_market_falls_back_to_frequencies_where_no_book_quoted(league):
    model = E.MarketImplied().fit(league.X(), league.y())
    X = league.X().head(3).copy()
    X.loc[1, ["mkt_pinnacle_p_home", "mkt_pinnacle_p_draw", "mkt_pinnacle_p_away"]] = np.nan
    probs = model.predict_proba(X)
    np.testing.assert_allclose(probs[1], model.prior_, atol=1e-6)
    np.testing.assert_allclose(probs[0], X.iloc[0, -6:-3].to_numpy(float), atol=1e-6)


def test_calibration_slice_is_later_than_the_trees(league):
    model = E.CalibratedModel(
        E.TreeEnsemble(members=("lgbm",), weights={"lgbm": 1}, **SMALL),
        "isotonic",
        calibration_fraction=0.25,
    ).fit(league.X(), league.y())
    assert model.base_.members_["lgbm"].n_features_in_ == len(league.features)
    # the base model saw the first 75% only: its training size says so
    assert model.base_.members_["lgbm"]._n_classes == 3
    recalibrated = model.recalibrate(league.X().tail(500), league.y()[-500:], "temperature")
    assert recalibrated.base_ is model.base_ and recalibrated.calibrator_ is not model.calibrator_
    assert model.calibrator_.method == "isotonic"


def test_goals_model_gives_consistent_markets(league):
    model = E.GoalsModel(lgbm_params={"n_estimators": 60, "n_jobs": 1})
    model.fit(league.X(), league.goals())
    markets = model.predict_markets(league.X().head(200))
    np.testing.assert_allclose(markets[["p_home", "p_draw", "p_away"]].sum(axis=1), 1.0)
    assert ((markets["p_over25"] > 0) & (markets["p_over25"] < 1)).all()
    # more expected goals, more overs
    order = np.argsort(markets["lambda_home"] + markets["lambda_away"])
    assert (
        markets["p_over25"].iloc[order[-20:]].mean() > markets["p_over25"].iloc[order[:20]].mean()
    )
    with pytest.raises(ValueError, match=r"\(n, 2\) array"):
        E.GoalsModel().fit(league.X(), league.y())


def test_a_bundle_publishes_every_market_from_one_grid(league):
    """The 1X2 is the outcome model's; the goals markets and correct scores are its grid's."""
    import json

    from sabiscore_ml.models.bundle import OUTPUT_COLUMNS, ModelBundle
    from sabiscore_ml.publish import PublishedRun
    from sabiscore_ml.publish.contract import correct_score_markets

    train, test = league.frame.head(2500), league.frame.tail(300)
    features = tuple(f for f in league.features if not f.startswith(("mkt_", "dc_")))
    outcome = E.CalibratedModel(
        E.TreeEnsemble(members=("lgbm",), weights={"lgbm": 1}, **SMALL), method=None
    ).fit(league.X(train)[list(features)], league.y(train))
    goals = E.GoalsModel(lgbm_params={"n_estimators": 60, "n_jobs": 1}).fit(
        league.X(train)[list(features)], league.goals(train)
    )
    bundle = ModelBundle(
        features=features,
        outcome=outcome,
        goals=goals,
        catalog_version="test",
        trained_until=train["match_date"].max(),
        trained_at=dt.datetime(2024, 1, 1),
    )
    out = bundle.predict(test)
    assert list(out.columns) == [*OUTPUT_COLUMNS, "correct_score"]
    X = bundle.matrix(test)
    ensemble = outcome.predict_proba(X)
    gap = np.abs(out[["p_home", "p_draw", "p_away"]].to_numpy() - ensemble).max(axis=1)
    # matched wherever the grid can reach (a draw rarer than rates up to 4.5 give cannot be)
    assert (gap < 1e-9).mean() > 0.95
    far = gap >= 1e-9
    assert (out["p_draw"].to_numpy()[far] > ensemble[far, 1]).all()
    # the goals model's own markets contradict the ensemble's 1X2; the bundle's do not
    own = goals.predict_markets(X)
    assert np.abs(own["p_home"].to_numpy() - ensemble[:, 0]).max() > 0.02
    assert not np.allclose(out["xg_home"], own["lambda_home"], atol=1e-3)
    for _, row in out.iterrows():
        grid = json.loads(row["correct_score"])
        assert sum(grid.values()) == pytest.approx(1.0, abs=1e-12)
        for market, value in correct_score_markets(grid).items():
            assert value == pytest.approx(row[market], abs=1e-12), market
    # ... and the publisher, which refuses contradicting markets, takes them as they are
    predictions = test.select("match_id", "league_code", "season_code", "match_date").with_columns(
        *(pl.Series(c, out[c].to_numpy()) for c in out.columns),
        pl.lit("Home").alias("home_team"),
        pl.lit("Away").alias("away_team"),
    )
    run = PublishedRun(
        "r-1", "m", "1", dt.datetime(2024, 1, 1), dt.date(2024, 1, 1), "live",
        predictions, pl.DataFrame(), pl.DataFrame(),
    )  # fmt: skip
    assert all(p["correct_score"] for p in run.records.predictions)

    without_goals = ModelBundle(
        features, outcome, None, "test", train["match_date"].max(), dt.datetime(2024, 1, 1)
    ).predict(test)
    np.testing.assert_allclose(without_goals[["p_home", "p_draw", "p_away"]], ensemble)
    assert without_goals["p_over25"].isna().all() and without_goals["correct_score"].isna().all()


# --- walk-forward --------------------------------------------------------------------


@pytest.mark.parametrize("step", ["season", "matchweek"])
def test_walk_forward_never_trains_on_the_predicted_block(league, step):
    seen = []

    class Spy(E.EloOrderedLogit):
        def fit(self, X, y):
            seen.append(len(X))
            return super().fit(X, y)

    seasons = ["2014-2015", "2015-2016"]
    preds = walk_forward(league, Spy, leagues=["E0"], seasons=seasons, step=step)
    expected = league.frame.filter(pl.col("season_code").is_in(seasons))
    assert preds.height == expected.height
    assert preds["match_id"].sort().to_list() == expected["match_id"].sort().to_list()
    assert (preds["trained_until"] < preds["match_date"]).all()
    week = pl.col("match_date").dt.truncate("1w")
    blocks = 2 if step == "season" else preds.select("season_code", week).n_unique()
    assert len(seen) == blocks
    assert seen == sorted(seen)  # expanding window


def test_walk_forward_refuses_too_little_history(league):
    with pytest.raises(ValueError, match="too little history"):
        walk_forward(league, E.EloOrderedLogit, leagues=["E0"], seasons=["2010-2011"])
