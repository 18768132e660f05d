"""The price layer on real quotes: its shape, best and average prices, and one price for all.

The Premier League 2023-24 sample (``samples/football-data/E0``) is loaded into
the ``warehouse`` fixture (SQLite and PostgreSQL).  Its first match, Burnley v
Man City on 11 August 2023, is quoted (pre-closing home / draw / away): Bet365
8 / 5.5 / 1.33, Bwin 8.75 / 5.25 / 1.34, Interwetten 8 / 5.5 / 1.35, Pinnacle
8.58 / 5.51 / 1.37, William Hill 8 / 5 / 1.25, BetVictor 9.5 / 5.25 / 1.33,
market maximum 9.5 / 5.68 / 1.39, market average 9.02 / 5.35 / 1.35; Pinnacle
closes at 9.62 / 5.81 / 1.33.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import SAMPLE_DIR
from sqlalchemy import Engine, select

from sabiscore_ml import prices
from sabiscore_ml.betting.backtest import market_predictions
from sabiscore_ml.betting.edges import PriceChoice, ValueBetRules
from sabiscore_ml.betting.walk import (
    REFERENCE_RULES,
    run_bankroll_backtest,
    uncapped_staking,
    value_bets,
)
from sabiscore_ml.jobs.football_data import ingest_football_data_file
from sabiscore_ml.jobs.predict import priced_edges
from sabiscore_ml.odds import METHODS, implied_probabilities
from sabiscore_ml.warehouse.models import Match

SEASON = "2023-2024"
BOOKS = {"b365", "bwin", "interwetten", "pinnacle", "william_hill", "bet_victor"}


@pytest.fixture
def e0(warehouse: Engine) -> Engine:
    """The 2023-24 Premier League sample in the warehouse."""
    outcome = ingest_football_data_file(SAMPLE_DIR / "E0" / f"{SEASON}.csv", engine=warehouse)
    assert outcome.ok, outcome.message
    return warehouse


def _first_match(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(Match.id).where(Match.match_date == dt.date(2023, 8, 11))
        ).scalar_one()


def test_quotes_come_in_one_long_shape(e0: Engine):
    burnley = _first_match(e0)
    long = prices.read_quotes(e0, [burnley], timings=(prices.PRECLOSE, prices.CLOSE))
    assert long.schema == pl.Schema(prices.QUOTE_SCHEMA)
    assert set(long["market"]) == {"1x2"} and set(long["outcome"]) == set(prices.OUTCOMES)
    assert set(long["bookmaker"]) == BOOKS | {"market_max", "market_avg"}
    assert long.group_by("timing").len().sort("timing").rows() == [("close", 24), ("preclose", 24)]
    close = long.filter(pl.col("bookmaker") == "pinnacle", pl.col("timing") == "close")
    assert dict(close.select("outcome", "price").rows()) == {
        "home": 9.62,
        "draw": 5.81,
        "away": 1.33,
    }

    wide = prices.preclose_prices(e0, [burnley])
    assert wide.columns == ["match_id", "bookmaker", "price_home", "price_draw", "price_away"]
    assert wide.height == 8 and wide.null_count().sum_horizontal().item() == 0
    pinnacle = wide.filter(pl.col("bookmaker") == "pinnacle")
    assert pinnacle.row(0)[2:] == (8.58, 5.51, 1.37)


def test_best_and_average_prices_of_a_real_match(e0: Engine):
    burnley = _first_match(e0)
    long = prices.read_quotes(e0, [burnley])
    best = {r["outcome"]: (r["price"], r["bookmaker"]) for r in prices.best_prices(long).to_dicts()}
    # 9.5 at BetVictor and as the market maximum: the named bookmaker is preferred
    assert best == {
        "home": (9.5, "bet_victor"),
        "draw": (5.68, "market_max"),
        "away": (1.39, "market_max"),
    }
    average = prices.average_prices(long).sort("outcome")
    assert average.select("outcome", "price", "bookmaker").rows() == [
        ("away", 1.35, "market_avg"),
        ("draw", 5.35, "market_avg"),
        ("home", 9.02, "market_avg"),
    ]
    # without the published average: the mean of the six bookmakers
    mean = prices.average_prices(long.filter(pl.col("bookmaker") != "market_avg"))
    home = mean.filter(pl.col("outcome") == "home").row(0, named=True)
    assert home["bookmaker"] == prices.MEAN
    assert home["price"] == pytest.approx((8 + 8.75 + 8 + 8.58 + 8 + 9.5) / 6)


@pytest.mark.parametrize("method", METHODS)
def test_margin_free_probabilities_by_every_method(e0: Engine, method: str):
    burnley = _first_match(e0)
    long = prices.read_quotes(e0, [burnley], timings=(prices.CLOSE,))
    fair = prices.market_probabilities(long, "pinnacle", prices.CLOSE, method)
    expected = implied_probabilities([9.62, 5.81, 1.33], method).probabilities
    assert fair.columns == ["match_id", "p_home", "p_draw", "p_away"]
    assert fair.row(0)[1:] == tuple(expected)
    # a bookmaker that quoted nothing at that timing gives no row
    assert prices.market_probabilities(long, "pinnacle", prices.PRECLOSE, method).is_empty()


def test_live_predictions_and_the_backtest_take_the_same_prices(e0: Engine):
    # the market strategy on the season's real prices: Pinnacle's pre-closing
    # probabilities, every outcome priced above them a bet
    predictions = market_predictions(e0, ["E0"], [SEASON])
    assert predictions.height == 380
    ids = predictions["match_id"].to_list()
    choice = PriceChoice("best")
    live = priced_edges(
        e0,
        predictions.select(
            "match_id",
            pl.col("date").alias("match_date"),
            pl.col("league").alias("league_code"),
            "p_home",
            "p_draw",
            "p_away",
        ),
        choice,
        REFERENCE_RULES,
    )
    backtest = run_bankroll_backtest(
        predictions,
        prices.preclose_prices(e0, ids),
        prices.closing_fair_prices(e0, ids),
        price_choice=choice,
        rules=REFERENCE_RULES,
        staking=uncapped_staking(0.25),
    )
    bets = backtest.bets.select("match_id", "outcome", "bookmaker", "price")
    assert bets.height > 100
    on_offer = live.filter(pl.col("is_value")).select("match_id", "outcome", "bookmaker", "price")
    # every bet placed is an edge the live path finds, at the same price from the same book
    taken = bets.join(on_offer, on=["match_id", "outcome"], how="left", suffix="_live")
    assert taken["price_live"].null_count() == 0
    assert taken["price"].to_list() == taken["price_live"].to_list()
    assert taken["bookmaker"].to_list() == taken["bookmaker_live"].to_list()
    # and the backtest's prices are those of the live edges for every match and outcome
    every = live.select("match_id", "outcome", "bookmaker", "price").sort("match_id", "outcome")
    rules = ValueBetRules(-1.0, min_probability=0.0, max_price=1000.0, min_bookmakers=0)
    candidates = value_bets(predictions, prices.preclose_prices(e0, ids), rules=rules)
    walked = candidates.select("match_id", "outcome", "bookmaker", "price").sort(
        "match_id", "outcome"
    )
    assert walked.equals(every.filter(pl.col("price").is_not_null()))


def test_the_promotion_takes_the_best_price_and_the_margin_free_close(e0: Engine):
    from sabiscore_ml.jobs.training import promotion_prices
    from sabiscore_ml.models import registry

    burnley = _first_match(e0)
    frame = promotion_prices(e0, [burnley, 10**9])  # the second is no match: all null
    assert frame.columns == ["match_id", *registry.BET_PRICE_COLUMNS, *registry.CLOSE_COLUMNS]
    assert frame["match_id"].to_list() == [burnley, 10**9]
    row = frame.row(0, named=True)
    assert (row["price_home"], row["price_draw"], row["price_away"]) == (9.5, 5.68, 1.39)
    inverse = {"home": 1 / 9.62, "draw": 1 / 5.81, "away": 1 / 1.33}  # Pinnacle's close
    for outcome, q in inverse.items():
        assert row[f"p_close_{outcome}"] == pytest.approx(q / sum(inverse.values()))
    assert frame.row(1)[1:] == (None,) * 6
    # a value bet on the away win at 1.39 (edge 0.8 × 1.39 − 1 = +11.2%): its CLV is the
    # walk's, price / margin-free closing price − 1
    p = registry.value_bet_clv(
        [[0.1, 0.1, 0.8]],
        frame.select(registry.BET_PRICE_COLUMNS).head(1).to_numpy(),
        frame.select(registry.CLOSE_COLUMNS).head(1).to_numpy(),
        ValueBetRules.edge_threshold,
    )
    closing = prices.closing_fair_prices(e0, [burnley]).row(0, named=True)
    assert closing["closing_source"] == "pinnacle"
    assert p.tolist() == [pytest.approx(1.39 / closing["closing_away"] - 1)]
