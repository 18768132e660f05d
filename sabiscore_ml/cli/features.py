"""``sabiscore features``: the feature store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sabiscore_ml.cli.common import (
    Leagues,
    Printer,
    Seasons,
    console,
    init_warehouse,
    normalized_seasons,
    print_feature_build,
)
from sabiscore_ml.jobs.run import feature_progress

app = typer.Typer(help="The feature store.", no_args_is_help=True)


@app.command("build")
def features_build(
    league: Leagues = None,
    season: Seasons = None,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild every partition, stale or not.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Start of the online horizon (YYYY-MM-DD); default today."),
    ] = None,
) -> None:
    """Rebuild the stale offline partitions, then refresh the online store.

    A partition (one league-season) is stale when its data or the feature
    definitions changed; later seasons of the same country follow it, since
    ratings and form carry over.  Online vectors are written for the fixtures
    of the next SABISCORE_FEATURES_ONLINE_HORIZON_DAYS days (Redis when
    SABISCORE_REDIS_URL is set, else the warehouse).

    Examples: [bold]sabiscore features build[/] ·
    [bold]sabiscore features build --league E0 --season 2023-2024 --full[/]
    """
    import datetime as dt

    from feature_store.api import build_features

    init_warehouse()
    seasons = normalized_seasons(season)
    day = dt.date.fromisoformat(as_of) if as_of else None
    print_feature_build(
        build_features(
            leagues=league or None,
            seasons=seasons,
            full=full,
            as_of=day,
            progress=feature_progress(Printer()),
        )
    )


@app.command("list")
def features_list(
    league: Leagues = None,
    season: Seasons = None,
    family: Annotated[
        str | None, typer.Option("--family", "-f", help="Only this family (form, market...).")
    ] = None,
) -> None:
    """The feature catalogue: every feature with its availability and coverage.

    Coverage is the share of matches with a value, over the built partitions
    of the chosen leagues and seasons.

    Example: [bold]sabiscore features list --league E0 --family market[/]
    """
    from feature_store.catalog import CATALOG_VERSION, definitions
    from feature_store.offline import coverage_by_feature
    from sabiscore_ml.warehouse.engine import get_engine

    init_warehouse()
    seasons = normalized_seasons(season)
    coverage, partitions = coverage_by_feature(get_engine(), leagues=league, seasons=seasons)
    table = Table(title=f"Feature catalogue {CATALOG_VERSION} ({partitions} partition(s) built)")
    for column in ("feature", "type", "sources", "available before kick-off", "coverage"):
        table.add_column(column, justify="right" if column == "coverage" else "left")
    shown = [d for d in definitions() if not family or d.family == family]
    for d in shown:
        share = coverage.get(d.name)
        table.add_row(
            d.name,
            str(d.dtype).removeprefix("<class 'polars.datatypes.classes.").rstrip("'>"),
            ", ".join(d.sources),
            d.availability,
            "-" if share is None else f"{share:.0%}",
        )
    console.print(table)
    console.print(f"{len(shown)} feature(s)")
