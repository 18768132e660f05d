"""``sabiscore teams``: team reconciliation across sources."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sabiscore_ml.cli.common import console, err_console, init_warehouse
from sabiscore_ml.leagues import normalize_season

app = typer.Typer(help="Team reconciliation across sources.", no_args_is_help=True)


@app.command("check")
def teams_check(
    league: Annotated[str | None, typer.Option("--league", "-l")] = None,
    season: Annotated[str | None, typer.Option("--season", "-s")] = None,
) -> None:
    """Report how each source's team names reconcile, and what stopped a load.

    Lists the files rejected because a team name did not reconcile, with their
    candidates and the alias lines to add to sabiscore_ml/data/team_aliases.csv.
    Exit status 1 when some are outstanding.

    Example: [bold]sabiscore teams check --league E0 --season 2020-2021[/]
    """
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import reconciliation_report

    init_warehouse()
    matched, refused = reconciliation_report(
        get_engine(), league=league, season=normalize_season(season) if season else None
    )
    table = Table(title="Teams matched per source")
    for column in ("source", "league", "season", "teams", "matches", "linked", "with xG"):
        table.add_column(
            column, justify="left" if column in ("source", "league", "season") else "right"
        )
    for row in matched:
        table.add_row(
            row.source,
            row.league,
            row.season,
            *(str(n) for n in (row.teams, row.matches, row.linked, row.with_xg)),
        )
    console.print(table)
    for uri, message in refused:
        err_console.print(f"[bold red]not reconciled[/] {escape(uri)}", soft_wrap=True)
        err_console.print(escape(message), soft_wrap=True)
    if not refused:
        console.print(
            "all reconciled: every loaded file's team names match the warehouse's teams"
            + (f" ({len(matched)} source league-season(s))" if matched else "")
        )
    raise typer.Exit(1 if refused else 0)
