"""``sabiscore predict`` and ``sabiscore publish``: a scored run, and its publication."""

from __future__ import annotations

from typing import Annotated

import typer

from sabiscore_ml.cli.common import console, iso_date, print_run, step
from sabiscore_ml.errors import SabiscoreError


def predict(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Replay: the day to predict from (YYYY-MM-DD)")
    ] = None,
    league: Annotated[list[str] | None, typer.Option("--league", help="League (repeat)")] = None,
    days: Annotated[int, typer.Option("--days", help="Length of a matchday window")] = 4,
    price: Annotated[str, typer.Option("--price", help="best, avg or a bookmaker id")] = "best",
    edge: Annotated[float, typer.Option("--edge", help="Minimum expected value per unit")] = 0.042,
    kelly: Annotated[float, typer.Option("--kelly", help="Fraction of full Kelly")] = 0.125,
    portfolio: Annotated[str, typer.Option("--portfolio", help="Bankroll to stake")] = "default",
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Publish the run right away")
    ] = True,
) -> None:
    """Score the next matchday with the champion, find value bets and stakes, publish them.

    Example: [bold]sabiscore predict --as-of 2023-03-01[/] (a replay: uses nothing after that day)
    """
    from sabiscore_ml.jobs.predict import PredictRequest, publish_run, save_run
    from sabiscore_ml.jobs.predict import predict as predict_job

    request = PredictRequest(
        as_of=iso_date(as_of, "--as-of") if as_of else None,
        leagues=tuple(league or ()),
        days=days,
        price=price,
        edge=edge,
        kelly=kelly,
        portfolio=portfolio,
    )
    try:
        run = predict_job(request, progress=step)
    except (ValueError, LookupError) as error:
        raise SabiscoreError(str(error)) from error
    path = save_run(run)
    print_run(run)
    if publish:
        summary = publish_run(run)
        where = "the warehouse" + (" and Redis" if summary["redis"] else "")
        new = "published" if summary["warehouse_inserted"] else "already published"
        console.print(f"run {run.run_id} {new} to {where}")
    else:
        console.print(
            f"run {run.run_id} kept in {path}; publish it with "
            f"`sabiscore publish --run-id {run.run_id}`"
        )


def publish_command(
    run_id: Annotated[str | None, typer.Option("--run-id", help="A run kept by predict")] = None,
) -> None:
    """Publish a scored run (default: the latest kept) to the warehouse and Redis.

    Example: [bold]sabiscore publish --run-id 20230301-1f2e...[/]
    """
    from sabiscore_ml.jobs.predict import load_run, publish_run
    from sabiscore_ml.settings import get_core_settings

    if run_id is None:
        kept = sorted(
            (get_core_settings().home_dir / "runs").glob("*/run.json"),
            key=lambda p: p.stat().st_mtime,
        )
        if not kept:
            raise SabiscoreError("no scored run to publish: run `sabiscore predict` first")
        run_id = kept[-1].parent.name
    try:
        run = load_run(run_id)
    except FileNotFoundError as error:
        raise SabiscoreError(str(error)) from error
    summary = publish_run(run)
    state = "published" if summary["warehouse_inserted"] else "already in the warehouse"
    console.print(f"run {run_id}: {state}; Redis: {summary['redis'] or 'not configured'}")
