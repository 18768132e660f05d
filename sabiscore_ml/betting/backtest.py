"""The bankroll backtest as a job (``sabiscore bets backtest``): the reads, MLflow and files.

The walk itself is :mod:`sabiscore_ml.betting.walk` (frames in, frames out) and
its tables and figure :mod:`sabiscore_ml.betting.report`; the prices come from
:mod:`sabiscore_ml.prices`, the layer live predictions read theirs from, so a
backtest figure speaks of the live path.  Here: the walked predictions read
from the warehouse (:func:`market_predictions`) or a file
(:func:`read_predictions`), walked at the prices the job reads
(:func:`strategy_runs`), and a walk logged to MLflow (:func:`log_to_mlflow`).

**The market strategy** (:func:`market_predictions`,
:func:`~sabiscore_ml.betting.walk.pinnacle_preclose_predictions`) is the check
of the machinery: the model's probability is Pinnacle's margin-free
*pre-closing* probability, and every outcome whose best pre-closing price beats
Pinnacle's margin-free price is bet
(:data:`~sabiscore_ml.betting.walk.REFERENCE_RULES`).  Measured on the Big-5
leagues 2012-13 to 2023-24 that setting gave about +1.6 % ROI and +1.7 % CLV
(see ``bench/``).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from sabiscore_ml import prices
from sabiscore_ml.betting.confirmed import EdgeModel, save_edge_model
from sabiscore_ml.betting.edges import (
    SHARP_MARKET,
    MarketProbability,
    PriceChoice,
    ValueBetRules,
)
from sabiscore_ml.betting.kelly import StakingRules
from sabiscore_ml.betting.report import (
    GROUPS,
    bankroll_figure,
    group_table,
    reliability_table,
)
from sabiscore_ml.betting.walk import (
    REFERENCE_RULES,
    RENAMES,
    WALKED_PREDICTION_COLUMNS,
    BankrollBacktest,
    kelly_runs,
    learn_edge_model,
    line_shopping_predictions,
    uncapped_staking,
)
from sabiscore_ml.warehouse.models import Match, Team

#: The default rule's threshold on the confirmed edge (see the module notes): the number the
#: live defaults (``PredictRequest.edge``, the DAG, ``sabiscore predict``) already use, now on
#: the edge the closing line confirmed.
CONFIRMED_EDGE = 0.042


def default_rules(edge: float | None = None) -> ValueBetRules:
    """The model's default value-bet rule: confirmed edge at least ``edge``, the usual guards."""
    return ValueBetRules(
        edge_threshold=CONFIRMED_EDGE if edge is None else edge, require_evidence=True
    )


def market_predictions(
    engine: Engine, leagues: Sequence[str], seasons: Sequence[str]
) -> pl.DataFrame:
    """Pinnacle's margin-free pre-closing probabilities as predictions, built without any model.

    One row per played match of ``leagues`` × ``seasons`` with complete
    Pinnacle pre-closing prices, in the columns of the model's walk-forward
    backtest: date, league, season, home_team, away_team, home_goals,
    away_goals, p_home, p_draw, p_away, match_id, result; in date order.
    """
    home, away = aliased(Team), aliased(Team)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Match.match_date,
                Match.league_code,
                Match.season_code,
                home.name,
                away.name,
                Match.home_goals,
                Match.away_goals,
                Match.id,
                Match.result,
            )
            .join(home, home.id == Match.home_team_id)
            .join(away, away.id == Match.away_team_id)
            .where(Match.league_code.in_(list(leagues)))
            .where(Match.season_code.in_(list(seasons)))
            .where(Match.result.is_not(None))
        ).all()
    matches = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "league": pl.String,
            "season": pl.String,
            "home_team": pl.String,
            "away_team": pl.String,
            "home_goals": pl.Int64,
            "away_goals": pl.Int64,
            "match_id": pl.Int64,
            "result": pl.String,
        },
        orient="row",
    )
    quotes = prices.read_quotes(engine, matches["match_id"].to_list(), bookmakers=("pinnacle",))
    probabilities = prices.market_probabilities(quotes, "pinnacle", prices.PRECLOSE)
    return (
        matches.join(probabilities, on="match_id", how="inner")
        .sort("date", "match_id")
        .select(*WALKED_PREDICTION_COLUMNS, "match_id", "result")
    )


@dataclass(frozen=True)
class StrategyRuns:
    """The walks of ``sabiscore bets backtest``.

    ``runs``: the strategy's walks by Kelly multiplier; ``rules``: its value-bet
    rules; ``reference``: the line-shopping rule walked on the same matches
    with the same staking at the chosen multiplier (None for the market
    strategy, which is that rule); ``edge_model``: with confirmed edges, the
    model learned from every season walked (what the live path uses).
    """

    runs: dict[float, BankrollBacktest]
    rules: ValueBetRules
    reference: BankrollBacktest | None
    edge_model: EdgeModel | None
    confirmed: bool


