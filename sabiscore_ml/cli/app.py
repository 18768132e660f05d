"""The ``sabiscore`` command line: the same job functions the Airflow DAGs call."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.leagues import normalize_season

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="Sabiscore: football match prediction and stake sizing.\n\n"
    "Runs on an embedded default (SQLite warehouse and MLflow store under SABISCORE_HOME, "
    "no Redis) unless SABISCORE_DATABASE_URL, SABISCORE_REDIS_URL or MLFLOW_TRACKING_URI "
    "point elsewhere.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(help="Load a source into the warehouse.", no_args_is_help=True)
export_app = typer.Typer(help="Export warehouse data to files.", no_args_is_help=True)
validate_app = typer.Typer(help="great-expectations validation results.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(export_app, name="export")
app.add_typer(validate_app, name="validate")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


def _step(text: str) -> None:
    console.print(f"[bold cyan]>>[/] {text}")


def _init_warehouse() -> str:
    from sabiscore_ml.warehouse.engine import migrate

    return migrate()


@app.command()
def init() -> None:
    """Create or migrate the warehouse and the MLflow store.

    Example: [bold]sabiscore init[/]
    """
    from sabiscore_ml.registry import init_mlflow_store
    from sabiscore_ml.settings import get_core_settings, get_mlflow_settings
    from sabiscore_ml.warehouse.engine import current_revision

    _step("migrating the warehouse")
    url = _init_warehouse()
    _step("preparing the MLflow store")
    init_mlflow_store()
    mlflow_settings = get_mlflow_settings()
    table = Table(title="Sabiscore is ready", show_header=False)
    table.add_row("warehouse", _redact(url))
    table.add_row("schema revision", str(current_revision(url)))
    table.add_row("MLflow tracking", _redact(mlflow_settings.uri))
    table.add_row(
        "MLflow experiments",
        f"{mlflow_settings.experiment}-1x2, {mlflow_settings.experiment}-betting "
        "(each created with its first run)",
    )
    table.add_row("raw archive", str(get_core_settings().raw_archive_dir))
    console.print(table)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a database URL (e.g. http://mlflow)
        return url


def _run_items(items: list[dict[str, str]], label: str) -> list:
    from sabiscore_ml.jobs.football_data import IngestOutcome
    from sabiscore_ml.jobs.workitems import run_work_items, work_item_label

    outcomes: list[IngestOutcome] = []
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=len(items), current="")
        for outcome in run_work_items(items):
            outcomes.append(outcome)
            progress.update(task, current=work_item_label(items[len(outcomes) - 1]))
            progress.advance(task)
    return outcomes


def _report_outcomes(outcomes: list, unit: str = "matches") -> int:
    loaded = [o for o in outcomes if o.ok]
    bad = [o for o in outcomes if o.status in ("rejected", "failed")]
    skipped = len(outcomes) - len(loaded) - len(bad)
    if skipped:
        console.print(
            f"skipped {skipped} file(s): other seasons, archived copies still current, "
            "or files holding no data to load"
        )
        for outcome in outcomes:
            if outcome.status == "skipped" and outcome.message:
                console.print(f"  {escape(outcome.uri)}: {escape(outcome.message)}", soft_wrap=True)
    console.print(
        f"loaded {len(loaded)} file(s): {sum(o.matches for o in loaded):,} {unit}"
        + (f", {sum(o.odds for o in loaded):,} odds" if unit == "matches" else "")
    )
    for outcome in loaded:
        if outcome.message:
            console.print(f"  {escape(outcome.uri)}: {escape(outcome.message)}", soft_wrap=True)
        for warning in outcome.warnings:
            err_console.print(
                f"[yellow]warning[/] {escape(outcome.uri)}: {escape(warning)}", soft_wrap=True
            )
    for outcome in bad:
        err_console.print(
            f"[bold red]{outcome.status}[/] {escape(outcome.message or '')}", soft_wrap=True
        )
    if bad:
        err_console.print(f"[bold red]{len(bad)} file(s) rejected[/]; the others were loaded")
    return 1 if bad else 0


def _build_data_docs() -> None:
    """Render the Data Docs of the validation results recorded so far, and say where."""
    from sabiscore_ml.data_docs import build_data_docs

    started = time.perf_counter()
    try:
        docs = build_data_docs()
    except OSError as exc:  # the load itself is done: say so, do not fail it
        err_console.print(f"[yellow]warning[/] data docs not built: {escape(str(exc))}")
        return
    if docs is None:
        return
    console.print(
        f"data docs: {docs.index} ({docs.results} validation results, {docs.failed} failed; "
        f"{docs.rendered} new pages in {time.perf_counter() - started:.1f} s)",
        soft_wrap=True,
    )


@validate_app.command("docs")
def validate_docs() -> None:
    """Build the Data Docs of the recorded validation results and print their index.

    Every great-expectations suite run (each file of each ingest, CLI or Airflow)
    is recorded under SABISCORE_DATA_DOCS_DIR (default $SABISCORE_HOME/data_docs);
    ingest commands build the pages at their end, this command builds the
    pages still missing (those of Airflow tasks).

    Example: [bold]sabiscore validate docs[/]
    """
    from sabiscore_ml.settings import get_core_settings

    if get_core_settings().data_docs_max_results == 0:
        err_console.print("Data Docs are off (SABISCORE_DATA_DOCS_MAX_RESULTS=0)")
        raise typer.Exit(1)
    _build_data_docs()


def _print_coverage(leagues: list[str] | None = None) -> None:
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import coverage_summary

    rows = coverage_summary(get_engine(), leagues=leagues)
    table = Table(title="Warehouse coverage (1X2 odds)")
    for column in ("league", "season", "matches", "played", "with odds", "Pinnacle close", "books"):
        table.add_column(column, justify="left" if column in ("league", "season") else "right")
    for row in rows:
        table.add_row(
            row.league,
            row.season,
            f"{row.matches:,}",
            f"{row.played:,}",
            f"{row.with_odds / row.matches:.0%}" if row.matches else "-",
            f"{row.with_pinnacle_close / row.matches:.0%}" if row.matches else "-",
            str(row.bookmakers),
        )
    console.print(table)


@ingest_app.command("football-data")
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
) -> None:
    """Load football-data.co.uk results and odds: downloaded, or offline from files.

    A finished season already archived and loaded is not downloaded again, the
    current one only when the server says it changed; --refresh forces it.

    --fixtures downloads fixtures.csv (the upcoming matches of every league with
    their current pre-closing odds; only if it changed since the archived copy,
    --refresh forces it) and --fixtures-file loads a copy from disk (taken today,
    or on --taken-on): unplayed matches for live predictions, all leagues in one
    transaction, played matches never changed.  A copy listing fixtures more than
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

    if taken_on and not fixtures_file:
        raise typer.BadParameter("--taken-on dates a --fixtures-file copy")
    if fixtures or fixtures_file:
        if league or season or from_dir or file or (fixtures and fixtures_file):
            raise typer.BadParameter(
                "--fixtures / --fixtures-file load every league of one file: give one, alone"
            )
        day = _iso_date(taken_on, "--taken-on") if taken_on else None
        raise typer.Exit(_ingest_fixtures(fixtures_file, refresh=refresh, taken_on=day))
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
    _init_warehouse()
    started = time.perf_counter()
    outcomes = _run_items(items, "football-data")
    status = _report_outcomes(outcomes)
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    _build_data_docs()
    if summary:
        _print_coverage(sorted({o.league for o in outcomes if o.ok and o.league}))
    raise typer.Exit(status)


