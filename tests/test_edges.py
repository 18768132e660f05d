"""Edges of model probabilities at the prices on offer, and value-bet rules."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest

from sabiscore_ml.betting.edges import (
    MarketProbability,
    PriceChoice,
    ValueBetRules,
    match_edges,
)
from sabiscore_ml.betting.kelly import StakingRules, size_stakes
from sabiscore_ml.odds import implied_probabilities

DAY = dt.date(2024, 4, 6)

PREDICTIONS = pl.DataFrame(
    {
        "match_id": [10, 20],
        "match_date": [DAY, DAY],
        "league_code": ["E0", "E0"],
        "p_home": [0.52, 0.30],
        "p_draw": [0.27, 0.28],
        "p_away": [0.21, 0.42],
    }
)

# Match 10: three books and both aggregates.  Match 20: two books, no aggregates,
# Pinnacle without a home price.
PRICES = pl.DataFrame(
    {
        "match_id": [10, 10, 10, 10, 10, 20, 20],
        "bookmaker": [
            "pinnacle",
            "b365",
            "william_hill",
            "market_max",
            "market_avg",
            "pinnacle",
            "b365",
        ],
        "price_home": [2.05, 2.00, 2.10, 2.10, 2.02, None, 3.40],
        "price_draw": [3.60, 3.50, 3.40, 3.70, 3.50, 3.50, 3.30],
        "price_away": [3.90, 4.00, 3.80, 4.10, 3.90, 2.30, 2.25],
    }
)

LOOSE = ValueBetRules(edge_threshold=0.042, min_probability=0.0, max_price=100.0, min_bookmakers=0)


def row(frame: pl.DataFrame, match_id: int, outcome: str) -> dict:
    (found,) = frame.filter((pl.col("match_id") == match_id) & (pl.col("outcome") == outcome)).rows(
        named=True
    )
    return found


def test_best_price_and_who_quotes_it():
    edges = match_edges(PREDICTIONS, PRICES, price_choice=PriceChoice("best"), rules=LOOSE)
    assert edges.height == 6
    assert edges.select("match_id", "outcome").rows() == [
        (10, "home"),
        (10, "draw"),
        (10, "away"),
        (20, "home"),
        (20, "draw"),
        (20, "away"),
    ]
    # home: William Hill equals the market maximum; a bookmaker one can bet with wins the tie
    assert (row(edges, 10, "home")["price"], row(edges, 10, "home")["bookmaker"]) == (
        2.10,
        "william_hill",
    )
    assert (row(edges, 10, "draw")["price"], row(edges, 10, "draw")["bookmaker"]) == (
        3.70,
        "market_max",
    )
    # no aggregates for match 20: the best bookmaker
    assert (row(edges, 20, "home")["price"], row(edges, 20, "home")["bookmaker"]) == (3.40, "b365")
    assert (row(edges, 20, "away")["price"], row(edges, 20, "away")["bookmaker"]) == (
        2.30,
        "pinnacle",
    )


def test_edge_definitions():
    edges = match_edges(PREDICTIONS, PRICES, rules=LOOSE)  # best price, avg market
    home = row(edges, 10, "home")
    assert home["edge"] == pytest.approx(0.52 * 2.10 - 1)
    # market probability: multiplicative on the market average 2.02 / 3.50 / 3.90
    inverse = [1 / 2.02, 1 / 3.50, 1 / 3.90]
    assert home["p_market"] == pytest.approx(inverse[0] / sum(inverse))
    assert home["prob_edge"] == pytest.approx(0.52 - inverse[0] / sum(inverse))
    assert home["is_value"]  # 0.092 >= 0.042
    draw = row(edges, 10, "draw")
    assert draw["edge"] == pytest.approx(0.27 * 3.70 - 1)  # -0.001: no value
    assert not draw["is_value"]
    # match 20 has no market average: the mean of the bookmakers' prices
    inverse = [1 / 3.40, 1 / 3.40, 1 / 2.275]
    assert row(edges, 20, "away")["p_market"] == pytest.approx(inverse[2] / sum(inverse))


def test_bookmakers_quoting_leave_out_the_aggregates():
    edges = match_edges(PREDICTIONS, PRICES, rules=LOOSE)
    counts = dict(
        zip(edges["outcome"] + edges["match_id"].cast(str), edges["n_bookmakers"], strict=True)
    )
    assert counts == {
        "home10": 3,
        "draw10": 3,
        "away10": 3,
        "home20": 1,  # Pinnacle has no home price
        "draw20": 2,
        "away20": 2,
    }


def test_average_and_named_prices():
    avg = match_edges(PREDICTIONS, PRICES, price_choice=PriceChoice("avg"), rules=LOOSE)
    assert (row(avg, 10, "home")["price"], row(avg, 10, "home")["bookmaker"]) == (
        2.02,
        "market_avg",
    )
    assert row(avg, 20, "draw")["price"] == pytest.approx(3.40)
    assert row(avg, 20, "draw")["bookmaker"] == "avg"
    pinnacle = match_edges(PREDICTIONS, PRICES, price_choice=PriceChoice("pinnacle"), rules=LOOSE)
    assert row(pinnacle, 10, "away")["price"] == 3.90
    missing = row(pinnacle, 20, "home")
    assert missing["price"] is None and missing["edge"] is None and not missing["is_value"]


def test_market_probability_sources_and_methods():
    consensus = match_edges(
        PREDICTIONS, PRICES, market_probability=MarketProbability("consensus"), rules=LOOSE
    )
    books = [[2.05, 3.60, 3.90], [2.00, 3.50, 4.00], [2.10, 3.40, 3.80]]
    expected = sum((1 / b[0]) / sum(1 / o for o in b) for b in books) / 3
    assert row(consensus, 10, "home")["p_market"] == pytest.approx(expected)
    # match 20: only b365 quotes all three outcomes
    b365 = [3.40, 3.30, 2.25]
    assert row(consensus, 20, "away")["p_market"] == pytest.approx(
        (1 / 2.25) / sum(1 / o for o in b365)
    )

    shin = match_edges(
        PREDICTIONS,
        PRICES,
        market_probability=MarketProbability("pinnacle", method="shin"),
        rules=LOOSE,
    )
    p = implied_probabilities([2.05, 3.60, 3.90], "shin").probabilities
    assert [row(shin, 10, o)["p_market"] for o in ("home", "draw", "away")] == pytest.approx(p)
    assert row(shin, 20, "home")["p_market"] is None  # Pinnacle's 1X2 is incomplete
    with pytest.raises(ValueError):
        MarketProbability("best")
    with pytest.raises(ValueError):
        MarketProbability("avg", method="basic")


@pytest.mark.parametrize(
    "rules, value, excluded_by, rule_value",
    [
        (LOOSE, True, None, None),
        (
            ValueBetRules(edge_threshold=0.10, min_probability=0.0, min_bookmakers=0),
            False,
            "edge_threshold",
            0.10,
        ),
        (ValueBetRules(min_probability=0.55, min_bookmakers=0), False, "min_probability", 0.55),
        (ValueBetRules(max_price=2.05, min_bookmakers=0), False, "max_price", 2.05),
        (ValueBetRules(min_bookmakers=4), False, "min_bookmakers", 4.0),
        # defaults: 0.042, p >= 0.10, price <= 10, 3 bookmakers
        (ValueBetRules(), True, None, None),
    ],
)
def test_value_bet_guards(rules, value, excluded_by, rule_value):
    edges = match_edges(PREDICTIONS, PRICES, rules=rules)
    home = row(edges, 10, "home")
    assert home["is_value"] is value
    assert (home["excluded_by"], home["rule_value"]) == (excluded_by, rule_value)


def test_every_outcome_that_is_no_value_bet_names_the_rule_excluding_it():
    predictions = pl.DataFrame(
        {
            "match_id": [1, 2],
            "p_home": [0.55, 0.30],
            "p_draw": [0.3528, 0.28],
            "p_away": [0.0972, 0.42],
        }
    )
    prices = pl.DataFrame(
        {
            "match_id": [1, 1, 1, 2],
            "bookmaker": ["pinnacle", "b365", "bwin", "pinnacle"],
            "price_home": [1.70, 1.72, 1.71, None],
            "price_draw": [3.40, 3.45, 3.42, 3.50],
            "price_away": [13.0, 12.5, 12.0, 2.80],
        }
    )
    edges = match_edges(predictions, prices)
    reasons = {
        (r["match_id"], r["outcome"]): (r["is_value"], r["excluded_by"], r["rule_value"])
        for r in edges.iter_rows(named=True)
    }
    # 0.0972 x 13 - 1 = +26.4%: no value bet, and the price guard is why.
    assert row(edges, 1, "away")["edge"] == pytest.approx(0.2636)
    assert reasons[1, "away"] == (False, "max_price", 10.0)
    assert reasons[1, "home"] == (False, "edge_threshold", 0.042)  # 0.55 x 1.72 - 1 < 0
    assert reasons[1, "draw"] == (True, None, None)  # 0.3528 x 3.45 - 1 = +21.7%
    assert reasons[2, "home"] == (False, "no_price", None)
    assert reasons[2, "away"] == (False, "min_bookmakers", 3.0)  # one bookmaker quoting
    rules = ValueBetRules().describe(PriceChoice("best"))
    assert rules["max_price"] == 10.0 and rules["price"] == "best"
    assert rules["excluded_by"] == [
        "no_price",
        "edge_threshold",
        "max_price",
        "min_probability",
        "min_bookmakers",
    ]


def test_guards_on_long_shots():
    predictions = pl.DataFrame(
        {"match_id": [1], "p_home": [0.86], "p_draw": [0.08], "p_away": [0.06]}
    )
    prices = pl.DataFrame(
        {
            "match_id": [1] * 3,
            "bookmaker": ["pinnacle", "b365", "bwin"],
            "price_home": [1.15, 1.14, 1.16],
            "price_draw": [14.0, 15.0, 13.0],
            "price_away": [21.0, 19.0, 20.0],
        }
    )
    edges = match_edges(predictions, prices)
    # the draw at 15.0 has a 20% edge, but at 8% and a price above 10 it is no value bet
    assert row(edges, 1, "draw")["edge"] == pytest.approx(0.2)
    assert not edges["is_value"].any()


def test_pandas_in_pandas_out():
    edges = match_edges(PREDICTIONS.to_pandas(), PRICES.to_pandas(), rules=LOOSE)
    assert isinstance(edges, pd.DataFrame)
    polars_edges = match_edges(PREDICTIONS, PRICES, rules=LOOSE)
    assert edges["edge"].tolist() == pytest.approx(polars_edges["edge"].to_list())


def test_bad_inputs():
    with pytest.raises(ValueError, match="predictions lack"):
        match_edges(PREDICTIONS.drop("p_draw"), PRICES)
    with pytest.raises(ValueError, match="prices lack"):
        match_edges(PREDICTIONS, PRICES.drop("bookmaker"))
    with pytest.raises(ValueError, match="two rows for one match and bookmaker"):
        match_edges(PREDICTIONS, pl.concat([PRICES, PRICES.head(1)]))
    with pytest.raises(TypeError):
        match_edges({"match_id": [1]}, PRICES)


def test_two_way_market():
    predictions = pl.DataFrame({"match_id": [5], "p_over": [0.60], "p_under": [0.40]})
    prices = pl.DataFrame(
        {
            "match_id": [5, 5],
            "bookmaker": ["pinnacle", "b365"],
            "price_over": [1.85, 1.80],
            "price_under": [2.05, 2.10],
        }
    )
    edges = match_edges(
        predictions,
        prices,
        outcomes=("over", "under"),
        market="ou",
        market_probability=MarketProbability("pinnacle", "power"),
        rules=LOOSE,
    )
    assert edges["outcome"].to_list() == ["over", "under"]
    assert set(edges["market"]) == {"ou"}
    assert row(edges, 5, "over")["edge"] == pytest.approx(0.6 * 1.85 - 1)
    p = implied_probabilities([1.85, 2.05], "power").probabilities
    assert row(edges, 5, "over")["p_market"] == pytest.approx(p[0])


def test_edges_feed_the_staking():
    edges = match_edges(PREDICTIONS, PRICES)
    result = size_stakes(edges, 1000.0, 1000.0, StakingRules(min_stake=0.0))
    (stake,) = result.stakes  # match 10 home is the only value bet
    assert (stake.match_id, stake.outcome, stake.bookmaker, stake.price) == (
        10,
        "home",
        "william_hill",
        2.10,
    )
    assert stake.edge == pytest.approx(0.092)
    assert stake.league_code == "E0" and stake.match_date == DAY
    # full Kelly 0.092 / 1.1, an eighth of it, of 1000
    assert stake.stake == pytest.approx(1000 * 0.092 / 1.1 / 8, abs=0.01)


def long_quotes(prices: pl.DataFrame, timing: str = "preclose") -> pl.DataFrame:
    """``prices`` in the long shape of the price layer (a row per quote, none where null)."""
    return (
        prices.unpivot(index=["match_id", "bookmaker"], variable_name="outcome", value_name="price")
        .drop_nulls("price")
        .with_columns(
            pl.col("outcome").str.strip_prefix("price_"),
            pl.lit("1x2").alias("market"),
            pl.lit(timing).alias("timing"),
        )
        .select("match_id", "market", "outcome", "bookmaker", "timing", "price")
    )


@pytest.mark.parametrize("price", ["best", "avg", "pinnacle"])
@pytest.mark.parametrize("market", ["avg", "consensus", "pinnacle"])
def test_long_quotes_give_the_edges_of_the_prices_per_bookmaker(price: str, market: str):
    # the live path gives the price layer's long quotes; a frame per bookmaker, the same numbers
    chosen = {
        "price_choice": PriceChoice(price),
        "market_probability": MarketProbability(market, "shin"),
        "rules": LOOSE,
    }
    wide = match_edges(PREDICTIONS, PRICES, **chosen)
    long = match_edges(PREDICTIONS, long_quotes(PRICES), **chosen)
    assert long.equals(wide)
    # quotes of another market are not this one's
    other = long_quotes(PRICES).with_columns(pl.lit("ou").alias("market"))
    mixed = pl.concat([long_quotes(PRICES), other])
    assert match_edges(PREDICTIONS, mixed, **chosen).equals(wide)


def test_long_quotes_are_checked():
    with pytest.raises(ValueError, match="closing prices never choose a bet"):
        match_edges(PREDICTIONS, long_quotes(PRICES, "close"))
    with pytest.raises(ValueError, match="two quotes for one outcome"):
        quotes = long_quotes(PRICES)
        match_edges(PREDICTIONS, pl.concat([quotes, quotes.head(1)]))
    with pytest.raises(ValueError, match="prices lack"):
        match_edges(PREDICTIONS, long_quotes(PRICES).drop("bookmaker"))
