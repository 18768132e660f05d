"""``sabiscore bets``: value bets and their bankroll, walked through past seasons."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sabiscore_ml.cli.common import (
    LeagueList,
    SeasonRange,
    console,
    init_warehouse,
    step,
    walk_progress,
)
from sabiscore_ml.errors import SabiscoreError

if TYPE_CHECKING:
    import polars as pl

    from sabiscore_ml.betting.walk import BankrollSummary

app = typer.Typer(help="Value bets and their bankroll.", no_args_is_help=True)


def _bets_predictions(
    strategy: str, leagues: list[str], seasons: list[str], predictions: Path | None
) -> pl.DataFrame:
    """The walked predictions: a file, the market's, or the model's walk-forward backtest."""
    from sabiscore_ml.betting import backtest as bankroll
    from sabiscore_ml.betting.walk import pinnacle_preclose_predictions
    from sabiscore_ml.jobs.backtest import backtest as run_backtest
    from sabiscore_ml.warehouse.engine import get_engine

    if predictions is not None:
        frame = bankroll.read_predictions(predictions, leagues, seasons)
    elif strategy == "market":
        step("market strategy: Pinnacle's margin-free pre-closing probabilities")
        frame = bankroll.market_predictions(get_engine(), leagues, seasons)
    else:
        step("walking the model forward (no --predictions given)")
        try:
            frame = run_backtest(
                leagues,
                seasons,
                progress=walk_progress,
            ).predictions
        except ValueError as error:
            raise SabiscoreError(str(error)) from error
    if strategy == "market" and predictions is not None:
        frame = pinnacle_preclose_predictions(frame)
    if frame.is_empty():
        raise SabiscoreError(f"no predicted matches for {leagues} {seasons}")
    return frame


def _bankroll_table(summary: BankrollSummary) -> Table:
    from sabiscore_ml.betting.report import summary_rows

    table = Table(title="Bankroll backtest", show_header=False)
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    return table


def _reliability_table(reliability: pl.DataFrame) -> Table:
    table = Table(title="Stated against confirmed edge (by stated edge band)")
    columns = ("stated band", "bets", "stated", "confirmed", "CLV", "flat ROI")
    for column in columns:
        table.add_column(column, justify="left" if column == "stated band" else "right")

    def pct(value: float | None) -> str:
        return "-" if value is None or value != value else f"{value:+.2%}"

    for row in reliability.iter_rows(named=True):
        table.add_row(
            row["stated_band"],
            f"{row['bets']:,}",
            pct(row["stated_edge"]),
            pct(row["confirmed_edge"]),
            f"{pct(row['clv_mean'])} ± {pct(row['clv_se']).lstrip('+')}",
            f"{pct(row['flat_roi'])} ± {pct(row['flat_roi_se']).lstrip('+')}",
        )
    return table


def _season_table(seasons: pl.DataFrame) -> Table:
    table = Table(title="Per season")
    columns = ("season", "bets", "turnover", "profit", "ROI", "CLV", "growth", "max drawdown")
    for column in columns:
        table.add_column(column, justify="left" if column == "season" else "right")

    def pct(value: float | None) -> str:
        return "-" if value is None or value != value else f"{value:+.2%}"

    for row in seasons.iter_rows(named=True):
        table.add_row(
            row["season"],
            f"{row['bets']:,}",
            f"{row['turnover'] or 0:,.2f}",
            f"{row['profit'] or 0:+,.2f}",
            pct(row["roi"]),
            pct(row["clv_mean"]),
            pct(row["growth"]),
            pct(row["season_max_drawdown"]).lstrip("+"),
        )
    return table


@app.command("backtest")
def bets_backtest(
    league: LeagueList,
    seasons: SeasonRange,
    kelly: Annotated[float, typer.Option("--kelly", help="Kelly multiplier")] = 0.125,
    price: Annotated[
        str, typer.Option("--price", help="Price taken: best, avg, or a bookmaker (pinnacle, b365)")
    ] = "best",
    edge: Annotated[
        float | None,
        typer.Option(
            "--edge",
            help="Minimum edge (default 0.042: the confirmed edge for model, the stated edge with "
            "--edges stated, 0 for market)",
        ),
    ] = None,
    edges: Annotated[
        str,
        typer.Option(
            "--edges",
            help="model: confirmed (the edge the closing line confirmed on earlier seasons) "
            "or stated (the model's own)",
        ),
    ] = "confirmed",
    edge_model: Annotated[
        Path | None,
        typer.Option(
            "--edge-model",
            help="Where to store the edge model learned from every season walked, for live "
            "predictions (default: <SABISCORE_HOME>/betting/edge_model.json)",
        ),
    ] = None,
    save_edge_model: Annotated[
        bool,
        typer.Option("--save-edge-model/--no-save-edge-model", help="Store the edge model"),
    ] = True,
    output: Annotated[
        Path | None, typer.Option("--output", help="CSV of the bets, one row per bet")
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions", help="CSV/Parquet of `sabiscore backtest` (default: run it first)"
        ),
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="model, or market (Pinnacle pre-closing)")
    ] = "model",
    bankroll: Annotated[float, typer.Option("--bankroll", help="Starting bankroll")] = 1000.0,
    caps: Annotated[
        bool,
        typer.Option("--caps/--no-caps", help="Stake caps, minimum stake and drawdown throttle"),
    ] = True,
    mlflow: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="Log the run to MLflow (betting)")
    ] = True,
    model_version: Annotated[
        str | None,
        typer.Option("--model-version", help="Registered model version of --predictions (a tag)"),
    ] = None,
) -> None:
    """Bankroll backtest: value bets staked and settled matchday by matchday, in date order.

    Pre-closing prices choose and price the bets; the results settle them;
    Pinnacle's margin-free closing prices measure their CLV and, for the
    model, the edge the close confirmed on earlier seasons, on which each
    season's bets are chosen and sized (walk-forward).  Runs the chosen Kelly
    multiplier and, on the same value bets, full and 1/4 Kelly, and sets the
    design's claim beside them; the model's rule is set beside the
    line-shopping rule on the same matches, with the stated edge against the
    confirmed edge, CLV and yield.  The market strategy (the line-shopping
    rule) bets every outcome whose best pre-closing price beats Pinnacle's
    margin-free one.

    Examples:
    [bold]sabiscore bets backtest --league E0 --seasons 2015-2016:2023-2024 --output bets.csv[/]

    [bold]sabiscore bets backtest --league E0 --league SP1 --seasons 2012-2013:2023-2024
    --strategy market --kelly 0.25 --no-caps[/]
    """
    if strategy not in ("model", "market"):
        raise typer.BadParameter("model or market", param_hint="--strategy")
    if edges not in ("confirmed", "stated"):
        raise typer.BadParameter("confirmed or stated", param_hint="--edges")
    if not 0.0 < kelly <= 1.0:
        raise typer.BadParameter("a multiplier within (0, 1]", param_hint="--kelly")
    if bankroll <= 0.0:
        raise typer.BadParameter("a positive amount", param_hint="--bankroll")

    from sabiscore_ml.betting import backtest as bk
    from sabiscore_ml.betting import report
    from sabiscore_ml.jobs.backtest import season_range
    from sabiscore_ml.warehouse.engine import get_engine

    try:
        season_codes = season_range(seasons)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--seasons") from error
    init_warehouse()
    frame = _bets_predictions(strategy, league, season_codes, predictions)
    step(f"{frame.height:,} matches: reading pre-closing and closing prices")
    walked = bk.strategy_runs(
        get_engine(),
        frame,
        strategy=strategy,
        price=price,
        edge=edge,
        kelly=kelly,
        caps=caps,
        starting_bankroll=bankroll,
        confirmed=edges == "confirmed",
    )
    runs, rules = walked.runs, walked.rules
    result = runs[kelly]
    claim = report.claim_comparison(runs)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        result.bets.write_csv(output)
        console.print(f"wrote {result.bets.height:,} bets to {output}")
    console.print(_bankroll_table(result.summary))
    console.print(_season_table(report.group_table(result, "season")))
    for line in report.claim_lines(claim):
        console.print(escape(line))
    comparison = None
    if walked.reference is not None:
        label = "default rule (confirmed edge)" if walked.confirmed else "stated edge"
        comparison = report.rule_comparison({label: result, "line-shopping rule": walked.reference})
        console.print(f"the rules side by side, same matches, {report.kelly_label(kelly)}:")
        for line in report.comparison_lines(comparison):
            console.print(escape(line))
    if strategy == "model":
        console.print(_reliability_table(report.reliability_table(result)))
        for line in report.yield_lines(result):
            console.print(escape(line))
    if walked.edge_model is not None:
        console.print(escape(walked.edge_model.statement()))
        if save_edge_model:
            from sabiscore_ml.betting.confirmed import edge_model_path
            from sabiscore_ml.settings import get_core_settings

            target = edge_model or edge_model_path(get_core_settings().home_dir)
            bk.save_walked_edge_model(
                walked,
                target,
                leagues=list(league),
                seasons=seasons,
                predictions=str(predictions) if predictions else "walk-forward",
                model_version=model_version,
            )
            console.print(f"edge model for live predictions written to {target}")
    if mlflow:
        params = {
            "strategy": strategy,
            "leagues": ",".join(league),
            "seasons": seasons,
            "price": price,
            "edge_threshold": rules.edge_threshold,
            "edges": edges if strategy == "model" else "market",
            "min_probability": rules.min_probability,
            "max_price": rules.max_price,
            "min_bookmakers": rules.min_bookmakers,
            "kelly_multiplier": kelly,
            "caps": caps,
            "starting_bankroll": bankroll,
            "predictions": str(predictions) if predictions else "walk-forward",
        }
        run_id = bk.log_to_mlflow(
            result,
            model_version=model_version,
            params=params,
            claim=claim,
            comparison=comparison,
            edge_model=walked.edge_model,
        )
        console.print(f"logged to MLflow (experiment betting, run {run_id})")