def _ingest_fixtures(path: Path | None, *, refresh: bool, taken_on: str | None = None) -> int:
    """Load fixtures.csv (downloaded, or ``path``); print the fixtures per league-season."""
    import datetime as dt

    from sabiscore_ml.jobs.football_data import (
        ingest_football_data_fixtures_file,
        ingest_football_data_fixtures_remote,
    )

    _init_warehouse()
    started = time.perf_counter()
    if path is not None:
        day = dt.date.fromisoformat(taken_on) if taken_on else None
        outcome = ingest_football_data_fixtures_file(path, today=day)
    else:
        _step("downloading fixtures.csv")
        outcome = ingest_football_data_fixtures_remote(refresh=refresh)
    status = _report_outcomes([outcome])
    if outcome.per_league_season:
        table = Table(title="Fixtures loaded (unplayed, with current pre-closing odds)")
        for column in ("league", "season", "fixtures"):
            table.add_column(column, justify="right" if column == "fixtures" else "left")
        for key, count in outcome.per_league_season.items():
            table.add_row(*key.split(" ", 1), str(count))
        console.print(table)
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    _build_data_docs()
    return status


def _known_leagues(codes: list[str] | None) -> list[str] | None:
    """``--league`` codes checked against :data:`sabiscore_ml.leagues.LEAGUES` (upper-cased).

    An unknown code is an error naming the known ones: it would otherwise export
    nothing, like a known league without data.
    """
    from sabiscore_ml.leagues import get_league

    if not codes:
        return None
    try:
        return [get_league(code.strip().upper()).code for code in codes]
    except KeyError as error:
        raise SabiscoreError(f"--league: {error.args[0]}") from None


