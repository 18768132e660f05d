"""The market-anchored 1X2 ensemble: it learns the market's error, explains each match."""

from __future__ import annotations

import datetime as dt
import pickle

import joblib
import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from test_models import _simulated

from sabiscore_ml.models import estimators as E
from sabiscore_ml.models.bundle import ModelBundle
from sabiscore_ml.models.config import ModelConfig
from sabiscore_ml.models.metrics import outcome_index, score
from sabiscore_ml.models.walkforward import walk_forward

MARKET = ["mkt_pinnacle_p_home", "mkt_pinnacle_p_draw", "mkt_pinnacle_p_away"]
DC = ["dc_p_home", "dc_p_draw", "dc_p_away"]
SMALL = dict(
    rf_params={"n_estimators": 20, "n_jobs": 1},
    xgb_params={"n_estimators": 60, "n_jobs": 1},
    lgbm_params={"n_estimators": 60, "n_jobs": 1},
)


@pytest.fixture(scope="module")
def league():
    return _simulated()


def _split(league):
    return league.where(pl.col("match_id") < 2400), league.where(pl.col("match_id") >= 2400)


def _biased(league, shift: float = 0.6):
    """The market underrates the home side by a known amount on the ``noise`` feature."""
    X = league.frame
    probs = X.select(MARKET).to_numpy()
    logp = np.log(probs)
    logp[:, 0] -= shift * (X["noise"].to_numpy() > 0)
    biased = np.exp(logp) / np.exp(logp).sum(axis=1, keepdims=True)
    frame = X.with_columns(pl.Series(c, biased[:, k]) for k, c in enumerate(MARKET))
    return type(league)(frame, league.features)


@pytest.fixture(scope="module")
def fitted(league):
    train, _ = _split(league)
    return E.AnchoredEnsemble(**SMALL).fit(train.X(), train.y())


def test_contract_clone_and_pickle(league, fitted):
    _, test = _split(league)
    model = E.AnchoredEnsemble(**SMALL)
    assert clone(model).get_params().keys() == model.get_params().keys()
    assert list(fitted.classes_) == ["H", "D", "A"]
    probs = fitted.predict_proba(test.X())
    assert probs.shape == (test.height, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict_proba(test.X()), probs)


def test_a_zero_correction_returns_the_market(league):
    """Boosters that cannot move (a vanishing learning rate) give the market's probabilities."""
    train, test = _split(league)
    still = {"learning_rate": 1e-9, "n_estimators": 5, "n_jobs": 1}
    model = E.AnchoredEnsemble(members=("xgb", "lgbm"), xgb_params=still, lgbm_params=still)
    model.fit(train.X(), train.y())
    parts = model.member_probabilities(test.X())
    market = test.X()[MARKET].to_numpy()
    for name in ("xgb", "lgbm"):
        np.testing.assert_allclose(parts[name], market, atol=1e-6)
    np.testing.assert_allclose(parts["market"], market, atol=1e-9)


def test_stays_close_to_a_market_that_is_exactly_right(league, fitted):
    _, test = _split(league)
    outcome = outcome_index(test.y())
    market = test.X()[MARKET].to_numpy()
    probs = fitted.predict_proba(test.X())
    assert np.abs(probs - market).mean() < 0.02
    assert score(probs, outcome).rps - score(market, outcome).rps < 0.002


def test_learns_what_the_market_misses(league):
    """A market biased on a visible feature is corrected, so the model beats it."""
    biased = _biased(league)
    train, test = _split(biased)
    model = E.AnchoredEnsemble(**SMALL).fit(train.X(), train.y())
    outcome = outcome_index(test.y())
    market = test.X()[MARKET].to_numpy()
    assert score(model.predict_proba(test.X()), outcome).rps < score(market, outcome).rps - 0.002


