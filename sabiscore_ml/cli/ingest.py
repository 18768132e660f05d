"""``sabiscore ingest``: load a source into the warehouse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sabiscore_ml.cli.common import (
    build_data_docs,
    console,
    err_console,
    init_warehouse,
    iso_date,
    iso_datetime,
    load,
    print_coverage,
    print_outcomes,
    step,
)
from sabiscore_ml.jobs.run import Loaded

app = typer.Typer(help="Load a source into the warehouse.", no_args_is_help=True)


@app.command("football-data")
def ingest_football_data(
    league: Annotated[
        list[str] | None, typer.Option("--league", "-l", help="Division code, e.g. E0 (repeat).")
    ] = None,
    season: Annotated[
        list[str] | None,
        typer.Option("--season", "-s", help="Season, e.g. 2023-2024 (repeat)."),
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option(help="Load every CSV under this folder, recursively (offline)."),
    ] = None,
    file: Annotated[
        list[Path] | None, typer.Option("--file", "-f", help="Load this CSV file (repeat).")
    ] = None,
    summary: Annotated[bool, typer.Option(help="Print the coverage table afterwards.")] = True,
    refresh: Annotated[
        bool, typer.Option(help="Download even a finished season already in the archive.")
    ] = False,
    fixtures: Annotated[
        bool,
        typer.Option(
            "--fixtures", help="Download fixtures.csv: every league's upcoming matches and odds."
        ),
    ] = False,
    fixtures_file: Annotated[
        Path | None, typer.Option(help="Load this fixtures.csv (offline).")
    ] = None,
    taken_on: Annotated[
        str | None,
        typer.Option(help="--fixtures-file: the day the copy was taken (default today)."),
    ] = None,
    taken_at: Annotated[
        str | None,
        typer.Option(
            help="--fixtures-file: the moment the copy was taken (ISO, UTC unless an offset "
            "is given; default now), which its odds snapshots carry."
        ),
    ] = None,
) -> None:
    """Load football-data.co.uk results and odds: downloaded, or offline from files.

    A finished season already archived and loaded is not downloaded again, the
    current one only when the server says it changed; --refresh forces it.

    --fixtures downloads fixtures.csv (the upcoming matches of every league with
    their current pre-closing odds; only if it changed since the archived copy,
    --refresh forces it) and --fixtures-file loads a copy from disk (taken now,
    on --taken-on or at --taken-at): unplayed matches for live predictions, all
    leagues in one transaction, played matches never changed.  Every copy's
    prices are kept as odds snapshots taken at that moment; the latest copy's
    are a fixture's current prices.  A copy listing fixtures more than
    3 days before the day it was taken is rejected as stale.  Offline,
    `sabiscore replay` reloads the archived copies as of the day each was taken.

    Each file is archived under its hash and loaded in its own transaction; a
    rejected file is named with the check it failed and the others still load.
    The exit status is 1 if any file was rejected.

    Examples:
      [bold]sabiscore ingest football-data --league E0 --season 2023-2024[/]  (download)

      [bold]sabiscore ingest football-data --from-dir ./football-data[/]

      [bold]sabiscore ingest football-data --file E0.csv --file SP1.csv[/]

      [bold]sabiscore ingest football-data --from-dir data --league E0 --season 2022-2023[/]

      [bold]sabiscore ingest football-data --fixtures[/]  (upcoming matches, current odds)
    """
    from sabiscore_ml.jobs.football_data import plan_football_data

    if (taken_on or taken_at) and not fixtures_file:
        raise typer.BadParameter("--taken-on / --taken-at date a --fixtures-file copy")
    if taken_on and taken_at:
        raise typer.BadParameter("give --taken-on or --taken-at, not both")
    if fixtures or fixtures_file:
        if league or season or from_dir or file or (fixtures and fixtures_file):
            raise typer.BadParameter(
                "--fixtures / --fixtures-file load every league of one file: give one, alone"
            )
        day = iso_date(taken_on, "--taken-on") if taken_on else None
        moment = iso_datetime(taken_at, "--taken-at") if taken_at else None
        raise typer.Exit(
            _ingest_fixtures(fixtures_file, refresh=refresh, taken_on=day, taken_at=moment)
        )
    try:
        items = plan_football_data(
            leagues=league or None,
            seasons=season or None,
            from_dir=str(from_dir) if from_dir else None,
            files=[str(f) for f in file or []],
            refresh=refresh,
        )
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc).strip("'\"")) from exc
    if not items:
        err_console.print("nothing to load: no CSV file matched")
        raise typer.Exit(1)
    init_warehouse()
    started = time.perf_counter()
    loaded = load(items, "football-data")
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    build_data_docs()
    if summary:
        print_coverage(sorted({o.league for o in loaded.outcomes if o.ok and o.league}))
    raise typer.Exit(loaded.status)


def _ingest_fixtures(
    path: Path | None,
    *,
    refresh: bool,
    taken_on: str | None = None,
    taken_at: str | None = None,
) -> int:
    """Load fixtures.csv (downloaded, or ``path``); print the fixtures per league-season."""
    import datetime as dt

    from sabiscore_ml.jobs.football_data import (
        ingest_football_data_fixtures_file,
        ingest_football_data_fixtures_remote,
    )

    init_warehouse()
    started = time.perf_counter()
    if path is not None:
        day = dt.date.fromisoformat(taken_on) if taken_on else None
        moment = dt.datetime.fromisoformat(taken_at) if taken_at else None
        outcome = ingest_football_data_fixtures_file(path, today=day, taken_at=moment)
    else:
        step("downloading fixtures.csv")
        outcome = ingest_football_data_fixtures_remote(refresh=refresh)
    loaded = Loaded("fixtures.csv", "matches", (outcome,))
    print_outcomes(loaded.outcomes)
    if outcome.per_league_season:
        table = Table(title="Fixtures loaded (unplayed, with current pre-closing odds)")
        for column in ("league", "season", "fixtures"):
            table.add_column(column, justify="right" if column == "fixtures" else "left")
        for key, count in outcome.per_league_season.items():
            table.add_row(*key.split(" ", 1), str(count))
        console.print(table)
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    build_data_docs()
    return loaded.status


def _ingest_source_command(source: str, example_dir: str) -> None:
    def command(
        league: Annotated[
            list[str] | None,
            typer.Option("--league", "-l", help="League code of files that do not name it."),
        ] = None,
        season: Annotated[
            list[str] | None,
            typer.Option("--season", "-s", help="Only load files of these seasons (repeat)."),
        ] = None,
        from_dir: Annotated[
            Path | None, typer.Option(help="Load every page/JSON/CSV under this folder.")
        ] = None,
        file: Annotated[
            list[Path] | None, typer.Option("--file", "-f", help="Load this file (repeat).")
        ] = None,
        refresh: Annotated[
            bool, typer.Option(help="Fetch even a finished season already in the archive.")
        ] = False,
        match_id: Annotated[
            list[str] | None,
            typer.Option(help="Understat: fetch this match of the league-season (repeat)."),
        ] = None,
    ) -> None:
        from sabiscore_ml.jobs.sources import plan_source

        try:
            items = plan_source(
                source,
                from_dir=str(from_dir) if from_dir else None,
                files=[str(f) for f in file or []],
                leagues=league or None,
                seasons=season or None,
                refresh=refresh,
                match_ids=match_id or None,
            )
        except (ValueError, KeyError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        if not items:
            err_console.print("nothing to load: no file matched")
            raise typer.Exit(1)
        init_warehouse()
        started = time.perf_counter()
        loaded = load(items, source, unit="rows")
        console.print(f"done in {time.perf_counter() - started:.1f} s")
        build_data_docs()
        raise typer.Exit(loaded.status)

    command.__doc__ = f"""Load {source} into the warehouse: fetched live, or from recorded files.

    Without --from-dir/--file each --league × --season (default: the current
    season) is fetched from the site; a finished season already archived and
    loaded is not fetched again, the current one only if it changed (--refresh
    forces it).  Teams are reconciled with the football-data roster of the same
    league-season (load that first); a name that does not reconcile rejects the
    file with a report of candidates and alias lines.  One transaction per file;
    the exit status is 1 if any file was rejected.

    Examples: [bold]sabiscore ingest {source} --league E0 --season 2020-2021[/]

      [bold]sabiscore ingest {source} --from-dir {example_dir}[/]
    """
    app.command(source)(command)


for _source, _example in (
    ("understat", "samples/understat"),
    ("fbref", "samples/fbref"),
    ("transfermarkt", "samples/transfermarkt"),
):
    _ingest_source_command(_source, _example)