@export_app.command("matches")
def export_matches(
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
    league: Annotated[list[str] | None, typer.Option("--league", "-l", help="Repeatable.")] = None,
    season: Annotated[list[str] | None, typer.Option("--season", "-s", help="Repeatable.")] = None,
) -> None:
    """Export matches with their 1X2 odds, one row per match.

    Columns: date, kickoff_time, league, season, home_team, away_team,
    home_goals, away_goals, home_xg, away_xg (Understat), fbref_home_xg,
    fbref_away_xg, then ``<bookmaker>_<timing>_<h|d|a>`` odds
    (``pinnacle_close_h``, ``b365_preclose_a``, ``market_avg_preclose_d``...).

    Example: [bold]sabiscore export matches --league E0 --season 2023-2024 -o e0.csv[/]
    """
    from sabiscore_ml.leagues import normalize_season
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import export_matches as write

    leagues = _known_leagues(league)
    seasons = [normalize_season(s) for s in season] if season else None
    count = write(get_engine(), output, leagues=leagues, seasons=seasons)
    console.print(f"wrote {count:,} matches to {output}")


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
        _init_warehouse()
        started = time.perf_counter()
        status = _report_outcomes(_run_items(items, source), unit="rows")
        console.print(f"done in {time.perf_counter() - started:.1f} s")
        _build_data_docs()
        raise typer.Exit(status)

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
    ingest_app.command(source)(command)


for _source, _example in (
    ("understat", "samples/understat"),
    ("fbref", "samples/fbref"),
    ("transfermarkt", "samples/transfermarkt"),
):
    _ingest_source_command(_source, _example)


@export_app.command("shots")
def export_shots(
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
    league: Annotated[list[str] | None, typer.Option("--league", "-l", help="Repeatable.")] = None,
    season: Annotated[list[str] | None, typer.Option("--season", "-s", help="Repeatable.")] = None,
) -> None:
    """Export every shot (Understat and FBref) with its match, team and xG.

    Example: [bold]sabiscore export shots --league E0 -o shots.csv[/]
    """
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import shots_frame

    leagues = _known_leagues(league)
    seasons = [normalize_season(s) for s in season] if season else None
    _write_frame(shots_frame(get_engine(), leagues=leagues, seasons=seasons), output, "shots")


@export_app.command("squad-values")
def export_squad_values(
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
    season: Annotated[list[str] | None, typer.Option("--season", "-s", help="Repeatable.")] = None,
) -> None:
    """Export squad market values (team, source, season, as-of date, euros).

    Example: [bold]sabiscore export squad-values --season 2020-2021 -o values.csv[/]
    """
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import squad_values_frame

    seasons = [normalize_season(s) for s in season] if season else None
    _write_frame(squad_values_frame(get_engine(), seasons=seasons), output, "squad values")


def _write_frame(frame, output: Path, what: str) -> None:  # noqa: ANN001 - a DataFrame
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    console.print(f"wrote {len(frame):,} {what} to {output}")


@app.command()
def replay(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="football-data, understat, fbref or transfermarkt."),
    ] = None,
) -> None:
    """Rebuild the warehouse from the raw archive, without the network.

    Every archived body is parsed and loaded again (football-data first, so the
    other sources find their rosters); quarantined files are retried too.

    Example: [bold]sabiscore replay --source understat[/]
    """
    from sabiscore_ml.jobs.sources import replay_items

    _init_warehouse()
    items = replay_items(source or None)
    if not items:
        err_console.print("the archive holds nothing to replay")
        raise typer.Exit(1)
    status = _report_outcomes(_run_items(items, "replay"), unit="rows")
    _build_data_docs()
    raise typer.Exit(status)


teams_app = typer.Typer(help="Team reconciliation across sources.", no_args_is_help=True)
app.add_typer(teams_app, name="teams")


@teams_app.command("check")
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

    _init_warehouse()
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


