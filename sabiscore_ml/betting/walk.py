"""The bankroll walk: value bets staked and settled matchday by matchday (frames in, frames out).

The walk takes walk-forward predictions (each season predicted by a model
fitted on earlier matches only, :mod:`sabiscore_ml.jobs.backtest`), the
*pre-closing* prices (:func:`sabiscore_ml.prices.preclose_quotes`, the prices
live predictions take, long; or per bookmaker, :func:`~sabiscore_ml.prices.preclose_prices`)
and the results.  It goes through the match dates in
order; on each (a *matchday*):

1. the value bets of the day's matches come from
   :func:`~sabiscore_ml.betting.edges.match_edges` (pre-closing prices only);
2. :func:`~sabiscore_ml.betting.kelly.size_stakes` sizes them all against the
   bankroll and its peak so far (caps and drawdown throttle included): every
   bet of the day is placed before any is settled;
3. each bet is settled with the match's result (``H``/``D``/``A``): a winner
   returns ``stake × (price − 1)``, a loser costs the stake.

Closing prices never choose or size a bet.  They come in only afterwards, to
measure the closing-line value (CLV) of each bet: ``price / closing − 1``, where
``closing`` is the margin-free Pinnacle closing price of the outcome
(multiplicative margin removal, ``1 / p``), or the margin-free market-average
closing price when Pinnacle's is missing (``closing_source`` says which;
:func:`sabiscore_ml.prices.closing_fair_prices`).

**Confirmed edges, walked forward** (``learn_edges``): the value bets of a
season are decided and sized on the edge the closing line confirmed
(:mod:`sabiscore_ml.betting.confirmed`), by an edge model learned from the
earlier seasons of the same walk only: their outcomes' stated edges and their
closing-line value.  A season with no earlier season to learn from, or whose
evidence does not support an edge, bets nothing.

**The drawdown throttle** keeps its state through the walk
(:meth:`~sabiscore_ml.betting.kelly.DrawdownThrottle.step`): its drawdown is
measured on the strategy's record, a bankroll index that follows the real
bets while betting and, while stopped, the value bets on paper at the reduced
stakes; betting resumes once that record is back above the resume level.

Everything is deterministic: the same inputs give the same bets, bit for bit.
Nothing here reads the warehouse or writes a file: the job is
:mod:`sabiscore_ml.betting.backtest`, the tables and the figure are
:mod:`sabiscore_ml.betting.report`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import polars as pl

from sabiscore_ml.betting.confirmed import (
    PRICE_BANDS,
    EdgeModel,
    fit_edge_model,
    training_outcomes,
    with_clv,
)
from sabiscore_ml.betting.edges import (
    MarketProbability,
    PriceChoice,
    ValueBetRules,
    as_polars,
    confirm_edges,
    match_edges,
)
from sabiscore_ml.betting.kelly import StakingRules, size_stakes
from sabiscore_ml.prices import OUTCOMES

if TYPE_CHECKING:
    from sabiscore_ml.betting.edges import Frame

#: The result letter of each 1X2 outcome.
RESULT_OF = {"home": "H", "draw": "D", "away": "A"}
#: Lower bounds of the edge bands (below the first: ``<0``; from the last: ``>=0.2``).
EDGE_BANDS = (0.0, 0.01, 0.02, 0.042, 0.06, 0.1, 0.2)
#: The columns of the bets table and of ``sabiscore bets backtest --output``, in order.
BET_COLUMNS = (
    "date",
    "league",
    "season",
    "match_id",
    "home_team",
    "away_team",
    "outcome",
    "bookmaker",
    "price",
    "p_model",
    "p_market",
    "edge",
    "kelly_fraction",
    "stake",
    "bankroll_before",
    "result",
    "won",
    "pnl",
    "closing_price",
    "closing_source",
    "clv",
    "edge_band",
    "price_band",
    "stated_edge",
)
#: Every outcome whose price beats the model's fair price, with no guard (the reference setting).
REFERENCE_RULES = ValueBetRules(
    edge_threshold=0.0, min_probability=0.0, max_price=1000.0, min_bookmakers=0
)

#: The leading columns of walked predictions, in this order: the CSV of ``sabiscore backtest``
#: (:mod:`sabiscore_ml.jobs.backtest`) and the market's predictions
#: (:func:`sabiscore_ml.betting.backtest.market_predictions`).
WALKED_PREDICTION_COLUMNS = (
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
)
#: Walk-forward frame names and the walked predictions' names of the same columns.
RENAMES = {"match_date": "date", "league_code": "league", "season_code": "season"}
_PLACED = (
    "date",
    "match_id",
    "outcome",
    "bookmaker",
    "price",
    "p_model",
    "edge",
    "kelly_fraction",
    "stake",
    "bankroll_before",
    "won",
    "pnl",
)
_BET_SCHEMA: dict[str, Any] = {
    "date": pl.Date,
    "league": pl.String,
    "season": pl.String,
    "match_id": pl.Int64,
    "home_team": pl.String,
    "away_team": pl.String,
    "outcome": pl.String,
    "bookmaker": pl.String,
    "price": pl.Float64,
    "p_model": pl.Float64,
    "p_market": pl.Float64,
    "edge": pl.Float64,
    "kelly_fraction": pl.Float64,
    "stake": pl.Float64,
    "bankroll_before": pl.Float64,
    "result": pl.String,
    "won": pl.Boolean,
    "pnl": pl.Float64,
}


def uncapped_staking(kelly_multiplier: float) -> StakingRules:
    """Kelly stakes with no cap, no minimum, no throttle: the reference figures' staking."""
    return StakingRules(
        kelly_multiplier=kelly_multiplier,
        max_stake_per_bet=None,
        max_stake_per_matchday=None,
        max_stake_per_league=None,
        min_stake=0.0,
        stake_step=1e-6,
        drawdown_throttle=None,
    )


