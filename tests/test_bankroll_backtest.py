"""The bankroll backtest: a walk by hand, its invariants, the warehouse readers, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest
from conftest import SAMPLE_DIR
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from sabiscore_ml.betting.backtest import log_to_mlflow, market_predictions, read_predictions
from sabiscore_ml.betting.confirmed import load_edge_model
from sabiscore_ml.betting.edges import PriceChoice, ValueBetRules
from sabiscore_ml.betting.kelly import DrawdownThrottle, StakingRules
from sabiscore_ml.betting.report import (
    CLAIMED_GROWTH,
    CLAIMED_MAX_DRAWDOWN,
    bankroll_figure,
    claim_comparison,
    claim_lines,
    group_table,
)
from sabiscore_ml.betting.walk import (
    BET_COLUMNS,
    REFERENCE_RULES,
    edge_bands,
    kelly_runs,
    pinnacle_preclose_predictions,
    price_bands,
    run_bankroll_backtest,
    uncapped_staking,
)
from sabiscore_ml.cli import app
from sabiscore_ml.prices import closing_fair_prices, preclose_prices
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import Match, Odds, RawFile, Season, Team

# --- a walk by hand --------------------------------------------------------------------
#
# Five matchdays, seven matches.  Stakes are 0.6 × full Kelly, no caps, to the cent:
#   day 1  m1 E0  home  p 0.5 at 2.2: Kelly 0.1/1.2 = 1/12 -> 0.05 × 1000 = 50.00, H: +60.00
#          m2 SP1 away  p 0.5 at 2.5: Kelly 0.25/1.5 = 1/6 -> 0.10 × 1000 = 100.00, H: -100.00
#          (both placed on 1000 before either settles)                       bankroll 960.00
#   day 2  m3 E0  draw  p 0.3 at 4.0: Kelly 0.2/3 -> 0.04 × 960 = 38.40, D: +115.20   1075.20
#   day 3  m4 no edge anywhere; m5 no pre-closing price at all: no bet            1075.20
#   day 4  m6 E0  home  p 0.5 at 2.5: 0.10 × 1075.20 = 107.52, A: -107.52           967.68
#   day 5  m7 E0  home  p 0.5 at 2.5: 0.10 × 967.68 = 96.768 -> 96.76, D: -96.76    870.92
# Closing (fair = price × overround): 1.9/3.8/3.8 has overround 20/19, fair 2.0/4.0/4.0.
#   m1 Pinnacle: fair home 2.0, CLV 2.2/2.0 - 1 = 0.10
#   m2 market average only (3.8/3.8/1.9): fair away 2.0, CLV 0.25
#   m3 Pinnacle and market average: Pinnacle's fair draw 4.0, CLV 0.00
#   m6 no closing price: no CLV
#   m7 Pinnacle: fair home 2.0, CLV 0.25

D1, D2, D3, D4, D5 = (dt.date(2024, 1, 6) + dt.timedelta(weeks=k) for k in range(5))
SEASON = "2023-2024"

PREDICTIONS = pl.DataFrame(
    {
        "date": [D1, D1, D2, D3, D3, D4, D5],
        "league": ["E0", "SP1", "E0", "E0", "E0", "E0", "E0"],
        "season": [SEASON] * 7,
        "home_team": ["A", "B", "C", "D", "E", "F", "G"],
        "away_team": ["a", "b", "c", "d", "e", "f", "g"],
        "home_goals": [2, 1, 1, 0, 3, 0, 1],
        "away_goals": [0, 0, 1, 1, 0, 2, 1],
        "p_home": [0.5, 0.25, 0.4, 0.5, 0.6, 0.5, 0.5],
        "p_draw": [0.3, 0.25, 0.3, 0.3, 0.2, 0.25, 0.25],
        "p_away": [0.2, 0.5, 0.3, 0.2, 0.2, 0.25, 0.25],
        "match_id": [1, 2, 3, 4, 5, 6, 7],
        "result": ["H", "H", "D", "A", "H", "A", "D"],
    }
)
PRICES = pl.DataFrame(
    {
        "match_id": [1, 2, 3, 4, 6, 7],
        "bookmaker": ["b365"] * 6,
        "price_home": [2.2, 3.5, 2.0, 1.9, 2.5, 2.5],
        "price_draw": [3.0, 3.5, 4.0, 3.2, 3.5, 3.5],
        "price_away": [4.0, 2.5, 3.0, 4.5, 3.5, 3.5],
    }
)
FAIR = (2.0, 4.0, 4.0)
CLOSING = pl.DataFrame(
    {
        "match_id": [1, 2, 3, 7],
        "closing_source": ["pinnacle", "market_avg", "pinnacle", "pinnacle"],
        "closing_home": [FAIR[0], FAIR[1], FAIR[0], FAIR[0]],
        "closing_draw": [FAIR[1], FAIR[1], FAIR[1], FAIR[1]],
        "closing_away": [FAIR[2], FAIR[0], FAIR[2], FAIR[2]],
    }
)
RULES = ValueBetRules(edge_threshold=0.042, min_probability=0.0, min_bookmakers=0)
STAKING = StakingRules(
    kelly_multiplier=0.6,
    max_stake_per_bet=None,
    max_stake_per_matchday=None,
    max_stake_per_league=None,
    min_stake=0.0,
    stake_step=0.01,
    drawdown_throttle=None,
)


def hand_run(closing: pl.DataFrame | None = CLOSING, **changes):
    options = {"price_choice": PriceChoice("best"), "rules": RULES, "staking": STAKING} | changes
    return run_bankroll_backtest(PREDICTIONS, PRICES, closing, **options)


def test_stakes_pnl_and_bankroll_path_by_hand():
    result = hand_run()
    bets = result.bets
    assert list(bets.columns) == list(BET_COLUMNS)
    assert bets.select("match_id", "outcome").rows() == [
        (1, "home"),
        (2, "away"),
        (3, "draw"),
        (6, "home"),
        (7, "home"),
    ]
    assert bets["stake"].to_list() == pytest.approx([50.0, 100.0, 38.40, 107.52, 96.76])
    assert bets["pnl"].to_list() == pytest.approx([60.0, -100.0, 115.20, -107.52, -96.76])
    assert bets["won"].to_list() == [True, False, True, False, False]
    # both bets of day 1 are sized on the same 1000
    assert bets["bankroll_before"].to_list() == pytest.approx(
        [1000.0, 1000.0, 960.0, 1075.20, 967.68]
    )
    assert bets["kelly_fraction"].to_list() == pytest.approx([1 / 12, 1 / 6, 0.2 / 3, 1 / 6, 1 / 6])
    assert bets["edge"].to_list() == pytest.approx([0.1, 0.25, 0.2, 0.25, 0.25])
    assert bets["league"].to_list() == ["E0", "SP1", "E0", "E0", "E0"]
    assert bets["home_team"].to_list() == ["A", "B", "C", "F", "G"]

    curve = result.curve
    assert curve["date"].to_list() == [D1, D2, D3, D4, D5]
    assert curve["bankroll"].to_list() == pytest.approx([960.0, 1075.20, 1075.20, 967.68, 870.92])
    assert curve["peak"].to_list() == pytest.approx([1000.0, 1075.20, 1075.20, 1075.20, 1075.20])
    assert curve["drawdown"].to_list() == pytest.approx([0.04, 0.0, 0.0, 0.1, 1 - 870.92 / 1075.20])
    assert curve["bets"].to_list() == [2, 1, 0, 1, 1]


def test_summary_by_hand():
    s = hand_run().summary
    assert (s.bets, s.value_bets, s.matchdays, s.seasons) == (5, 5, 5, 1)
    assert s.final_bankroll == pytest.approx(870.92)
    assert s.turnover == pytest.approx(392.68)
    assert s.profit == pytest.approx(-129.08)
    assert s.roi == pytest.approx(-129.08 / 392.68)
    # one unit on each: +1.2, -1, +3, -1, -1
    assert s.flat_roi == pytest.approx(0.24)
    assert s.log_growth == pytest.approx(math.log(0.87092))
    assert s.growth_per_season == pytest.approx(-0.12908)
    assert s.max_drawdown == pytest.approx(1 - 870.92 / 1075.20)
    # under water after days 1, 4 and 5: the longest run is days 4-5 (27 Jan to 3 Feb)
    assert (s.longest_under_water, s.longest_under_water_days) == (2, 8)
    assert s.under_water_share == pytest.approx(3 / 5)
    assert s.hit_rate == pytest.approx(2 / 5)
    assert s.mean_price == pytest.approx((2.2 + 2.5 + 4.0 + 2.5 + 2.5) / 5)
    assert s.mean_edge == pytest.approx((0.1 + 0.25 + 0.2 + 0.25 + 0.25) / 5)


def test_clv_by_hand():
    result = hand_run()
    bets = result.bets
    assert bets["closing_price"].to_list() == pytest.approx([2.0, 2.0, 4.0, None, 2.0])
    assert bets["closing_source"].to_list() == [
        "pinnacle",
        "market_avg",
        "pinnacle",
        None,
        "pinnacle",
    ]
    assert bets["clv"].to_list()[:3] == pytest.approx([0.1, 0.25, 0.0])
    assert bets["clv"][3] is None and bets["clv"][4] == pytest.approx(0.25)
    clv = np.array([0.1, 0.25, 0.0, 0.25])
    assert result.summary.clv_bets == 4
    assert result.summary.clv_mean == pytest.approx(0.15)
    assert result.summary.clv_se == pytest.approx(clv.std(ddof=1) / 2)


def test_groups_by_hand():
    result = hand_run()
    leagues = group_table(result, "league")
    assert leagues.select("league", "bets").rows() == [("E0", 4), ("SP1", 1)]
    e0 = leagues.row(0, named=True)
    assert e0["turnover"] == pytest.approx(50 + 38.4 + 107.52 + 96.76)
    assert e0["profit"] == pytest.approx(60 + 115.2 - 107.52 - 96.76)
    assert e0["clv_mean"] == pytest.approx((0.1 + 0.0 + 0.25) / 3)
    # edges 0.1, 0.25, 0.2 - 2e-17 (0.3 × 4.0 - 1 in floating point), 0.25, 0.25
    edges = group_table(result, "edge_band")
    assert edges.select("edge_band", "bets").rows() == [("[0.1,0.2)", 2), (">=0.2", 3)]
    prices = group_table(result, "price_band")
    assert prices.select("price_band", "bets").rows() == [("[2,3)", 4), ("[3,5)", 1)]
    season = group_table(result, "season").row(0, named=True)
    assert season["bankroll_start"] == 1000.0
    assert season["bankroll_end"] == pytest.approx(870.92)
    assert season["growth"] == pytest.approx(-0.12908)
    assert season["season_max_drawdown"] == pytest.approx(1 - 870.92 / 1075.20)
    assert group_table(result, "bookmaker")["bookmaker"].to_list() == ["b365"]
    with pytest.raises(ValueError, match="unknown group"):
        group_table(result, "team")


def test_bands_are_left_closed():
    edges = pl.Series([-0.01, 0.0, 0.0099, 0.02, 0.042, 0.0599, 0.1, 0.2, 3.0])
    assert edge_bands(edges).to_list() == [
        "<0",
        "[0,0.01)",
        "[0,0.01)",
        "[0.02,0.042)",
        "[0.042,0.06)",
        "[0.042,0.06)",
        "[0.1,0.2)",
        ">=0.2",
        ">=0.2",
    ]
    prices = pl.Series([1.01, 1.5, 1.99, 2.0, 3.0, 4.99, 5.0, 12.0])
    assert price_bands(prices).to_list() == [
        "[1,1.5)",
        "[1.5,2)",
        "[1.5,2)",
        "[2,3)",
        "[3,5)",
        "[3,5)",
        ">=5",
        ">=5",
    ]


def test_the_drawdown_throttle_stops_the_walk_and_resumes_on_the_record():
    # full Kelly: day 1 stakes 1/12 + 1/6 of 1000 (83.33 + 166.66), m2 loses: drawdown 6.7 %;
    # with stop_at 0.05 nothing is staked on day 2, and day 2 shows the throttle at 0
    throttle = DrawdownThrottle(reduce_at=0.05, factor=0.5, stop_at=0.05)
    result = hand_run(staking=replace(STAKING, kelly_multiplier=1.0, drawdown_throttle=throttle))
    curve = result.curve
    assert curve["bets"].to_list()[:2] == [2, 0]
    assert curve["throttle"].to_list()[:2] == [1.0, 0.0]
    assert result.bets["stake"].to_list()[:2] == pytest.approx([83.33, 166.66])
    # day 2's draw (Kelly 0.2/3, halved) is followed on paper and wins +10 %: the record is
    # back above its peak, so day 4 bets again (the stop is not absorbing); m6 loses 1/6 of
    # the bankroll and day 5 is stopped again
    assert curve["throttle"].to_list() == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert curve["bets"].to_list() == [2, 0, 0, 1, 0]
    assert result.bets["match_id"].to_list() == [1, 2, 6]
    assert result.summary.throttled_matchdays == 2


def test_caps_and_minimum_stake_apply_to_each_matchday():
    staking = replace(STAKING, max_stake_per_bet=0.06, min_stake=45.0)
    result = hand_run(staking=staking)
    # day 1: 50 stays, 100 capped at 60 (+60 - 60); day 2: 0.04 × 1000 = 40 is below the
    # minimum, dropped; days 4 and 5: 0.06 × 1000 and 0.06 × 940, both lost
    assert result.bets.select("match_id", "stake").rows() == [
        (1, 50.0),
        (2, 60.0),
        (6, 60.0),
        (7, 56.40),
    ]
    assert result.curve["bankroll"].to_list() == pytest.approx([1000, 1000, 1000, 940, 883.60])
    assert result.summary.value_bets == 5 and result.summary.bets == 4


# --- invariants ------------------------------------------------------------------------


def synthetic(seed: int = 7, n_days: int = 12, per_day: int = 6):
    """Random matches over two leagues, several books, some matches without any price."""
    rng = np.random.default_rng(seed)
    rows, quotes, closing = [], [], []
    match_id = 0
    for day in range(n_days):
        date = dt.date(2023, 8, 5) + dt.timedelta(days=3 * day)
        for _ in range(per_day):
            match_id += 1
            p = rng.dirichlet([4.0, 2.5, 3.0])
            result = "HDA"[rng.choice(3, p=p)]
            league = "E0" if rng.random() < 0.5 else "I1"
            rows.append(
                {
                    "date": date,
                    "league": league,
                    "season": "2023-2024" if day < 8 else "2024-2025",
                    "match_id": match_id,
                    "home_team": f"h{match_id}",
                    "away_team": f"a{match_id}",
                    "p_home": float(p[0]),
                    "p_draw": float(p[1]),
                    "p_away": float(p[2]),
                    "result": result,
                }
            )
            if match_id % 7 == 0:
                continue  # no pre-closing price at all
            for book in ("pinnacle", "b365", "bwin", "market_max"):
                noise = rng.normal(0.0, 0.06, 3)
                price = 1.0 / (p * 1.05) * np.exp(noise)
                quotes.append(
                    {
                        "match_id": match_id,
                        "bookmaker": book,
                        "price_home": float(max(price[0], 1.01)),
                        "price_draw": float(max(price[1], 1.01)),
                        "price_away": float(max(price[2], 1.01)),
                    }
                )
            fair = 1.0 / p * np.exp(rng.normal(0.0, 0.03, 3))
            closing.append(
                {
                    "match_id": match_id,
                    "closing_source": "pinnacle",
                    "closing_home": float(fair[0]),
                    "closing_draw": float(fair[1]),
                    "closing_away": float(fair[2]),
                }
            )
    return pl.DataFrame(rows), pl.DataFrame(quotes), pl.DataFrame(closing)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_on_random_seasons(seed: int):
    predictions, prices, closing = synthetic(seed)
    staking = StakingRules(kelly_multiplier=0.5, min_stake=2.0)
    rules = ValueBetRules(edge_threshold=0.02, min_bookmakers=2)
    result = run_bankroll_backtest(
        predictions, prices, closing, rules=rules, staking=staking, starting_bankroll=500.0
    )
    bets = result.bets
    assert bets.height > 10
    # stakes: positive, at least the minimum, within the caps of the bankroll they were sized on
    assert (bets["stake"] >= staking.min_stake).all()
    assert (bets["stake"] <= staking.max_stake_per_bet * bets["bankroll_before"] + 1e-9).all()
    per_day = bets.group_by("date").agg(pl.col("stake").sum(), pl.col("bankroll_before").first())
    assert (
        per_day["stake"] <= staking.max_stake_per_matchday * per_day["bankroll_before"] + 1e-9
    ).all()
    per_league = bets.group_by("date", "league").agg(
        pl.col("stake").sum(), pl.col("bankroll_before").first()
    )
    assert (
        per_league["stake"] <= staking.max_stake_per_league * per_league["bankroll_before"] + 1e-9
    ).all()
    # one sizing per matchday: every bet of a day is sized on the same bankroll
    assert (
        bets.group_by("date").agg(pl.col("bankroll_before").n_unique())["bankroll_before"].max()
        == 1
    )
    # settled with the result
    won = bets["outcome"].replace_strict({"home": "H", "draw": "D", "away": "A"}) == bets["result"]
    assert (bets["won"] == won).all()
    expected = np.where(won, bets["stake"] * (bets["price"] - 1.0), -bets["stake"])
    assert bets["pnl"].to_numpy() == pytest.approx(expected)
    # the bankroll adds up
    assert result.summary.final_bankroll == pytest.approx(500.0 + bets["pnl"].sum())
    assert result.curve["bankroll"][-1] == pytest.approx(500.0 + bets["pnl"].sum())
    assert result.summary.max_drawdown == pytest.approx(result.curve["drawdown"].max())
    # no bet without a pre-closing price
    assert not set(bets["match_id"]) - set(prices["match_id"])
    assert not {m for m in bets["match_id"] if m % 7 == 0}
    # every day of the predictions is a matchday of the curve
    assert result.curve["date"].to_list() == sorted(set(predictions["date"]))


def test_closing_prices_change_the_clv_only():
    predictions, prices, closing = synthetic(5)
    first = run_bankroll_backtest(predictions, prices, closing)
    shifted = closing.with_columns(pl.col("closing_home", "closing_draw", "closing_away") * 1.3)
    second = run_bankroll_backtest(predictions, prices, shifted)
    third = run_bankroll_backtest(predictions, prices, None)
    kept = [c for c in BET_COLUMNS if c not in ("closing_price", "clv", "closing_source")]
    assert first.bets.height > 5
    assert first.bets.select(kept).equals(second.bets.select(kept))
    assert first.bets.select(kept).equals(third.bets.select(kept))
    assert first.curve.equals(second.curve)
    assert second.bets["clv"].to_numpy() == pytest.approx(
        (first.bets["clv"].to_numpy() + 1.0) / 1.3 - 1.0
    )
    assert third.bets["clv"].null_count() == third.bets.height
    assert math.isnan(third.summary.clv_mean)


def test_deterministic_and_order_free():
    predictions, prices, closing = synthetic(9)
    first = run_bankroll_backtest(predictions, prices, closing)
    shuffled = run_bankroll_backtest(
        predictions.sample(fraction=1.0, shuffle=True, seed=3),
        prices.sample(fraction=1.0, shuffle=True, seed=4),
        closing.sample(fraction=1.0, shuffle=True, seed=5),
    )
    assert first.bets.equals(shuffled.bets)
    assert first.curve.equals(shuffled.curve)
    assert first.summary == shuffled.summary


def test_kelly_runs_walk_the_same_value_bets():
    predictions, prices, closing = synthetic(11)
    runs = kelly_runs(
        predictions,
        prices,
        closing,
        multipliers=(0.125, 1.0, 0.25, 0.125),
        rules=REFERENCE_RULES,
        staking=uncapped_staking(0.125),
    )
    assert list(runs) == [0.125, 1.0, 0.25]
    keys = {k: run.bets.select("match_id", "outcome") for k, run in runs.items()}
    assert keys[0.125].equals(keys[1.0]) and keys[0.25].equals(keys[1.0])
    # stakes scale with the multiplier on the first matchday (same bankroll)
    first_day = runs[1.0].bets["date"].min()
    full = runs[1.0].bets.filter(pl.col("date") == first_day)["stake"].to_numpy()
    quarter = runs[0.25].bets.filter(pl.col("date") == first_day)["stake"].to_numpy()
    assert quarter == pytest.approx(full / 4, abs=1e-5)
    assert runs[1.0].summary.max_drawdown > runs[0.125].summary.max_drawdown

    table = claim_comparison(runs)
    assert table["staking"].to_list() == ["1/8 Kelly", "full Kelly", "1/4 Kelly"]
    row = table.row(1, named=True)
    s = runs[1.0].summary
    assert row["growth_per_season"] == pytest.approx(s.growth_per_season)
    assert row["total_growth"] == pytest.approx(s.final_bankroll / s.starting_bankroll - 1)
    assert row["max_drawdown"] == pytest.approx(s.max_drawdown)
    assert (row["claimed_growth_per_season"], row["claimed_max_drawdown"]) == (
        CLAIMED_GROWTH,
        CLAIMED_MAX_DRAWDOWN,
    )
    seasons = group_table(runs[1.0], "season")
    assert row["worst_season"] == pytest.approx(seasons["growth"].min())
    lines = claim_lines(table)
    assert lines[0].startswith("design claim: +18% ") and "-9% maximum drawdown" in lines[0]
    assert len(lines) == 4 and "full Kelly" in lines[2]


def test_predictions_in_other_shapes(tmp_path: Path):
    # the walk-forward frame's names, pandas, goals instead of a result, CSV and Parquet files
    frame = PREDICTIONS.rename(
        {"date": "match_date", "league": "league_code", "season": "season_code"}
    ).drop("result")
    base = hand_run()
    assert hand_run_with(frame).bets.equals(base.bets)
    assert hand_run_with(frame.to_pandas()).bets.equals(base.bets)
    PREDICTIONS.write_csv(tmp_path / "p.csv")
    frame.write_parquet(tmp_path / "p.parquet")
    for path in (tmp_path / "p.csv", tmp_path / "p.parquet"):
        read = read_predictions(path, leagues=["E0"], seasons=[SEASON])
        assert set(read["league"]) == {"E0"}
        assert hand_run_with(read).bets["league"].to_list() == ["E0"] * 4


def hand_run_with(predictions):
    return run_bankroll_backtest(
        predictions, PRICES, CLOSING, price_choice=PriceChoice("best"), rules=RULES, staking=STAKING
    )


def test_market_strategy_from_a_model_file():
    frame = PREDICTIONS.with_columns(
        pl.lit(0.5).alias("pinnacle_preclose_p_home"),
        pl.lit(0.3).alias("pinnacle_preclose_p_draw"),
        pl.lit(0.2).alias("pinnacle_preclose_p_away"),
    )
    market = pinnacle_preclose_predictions(frame)
    assert market["p_home"].to_list() == [0.5] * 7
    with pytest.raises(ValueError, match="pinnacle_preclose"):
        pinnacle_preclose_predictions(PREDICTIONS)


# --- warehouse readers -----------------------------------------------------------------


def seed(engine: Engine) -> None:
    """The hand-computed matches in a warehouse, with pre-closing and closing quotes."""
    sha = "0" * 64
    with engine.begin() as connection:
        connection.execute(
            insert(RawFile),
            [
                {
                    "sha256": sha,
                    "source": "test",
                    "uri": "test",
                    "size_bytes": 0,
                    "archive_path": "test",
                    "first_seen_at": dt.datetime(2024, 1, 1),
                }
            ],
        )
        connection.execute(insert(Season), [{"code": SEASON, "start_year": 2023}])
        teams = []
        for i, row in enumerate(PREDICTIONS.iter_rows(named=True)):
            country = "England" if row["league"] == "E0" else "Spain"
            teams += [
                {"id": 100 + 2 * i, "country": country, "name": row["home_team"]},
                {"id": 101 + 2 * i, "country": country, "name": row["away_team"]},
            ]
        connection.execute(insert(Team), teams)
        connection.execute(
            insert(Match),
            [
                {
                    "id": row["match_id"],
                    "league_code": row["league"],
                    "season_code": SEASON,
                    "match_date": row["date"],
                    "home_team_id": 100 + 2 * i,
                    "away_team_id": 101 + 2 * i,
                    "home_goals": row["home_goals"],
                    "away_goals": row["away_goals"],
                    "result": row["result"],
                    "raw_sha256": sha,
                }
                for i, row in enumerate(PREDICTIONS.iter_rows(named=True))
            ],
        )
        odds = []

        def quote(match_id, book, timing, prices):
            for outcome, price in zip(("home", "draw", "away"), prices, strict=True):
                odds.append(
                    {
                        "match_id": match_id,
                        "bookmaker": book,
                        "market": "1x2",
                        "timing": timing,
                        "line": 0.0,
                        "outcome": outcome,
                        "price": price,
                        "raw_sha256": sha,
                    }
                )

        for row in PRICES.iter_rows(named=True):
            quote(
                row["match_id"],
                "b365",
                "preclose",
                (row["price_home"], row["price_draw"], row["price_away"]),
            )
        # Pinnacle pre-closing for the market strategy (match 5 has none: no prediction)
        for match_id in (1, 2, 3, 4, 6, 7):
            quote(match_id, "pinnacle", "preclose", (1.9, 3.8, 3.8))
        quote(1, "pinnacle", "close", (1.9, 3.8, 3.8))
        quote(2, "market_avg", "close", (3.8, 3.8, 1.9))
        quote(3, "pinnacle", "close", (1.9, 3.8, 3.8))
        quote(3, "market_avg", "close", (2.0, 3.0, 4.0))
        quote(6, "pinnacle", "close", (1.9, 3.8, 3.8))
        quote(7, "pinnacle", "close", (1.9, 3.8, 3.8))
        # Pinnacle's closing prices of match 6 incomplete: no draw price -> none
        odds[:] = [
            o
            for o in odds
            if not (o["match_id"] == 6 and o["timing"] == "close" and o["outcome"] == "draw")
        ]
        # over-under quotes are not 1X2 and stay out
        odds.append(
            {
                "match_id": 1,
                "bookmaker": "b365",
                "market": "ou",
                "timing": "preclose",
                "line": 2.5,
                "outcome": "over",
                "price": 1.8,
                "raw_sha256": sha,
            }
        )
        connection.execute(insert(Odds), odds)


def test_warehouse_readers_give_the_hand_walk(warehouse: Engine):
    seed(warehouse)
    ids = PREDICTIONS["match_id"].to_list()
    prices = preclose_prices(warehouse, ids)
    assert prices.columns == ["match_id", "bookmaker", "price_home", "price_draw", "price_away"]
    b365 = prices.filter(pl.col("bookmaker") == "b365").drop("bookmaker")
    assert b365.equals(PRICES.drop("bookmaker"))
    assert set(prices.filter(pl.col("bookmaker") == "pinnacle")["match_id"]) == {1, 2, 3, 4, 6, 7}

    closing = closing_fair_prices(warehouse, ids)
    assert closing["match_id"].to_list() == [1, 2, 3, 7]
    assert closing["closing_source"].to_list() == ["pinnacle", "market_avg", "pinnacle", "pinnacle"]
    expected = CLOSING.select(pl.exclude("closing_source")).to_numpy()
    assert closing.select(pl.exclude("closing_source")).to_numpy() == pytest.approx(expected)

    result = run_bankroll_backtest(
        PREDICTIONS,
        prices.filter(pl.col("bookmaker") == "b365"),
        closing,
        price_choice=PriceChoice("best"),
        rules=RULES,
        staking=STAKING,
    )
    assert result.bets.equals(hand_run().bets)

    market = market_predictions(warehouse, ["E0", "SP1"], [SEASON])
    assert market.columns == [
        "date",
        "league",
        "season",
        "home_team",
        "away_team",
        "home_goals",
        "away_goals",
        "p_home",
        "p_draw",
        "p_away",
        "match_id",
        "result",
    ]
    assert market["match_id"].to_list() == [1, 2, 3, 4, 6, 7]  # match 5: no Pinnacle price
    assert market.select("p_home", "p_draw", "p_away").row(0) == pytest.approx((0.5, 0.25, 0.25))
    assert market.select("home_team", "away_team").row(1) == ("B", "b")
    assert market_predictions(warehouse, ["E0"], [SEASON]).height == 5


# --- plot, MLflow, CLI ------------------------------------------------------------------


def test_figure_and_mlflow_run(sabiscore_home: Path):
    result = hand_run()
    figure = bankroll_figure(result.curve)
    assert len(figure.axes) == 2
    assert len(figure.axes[0].lines) == 2  # bankroll and peak
    run_id = log_to_mlflow(
        result,
        model_version="7",
        params={"strategy": "model", "kelly_multiplier": 0.6},
        claim=claim_comparison({0.6: result}),
    )
    from sabiscore_ml.models import registry

    client = registry.client()
    run = client.get_run(run_id)
    assert run.data.tags["model_version"] == "7"
    assert run.data.params["kelly_multiplier"] == "0.6"
    assert run.data.metrics["bets"] == 5
    assert run.data.metrics["final_bankroll"] == pytest.approx(870.92)
    assert run.data.metrics["max_drawdown"] == pytest.approx(1 - 870.92 / 1075.20)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name.endswith("-betting")
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"bets.csv", "curve.csv", "bankroll.png", "tables"} <= artifacts
    tables = {a.path for a in client.list_artifacts(run_id, "tables")}
    assert {
        "tables/by_league.csv",
        "tables/by_season.csv",
        "tables/by_edge_band.csv",
        "tables/by_price_band.csv",
        "tables/claim.csv",
    } <= tables
    bets = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bets.csv")
    assert pl.read_csv(bets)["stake"].to_list() == pytest.approx(result.bets["stake"].to_list())


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, terminal_width=200)


@pytest.fixture
def _fresh_engines():
    get_engine.cache_clear()
    yield
    get_engine.cache_clear()


@pytest.mark.slow
@pytest.mark.usefixtures("_fresh_engines")
def test_cli_market_strategy_on_the_bundled_sample(tmp_path: Path):
    sample = SAMPLE_DIR / "E0" / "2023-2024.csv"
    assert invoke("ingest", "football-data", "--file", str(sample), "--no-summary").exit_code == 0
    output = tmp_path / "bets.csv"
    result = invoke(
        "bets",
        "backtest",
        "--league",
        "E0",
        "--seasons",
        "2023-2024",
        "--strategy",
        "market",
        "--output",
        str(output),
        "--no-caps",
    )
    assert result.exit_code == 0, result.output
    assert "Bankroll backtest" in result.output and "Per season" in result.output
    assert "design claim: +18%" in result.output and "full Kelly" in result.output
    assert "logged to MLflow" in result.output
    bets = pl.read_csv(output, try_parse_dates=True)
    assert bets.columns == list(BET_COLUMNS)
    assert bets.height > 100
    # the market strategy: every bet beats Pinnacle's margin-free pre-closing price
    assert (bets["edge"] > 0).all()
    assert (bets["p_model"] == bets["p_market"]).all()

    # the first match, by hand from the CSV: Burnley v Man City, 11 August 2023
    with sample.open(newline="", encoding="utf-8-sig") as handle:
        first = next(csv.DictReader(handle))
    pre = [float(first[c]) for c in ("PSH", "PSD", "PSA")]
    close = [float(first[c]) for c in ("PSCH", "PSCD", "PSCA")]
    p_model = [(1 / o) / sum(1 / x for x in pre) for o in pre]
    fair_close = [o * sum(1 / x for x in close) for o in close]
    day_one = bets.filter(pl.col("home_team") == "Burnley", pl.col("away_team") == "Man City")
    for row in day_one.iter_rows(named=True):
        k = ("home", "draw", "away").index(row["outcome"])
        assert row["p_model"] == pytest.approx(p_model[k])
        assert row["closing_price"] == pytest.approx(fair_close[k])
        assert row["clv"] == pytest.approx(row["price"] / fair_close[k] - 1)
        assert row["price"] * p_model[k] > 1.0
        assert row["result"] == "A"

    # with product caps, at 1/4 Kelly, no MLflow: fewer bets, all within 2 % of the bankroll
    capped = tmp_path / "capped.csv"
    result = invoke(
        "bets",
        "backtest",
        "--league",
        "E0",
        "--seasons",
        "2023-2024",
        "--strategy",
        "market",
        "--kelly",
        "0.25",
        "--output",
        str(capped),
        "--no-mlflow",
    )
    assert result.exit_code == 0, result.output
    assert "logged to MLflow" not in result.output
    capped_bets = pl.read_csv(capped)
    assert 0 < capped_bets.height < bets.height
    assert (capped_bets["stake"] <= 0.02 * capped_bets["bankroll_before"] + 1e-9).all()
    assert (capped_bets["stake"] >= 1.0).all()


def test_cli_refuses_bad_options():
    result = runner.invoke(
        app,
        ["bets", "backtest", "--league", "E0", "--seasons", "2023-2024", "--strategy", "x"],
    )
    assert result.exit_code == 2 and "model or market" in result.output
    result = runner.invoke(
        app,
        ["bets", "backtest", "--league", "E0", "--seasons", "2023-2024", "--kelly", "2"],
    )
    assert result.exit_code == 2


def test_cli_default_rule_on_confirmed_edges_beside_line_shopping(tmp_path: Path):
    for season in ("2022-2023", "2023-2024"):
        sample = SAMPLE_DIR / "E0" / f"{season}.csv"
        assert (
            invoke("ingest", "football-data", "--file", str(sample), "--no-summary").exit_code == 0
        )
    # a model that is Pinnacle's pre-closing probabilities blurred by noise
    market = market_predictions(get_engine(), ["E0"], ["2022-2023", "2023-2024"])
    rng = np.random.default_rng(11)
    p = market.select("p_home", "p_draw", "p_away").to_numpy()
    blurred = p * np.exp(rng.normal(0.0, 0.1, p.shape))
    blurred /= blurred.sum(axis=1, keepdims=True)
    predictions = tmp_path / "predictions.csv"
    market.with_columns(
        pl.Series("p_home", blurred[:, 0]),
        pl.Series("p_draw", blurred[:, 1]),
        pl.Series("p_away", blurred[:, 2]),
    ).write_csv(predictions)
    output, model_file = tmp_path / "bets.csv", tmp_path / "edge_model.json"
    result = invoke(
        "bets",
        "backtest",
        "--league",
        "E0",
        "--seasons",
        "2022-2023:2023-2024",
        "--predictions",
        str(predictions),
        "--output",
        str(output),
        "--edge-model",
        str(model_file),
        "--no-mlflow",
    )
    assert result.exit_code == 0, result.output
    assert "the rules side by side" in result.output and "line-shopping rule" in result.output
    assert "Stated against confirmed edge" in result.output and "expected yield" in result.output
    bets = pl.read_csv(output, try_parse_dates=True)
    assert bets.columns == list(BET_COLUMNS)
    # the first season has nothing earlier to learn from: no bet
    assert set(bets["season"].to_list()) <= {"2023-2024"}
    if bets.height:
        # staked on the confirmed edge, at least the default threshold; stated beside it
        assert (bets["edge"] >= 0.042 - 1e-12).all() and (bets["stated_edge"] > 0).all()
    # the model learned from both seasons, stored for the live path
    stored = load_edge_model(model_file)
    assert stored is not None and stored.seasons == ("2022-2023", "2023-2024")
