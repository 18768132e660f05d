"""Benchmark: the bankroll backtest on real seasons, for the market strategy and a model's file.

Usage: python bench/bankroll.py WAREHOUSE_URL_OR_SQLITE_PATH [--predictions FILE]
                                [--league CODE ...] [--seasons FIRST:LAST]

A SQLite path is opened read-only.  Default: the Big-5 leagues (E0, SP1, D1,
I1, F1), 2012-13 to 2023-24.

The market strategy takes Pinnacle's margin-free pre-closing probabilities as
the model and bets every outcome whose best pre-closing price beats them (no
guard, edge above zero): the reference setting.  It is walked at full, 1/4 and
1/8 Kelly twice: *uncapped* (no stake cap, no minimum stake, no drawdown
throttle: the setting of the reference figures) and with the product's
*staking rules* (2 % per bet, 5 % per league and matchday, 10 % per matchday,
a minimum stake of 1, the drawdown throttle).  Then the figures per league,
season, edge band, price band and bookmaker of the uncapped 1/8 Kelly walk,
and the design's claim beside the walks.

``--predictions`` (a CSV or Parquet file of ``sabiscore backtest``) adds the
model strategy on its matches, three rules side by side with the same stakings:
the stated-edge rule (edge at least 0.042 against the market average, model
probability at least 0.10, price at most 10, three bookmakers quoting: the
former default), the default rule (the same guards, the *confirmed* edge at
least 0.042, learned walk-forward from earlier seasons' closing-line value,
``sabiscore_ml.betting.backtest.default_rules``), and the line-shopping rule on
the same matches (Pinnacle's pre-closing probabilities as the model); then the
reliability table (stated edge, confirmed edge, CLV and flat ROI per band) and
expected against actual yield for the default rule.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, create_engine

from sabiscore_ml.betting.backtest import default_rules, market_predictions, read_predictions
from sabiscore_ml.betting.edges import SHARP_MARKET, MarketProbability, PriceChoice, ValueBetRules
from sabiscore_ml.betting.kelly import StakingRules
from sabiscore_ml.betting.report import (
    GROUPS,
    claim_comparison,
    claim_lines,
    comparison_lines,
    group_table,
    kelly_label,
    reliability_table,
    rule_comparison,
    yield_lines,
)
from sabiscore_ml.betting.walk import (
    REFERENCE_RULES,
    BankrollBacktest,
    kelly_runs,
    line_shopping_predictions,
    uncapped_staking,
)
from sabiscore_ml.jobs.backtest import season_range
from sabiscore_ml.prices import closing_fair_prices, preclose_quotes

BIG5 = ("E0", "SP1", "D1", "I1", "F1")
MULTIPLIERS = (1.0, 0.25, 0.125)


def engine_for(target: str) -> Engine:
    if "://" in target:
        return create_engine(target)
    path = Path(target).resolve()
    if not path.exists():
        raise SystemExit(f"{path}: no such warehouse")
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")


def pct(value: float, sign: bool = True) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:+.2%}" if sign else f"{value:.2%}"


def print_runs(title: str, runs: dict[float, BankrollBacktest], seconds: float) -> None:
    print(f"\n{title} ({seconds:.1f} s for {len(runs)} walks)")
    header = (
        f"  {'staking':<11}{'bets':>7}{'flat ROI ± se':>18}{'ROI':>9}{'CLV ± se':>18}"
        f"{'log growth':>11}{'/season':>10}{'max DD':>8}{'longest UW':>17}{'UW share':>9}"
        f"{'final bankroll':>18}{'stake-w CLV':>12}{'stated':>9}{'staked':>9}"
    )
    print(header)
    for multiplier, run in runs.items():
        s = run.summary
        print(
            f"  {kelly_label(multiplier):<11}{s.bets:>7,}"
            f"{pct(s.flat_roi) + ' ± ' + pct(s.flat_roi_se, False):>18}{pct(s.roi):>9}"
            f"{pct(s.clv_mean) + ' ± ' + pct(s.clv_se, False):>18}{s.log_growth:>11.3f}"
            f"{pct(s.growth_per_season):>10}{pct(s.max_drawdown, False):>8}"
            f"{f'{s.longest_under_water} md / {s.longest_under_water_days} d':>17}"
            f"{pct(s.under_water_share, False):>9}{s.final_bankroll:>18,.0f}"
            f"{pct(s.clv_weighted):>12}{pct(s.mean_stated_edge):>9}{pct(s.mean_edge):>9}"
        )


def print_groups(run: BankrollBacktest) -> None:
    for group in GROUPS:
        table = group_table(run, group)
        print(f"\n  by {group.replace('_', ' ')} ({kelly_label(run.summary.kelly_multiplier)})")
        extra = group == "season"
        print(
            f"    {group:<13}{'bets':>7}{'flat ROI':>10}{'± se':>8}{'ROI':>9}{'CLV':>9}"
            f"{'± se':>8}{'mean edge':>11}" + (f"{'growth':>10}{'max DD':>9}" if extra else "")
        )
        for row in table.iter_rows(named=True):
            line = (
                f"    {row[group]:<13}{row['bets']:>7,}{pct(row['flat_roi'] or float('nan')):>10}"
                f"{pct(row['flat_roi_se'] or float('nan'), False):>8}"
                f"{pct(row['roi'] or float('nan')):>9}{pct(row['clv_mean'] or float('nan')):>9}"
                f"{pct(row['clv_se'] or float('nan'), False):>8}"
                f"{pct(row['mean_edge'] or float('nan')):>11}"
            )
            if extra:
                line += f"{pct(row['growth']):>10}{pct(row['season_max_drawdown'], False):>9}"
            print(line)


def walk_all(
    label: str,
    predictions: pl.DataFrame,
    prices: pl.DataFrame,
    closing: pl.DataFrame,
    rules: ValueBetRules,
    market: MarketProbability,
    learn_edges: bool = False,
) -> dict[str, dict[float, BankrollBacktest]]:
    out = {}
    for setting, staking in (
        ("uncapped", uncapped_staking(MULTIPLIERS[-1])),
        ("staking rules", StakingRules(kelly_multiplier=MULTIPLIERS[-1])),
    ):
        started = time.perf_counter()
        runs = kelly_runs(
            predictions,
            prices,
            closing,
            multipliers=MULTIPLIERS,
            price_choice=PriceChoice("best"),
            rules=rules,
            staking=staking,
            market_probability=market,
            strategy_name=label,
            learn_edges=learn_edges,
        )
        print_runs(f"{label}, {setting}", runs, time.perf_counter() - started)
        out[setting] = runs
    return out


def claims(label: str, walks: dict[str, dict[float, BankrollBacktest]]) -> None:
    for setting, runs in walks.items():
        ordered = {m: runs[m] for m in (0.125, 1.0, 0.25)}
        print(f"\n{label}, {setting}:")
        for line in claim_lines(claim_comparison(ordered)):
            print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", help="a database URL, or the path of a SQLite warehouse")
    parser.add_argument("--predictions", type=Path, help="CSV/Parquet of `sabiscore backtest`")
    parser.add_argument("--league", action="append", help="league code (repeat); default Big-5")
    parser.add_argument("--seasons", default="2012-2013:2023-2024")
    args = parser.parse_args()
    engine = engine_for(args.warehouse)
    leagues = args.league or list(BIG5)
    seasons = season_range(args.seasons)

    started = time.perf_counter()
    market = market_predictions(engine, leagues, seasons)
    ids = market["match_id"].to_list()
    prices = preclose_quotes(engine, ids)
    closing = closing_fair_prices(engine, ids)
    sources = dict(closing["closing_source"].value_counts().iter_rows())
    print(
        f"{', '.join(leagues)} {seasons[0]} to {seasons[-1]}: {market.height:,} played matches "
        f"with Pinnacle pre-closing prices in {market.select('league', 'season').n_unique()} "
        f"league-seasons; {prices.height:,} pre-closing quotes "
        f"({prices['bookmaker'].n_unique()} bookmakers and aggregates); closing prices for "
        f"{closing.height:,} ({sources.get('pinnacle', 0):,} Pinnacle, "
        f"{sources.get('market_avg', 0):,} market average); read in "
        f"{time.perf_counter() - started:.1f} s"
    )
    per_season = market.group_by("league", "season").len().sort("league", "season")
    short = per_season.filter(pl.col("len") < 300)
    if short.height:
        print(
            "  league-seasons under 300 matches: "
            + ", ".join(f"{r[0]} {r[1]} ({r[2]})" for r in short.iter_rows())
        )

    walks = walk_all(
        "market strategy", market, prices, closing, REFERENCE_RULES, MarketProbability("pinnacle")
    )
    print_groups(walks["uncapped"][0.125])
    claims("market strategy", walks)

    if args.predictions is not None:
        model = read_predictions(args.predictions, leagues, seasons)
        model_ids = model["match_id"].to_list()
        model_prices = preclose_quotes(engine, model_ids)
        model_closing = closing_fair_prices(engine, model_ids)
        print(f"\nmodel predictions {args.predictions}: {model.height:,} matches")
        stated = walk_all(
            "model, stated edge (former default)",
            model,
            model_prices,
            model_closing,
            ValueBetRules(),
            MarketProbability(),
        )
        confirmed = walk_all(
            "model, default rule (confirmed edge)",
            model,
            model_prices,
            model_closing,
            default_rules(),
            SHARP_MARKET,
            learn_edges=True,
        )
        shopping = walk_all(
            "line-shopping rule, same matches",
            line_shopping_predictions(model, model_prices),
            model_prices,
            model_closing,
            REFERENCE_RULES,
            SHARP_MARKET,
        )
        for setting in ("staking rules", "uncapped"):
            print(f"\nthe rules side by side, {setting}, 1/8 Kelly:")
            table = rule_comparison(
                {
                    "default (confirmed edge)": confirmed[setting][0.125],
                    "line-shopping": shopping[setting][0.125],
                    "stated edge (former)": stated[setting][0.125],
                }
            )
            for line in comparison_lines(table):
                print(line)
        default = confirmed["staking rules"][0.125]
        for name, run in (
            ("default rule", default),
            ("stated edge", stated["staking rules"][0.125]),
        ):
            print(f"\nreliability, {name} (1/8 Kelly, staking rules), by stated edge band:")
            print(
                f"    {'band':<13}{'bets':>7}{'stated':>9}{'confirmed':>11}{'CLV':>9}{'± se':>8}"
                f"{'flat ROI':>10}{'± se':>8}"
            )
            for row in reliability_table(run).iter_rows(named=True):
                print(
                    f"    {row['stated_band']:<13}{row['bets']:>7,}{pct(row['stated_edge']):>9}"
                    f"{pct(row['confirmed_edge']):>11}{pct(row['clv_mean']):>9}"
                    f"{pct(row['clv_se'], False):>8}{pct(row['flat_roi']):>10}"
                    f"{pct(row['flat_roi_se'], False):>8}"
                )
            for line in yield_lines(run):
                print("  " + line)
        for season, edge_model in default.edge_models:
            print(f"  {season}: " + (edge_model.statement() if edge_model else "no evidence yet"))
        print_groups(default)
        claims("model, default rule", confirmed)


if __name__ == "__main__":
    main()