def line_shopping_predictions(predictions: Frame, prices: Frame) -> pl.DataFrame:
    """The line-shopping reference on the same matches: ``p_*`` from Pinnacle's pre-closing prices.

    ``prices``: long pre-closing quotes (:func:`~sabiscore_ml.prices.preclose_quotes`);
    Pinnacle's are de-margined multiplicatively; matches without them are dropped.
    Walked with :data:`REFERENCE_RULES` against Pinnacle: every outcome whose
    best price beats Pinnacle's margin-free pre-closing price.
    """
    from sabiscore_ml.prices import PRECLOSE, market_probabilities

    frame = as_polars(predictions)
    quotes = as_polars(prices)
    if "timing" not in quotes.columns:
        quotes = quotes.with_columns(pl.lit(PRECLOSE).alias("timing"))
    fair = market_probabilities(quotes, "pinnacle", PRECLOSE)
    return frame.drop(f"p_{o}" for o in OUTCOMES).join(
        fair.with_columns(pl.col("match_id").cast(frame.schema["match_id"])),
        on="match_id",
        how="inner",
    )


def pinnacle_preclose_predictions(predictions: Frame) -> pl.DataFrame:
    """A model's predictions with ``p_*`` replaced by Pinnacle's pre-closing probabilities.

    Uses the ``pinnacle_preclose_p_*`` columns the walk-forward backtest
    carries; matches without them are dropped.
    """
    frame = as_polars(predictions)
    columns = [f"pinnacle_preclose_p_{o}" for o in OUTCOMES]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the predictions lack {missing}: no Pinnacle pre-closing probabilities")
    return frame.with_columns(
        pl.col(f"pinnacle_preclose_p_{o}").alias(f"p_{o}") for o in OUTCOMES
    ).filter(pl.all_horizontal(pl.col(f"p_{o}").is_not_null() for o in OUTCOMES))


