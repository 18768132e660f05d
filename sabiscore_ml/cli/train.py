"""``sabiscore train``: the 1X2 ensemble trained, evaluated, registered."""

from __future__ import annotations

from typing import Annotated

import typer

from sabiscore_ml.cli.common import HistoryFrom, Printer, init_warehouse, iso_date
from sabiscore_ml.jobs.run import train_and_compare
from sabiscore_ml.leagues import normalize_season


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
    train_and_compare(request, Printer())
