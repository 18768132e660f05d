"""``sabiscore export``: warehouse data to files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sabiscore_ml.cli.common import (
    CsvOutput,
    Leagues,
    Seasons,
    console,
    init_warehouse,
    known_leagues,
    normalized_seasons,
    write_frame,
)

app = typer.Typer(help="Export warehouse data to files.", no_args_is_help=True)


@app.command("matches")
def export_matches(output: CsvOutput, league: Leagues = None, season: Seasons = None) -> None:
    """Export matches with their 1X2 odds, one row per match.

    Columns: date, kickoff_time, league, season, home_team, away_team,
    home_goals, away_goals, home_xg, away_xg (Understat), fbref_home_xg,
    fbref_away_xg, then ``<bookmaker>_<timing>_<h|d|a>`` odds
    (``pinnacle_close_h``, ``b365_preclose_a``, ``market_avg_preclose_d``...).

    Example: [bold]sabiscore export matches --league E0 --season 2023-2024 -o e0.csv[/]
    """
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import export_matches as write

    leagues = known_leagues(league)
    count = write(get_engine(), output, leagues=leagues, seasons=normalized_seasons(season))
    console.print(f"wrote {count:,} matches to {output}")


@app.command("shots")
def export_shots(output: CsvOutput, league: Leagues = None, season: Seasons = None) -> None:
    """Export every shot (Understat and FBref) with its match, team and xG.

    Example: [bold]sabiscore export shots --league E0 -o shots.csv[/]
    """
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import shots_frame

    leagues = known_leagues(league)
    frame = shots_frame(get_engine(), leagues=leagues, seasons=normalized_seasons(season))
    write_frame(frame, output, "shots")


@app.command("squad-values")
def export_squad_values(output: CsvOutput, season: Seasons = None) -> None:
    """Export squad market values (team, source, season, as-of date, euros).

    Example: [bold]sabiscore export squad-values --season 2020-2021 -o values.csv[/]
    """
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import squad_values_frame

    frame = squad_values_frame(get_engine(), seasons=normalized_seasons(season))
    write_frame(frame, output, "squad values")


@app.command("features")
def export_features(
    output: Annotated[Path, typer.Option("--output", "-o", help=".parquet or .csv file.")],
    league: Leagues = None,
    season: Seasons = None,
) -> None:
    """Export offline feature rows (keys, targets, features) to Parquet or CSV.

    Example: [bold]sabiscore export features --league E0 --season 2020-2021 -o e0.parquet[/]
    """
    import polars as pl

    from feature_store.offline import read_partitions
    from sabiscore_ml.warehouse.engine import get_engine

    leagues = known_leagues(league)
    init_warehouse()
    frame = read_partitions(get_engine(), leagues=leagues, seasons=normalized_seasons(season))
    if frame.is_empty():
        raise typer.BadParameter("no built partition matches; run `sabiscore features build`")
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        # missing is an empty cell, as in every export (polars would write NaN)
        frame.with_columns(pl.col(pl.Float32, pl.Float64).fill_nan(None)).write_csv(output)
    elif output.suffix.lower() == ".parquet":
        frame.write_parquet(output)
    else:
        raise typer.BadParameter("the output must end in .parquet or .csv", param_hint="--output")
    console.print(f"wrote {frame.height:,} matches x {frame.width} columns to {output}")