# --- the walk ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BankrollSummary:
    """The figures of one bankroll backtest.

    ``roi`` is profit per unit staked; ``flat_roi`` the ROI of one unit on
    every bet placed (independent of the stakes, comparable with flat-stake
    figures); ``log_growth`` is ``log(final / start)``; ``growth_per_season``
    the geometric mean growth over the seasons walked.  ``max_drawdown`` is a
    fraction of the peak bankroll.  Time under water counts matchdays ending
    below the previous peak: ``longest_under_water`` the longest run of them
    (and its span in calendar days), ``under_water_share`` their share of all
    matchdays.  CLV figures are over the bets with a closing price
    (``clv_bets``); ``clv_se`` is the standard error of the mean and
    ``clv_weighted`` the CLV weighted by the stakes.  ``mean_edge`` is the mean
    edge staked on (the confirmed edge with an edge model), ``mean_stated_edge``
    the model's own.
    """

    strategy: str
    kelly_multiplier: float
    starting_bankroll: float
    final_bankroll: float
    seasons: int
    matchdays: int
    value_bets: int
    bets: int
    turnover: float
    profit: float
    roi: float
    flat_roi: float
    flat_roi_se: float
    log_growth: float
    growth_per_season: float
    max_drawdown: float
    longest_under_water: int
    longest_under_water_days: int
    under_water_share: float
    clv_mean: float
    clv_se: float
    clv_bets: int
    hit_rate: float
    mean_price: float
    mean_edge: float
    throttled_matchdays: int
    clv_weighted: float = math.nan
    mean_stated_edge: float = math.nan

    def metrics(self) -> dict[str, float]:
        """The numeric figures, by name (for MLflow)."""
        return {
            f.name: float(getattr(self, f.name))
            for f in fields(self)
            if isinstance(getattr(self, f.name), int | float)
        }


@dataclass(frozen=True)
class BankrollBacktest:
    """One bankroll walk: its bets, its bankroll curve and the figures.

    ``bets``: one row per bet placed, the columns of :data:`BET_COLUMNS`.
    ``curve``: one row per matchday: date, season, bets, staked, pnl,
    bankroll (after the day's settlements), peak, drawdown, throttle (the
    drawdown throttle's stake multiplier that day, 0 while stopped).
    ``edge_models``: with confirmed edges, the model each season's bets used
    (None: no evidence yet).  In ``bets``, ``edge`` is the edge staked on (the
    confirmed one when there is an edge model) and ``stated_edge`` the model's.
    """

    strategy: str
    bets: pl.DataFrame
    curve: pl.DataFrame
    summary: BankrollSummary
    starting_bankroll: float
    edge_models: tuple[tuple[str, EdgeModel | None], ...] = ()


def _matches(predictions: Frame) -> pl.DataFrame:
    """The predictions' keys, teams, result and probabilities, in the backtest CSV's names."""
    frame = as_polars(predictions)
    frame = frame.rename(
        {k: v for k, v in RENAMES.items() if k in frame.columns and v not in frame.columns}
    )
    needed = ["date", "league", "season", "match_id", *(f"p_{o}" for o in OUTCOMES)]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"predictions lack the columns {missing}")
    if "result" not in frame.columns:
        if not {"home_goals", "away_goals"} <= set(frame.columns):
            raise ValueError("predictions need a result column or the goals")
        goals = pl.col("home_goals") - pl.col("away_goals")
        frame = frame.with_columns(
            pl.when(goals > 0)
            .then(pl.lit("H"))
            .when(goals == 0)
            .then(pl.lit("D"))
            .otherwise(pl.lit("A"))
            .alias("result")
        )
    frame = frame.with_columns(
        pl.lit(None, pl.String).alias(c)
        for c in ("home_team", "away_team")
        if c not in frame.columns
    )
    if isinstance(frame.schema["date"], pl.Datetime):
        frame = frame.with_columns(pl.col("date").dt.date())
    elif frame.schema["date"] == pl.String:
        frame = frame.with_columns(pl.col("date").str.to_date())
    frame = frame.select(
        pl.col("date").cast(pl.Date),
        pl.col("league").cast(pl.String),
        pl.col("season").cast(pl.String),
        pl.col("match_id").cast(pl.Int64),
        pl.col("home_team").cast(pl.String),
        pl.col("away_team").cast(pl.String),
        pl.col("result").cast(pl.String),
        *(pl.col(f"p_{o}").cast(pl.Float64) for o in OUTCOMES),
    )
    if frame["match_id"].is_duplicated().any():
        raise ValueError("predictions hold two rows for one match")
    # a match without a result cannot be settled, so it is not bet on
    return frame.filter(pl.col("result").is_in(list(RESULT_OF.values()))).sort("date", "match_id")


