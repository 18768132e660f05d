"""``sabiscore train``: the 1X2 ensemble trained, evaluated, registered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from sabiscore_ml.cli.common import (
    HistoryFrom,
    comparison_table,
    console,
    init_warehouse,
    iso_date,
    step,
)
from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.leagues import normalize_season

if TYPE_CHECKING:
    from sabiscore_ml.jobs.training import TrainRequest


def train(
    league: Annotated[
        list[str] | None, typer.Option("--league", help="League code (repeat); default: settings")
    ] = None,
    season: Annotated[
        list[str] | None, typer.Option("--season", help="Season to train on (repeat); default: all")
    ] = None,
    n_trials: Annotated[int, typer.Option("--n-trials", help="Optuna trials (0: defaults)")] = 0,
    promote: Annotated[
        bool, typer.Option("--promote/--no-promote", help="Promote to champion if no worse")
    ] = True,
    weights: Annotated[
        str, typer.Option("--weights", help="stacking (learned) or design (40/35/25)")
    ] = "stacking",
    evaluation_seasons: Annotated[
        int, typer.Option("--evaluation-seasons", help="Latest seasons walked forward")
    ] = 1,
    history_from: HistoryFrom = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Train on matches before this date (replay)")
    ] = None,
) -> None:
    """Train the 1X2 ensemble, evaluate it walking forward, register it, maybe promote it.

    Example: [bold]sabiscore train --league E0 --league E1 --n-trials 20[/]
    """
    from sabiscore_ml.jobs.training import TrainRequest

    init_warehouse()
    request = TrainRequest(
        leagues=tuple(league or ()),
        seasons=tuple(normalize_season(s) for s in season or ()),
        n_trials=n_trials,
        promote=promote,
        weights=weights,
        evaluation_seasons=evaluation_seasons,
        history_from=normalize_season(history_from) if history_from else None,
        as_of=iso_date(as_of, "--as-of") if as_of else None,
    )
    train_and_report(request)


def train_and_report(request: TrainRequest) -> None:
    """Train, then print the walk-forward comparison with the market and the decision."""
    import polars as pl

    from sabiscore_ml.jobs.training import train as train_job
    from sabiscore_ml.models.evaluation import compare

    try:
        report = train_job(request, progress=step)
    except ValueError as error:
        raise SabiscoreError(str(error)) from error
    predictions = pl.read_parquet(report.predictions_path)
    evaluation = compare(predictions)
    seasons = ", ".join(sorted(predictions["season_code"].unique().to_list()))
    console.print(
        comparison_table(
            evaluation, f"Version {report.version}, walk-forward on {seasons}, against the market"
        )
    )
    console.print(
        f"[bold]version {report.version}[/] is the [bold]{report.alias}[/]: "
        f"{escape(report.decision)}"
        f" (MLflow run {report.run_id})"
    )