@pytest.mark.parametrize("dixon_coles", [True, False])
def test_matches_without_prices_still_get_a_forecast(league, dixon_coles):
    frame = league.frame.with_columns(
        pl.when(pl.col("match_id") % 3 == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c in MARKET
    )
    if not dixon_coles:
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias(c) for c in DC)
    league = type(league)(frame, league.features)
    train, test = _split(league)
    model = E.AnchoredEnsemble(**SMALL).fit(train.X(), train.y())
    X = test.X()
    X[MARKET] = np.nan
    probs = model.predict_proba(X)
    assert not np.isnan(probs).any() and (probs > 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert not model.baseline_.quoted(X).any()
    baseline = model.baseline_.predict_proba(X)
    if dixon_coles:
        np.testing.assert_allclose(baseline, X[DC].to_numpy(), atol=1e-6)
        outcome = outcome_index(test.y())
        prior = np.tile(model.baseline_.prior_, (len(X), 1))
        assert score(probs, outcome).rps < score(prior, outcome).rps - 0.01
    else:
        np.testing.assert_allclose(baseline, np.tile(model.baseline_.prior_, (len(X), 1)))


def test_booster_contributions_reproduce_its_correction(league, fitted):
    _, test = _split(league)
    X = test.X()
    base = fitted.baseline_.log_proba(X)
    parts = fitted.member_probabilities(X)
    for name in ("xgb", "lgbm"):
        per, bias = fitted.booster_contributions(name, X)
        assert per.shape == (len(X), len(test.features), 3)
        rebuilt = np.exp(base + per.sum(axis=1) + bias)
        rebuilt /= rebuilt.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(rebuilt, parts[name], atol=1e-5)
        assert np.abs(per).sum() > 0


def test_contributions_are_the_pooled_boosters(league):
    train, test = _split(_biased(league))
    model = E.CalibratedModel(
        E.AnchoredEnsemble(members=("lgbm",), lgbm_params=SMALL["lgbm_params"]), "temperature"
    ).fit(train.X(), train.y())
    X = test.X()
    baseline, per, rest = model.contributions(X)
    ensemble = model.base_
    booster, _ = ensemble.booster_contributions("lgbm", X)
    weight = dict(zip(ensemble.pool_names_, ensemble.meta_.weights_, strict=True))["lgbm"]
    expected = weight * (booster - booster.mean(axis=2, keepdims=True))
    np.testing.assert_allclose(per, expected / model.calibrator_.temperature_, atol=1e-9)
    logp = np.log(model.predict_proba(X))
    centred = logp - logp.mean(axis=1, keepdims=True)
    logb = np.log(baseline)
    np.testing.assert_allclose(
        logb - logb.mean(axis=1, keepdims=True) + per.sum(axis=1) + rest, centred, atol=1e-9
    )
    # the feature the market is wrong on drives the correction most
    noise = list(test.features).index("noise")
    assert np.abs(per).sum(axis=(0, 2)).argmax() == noise


def _bundle(league, config: ModelConfig) -> ModelBundle:
    train, _ = _split(league)
    model = config.outcome_model().fit(train.X(), train.y())
    return ModelBundle(
        features=tuple(league.features),
        outcome=model,
        goals=None,
        catalog_version="test",
        trained_until=dt.date(2016, 1, 1),
        trained_at=dt.datetime(2016, 1, 1),
    )


def test_bundle_explains_each_match_its_own_way(league, tmp_path):
    biased = _biased(league)
    config = ModelConfig(anchor="market", **SMALL, goals=False)
    bundle = _bundle(biased, config)
    _, test = _split(biased)
    rows = test.frame.head(40)
    explained = bundle.explain(rows, top=3)
    assert len(explained) == 40
    first = explained[0]
    assert set(first) == {"baseline", "drivers", "rest"}
    assert len(first["drivers"]) == 3
    assert set(first["drivers"][0]) == {"feature", "value", "contribution"}
    np.testing.assert_allclose(
        [first["baseline"][f"p_{s}"] for s in ("home", "draw", "away")],
        rows.select(MARKET).row(0),
        atol=1e-6,
    )
    drivers = [[(d["feature"], d["contribution"]["home"]) for d in e["drivers"]] for e in explained]
    assert len({tuple(d) for d in drivers}) > 1
    sizes = [max(abs(v) for v in d["contribution"].values()) for d in first["drivers"]]
    assert sizes == sorted(sizes, reverse=True)
    # a match the market underrates at home is pushed home by ``noise``
    for row, e in zip(rows.iter_rows(named=True), explained, strict=True):
        moves = {d["feature"]: d["contribution"]["home"] for d in e["drivers"]}
        if "noise" in moves and abs(row["noise"]) > 0.5:
            assert (moves["noise"] > 0) == (row["noise"] > 0)
    predictions = bundle.predict(rows)
    assert list(predictions.columns[:3]) == ["p_home", "p_draw", "p_away"]
    loaded = ModelBundle.load(bundle.save(tmp_path / "bundle.joblib"))
    np.testing.assert_allclose(loaded.predict(rows)[["p_home"]], predictions[["p_home"]])
    assert joblib.load(tmp_path / "bundle.joblib").explain(rows, top=3) == explained


def test_unanchored_bundle_has_no_per_match_explanation(league):
    bundle = _bundle(league, ModelConfig(anchor=None, **SMALL, goals=False))
    with pytest.raises(TypeError, match="no per-match contributions"):
        bundle.explain(league.frame.head(3))


def test_config_builds_and_logs_the_anchor():
    config = ModelConfig(anchor="market")
    assert isinstance(config.outcome_model().base, E.AnchoredEnsemble)
    assert config.outcome_model().base.n_folds == 1
    assert ModelConfig(anchor=None).outcome_model().base.n_folds == 2
    assert isinstance(ModelConfig().outcome_model().base, E.AnchoredEnsemble)
    assert ModelConfig(weights="design").anchor is None
    assert config.as_params()["anchor"] == "market"
    assert isinstance(ModelConfig(anchor=None).outcome_model().base, E.TreeEnsemble)
    with pytest.raises(ValueError, match="anchor must be"):
        ModelConfig(anchor="closing")


def test_walk_forward_never_trains_the_anchored_model_on_its_block(league):
    seen = []

    class Spy(E.AnchoredEnsemble):
        def fit(self, X, y):
            seen.append((len(X), X.index.max()))
            return super().fit(X, y)

    seasons = ["2014-2015", "2015-2016"]
    preds = walk_forward(league, lambda: Spy(**SMALL), leagues=["E0"], seasons=seasons)
    assert (preds["trained_until"] < preds["match_date"]).all()
    for season, (rows, _) in zip(seasons, seen, strict=True):
        start = league.frame.filter(pl.col("season_code") == season)["match_date"].min()
        assert rows == league.frame.filter(pl.col("match_date") < start).height


def test_published_drivers_are_each_matchs_own(league):
    import json

    from sabiscore_ml.jobs.predict import DRIVERS, _drivers

    biased = _biased(league)
    bundle = _bundle(biased, ModelConfig(anchor="market", **SMALL, goals=False))
    rows = biased.frame.tail(5)
    published = [json.loads(d) for d in _drivers(bundle, rows)]
    assert len(published) == 5 and all(len(p) == DRIVERS for p in published)
    assert set(published[0][0]) == {"feature", "value", "contribution"}
    assert set(published[0][0]["contribution"]) == {"home", "draw", "away"}
    assert published[0] != published[1]
    unanchored = _bundle(league, ModelConfig(anchor=None, **SMALL, goals=False))
    same = [json.loads(d) for d in _drivers(unanchored, rows)]
    assert [d["feature"] for d in same[0]] == [d["feature"] for d in same[1]]
    assert "importance" in same[0][0]


DAEMONIC_PROBE = """
import json, multiprocessing as mp, warnings

def fit(queue):
    import numpy as np
    import pandas as pd
    from sabiscore_ml.models import estimators as E

    market_columns = MARKET_COLUMNS
    rng = np.random.default_rng(3)
    n = 600
    market = rng.dirichlet([4.0, 2.5, 3.0], size=n)
    X = pd.DataFrame(market, columns=market_columns).assign(
        a=rng.normal(size=n), b=rng.normal(size=n)
    )
    y = np.array(["H", "D", "A"])[[rng.choice(3, p=p) for p in market]]
    params = dict(
        rf_params={"n_estimators": 8, "n_jobs": 2},
        xgb_params={"n_estimators": 30, "n_jobs": 1},
        lgbm_params={"n_estimators": 30, "n_jobs": 1},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        E.AnchoredEnsemble(**params).fit(X, y).predict_proba(X)
    queue.put([str(w.message) for w in caught if "multiprocessing" in str(w.message)])

def guarded(queue):
    try:
        fit(queue)
    except BaseException:
        import traceback

        queue.put({"error": traceback.format_exc()})

if __name__ == "__main__":
    mp.set_start_method("fork")
    queue = mp.Queue()
    child = mp.Process(target=guarded, args=(queue,), daemon=True)  # a Celery pool process
    child.start()
    print(json.dumps(queue.get(timeout=150)))
    child.join(timeout=30)
""".replace("MARKET_COLUMNS", repr(MARKET))


def test_the_anchored_forest_keeps_its_threads_in_a_daemonic_process(tmp_path) -> None:
    """A Celery pool process is daemonic: joblib's processes are refused there, threads are not.

    The daemonic child is forked from a fresh interpreter, as a Celery worker forks its pool,
    not from the test process, whose OpenMP threads a fork cannot carry.
    """
    import json
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(DAEMONIC_PROBE)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    warned = json.loads(done.stdout.strip().splitlines()[-1])
    assert not isinstance(warned, dict), warned["error"]
    assert warned == []