def value_bets(
    predictions: Frame,
    prices: Frame,
    *,
    price_choice: PriceChoice | None = None,
    rules: ValueBetRules | None = None,
    market_probability: MarketProbability | None = None,
) -> pl.DataFrame:
    """The value bets of every predicted match, at the pre-closing ``prices``.

    Rows of :func:`~sabiscore_ml.betting.edges.match_edges` with ``is_value``,
    carrying ``match_date`` and ``league_code`` for the matchday and league caps.
    """
    matches = _matches(predictions)
    edges = match_edges(
        matches.select(
            "match_id",
            *(f"p_{o}" for o in OUTCOMES),
            pl.col("date").alias("match_date"),
            pl.col("league").alias("league_code"),
        ),
        as_polars(prices),
        price_choice=price_choice,
        market_probability=market_probability,
        rules=rules,
    )
    return edges.filter(pl.col("is_value"))


def confirmed_value_bets(
    predictions: Frame,
    prices: Frame,
    closing: Frame | None,
    *,
    price_choice: PriceChoice | None = None,
    rules: ValueBetRules | None = None,
    market_probability: MarketProbability | None = None,
) -> tuple[pl.DataFrame, tuple[tuple[str, EdgeModel | None], ...]]:
    """The value bets of each season on edges confirmed by the earlier seasons only.

    Each season's edge model is learned (:func:`~sabiscore_ml.betting.confirmed.fit_edge_model`)
    from the outcomes of the seasons before it that ``rules`` could bet (a
    positive stated edge, the guards) with their CLV at ``closing``; the
    season's outcomes are then judged by ``rules`` with that model (a season
    without one bets nothing).  Returns the value bets (as :func:`value_bets`,
    with ``confirmed_edge`` and ``p_confirmed``) and the model of each season.
    """
    rules = rules or ValueBetRules()
    base_rules = replace(rules, edge_model=None, require_evidence=False)
    matches = _matches(predictions)
    edges = match_edges(
        matches.select(
            "match_id",
            *(f"p_{o}" for o in OUTCOMES),
            pl.col("date").alias("match_date"),
            pl.col("league").alias("league_code"),
        ),
        as_polars(prices),
        price_choice=price_choice,
        market_probability=market_probability,
        rules=base_rules,
    )
    edges = edges.join(matches.select("match_id", "season"), on="match_id", how="left")
    known = with_clv(edges, None if closing is None else as_polars(closing))
    learnable = known.filter(
        training_outcomes(
            min_probability=rules.min_probability,
            max_price=rules.max_price,
            min_bookmakers=rules.min_bookmakers,
        )
    )
    parts: list[pl.DataFrame] = []
    models: list[tuple[str, EdgeModel | None]] = []
    for season in sorted(matches["season"].unique().to_list()):
        model = fit_edge_model(learnable.filter(pl.col("season") < season))
        models.append((season, model))
        season_rules = replace(rules, edge_model=model, require_evidence=True)
        judged = confirm_edges(edges.filter(pl.col("season") == season), season_rules)
        if model is None:
            judged = judged.with_columns(
                pl.lit(None, pl.Float64).alias("confirmed_edge"),
                pl.lit(None, pl.Float64).alias("p_confirmed"),
            )
        parts.append(judged.filter(pl.col("is_value")).drop("season"))
    bets = pl.concat(parts, how="vertical_relaxed") if parts else edges.drop("season").head(0)
    return bets.sort("match_date", "match_id"), tuple(models)