def strategy_runs(
    engine: Engine,
    predictions: pl.DataFrame,
    *,
    strategy: str = "model",
    price: str = "best",
    edge: float | None = None,
    kelly: float = 0.125,
    caps: bool = True,
    starting_bankroll: float = 1000.0,
    confirmed: bool = True,
) -> StrategyRuns:
    """The walks of ``sabiscore bets backtest``: at ``kelly``, full and quarter Kelly.

    Reads the predicted matches' pre-closing prices (to bet) and margin-free
    closing prices (for the CLV, and for the confirmed edges of later seasons)
    through :mod:`sabiscore_ml.prices`.  The ``market`` strategy bets every
    outcome priced above Pinnacle's margin-free probability (edge 0 unless
    given).  ``model`` takes the default rule (:func:`default_rules`: confirmed
    edge at least ``edge``, default :data:`CONFIRMED_EDGE`) or, with
    ``confirmed=False``, the stated edge at least ``edge`` (default 0.042)
    against the market average; beside it, the line-shopping rule on the same
    matches.  ``caps``: the staking rules' caps, minimum and throttle, else
    :func:`~sabiscore_ml.betting.walk.uncapped_staking`.
    """
    ids = predictions["match_id"].to_list()
    quotes = prices.preclose_quotes(engine, ids)
    closing = prices.closing_fair_prices(engine, ids)
    staking = StakingRules(kelly_multiplier=kelly) if caps else uncapped_staking(kelly)
    learn = strategy != "market" and confirmed
    if strategy == "market":
        rules = replace(REFERENCE_RULES, edge_threshold=0.0 if edge is None else edge)
        market = SHARP_MARKET
    elif confirmed:
        rules, market = default_rules(edge), SHARP_MARKET
    else:
        rules = ValueBetRules(edge_threshold=0.042 if edge is None else edge)
        market = MarketProbability()
    runs = kelly_runs(
        predictions,
        quotes,
        closing,
        multipliers=(kelly, 1.0, 0.25),
        price_choice=PriceChoice(price),
        rules=rules,
        staking=staking,
        market_probability=market,
        starting_bankroll=starting_bankroll,
        strategy_name=strategy,
        learn_edges=learn,
    )
    reference = None
    if strategy != "market":
        shopping = line_shopping_predictions(predictions, quotes)
        reference = kelly_runs(
            shopping,
            quotes,
            closing,
            multipliers=(kelly,),
            price_choice=PriceChoice(price),
            rules=REFERENCE_RULES,
            staking=staking,
            market_probability=SHARP_MARKET,
            starting_bankroll=starting_bankroll,
            strategy_name="line-shopping",
        )[kelly]
    model = None
    if learn:
        model = learn_edge_model(
            predictions,
            quotes,
            closing,
            price_choice=PriceChoice(price),
            rules=rules,
            market_probability=market,
        )
    return StrategyRuns(runs, rules, reference, model, learn)


def save_walked_edge_model(walked: StrategyRuns, path: Path, **context: Any) -> Path | None:
    """Store the edge model learned from every season walked, for the live path (None: none)."""
    if walked.edge_model is None:
        return None
    return save_edge_model(
        walked.edge_model,
        path,
        edge_threshold=walked.rules.edge_threshold,
        market_probability=SHARP_MARKET.source,
        **context,
    )


def log_to_mlflow(
    result: BankrollBacktest,
    *,
    model_version: str | None = None,
    params: Mapping[str, Any] | None = None,
    claim: pl.DataFrame | None = None,
    comparison: pl.DataFrame | None = None,
    edge_model: EdgeModel | None = None,
) -> str:
    """Log a backtest as a run of the ``betting`` experiment; returns the run id.

    Params, the summary figures as metrics, the per-group tables
    (``tables/by_<group>.csv``), the bets (``bets.csv``), the curve
    (``curve.csv``) and its plot (``bankroll.png``); ``claim`` (from
    :func:`~sabiscore_ml.betting.report.claim_comparison`) as
    ``tables/claim.csv``; ``comparison`` (the rules side by side,
    :func:`~sabiscore_ml.betting.report.rule_comparison`) as
    ``tables/rules.csv``; ``edge_model`` as ``edge_model.json``.  Tagged with
    the strategy and ``model_version``: the registered model version whose
    predictions were walked, when known.
    """
    import matplotlib.pyplot as plt
    import mlflow

    from sabiscore_ml.models import registry

    experiment_id = registry.experiment("betting")
    tags = {"strategy": result.strategy}
    if model_version is not None:
        tags["model_version"] = str(model_version)
    with mlflow.start_run(experiment_id=experiment_id, run_name=result.strategy, tags=tags) as run:
        if params:
            mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics({k: v for k, v in result.summary.metrics().items() if math.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            tables = folder / "tables"
            tables.mkdir()
            for group in GROUPS:
                group_table(result, group).write_csv(tables / f"by_{group}.csv")
            reliability_table(result).write_csv(tables / "reliability.csv")
            if claim is not None:
                claim.write_csv(tables / "claim.csv")
            if comparison is not None:
                comparison.write_csv(tables / "rules.csv")
            if edge_model is not None:
                save_edge_model(edge_model, folder / "edge_model.json")
            result.bets.write_csv(folder / "bets.csv")
            result.curve.write_csv(folder / "curve.csv")
            mlflow.log_artifacts(str(folder))
        figure = bankroll_figure(result.curve, f"Bankroll: {result.strategy}")
        mlflow.log_figure(figure, "bankroll.png")
        plt.close(figure)
        run_id: str = run.info.run_id
        return run_id


def read_predictions(
    path: Path, leagues: Sequence[str] | None = None, seasons: Sequence[str] | None = None
) -> pl.DataFrame:
    """Walk-forward predictions from a CSV or Parquet file of ``sabiscore backtest``.

    Column names of the backtest CSV (``date``, ``league``, ``season``) or of
    the walk-forward frame (``match_date``, ``league_code``, ``season_code``);
    only the matches of ``leagues`` and ``seasons`` when given.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        frame = pl.read_parquet(path)
    else:
        frame = pl.read_csv(path, try_parse_dates=True, infer_schema_length=None)
    frame = frame.rename(
        {k: v for k, v in RENAMES.items() if k in frame.columns and v not in frame.columns}
    )
    if leagues and "league" in frame.columns:
        frame = frame.filter(pl.col("league").is_in(list(leagues)))
    if seasons and "season" in frame.columns:
        frame = frame.filter(pl.col("season").is_in(list(seasons)))
    return frame