def _print_source_summary() -> None:
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import source_summary

    table = Table(title="Other sources, reconciled with the warehouse")
    for column in ("source", "table", "league", "season", "rows", "teams", "linked"):
        table.add_column(
            column, justify="right" if column in ("rows", "teams", "linked") else "left"
        )
    for row in source_summary(get_engine()):
        table.add_row(*(str(value) for value in row))
    console.print(table)


@app.command()
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
    from sabiscore_ml.jobs.football_data import bundled_sample_dir, plan_football_data
    from sabiscore_ml.jobs.sources import SOURCES, plan_source
    from sabiscore_ml.registry import init_mlflow_store
    from sabiscore_ml.settings import get_mlflow_settings, get_warehouse_settings

    started = time.perf_counter()
    _step(f"warehouse: {_redact(get_warehouse_settings().url)}")
    _init_warehouse()
    _step(f"MLflow store: {_redact(get_mlflow_settings().uri)}")
    init_mlflow_store()
    sample = bundled_sample_dir()
    items = plan_football_data(from_dir=str(sample))
    _step(f"ingesting {len(items)} football-data files from {sample}")
    status = _report_outcomes(_run_items(items, "football-data"))
    _print_coverage()
    for source in SOURCES:
        folder = sample.parent / source
        source_items = plan_source(source, from_dir=str(folder))
        _step(f"ingesting {len(source_items)} {source} files from {folder}")
        status = max(status, _report_outcomes(_run_items(source_items, source), unit="rows"))
    _print_source_summary()
    status = max(status, _run_features())
    if status == 0:
        from sabiscore_ml.jobs.training import TrainRequest

        replay_day = _last_matchday()
        _step(
            f"training the 1X2 ensemble on the sample's matches before {replay_day} "
            "(defaults, no tuning); its latest season is walked forward and paired with "
            "the market"
        )
        _train_and_report(TrainRequest(as_of=replay_day.isoformat()))
        status = max(status, _run_predict(replay_day))
    _build_data_docs()
    _step(f"finished in {time.perf_counter() - started:.1f} s")
    raise typer.Exit(status)


def _last_matchday() -> dt.date:
    """The first day of the samples' last matchday (the day ``run`` replays)."""
    from sqlalchemy import func, select

    from sabiscore_ml.jobs.predict import next_matchday
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.models import Match

    engine = get_engine()
    with engine.connect() as connection:
        last = connection.execute(select(func.max(Match.match_date))).scalar_one()
    last = dt.date.fromisoformat(last) if isinstance(last, str) else last
    windows = next_matchday(engine, last - dt.timedelta(days=3))
    return min(start for start, _ in windows.values())


def _run_predict(as_of: dt.date) -> int:
    """Score the samples' last matchday (replayed as if upcoming) and publish it."""
    from sabiscore_ml.jobs.predict import PredictRequest, publish_run, save_run
    from sabiscore_ml.jobs.predict import predict as predict_job
    from sabiscore_ml.warehouse.engine import get_engine

    engine = get_engine()
    _step(
        f"predicting the fixtures from {as_of} (the samples' last matchday, replayed: "
        "results from that day on are hidden), value bets and 1/8-Kelly stakes"
    )
    run = predict_job(PredictRequest(as_of=as_of.isoformat()), engine=engine, progress=_step)
    save_run(run)
    _print_run(run)
    summary = publish_run(run, engine=engine)
    where = "the warehouse" + (" and Redis" if summary["redis"] else "")
    _step(
        f"published run {run.run_id} to {where}: {summary['predictions']} predictions, "
        f"{summary['value_bets']} value bets, {summary['stakes']} stakes"
    )
    return 0