def learn_edge_model(
    predictions: Frame,
    prices: Frame,
    closing: Frame | None,
    *,
    price_choice: PriceChoice | None = None,
    rules: ValueBetRules | None = None,
    market_probability: MarketProbability | None = None,
) -> EdgeModel | None:
    """The edge model learned from every season of ``predictions`` (for the live path)."""
    rules = rules or ValueBetRules()
    matches = _matches(predictions)
    edges = match_edges(
        matches.select("match_id", *(f"p_{o}" for o in OUTCOMES)),
        as_polars(prices),
        price_choice=price_choice,
        market_probability=market_probability,
        rules=replace(rules, edge_model=None, require_evidence=False),
    ).join(matches.select("match_id", "season"), on="match_id", how="left")
    known = with_clv(edges, None if closing is None else as_polars(closing))
    return fit_edge_model(
        known.filter(
            training_outcomes(
                min_probability=rules.min_probability,
                max_price=rules.max_price,
                min_bookmakers=rules.min_bookmakers,
            )
        )
    )


def run_bankroll_backtest(
    predictions: Frame,
    prices: Frame,
    closing: Frame | None = None,
    *,
    price_choice: PriceChoice | None = None,
    rules: ValueBetRules | None = None,
    staking: StakingRules | None = None,
    market_probability: MarketProbability | None = None,
    starting_bankroll: float = 1000.0,
    strategy_name: str = "model",
) -> BankrollBacktest:
    """Walk the predicted matches matchday by matchday, staking and settling (module notes).

    ``predictions``: one row per match with ``date`` (or ``match_date``),
    ``league``, ``season``, ``match_id``, ``p_home/p_draw/p_away`` and
    ``result`` (or the goals); team names when present.  ``prices``:
    pre-closing quotes as :func:`~sabiscore_ml.prices.preclose_quotes` gives them (or per
    bookmaker, as :func:`~sabiscore_ml.prices.preclose_prices` does).  ``closing``:
    :func:`~sabiscore_ml.prices.closing_fair_prices`, for the CLV only (``None``: no CLV).
    """
    bets = value_bets(
        predictions,
        prices,
        price_choice=price_choice,
        rules=rules,
        market_probability=market_probability,
    )
    return walk_bankroll(
        _matches(predictions),
        bets,
        closing,
        staking=staking or StakingRules(),
        starting_bankroll=starting_bankroll,
        strategy_name=strategy_name,
    )


