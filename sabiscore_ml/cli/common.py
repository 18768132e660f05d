"""What the commands share: the consoles, the common options, and the printing of results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.jobs import run as job
from sabiscore_ml.leagues import normalize_season

if TYPE_CHECKING:
    import pandas as pd

    from feature_store.api import FeatureBuild
    from sabiscore_ml.jobs.football_data import IngestOutcome
    from sabiscore_ml.models.evaluation import Comparison
    from sabiscore_ml.models.walkforward import Block
    from sabiscore_ml.publish import PublishedRun
    from sabiscore_ml.warehouse.queries import Coverage

console = Console()
err_console = Console(stderr=True)

# options several commands take, alike
Leagues = Annotated[list[str] | None, typer.Option("--league", "-l", help="Repeatable.")]
Seasons = Annotated[list[str] | None, typer.Option("--season", "-s", help="Repeatable.")]
CsvOutput = Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")]
LeagueList = Annotated[list[str], typer.Option("--league", help="League code (repeat)")]
SeasonRange = Annotated[str, typer.Option("--seasons", help="FIRST:LAST, e.g. 2015-2016:2023-2024")]
HistoryFrom = Annotated[
    str | None, typer.Option("--history-from", help="Earliest season trained on")
]


def step(text: str) -> None:
    """Print one step of a command's progress."""
    console.print(f"[bold cyan]>>[/] {text}")


def init_warehouse() -> str:
    """Create or migrate the warehouse; its URL."""
    from sabiscore_ml.warehouse.engine import migrate

    return migrate()


def iso_date(text: str, option: str) -> str:
    """``text`` as an ISO date, or a usage error naming ``option``."""
    import datetime as dt

    return _iso(text, option, dt.date.fromisoformat, "a date (YYYY-MM-DD)")


def iso_datetime(text: str, option: str) -> str:
    """``text`` as an ISO date-time, or a usage error naming ``option``."""
    import datetime as dt

    shape = "a date-time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])"
    return _iso(text, option, dt.datetime.fromisoformat, shape)


def _iso(text: str, option: str, parse: Callable[[str], date], shape: str) -> str:
    try:
        return parse(text).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not {shape}", param_hint=option) from None


def known_leagues(codes: list[str] | None) -> list[str] | None:
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


def normalized_seasons(seasons: list[str] | None) -> list[str] | None:
    """``--season`` values as season codes (``2023-24`` → ``2023-2024``); None when none."""
    return [normalize_season(s) for s in seasons] if seasons else None


class Printer:
    """Shows a job's :data:`~sabiscore_ml.jobs.run.RunEvent` as the commands print them.

    Steps as ``>>`` lines, each batch of work items under a progress bar and then
    its outcomes, results as tables.
    """

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, event: job.RunEvent) -> None:
        """Print one event."""
        match event:
            case job.Step(text=text):
                step(text)
            case job.ItemsStarted(label=label, total=total):
                self._bar = Progress(
                    TextColumn("[progress.description]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    TextColumn("{task.fields[current]}"),
                    console=console,
                    transient=False,
                )
                self._bar.start()
                self._task = self._bar.add_task(label, total=total, current="")
            case job.ItemDone(item=item):
                if self._bar is not None and self._task is not None:
                    self._bar.update(self._task, current=item)
                    self._bar.advance(self._task)
            case job.ItemsFinished():
                if self._bar is not None:
                    self._bar.stop()
                self._bar = self._task = None
            case job.Loaded(outcomes=outcomes, unit=unit):
                print_outcomes(outcomes, unit)
            case job.WarehouseCoverage(rows=rows):
                print_coverage_rows(rows)
            case job.SourceSummary(rows=rows):
                print_source_summary(rows)
            case job.FeaturesBuilt(build=build):
                print_feature_build(build)
            case job.CatalogueSummary(families=families):
                print_catalogue_summary(families)
            case job.Trained():
                print_trained(event)
            case job.Scored(run=run):
                print_run(run)
            case job.DataDocsBuilt(docs=docs, seconds=seconds):
                console.print(
                    f"data docs: {docs.index} ({docs.results} validation results, "
                    f"{docs.failed} failed; {docs.rendered} new pages in {seconds:.1f} s)",
                    soft_wrap=True,
                )
            case job.DataDocsFailed(error=error):
                err_console.print(f"[yellow]warning[/] data docs not built: {escape(error)}")


def load(items: list[dict[str, str]], label: str, unit: str = "matches") -> job.Loaded:
    """Run the work items of a plan under a progress bar, then print their outcomes."""
    return job.load(items, label, Printer(), unit=unit)


def build_data_docs() -> None:
    """Render the Data Docs of the validation results recorded so far, and say where."""
    job.data_docs(Printer())


def print_outcomes(outcomes: Sequence[IngestOutcome], unit: str = "matches") -> None:
    """What was loaded, skipped and rejected (``unit``: what the loaded counts count)."""
    loaded = [o for o in outcomes if o.ok]
    bad = [o for o in outcomes if o.status in job.BAD_STATUSES]
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


def print_coverage(leagues: list[str] | None = None) -> None:
    """The matches and 1X2 odds of each league-season in the warehouse."""
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import coverage_summary

    print_coverage_rows(coverage_summary(get_engine(), leagues=leagues))


def print_coverage_rows(rows: Sequence[Coverage]) -> None:
    """The table of :func:`print_coverage`, of rows already read."""
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


def print_source_summary(rows: Sequence[tuple[str, str, str, str | None, int, int, int]]) -> None:
    """The other sources' rows per table and league-season, reconciled with the warehouse."""
    table = Table(title="Other sources, reconciled with the warehouse")
    for column in ("source", "table", "league", "season", "rows", "teams", "linked"):
        table.add_column(
            column, justify="right" if column in ("rows", "teams", "linked") else "left"
        )
    for row in rows:
        table.add_row(*(str(value) for value in row))
    console.print(table)


def print_catalogue_summary(families: Sequence[job.FamilyCoverage]) -> None:
    """The feature families, their number of features and mean coverage."""
    table = Table(title="Feature catalogue summary")
    for column in ("family", "features", "mean coverage"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for family in families:
        table.add_row(family.family, str(family.features), f"{family.coverage:.0%}")
    console.print(table)


def write_frame(frame: pd.DataFrame, output: Path, what: str) -> None:
    """Write ``frame`` to the CSV file ``output`` and say how many ``what`` it holds."""
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    console.print(f"wrote {len(frame):,} {what} to {output}")


def print_feature_build(build: FeatureBuild) -> None:
    """The offline partitions rebuilt and the online vectors written."""
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


def walk_progress(block: Block) -> None:
    """A step of a walk forward: one block of matches predicted."""
    step(
        f"{block.season} from {block.start}: {block.rows} matches, trained on {block.train_rows:,}"
    )


def comparison_table(comparison: Comparison, title: str) -> Table:
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


def print_trained(trained: job.Trained) -> None:
    """A training run's walk-forward comparison with the market, and its decision."""
    report = trained.report
    console.print(
        comparison_table(
            trained.comparison,
            f"Version {report.version}, walk-forward on {', '.join(trained.seasons)}, "
            "against the market",
        )
    )
    console.print(
        f"[bold]version {report.version}[/] is the [bold]{report.alias}[/]: "
        f"{escape(report.decision)}"
        f" (MLflow run {report.run_id})"
    )


def print_run(run: PublishedRun) -> None:
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
