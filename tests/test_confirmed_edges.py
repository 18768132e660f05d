"""Confirmed edges: the edge model's fit, its JSON, the walk-forward and the no-evidence rule."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from sabiscore_ml.betting.confirmed import (
    EdgeModel,
    edge_model_from_dict,
    edge_model_path,
    fit_edge_model,
    load_edge_model,
    save_edge_model,
    with_clv,
)
from sabiscore_ml.betting.edges import (
    SHARP_MARKET,
    PriceChoice,
    ValueBetRules,
    evidence_rules,
    match_edges,
)
from sabiscore_ml.betting.report import reliability_table, yield_check
from sabiscore_ml.betting.walk import (
    REFERENCE_RULES,
    confirmed_value_bets,
    kelly_runs,
    line_shopping_predictions,
)

SEASONS = ("2020-2021", "2021-2022", "2022-2023")
BOOKS = ("pinnacle", "b365", "bwin", "william_hill")


def synthetic(seed: int = 3, per_season: int = 400, shrink: float = 0.5):
    """Matches whose model is half signal: the close confirms about ``shrink`` of its edge.

    True probabilities ``q``; Pinnacle prices ``q`` with a 3 % margin before the
    close moves; the model claims ``q + (q - pinnacle) / shrink``-like noise.
    """
    rng = np.random.default_rng(seed)
    predictions, quotes, closing = [], [], []
    match_id = 0
    for s, season in enumerate(SEASONS):
        for k in range(per_season):
            match_id += 1
            day = dt.date(2020 + s, 8, 1) + dt.timedelta(days=k // 10)
            close = rng.dirichlet([5.0, 3.0, 3.5])  # the closing line: the truth here
            drift = rng.normal(0.0, 0.02, 3)
            pre = np.clip(close + drift - drift.mean(), 0.03, None)
            pre = pre / pre.sum()  # Pinnacle's pre-closing fair probabilities
            model = np.clip(
                close + (close - pre) * (1.0 / shrink - 1.0) + rng.normal(0, 0.02, 3), 0.02, None
            )
            model = model / model.sum()
            result = rng.choice(["H", "D", "A"], p=close)
            predictions.append(
                {
                    "date": day,
                    "league": "E0",
                    "season": season,
                    "match_id": match_id,
                    "home_team": f"h{match_id}",
                    "away_team": f"a{match_id}",
                    "result": str(result),
                    "p_home": float(model[0]),
                    "p_draw": float(model[1]),
                    "p_away": float(model[2]),
                }
            )
            for book in BOOKS:
                margin = 1.03 if book == "pinnacle" else float(rng.uniform(1.02, 1.08))
                noise = np.ones(3) if book == "pinnacle" else rng.uniform(0.97, 1.03, 3)
                prices = np.round(noise / (pre * margin), 2)
                for outcome, price in zip(("home", "draw", "away"), prices, strict=True):
                    quotes.append(
                        {
                            "match_id": match_id,
                            "market": "1x2",
                            "outcome": outcome,
                            "bookmaker": book,
                            "timing": "preclose",
                            "price": float(max(price, 1.01)),
                        }
                    )
            closing.append(
                {
                    "match_id": match_id,
                    "closing_source": "pinnacle",
                    "closing_home": float(1.0 / close[0]),
                    "closing_draw": float(1.0 / close[1]),
                    "closing_away": float(1.0 / close[2]),
                }
            )
    return pl.DataFrame(predictions), pl.DataFrame(quotes), pl.DataFrame(closing)


PREDICTIONS, QUOTES, CLOSING = synthetic()
RULES = ValueBetRules(edge_threshold=0.01, require_evidence=True)


def training_rows(n: int = 4000, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    stated = rng.uniform(0.0, 0.3, n)
    market = rng.uniform(-0.05, 0.1, n)
    price = rng.choice([1.4, 1.8, 2.5, 4.0, 7.0], n)
    p_market = (1.0 + market) / price
    clv = 0.002 + 0.15 * stated + 0.8 * market + rng.normal(0.0, 0.05, n)
    return pl.DataFrame(
        {
            "season": ["2020-2021"] * n,
            "edge": stated,
            "price": price,
            "p_market": p_market,
            "clv": clv,
        }
    )


def test_the_fit_recovers_how_much_of_each_edge_the_close_confirms():
    model = fit_edge_model(training_rows())
    assert model is not None
    assert model.overall.stated == pytest.approx(0.15, abs=0.02)
    assert model.overall.market == pytest.approx(0.8, abs=0.05)
    assert model.overall.intercept == pytest.approx(0.002, abs=0.004)
    # each price band is pulled towards the overall fit; every band has the same truth here
    for _, fit in model.bands:
        assert fit.stated == pytest.approx(0.15, abs=0.04)
    frame = pl.DataFrame({"edge": [0.2, None], "price": [2.5, 2.5], "p_market": [0.42, 0.42]})
    confirmed = model.confirmed(frame).to_list()
    assert confirmed[0] == pytest.approx(0.002 + 0.15 * 0.2 + 0.8 * (2.5 * 0.42 - 1.0), abs=0.01)
    assert confirmed[1] is None
    assert model.supported


def test_a_thin_band_borrows_from_the_others():
    rows = training_rows()
    rng = np.random.default_rng(5)
    # 30 long shots whose CLV is pure noise around zero: alone they would say anything
    thin = pl.DataFrame(
        {
            "season": ["2020-2021"] * 30,
            "edge": rng.uniform(0.0, 0.3, 30),
            "price": [12.0] * 30,
            "p_market": [0.08] * 30,
            "clv": rng.normal(0.0, 0.3, 30),
        }
    )
    model = fit_edge_model(pl.concat([rows, thin]))
    assert model is not None
    bands = dict(model.bands)
    assert abs(bands[">=5"].stated - model.overall.stated) < 0.05


def test_the_model_round_trips_through_json(tmp_path):
    model = fit_edge_model(training_rows())
    assert model is not None
    path = save_edge_model(model, edge_model_path(tmp_path), leagues=["E0"])
    assert path == tmp_path / "betting" / "edge_model.json"
    document = json.loads(path.read_text())
    assert document["context"] == {"leagues": ["E0"]} and document["format"] == 1
    again = load_edge_model(path)
    assert again == model
    assert edge_model_from_dict(model.to_dict()) == model
    assert load_edge_model(tmp_path / "nothing.json") is None


def test_no_evidence_means_no_value_bet_and_says_so(tmp_path):
    predictions = PREDICTIONS.head(30).select("match_id", "p_home", "p_draw", "p_away")
    quotes = QUOTES.filter(pl.col("match_id") <= 30)
    stated = match_edges(predictions, quotes, market_probability=SHARP_MARKET)
    assert stated["is_value"].any()
    # the live rules without a stored model: no value bet, and why
    rules = evidence_rules(0.01, tmp_path)
    assert rules.edge_model is None and not rules.edge_supported
    none = match_edges(predictions, quotes, rules=rules, market_probability=SHARP_MARKET)
    assert not none["is_value"].any()
    priced = none.filter(pl.col("price").is_not_null())
    assert set(priced["excluded_by"].to_list()) == {"no_evidence"}
    described = rules.describe(PriceChoice("best"), SHARP_MARKET)
    assert described["edge_supported"] is False
    assert described["excluded_by"][:2] == ["no_price", "no_evidence"]
    assert described["threshold_on"] == "confirmed_edge"
    # a model whose evidence is a loss: no support, no value bet either
    losing = training_rows().with_columns(pl.col("clv") - 0.2)
    bad = fit_edge_model(losing)
    assert bad is not None and not bad.supported
    rules = ValueBetRules(edge_threshold=-1.0, edge_model=bad, require_evidence=True)
    judged = match_edges(predictions, quotes, rules=rules, market_probability=SHARP_MARKET)
    assert not judged["is_value"].any()
    assert "does not support" in rules.describe()["evidence"]["statement"]
    # and a supporting model publishes value bets on its confirmed edge
    good = fit_edge_model(
        with_clv(
            match_edges(
                PREDICTIONS.select("match_id", "p_home", "p_draw", "p_away"),
                QUOTES,
                market_probability=SHARP_MARKET,
                rules=ValueBetRules(edge_threshold=0.0),
            ),
            CLOSING,
        )
        .filter(pl.col("edge") > 0)
        .with_columns(pl.lit("2020-2021").alias("season"))
    )
    assert isinstance(good, EdgeModel) and good.supported
    rules = ValueBetRules(edge_threshold=0.01, edge_model=good)
    judged = match_edges(predictions, quotes, rules=rules, market_probability=SHARP_MARKET)
    value = judged.filter(pl.col("is_value"))
    assert value.height and (value["confirmed_edge"] >= 0.01).all() and (value["edge"] > 0).all()
    assert value["p_confirmed"].to_list() == pytest.approx(
        ((1.0 + value["confirmed_edge"]) / value["price"]).to_list()
    )
    # the confirmed edge is much less than the stated one here (the model is half noise)
    assert value["confirmed_edge"].mean() < value["edge"].mean()


def test_each_season_uses_a_model_learned_on_earlier_seasons_only():
    bets, models = confirmed_value_bets(
        PREDICTIONS, QUOTES, CLOSING, rules=RULES, market_probability=SHARP_MARKET
    )
    assert [s for s, _ in models] == list(SEASONS)
    first, *later = models
    assert first[1] is None  # nothing earlier: no evidence, no bet
    for season, model in later:
        assert model is not None and model.seasons and max(model.seasons) < season
    assert models[1][1] is not None and models[1][1].seasons == (SEASONS[0],)
    seasons_bet = PREDICTIONS.filter(pl.col("match_id").is_in(bets["match_id"].to_list()))
    assert SEASONS[0] not in seasons_bet["season"].to_list()
    assert bets.height > 0 and (bets["confirmed_edge"] >= 0.01).all()

    # the last season's closing prices change nothing: no model ever saw them
    last_ids = PREDICTIONS.filter(pl.col("season") == SEASONS[-1])["match_id"]
    moved = CLOSING.with_columns(
        pl.when(pl.col("match_id").is_in(last_ids.to_list()))
        .then(pl.col(c) * 1.3)
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("closing_home", "closing_away")
    )
    again, _ = confirmed_value_bets(
        PREDICTIONS, QUOTES, moved, rules=RULES, market_probability=SHARP_MARKET
    )
    assert again.equals(bets)
    # the first season's do change the later seasons' confirmed edges
    first_ids = PREDICTIONS.filter(pl.col("season") == SEASONS[0])["match_id"]
    earlier = CLOSING.with_columns(
        pl.when(pl.col("match_id").is_in(first_ids.to_list()))
        .then(pl.col("closing_home") * 1.3)
        .otherwise(pl.col("closing_home"))
        .alias("closing_home")
    )
    changed, _ = confirmed_value_bets(
        PREDICTIONS, QUOTES, earlier, rules=RULES, market_probability=SHARP_MARKET
    )
    assert not changed.equals(bets)


def test_the_walk_reports_stated_against_confirmed_edges_beside_line_shopping():
    (run,) = kelly_runs(
        PREDICTIONS,
        QUOTES,
        CLOSING,
        multipliers=(0.125,),
        rules=RULES,
        market_probability=SHARP_MARKET,
        learn_edges=True,
    ).values()
    bets = run.bets
    assert bets.height and {"edge", "stated_edge"} <= set(bets.columns)
    assert (bets["stated_edge"] >= bets["edge"]).mean() > 0.9  # confirmed below stated
    assert run.summary.mean_stated_edge > run.summary.mean_edge
    table = reliability_table(run)
    assert table["bets"].sum() == bets.height
    assert {"stated_edge", "confirmed_edge", "clv_mean", "flat_roi"} <= set(table.columns)
    check = yield_check(run)
    assert check["expected"] == pytest.approx(run.summary.mean_edge)
    assert check["t"] == pytest.approx(
        (run.summary.flat_roi - run.summary.mean_edge) / run.summary.flat_roi_se
    )
    shopping = line_shopping_predictions(PREDICTIONS, QUOTES)
    assert shopping.height == PREDICTIONS.height
    (reference,) = kelly_runs(
        shopping,
        QUOTES,
        CLOSING,
        multipliers=(0.125,),
        rules=REFERENCE_RULES,
        market_probability=SHARP_MARKET,
    ).values()
    assert reference.bets.height > 0
    assert reference.bets["edge"].to_list() == pytest.approx(
        reference.bets["stated_edge"].to_list()
    )