def walk_bankroll(
    matches: pl.DataFrame,
    candidates: pl.DataFrame,
    closing: Frame | None,
    *,
    staking: StakingRules,
    starting_bankroll: float = 1000.0,
    strategy_name: str = "model",
    edge_models: tuple[tuple[str, EdgeModel | None], ...] = (),
) -> BankrollBacktest:
    """The walk itself, on value bets already found (:func:`value_bets`).

    ``matches`` is the predictions in the backtest's column names (every date
    of it is a matchday of the curve, with bets or not).
    """
    if starting_bankroll <= 0.0:
        raise ValueError("the starting bankroll must be positive")
    matches = _matches(matches)
    results = dict(zip(matches["match_id"].to_list(), matches["result"].to_list(), strict=True))
    by_day = {
        key[0]: part
        for key, part in candidates.filter(pl.col("match_id").is_in(list(results))).group_by(
            ["match_date"], maintain_order=True
        )
    }
    seasons = matches.group_by("date").agg(pl.col("season").min())
    season_of = dict(zip(seasons["date"].to_list(), seasons["season"].to_list(), strict=True))
    bankroll = peak = float(starting_bankroll)
    # the throttle's record: the real bankroll's returns while betting, the paper ones when stopped
    record = record_peak = 1.0
    stopped = False
    throttle_rule = staking.drawdown_throttle
    placed: list[dict[str, Any]] = []
    curve: list[dict[str, Any]] = []
    for day in sorted(season_of):
        staked = day_pnl = 0.0
        count = 0
        # the throttle's multiplier at the drawdown the day starts with (bets or not)
        if throttle_rule is not None:
            throttle, stopped = throttle_rule.step(1.0 - record / record_peak, stopped)
        else:
            throttle = 1.0
        part = by_day.get(day)
        if part is not None and bankroll > 0.0 and stopped and throttle_rule is not None:
            paper = size_stakes(part, bankroll, peak, staking, throttle_factor=throttle_rule.factor)
            paper_pnl = sum(
                bet.stake * (bet.price - 1.0)
                if RESULT_OF[bet.outcome] == results[bet.match_id]
                else -bet.stake
                for bet in paper.stakes
            )
            record *= 1.0 + paper_pnl / bankroll
        elif part is not None and bankroll > 0.0:
            result = size_stakes(part, bankroll, peak, staking, throttle_factor=throttle)
            for bet in result.stakes:
                won = RESULT_OF[bet.outcome] == results[bet.match_id]
                pnl = bet.stake * (bet.price - 1.0) if won else -bet.stake
                placed.append(
                    {
                        "date": day,
                        "match_id": bet.match_id,
                        "outcome": bet.outcome,
                        "bookmaker": bet.bookmaker,
                        "price": bet.price,
                        "p_model": bet.p_model,
                        "edge": bet.edge,
                        "kelly_fraction": bet.kelly_fraction,
                        "stake": bet.stake,
                        "bankroll_before": bankroll,
                        "won": won,
                        "pnl": pnl,
                    }
                )
                staked += bet.stake
                day_pnl += pnl
                count += 1
            record *= 1.0 + day_pnl / bankroll
        bankroll += day_pnl
        peak = max(peak, bankroll)
        record_peak = max(record_peak, record)
        curve.append(
            {
                "date": day,
                "season": season_of[day],
                "bets": count,
                "staked": staked,
                "pnl": day_pnl,
                "bankroll": bankroll,
                "peak": peak,
                "drawdown": 1.0 - bankroll / peak,
                "throttle": throttle,
            }
        )
    curve_frame = pl.DataFrame(
        curve,
        schema={
            "date": pl.Date,
            "season": pl.String,
            "bets": pl.Int64,
            "staked": pl.Float64,
            "pnl": pl.Float64,
            "bankroll": pl.Float64,
            "peak": pl.Float64,
            "drawdown": pl.Float64,
            "throttle": pl.Float64,
        },
    )
    bets = _bets_frame(placed, matches, candidates, closing)
    summary = _summary(
        bets,
        curve_frame,
        strategy=strategy_name,
        kelly_multiplier=staking.kelly_multiplier,
        starting_bankroll=float(starting_bankroll),
        seasons=matches["season"].n_unique(),
        value_bets=candidates.filter(pl.col("match_id").is_in(list(results))).height,
    )
    return BankrollBacktest(
        strategy_name, bets, curve_frame, summary, float(starting_bankroll), edge_models
    )


def _labels(breaks: Sequence[float], first: str) -> list[str]:
    inner = [f"[{lo:g},{hi:g})" for lo, hi in zip(breaks, breaks[1:], strict=False)]
    return [first, *inner, f">={breaks[-1]:g}"]


EDGE_BAND_LABELS = _labels(EDGE_BANDS, "<0")
PRICE_BAND_LABELS = _labels(PRICE_BANDS, f"[1,{PRICE_BANDS[0]:g})")