def _run_features() -> int:
    """Build the features of everything loaded; online vectors for the last matchday."""
    import datetime as dt

    from sqlalchemy import func, select

    from feature_store.api import build_features
    from feature_store.catalog import FAMILIES, feature_names
    from feature_store.offline import coverage_by_feature
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.models import Match

    engine = get_engine()
    with engine.connect() as connection:
        last = connection.execute(select(func.max(Match.match_date))).scalar_one()
    if last is None:
        return 0
    last = dt.date.fromisoformat(last) if isinstance(last, str) else last
    _step(
        f"building {len(feature_names())} features; online vectors for the fixtures from "
        f"{last} (the samples' last matchday, replayed as if upcoming)"
    )
    build = build_features(
        as_of=last,
        engine=engine,
        progress=lambda country, parts, rows: _step(
            f"features: {country}: {parts} partition(s) from {rows:,} matches"
        ),
    )
    _print_feature_build(build)
    coverage, _ = coverage_by_feature(engine)
    table = Table(title="Feature catalogue summary")
    for column in ("family", "features", "mean coverage"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for family in FAMILIES:
        names = [d.name for d in family.definitions]
        mean = sum(coverage.get(n, 0.0) for n in names) / len(names)
        table.add_row(family.name, str(len(names)), f"{mean:.0%}")
    console.print(table)
    return 0


features_app = typer.Typer(help="The feature store.", no_args_is_help=True)
app.add_typer(features_app, name="features")


def _print_feature_build(build) -> None:  # noqa: ANN001 - a FeatureBuild
    report, online = build.offline, build.online
    if report.written:
        table = Table(title="Offline feature partitions rebuilt")
        for column in ("league", "season", "matches"):
            table.add_column(column, justify="right" if column == "matches" else "left")
        for league, season, rows in report.written:
            table.add_row(league, season, f"{rows:,}")
        console.print(table)
    console.print(
        f"offline: {report.partitions} partition(s) rebuilt ({report.rows:,} matches, "
        f"{report.countries} countr{'y' if report.countries == 1 else 'ies'}), "
        f"{report.fresh} up to date, in {report.seconds:.1f} s"
    )
    console.print(
        f"online: {online.matches} fixture(s) dated {online.as_of} to {online.until} "
        f"written to {online.backend} (run {online.run_id[:8]})"
    )


@features_app.command("build")
def features_build(
    league: Annotated[list[str] | None, typer.Option("--league", "-l", help="Repeatable.")] = None,
    season: Annotated[list[str] | None, typer.Option("--season", "-s", help="Repeatable.")] = None,
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

    _init_warehouse()
    seasons = [normalize_season(s) for s in season] if season else None
    day = dt.date.fromisoformat(as_of) if as_of else None
    _print_feature_build(
        build_features(
            leagues=league or None,
            seasons=seasons,
            full=full,
            as_of=day,
            progress=lambda country, parts, rows: _step(
                f"features: {country}: {parts} partition(s) from {rows:,} matches"
            ),
        )
    )


@features_app.command("list")
def features_list(
    league: Annotated[list[str] | None, typer.Option("--league", "-l", help="Repeatable.")] = None,
    season: Annotated[list[str] | None, typer.Option("--season", "-s", help="Repeatable.")] = None,
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

    _init_warehouse()
    seasons = [normalize_season(s) for s in season] if season else None
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


@export_app.command("features")
def export_features(
    output: Annotated[Path, typer.Option("--output", "-o", help=".parquet or .csv file.")],
    league: Annotated[list[str] | None, typer.Option("--league", "-l", help="Repeatable.")] = None,
    season: Annotated[list[str] | None, typer.Option("--season", "-s", help="Repeatable.")] = None,
) -> None:
    """Export offline feature rows (keys, targets, features) to Parquet or CSV.

    Example: [bold]sabiscore export features --league E0 --season 2020-2021 -o e0.parquet[/]
    """
    import polars as pl

    from feature_store.offline import read_partitions
    from sabiscore_ml.warehouse.engine import get_engine

    leagues = _known_leagues(league)
    _init_warehouse()
    seasons = [normalize_season(s) for s in season] if season else None
    frame = read_partitions(get_engine(), leagues=leagues, seasons=seasons)
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


def _comparison_table(comparison, title: str) -> Table:
    """The model's scores beside the market's, paired on the same matches."""
    table = Table(title=title)
    for column in ("forecaster", "matches", "RPS", "log loss", "ECE", "model − it (paired)"):
        table.add_column(column, justify="left" if column == "forecaster" else "right")
    s = comparison.scores
    table.add_row("model", f"{s.n:,}", f"{s.rps:.4f}", f"{s.log_loss:.4f}", f"{s.ece:.4f}", "")
    for name, market in comparison.market_scores.items():
        diff = comparison.model_vs[name]
        table.add_row(
            name,
            f"{market.n:,}",
            f"{market.rps:.4f}",
            f"{market.log_loss:.4f}",
            f"{market.ece:.4f}",
            f"{diff.mean:+.4f} ± {diff.se:.4f}",
        )
    return table


@app.command()
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
    history_from: Annotated[
        str | None, typer.Option("--history-from", help="Earliest season trained on")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Train on matches before this date (replay)")
    ] = None,
) -> None:
    """Train the 1X2 ensemble, evaluate it walking forward, register it, maybe promote it.

    Example: [bold]sabiscore train --league E0 --league E1 --n-trials 20[/]
    """
    from sabiscore_ml.jobs.training import TrainRequest

    _init_warehouse()
    request = TrainRequest(
        leagues=tuple(league or ()),
        seasons=tuple(normalize_season(s) for s in season or ()),
        n_trials=n_trials,
        promote=promote,
        weights=weights,
        evaluation_seasons=evaluation_seasons,
        history_from=normalize_season(history_from) if history_from else None,
        as_of=_iso_date(as_of, "--as-of") if as_of else None,
    )
    _train_and_report(request)


def _iso_date(text: str, option: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _train_and_report(request) -> None:  # noqa: ANN001 - a TrainRequest
    import polars as pl

    from sabiscore_ml.jobs.training import train as train_job
    from sabiscore_ml.models.evaluation import compare

    try:
        report = train_job(request, progress=_step)
    except ValueError as error:
        raise SabiscoreError(str(error)) from error
    predictions = pl.read_parquet(report.predictions_path)
    evaluation = compare(predictions)
    seasons = ", ".join(sorted(predictions["season_code"].unique().to_list()))
    console.print(
        _comparison_table(
            evaluation, f"Version {report.version}, walk-forward on {seasons}, against the market"
        )
    )
    console.print(
        f"[bold]version {report.version}[/] is the [bold]{report.alias}[/]: "
        f"{escape(report.decision)}"
        f" (MLflow run {report.run_id})"
    )


@app.command()
def backtest(
    league: Annotated[list[str], typer.Option("--league", help="League code (repeat)")],
    seasons: Annotated[str, typer.Option("--seasons", help="FIRST:LAST, e.g. 2015-2016:2023-2024")],
    output: Annotated[Path, typer.Option("--output", help="CSV (or .parquet) of the predictions")],
    weights: Annotated[str, typer.Option("--weights", help="stacking or design")] = "stacking",
    step: Annotated[str, typer.Option("--step", help="season or matchweek refits")] = "season",
    history_from: Annotated[
        str | None, typer.Option("--history-from", help="Earliest season trained on")
    ] = None,
) -> None:
    """Walk-forward backtest: each season predicted by a model fitted only on earlier matches.

    Example:
    [bold]sabiscore backtest --league E0 --seasons 2015-2016:2023-2024 --output preds.csv[/]
    """
    from sabiscore_ml.jobs.backtest import backtest as run_backtest
    from sabiscore_ml.jobs.backtest import season_range
    from sabiscore_ml.models.config import ModelConfig

    try:
        result = run_backtest(
            league,
            season_range(seasons),
            config=ModelConfig(weights=weights),
            history_from=normalize_season(history_from) if history_from else None,
            step=step,
            progress=lambda b: _step(
                f"{b.season} from {b.start}: {b.rows} matches, trained on {b.train_rows:,}"
            ),
        )
    except ValueError as error:
        raise SabiscoreError(str(error)) from error
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".parquet":
        result.predictions.write_parquet(output)
    else:
        result.predictions.write_csv(output)
    console.print(f"wrote {result.predictions.height:,} matches to {output}")
    console.print(_comparison_table(result.comparison, "Walk-forward against the market"))


def _print_run(run) -> None:  # noqa: ANN001 - a PublishedRun
    """The scored fixtures with their value bets and stakes."""
    import polars as pl

    bets = run.edges.filter(pl.col("is_value").fill_null(False))
    stakes = {(r["match_id"], r["outcome"]): r["stake"] for r in run.stakes.iter_rows(named=True)}
    by_match: dict[int, list[str]] = {}
    for row in bets.iter_rows(named=True):
        stake = stakes.get((row["match_id"], row["outcome"]))
        by_match.setdefault(row["match_id"], []).append(
            f"{row['outcome'][0].upper()} {row['price']:.2f} {row['edge']:+.1%}"
            + (f" stake {stake:.2f}" if stake else "")
        )
    title = f"Run {run.run_id} ({run.mode}, as of {run.as_of}, model v{run.model_version})"
    table = Table(title=title)
    for column in ("date", "league", "match", "H", "D", "A", "O2.5", "value bets"):
        table.add_column(column, justify="right" if column in "H D A O2.5" else "left")
    for row in run.predictions.sort("match_date", "league_code", "home_team").iter_rows(named=True):
        over = row.get("p_over25")
        table.add_row(
            str(row["match_date"]),
            row["league_code"],
            f"{row['home_team']} v {row['away_team']}",
            f"{row['p_home']:.2f}",
            f"{row['p_draw']:.2f}",
            f"{row['p_away']:.2f}",
            "" if over is None else f"{over:.2f}",
            "; ".join(by_match.get(row["match_id"], [])),
        )
    console.print(table)


@app.command()
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
        as_of=_iso_date(as_of, "--as-of") if as_of else None,
        leagues=tuple(league or ()),
        days=days,
        price=price,
        edge=edge,
        kelly=kelly,
        portfolio=portfolio,
    )
    try:
        run = predict_job(request, progress=_step)
    except (ValueError, LookupError) as error:
        raise SabiscoreError(str(error)) from error
    path = save_run(run)
    _print_run(run)
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


@app.command("publish")
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


bets_app = typer.Typer(help="Value bets and their bankroll.", no_args_is_help=True)
app.add_typer(bets_app, name="bets")


def _bets_predictions(
    strategy: str, leagues: list[str], seasons: list[str], predictions: Path | None
):  # noqa: ANN202 - a polars frame
    """The walked predictions: a file, the market's, or the model's walk-forward backtest."""
    from sabiscore_ml.betting import backtest as bankroll
    from sabiscore_ml.betting.walk import pinnacle_preclose_predictions
    from sabiscore_ml.jobs.backtest import backtest as run_backtest
    from sabiscore_ml.warehouse.engine import get_engine

    if predictions is not None:
        frame = bankroll.read_predictions(predictions, leagues, seasons)
    elif strategy == "market":
        _step("market strategy: Pinnacle's margin-free pre-closing probabilities")
        frame = bankroll.market_predictions(get_engine(), leagues, seasons)
    else:
        _step("walking the model forward (no --predictions given)")
        try:
            frame = run_backtest(
                leagues,
                seasons,
                progress=lambda b: _step(
                    f"{b.season} from {b.start}: {b.rows} matches, trained on {b.train_rows:,}"
                ),
            ).predictions
        except ValueError as error:
            raise SabiscoreError(str(error)) from error
    if strategy == "market" and predictions is not None:
        frame = pinnacle_preclose_predictions(frame)
    if frame.is_empty():
        raise SabiscoreError(f"no predicted matches for {leagues} {seasons}")
    return frame


def _bankroll_table(summary) -> Table:  # noqa: ANN001 - a BankrollSummary
    from sabiscore_ml.betting.report import summary_rows

    table = Table(title="Bankroll backtest", show_header=False)
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    return table


def _season_table(seasons) -> Table:  # noqa: ANN001 - a polars frame
    table = Table(title="Per season")
    columns = ("season", "bets", "turnover", "profit", "ROI", "CLV", "growth", "max drawdown")
    for column in columns:
        table.add_column(column, justify="left" if column == "season" else "right")

    def pct(value) -> str:  # noqa: ANN001
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


@bets_app.command("backtest")
def bets_backtest(
    league: Annotated[list[str], typer.Option("--league", help="League code (repeat)")],
    seasons: Annotated[str, typer.Option("--seasons", help="FIRST:LAST, e.g. 2015-2016:2023-2024")],
    kelly: Annotated[float, typer.Option("--kelly", help="Kelly multiplier")] = 0.125,
    price: Annotated[
        str, typer.Option("--price", help="Price taken: best, avg, or a bookmaker (pinnacle, b365)")
    ] = "best",
    edge: Annotated[
        float | None,
        typer.Option("--edge", help="Minimum edge (default: 0.042 for model, 0 for market)"),
    ] = None,
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
    Pinnacle's margin-free closing prices only measure their CLV.  Runs the
    chosen Kelly multiplier and, on the same value bets, full and 1/4 Kelly,
    and sets the design's claim beside them.  The market strategy bets every
    outcome whose best pre-closing price beats Pinnacle's margin-free one.

    Examples:
    [bold]sabiscore bets backtest --league E0 --seasons 2015-2016:2023-2024 --output bets.csv[/]

    [bold]sabiscore bets backtest --league E0 --league SP1 --seasons 2012-2013:2023-2024
    --strategy market --kelly 0.25 --no-caps[/]
    """
    if strategy not in ("model", "market"):
        raise typer.BadParameter("model or market", param_hint="--strategy")
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
    _init_warehouse()
    frame = _bets_predictions(strategy, league, season_codes, predictions)
    _step(f"{frame.height:,} matches: reading pre-closing and closing prices")
    runs, rules = bk.strategy_runs(
        get_engine(),
        frame,
        strategy=strategy,
        price=price,
        edge=edge,
        kelly=kelly,
        caps=caps,
        starting_bankroll=bankroll,
    )
    result = runs[kelly]
    claim = report.claim_comparison(runs)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        result.bets.write_csv(output)
        console.print(f"wrote {result.bets.height:,} bets to {output}")
    console.print(_bankroll_table(result.summary))
    console.print(_season_table(result.by("season")))
    for line in report.claim_lines(claim):
        console.print(escape(line))
    if mlflow:
        params = {
            "strategy": strategy,
            "leagues": ",".join(league),
            "seasons": seasons,
            "price": price,
            "edge_threshold": rules.edge_threshold,
            "min_probability": rules.min_probability,
            "max_price": rules.max_price,
            "min_bookmakers": rules.min_bookmakers,
            "kelly_multiplier": kelly,
            "caps": caps,
            "starting_bankroll": bankroll,
            "predictions": str(predictions) if predictions else "walk-forward",
        }
        run_id = bk.log_to_mlflow(result, model_version=model_version, params=params, claim=claim)
        console.print(f"logged to MLflow (experiment betting, run {run_id})")


keys_app = typer.Typer(
    help="API keys of the HTTP API (only their SHA-256 is kept, in the warehouse).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option("--owner", help="Who the key is for")],
    tier: Annotated[str, typer.Option("--tier", help="free, premium or pro")] = "free",
    quiet: Annotated[bool, typer.Option("--quiet", help="Print the key only")] = False,
) -> None:
    """Create an API key and print it: it is shown this once and never stored.

    Example: [bold]sabiscore keys create --owner webapp --tier pro[/]
    """
    from sabiscore_ml.warehouse.api_keys import create_api_key
    from sabiscore_ml.warehouse.engine import get_engine

    _init_warehouse()
    new = create_api_key(get_engine(), owner=owner, tier=tier)
    if quiet:
        typer.echo(new.key)
        return
    console.print(
        f"key [bold]{new.record.key_id}[/] for {escape(new.record.owner)} "
        f"({new.record.tier}); send it as the X-API-Key header. It is not shown again:"
    )
    typer.echo(new.key)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (or the whole key)")],
) -> None:
    """Revoke a key; workers stop accepting it within SABISCORE_API_KEY_CACHE_SECONDS.

    Example: [bold]sabiscore keys revoke 3f9a1c0b7d2e[/]
    """
    from sabiscore_ml.warehouse.api_keys import revoke_api_key
    from sabiscore_ml.warehouse.engine import get_engine

    _init_warehouse()
    record = revoke_api_key(get_engine(), key_id)
    console.print(
        f"key [bold]{record.key_id}[/] ({escape(record.owner)}) revoked at {record.revoked_at}"
    )


@keys_app.command("list")
def keys_list(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's keys")] = None,
) -> None:
    """List the keys (ids, owners, tiers, dates; never the keys themselves).

    Example: [bold]sabiscore keys list --owner webapp[/]
    """
    from sabiscore_ml.warehouse.api_keys import list_api_keys
    from sabiscore_ml.warehouse.engine import get_engine

    _init_warehouse()
    table = Table(title="API keys")
    for column in ("key id", "owner", "tier", "created", "revoked"):
        table.add_column(column)
    for record in list_api_keys(get_engine(), owner=owner):
        table.add_row(
            record.key_id,
            escape(record.owner),
            record.tier,
            str(record.created_at),
            str(record.revoked_at or ""),
        )
    console.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API (uvicorn serving.main:app); OpenAPI docs at /docs.

    On the embedded default the warehouse is migrated first.

    Example: [bold]sabiscore serve --port 8000[/]
    """
    import uvicorn

    from sabiscore_ml.settings import get_core_settings

    if get_core_settings().env == "embedded":
        _init_warehouse()
    _step(f"serving on http://{host}:{port} (OpenAPI docs at /docs)")
    # X-Forwarded-* are read by the application when SABISCORE_API_TRUST_PROXY says so, never
    # by uvicorn (its proxy_headers would rewrite the client address and scheme first)
    uvicorn.run(
        "serving.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
    )


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SabiscoreError as exc:
        err_console.print(f"[bold red]error[/] {escape(str(exc))}", soft_wrap=True)
        raise SystemExit(2) from exc
