"""``sabiscore run``: the main job end to end on the embedded default."""

from __future__ import annotations

import typer

from sabiscore_ml.cli.common import Printer


def run() -> None:
    """Run the main job end to end on the embedded default.

    Migrate the warehouse, prepare the MLflow store, load the bundled real
    samples of football-data, Understat, FBref and Transfermarkt (teams
    reconciled across sources), print what was loaded per source and
    league-season, build the offline feature store and the online vectors and
    print the catalogue summary, then train the 1X2 ensemble, evaluate it
    walking forward against the market, register it in MLflow and promote it.

    Example: [bold]sabiscore run[/]
    """
    from sabiscore_ml.jobs.run import run as run_job

    raise typer.Exit(run_job(Printer()))