def _band(values: pl.Series, breaks: Sequence[float], labels: Sequence[str]) -> pl.Series:
    index = np.searchsorted(np.asarray(breaks), values.to_numpy(), side="right")
    return pl.Series([labels[i] for i in index], dtype=pl.String)


def edge_bands(edges: pl.Series) -> pl.Series:
    """The band of each edge: ``<0``, ``[0,0.01)``, ... ``[0.1,0.2)``, ``>=0.2`` (left-closed)."""
    return _band(edges, EDGE_BANDS, EDGE_BAND_LABELS)


def price_bands(prices: pl.Series) -> pl.Series:
    """The band of each decimal price: ``[1,1.5)``, ``[1.5,2)``, ``[2,3)``, ``[3,5)``, ``>=5``."""
    return _band(prices, PRICE_BANDS, PRICE_BAND_LABELS)


def _bets_frame(
    placed: list[dict[str, Any]],
    matches: pl.DataFrame,
    candidates: pl.DataFrame,
    closing: Frame | None,
) -> pl.DataFrame:
    frame = pl.DataFrame(placed, schema={k: v for k, v in _BET_SCHEMA.items() if k in _PLACED})
    frame = frame.join(
        matches.select("match_id", "league", "season", "home_team", "away_team", "result"),
        on="match_id",
        how="left",
    ).join(
        candidates.select("match_id", "outcome", "p_market", pl.col("edge").alias("stated_edge")),
        on=["match_id", "outcome"],
        how="left",
    )
    if closing is not None and as_polars(closing).height:
        fair = as_polars(closing).unpivot(
            index=["match_id", "closing_source"],
            on=[f"closing_{o}" for o in OUTCOMES],
            variable_name="outcome",
            value_name="closing_price",
        )
        fair = fair.with_columns(
            pl.col("match_id").cast(pl.Int64), pl.col("outcome").str.strip_prefix("closing_")
        )
        frame = frame.join(fair, on=["match_id", "outcome"], how="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias("closing_source"),
            pl.lit(None, pl.Float64).alias("closing_price"),
        )
    frame = frame.with_columns((pl.col("price") / pl.col("closing_price") - 1.0).alias("clv"))
    frame = frame.with_columns(
        edge_bands(frame["edge"]).alias("edge_band"),
        price_bands(frame["price"]).alias("price_band"),
    )
    return frame.select(BET_COLUMNS).sort("date", "match_id", "outcome")


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of ``values`` (summed in sorted order); NaN when too few."""
    if len(values) == 0:
        return math.nan, math.nan
    values = np.sort(values)
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return float(values.mean()), se


def sorted_sum(values: np.ndarray) -> float:
    """The sum of ``values`` in sorted order: the same figure whatever their order."""
    return float(np.sort(values).sum())


def _under_water(curve: pl.DataFrame) -> tuple[int, int, float]:
    """Longest run of matchdays below the previous peak (matchdays, calendar days), share."""
    if curve.is_empty():
        return 0, 0, 0.0
    below = (curve["bankroll"] < curve["peak"]).to_list()
    dates = curve["date"].to_list()
    longest = longest_days = run = 0
    first: dt.date | None = None
    for day, under in zip(dates, below, strict=True):
        if not under:
            run, first = 0, None
            continue
        run += 1
        first = first or day
        days = (day - first).days + 1
        if run > longest or (run == longest and days > longest_days):
            longest, longest_days = run, days
    return longest, longest_days, sum(below) / len(below)


def _summary(
    bets: pl.DataFrame,
    curve: pl.DataFrame,
    *,
    strategy: str,
    kelly_multiplier: float,
    starting_bankroll: float,
    seasons: int,
    value_bets: int,
) -> BankrollSummary:
    final = float(curve["bankroll"][-1]) if curve.height else starting_bankroll
    stakes = bets["stake"].to_numpy()
    turnover = sorted_sum(stakes)
    profit = sorted_sum(bets["pnl"].to_numpy())
    prices = bets["price"].to_numpy()
    won = bets["won"].to_numpy().astype(bool)
    flat = np.where(won, prices - 1.0, -1.0)
    clv = bets["clv"].drop_nulls().to_numpy()
    clv_mean, clv_se = mean_se(clv)
    with_clv = bets.filter(pl.col("clv").is_not_null())
    clv_stakes = sorted_sum(with_clv["stake"].to_numpy())
    clv_weighted = (
        sorted_sum((with_clv["clv"] * with_clv["stake"]).to_numpy()) / clv_stakes
        if clv_stakes > 0.0
        else math.nan
    )
    flat_roi, flat_roi_se = mean_se(flat)
    ratio = final / starting_bankroll
    log_growth = math.log(ratio) if ratio > 0.0 else -math.inf
    longest, longest_days, share = _under_water(curve)
    n = bets.height
    return BankrollSummary(
        strategy=strategy,
        kelly_multiplier=kelly_multiplier,
        starting_bankroll=starting_bankroll,
        final_bankroll=final,
        seasons=seasons,
        matchdays=curve.height,
        value_bets=value_bets,
        bets=n,
        turnover=turnover,
        profit=profit,
        roi=profit / turnover if turnover > 0.0 else math.nan,
        flat_roi=flat_roi,
        flat_roi_se=flat_roi_se,
        log_growth=log_growth,
        growth_per_season=ratio ** (1.0 / seasons) - 1.0 if seasons else math.nan,
        max_drawdown=float(cast(float, curve["drawdown"].max())) if curve.height else 0.0,
        longest_under_water=longest,
        longest_under_water_days=longest_days,
        under_water_share=share,
        clv_mean=clv_mean,
        clv_se=clv_se,
        clv_bets=len(clv),
        hit_rate=float(won.mean()) if n else math.nan,
        mean_price=mean_se(prices)[0],
        mean_edge=mean_se(bets["edge"].to_numpy())[0],
        throttled_matchdays=int((curve["throttle"] < 1.0).sum()) if curve.height else 0,
        clv_weighted=clv_weighted,
        mean_stated_edge=mean_se(bets["stated_edge"].drop_nulls().to_numpy())[0],
    )


# --- several Kelly fractions -------------------------------------------------------------


def kelly_runs(
    predictions: Frame,
    prices: Frame,
    closing: Frame | None,
    *,
    multipliers: Sequence[float],
    price_choice: PriceChoice | None = None,
    rules: ValueBetRules | None = None,
    staking: StakingRules | None = None,
    market_probability: MarketProbability | None = None,
    starting_bankroll: float = 1000.0,
    strategy_name: str = "model",
    learn_edges: bool = False,
) -> dict[float, BankrollBacktest]:
    """The same value bets walked at several Kelly multipliers (other staking rules kept).

    ``learn_edges``: value bets on edges confirmed walk-forward
    (:func:`confirmed_value_bets`), else on the stated edges (:func:`value_bets`).
    """
    staking = staking or StakingRules()
    models: tuple[tuple[str, EdgeModel | None], ...] = ()
    if learn_edges:
        candidates, models = confirmed_value_bets(
            predictions,
            prices,
            closing,
            price_choice=price_choice,
            rules=rules,
            market_probability=market_probability,
        )
    else:
        candidates = value_bets(
            predictions,
            prices,
            price_choice=price_choice,
            rules=rules,
            market_probability=market_probability,
        )
    matches = _matches(predictions)
    return {
        multiplier: walk_bankroll(
            matches,
            candidates,
            closing,
            staking=replace(staking, kelly_multiplier=multiplier),
            starting_bankroll=starting_bankroll,
            strategy_name=strategy_name,
            edge_models=models,
        )
        for multiplier in dict.fromkeys(multipliers)
    }
