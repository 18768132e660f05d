"""Data contracts checked with great-expectations before anything is loaded.

Each source table has an expectation suite (schema, ranges, uniqueness of the
natural key, dates inside the season and inside the window of acceptable
seasons, the number of matches of a complete season), defined in
:mod:`sabiscore_ml.expectation_suites`.  :func:`validate_frame`
runs a suite on a DataFrame built from parsed records and raises
:class:`~sabiscore_ml.errors.RejectedFile` naming the file, the failed
expectation and, for each of the first failing rows, the row (its line in the
file, or the source's id) with the column and value as the file spells them
(``line 12: Date 2099-01-03``, not the derived ``days_into_season``), so the
caller loads nothing from that file.  Every result is also recorded for the
Data Docs (:mod:`sabiscore_ml.data_docs`).

great-expectations is imported on first use (it takes seconds), and one
ephemeral context serves the whole process; each suite and its batch
definition are built once.  A suite first runs with the ``BOOLEAN_ONLY`` result
format, which skips the unexpected-value lists; only a failed run is repeated
with ``COMPLETE``, whose ``unexpected_index_list`` gives the frame rows that
failed (great-expectations' per-expectation overhead, not the rows, dominates
the cost, so a passing file costs what it did).

That overhead is paid per run, so many files are validated in one:
:func:`screen_batch` runs each suite once over the rows of all their
:class:`FrameCheck` objects (each expectation rewritten to judge every file on
its own rows, see :func:`_batch_plan`) and returns the files with a failing
row, which :meth:`FrameCheck.validate` then runs alone for their verdict and
message as before.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from sabiscore_ml import data_docs
from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.expectation_suites import (
    LAST_DAY_INTO_SEASON,
    SEASON_MATCHES,
    SEASON_YEAR,
    SUITES,
    Expectation,
    build_suite,
    dating_window_days,
    describe,
)
from sabiscore_ml.leagues import accepted_seasons, season_of, season_start, season_start_year
from sabiscore_ml.season_counts import row_count_bounds


def days_into_season(day: dt.date, season: str) -> int:
    """Days from the season's start (1 June of its first year) to ``day``."""
    return (day - season_start(season)).days


def season_year(value: Any) -> int | None:
    """Starting year of the season of a date or of a season id (None stays None)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, dt.date):
        return season_start_year(season_of(value))
    return season_start_year(str(value))


def _season_window_parameters(as_of: dt.date | None) -> tuple[dict[str, int], dict[str, str]]:
    """Parameters and failure note of the season-window expectation."""
    window = accepted_seasons(as_of)
    label = describe("ExpectColumnValuesToBeBetween", {"column": SEASON_YEAR})
    return (
        {"first_season_year": window.first_year, "last_season_year": window.last_year},
        {label: f"accepted: {window.describe()}"},
    )


def _days_into_season(season: str) -> tuple[dict[str, int], dict[str, str]]:
    """Parameters and failure note of the days-into-season expectation: the season's dates."""
    start, days = season_start(season), dating_window_days(season)
    end = start + dt.timedelta(days=days)
    label = describe("ExpectColumnValuesToBeBetween", {"column": "days_into_season"})
    note = f"season {season} holds matches from {start} to {end}"
    return {LAST_DAY_INTO_SEASON: days}, {label: note}


@dataclass(frozen=True, slots=True)
class RowNames:
    """How the rows and columns of a validated frame are named in the file.

    ``label(index)`` names the frame row ``index`` as the user finds it (``line
    12``, ``match 14814``); ``columns`` maps a checked column to the frame
    column whose value is shown and that column's name in the file (a derived
    ``days_into_season`` is shown as the match's ``Date``).
    """

    label: Callable[[int], str] = field(default=lambda index: f"row {index + 1}")
    columns: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def cell(self, frame: pd.DataFrame, index: Any, column: str) -> str:
        """``Date 2099-01-03``: the file's name of ``column`` and the row's value."""
        shown, title = self.columns.get(column, (column, column))
        return f"{title} {_text(frame.at[index, shown])}"


def lines(numbers: Sequence[int | None], what: str = "line") -> Callable[[int], str]:
    """Row labels from each frame row's line number (or id) in the file."""

    def label(index: int) -> str:
        number = numbers[index]
        return f"row {index + 1}" if number is None else f"{what} {number}"

    return label


def _text(value: Any) -> str:
    """A cell as the file shows it: dates in ISO form, whole floats without ``.0``."""
    value = getattr(value, "item", lambda: value)()
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "(empty)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


_LOCK = threading.Lock()


@cache
def _context() -> Any:
    """One ephemeral context per process: in-memory stores, no analytics, no progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


@cache
def _definition(suite_name: str) -> tuple[Any, Any]:
    """The batch definition and registered suite of ``suite_name``, built once per process."""
    context = _context()
    source = context.data_sources.add_pandas(name=suite_name)
    batch = source.add_dataframe_asset(name=suite_name).add_batch_definition_whole_dataframe("all")
    expectations = None
    if suite_name.endswith(BATCH_SUITE.format("")):
        expectations = _batch_suite_expectations(suite_name.removesuffix(BATCH_SUITE.format("")))
    return batch, context.suites.add(build_suite(suite_name, expectations))


def run_suite(
    suite_name: str, frame: pd.DataFrame, parameters: dict[str, Any] | None = None
) -> Any:
    """Validate ``frame`` against a suite; return the ``ExpectationSuiteValidationResult``.

    The first run asks only for success flags; a failed suite runs again with
    ``COMPLETE`` so that the result carries the index of every failing row
    (``unexpected_index_list``).
    """
    with _LOCK:
        batch_definition, suite = _definition(suite_name)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            suite, result_format="BOOLEAN_ONLY", expectation_parameters=parameters
        )
        if not result.success:
            result = batch.validate(
                suite, result_format="COMPLETE", expectation_parameters=parameters
            )
    return result


# Failing rows named per expectation in a message, and kept per expectation in a result.
SHOWN_ROWS = 5
KEPT_ROWS = 20


def _unexpected_indexes(outcome: dict[str, Any]) -> list[Any]:
    """The frame indexes of an expectation's failing rows (first occurrence order)."""
    indexes = outcome.get("unexpected_index_list") or []
    return [next(iter(i.values())) if isinstance(i, dict) else i for i in indexes]


def _trimmed(result: Any) -> Any:
    """The result with its unexpected lists cut to :data:`KEPT_ROWS` (for the Data Docs)."""
    for outcome in result.results:
        details = outcome.result or {}
        for key in ("unexpected_list", "unexpected_index_list"):
            if isinstance(details.get(key), list):
                details[key] = details[key][:KEPT_ROWS]
        details.pop("unexpected_index_query", None)
    return result


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed expectation of a suite result."""

    described: str  # :func:`describe` label
    columns: tuple[str, ...]  # the columns it checks (none for a table-level expectation)
    result: dict[str, Any]


def failures(result: Any) -> list[Failure]:
    """Each failed expectation of a suite result, sorted by its :func:`describe` label.

    Results are matched to expectations by their configuration, not by position:
    great-expectations does not keep the suite's order.
    """
    failed = []
    for outcome in result.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        kind = "".join(part.title() for part in config.type.split("_"))
        kwargs = dict(config.kwargs)
        label = (config.meta or {}).get("label")
        columns = tuple(kwargs.get("column_list") or filter(None, [kwargs.get("column")]))
        failed.append(Failure(describe(kind, kwargs, label), columns, dict(outcome.result or {})))
    return sorted(failed, key=lambda failure: failure.described)


def _failed_rows(frame: pd.DataFrame, failure: Failure, rows: RowNames) -> str:
    """``2 unexpected: line 12: Date 2099-01-03; line 40: ...`` or the observed value."""
    outcome = failure.result
    indexes = _unexpected_indexes(outcome)
    count = outcome.get("unexpected_count") or len(indexes)
    if not failure.columns or not indexes:
        observed = outcome.get("observed_value")
        if count and observed is None:
            examples = [_text(value) for value in (outcome.get("partial_unexpected_list") or [])]
            return f"{count} unexpected, e.g. {', '.join(examples[:SHOWN_ROWS])}"
        return f"observed {_text(observed)}"
    named = [
        f"{rows.label(index)}: "
        + ", ".join(rows.cell(frame, index, column) for column in failure.columns)
        for index in indexes[:SHOWN_ROWS]
    ]
    more = f"; and {count - len(named)} more" if count > len(named) else ""
    return f"{count} unexpected: " + "; ".join(named) + more


def validate_frame(
    suite_name: str,
    frame: pd.DataFrame,
    *,
    name: str,
    parameters: dict[str, Any] | None = None,
    notes: dict[str, str] | None = None,
    rows: RowNames | None = None,
) -> None:
    """Raise :class:`RejectedFile` (check ``expectation``) if ``frame`` fails the suite.

    ``parameters`` fill the suite's ``$PARAMETER`` values; ``notes`` add a
    sentence to the message of a failed expectation (keyed as :func:`describe`
    names it); ``rows`` says how the file names the frame's rows and columns,
    so that the message names the first failing rows with their values.
    The result is recorded for the Data Docs whether it passed or not.
    """
    result = run_suite(suite_name, frame, parameters)
    if result.success:
        data_docs.record(suite_name, result, name=name)
        return
    rows = rows or RowNames()
    details = []
    for failure in failures(result):
        note = (notes or {}).get(failure.described)
        shown = _failed_rows(frame, failure, rows)
        details.append(
            f"{suite_name}: {failure.described} failed: {shown}"[:600]
            + (f"; {note}" if note else "")
        )
    data_docs.record(suite_name, _trimmed(result), name=name)
    raise RejectedFile(name, "expectation", "; ".join(details))


@dataclass(frozen=True, slots=True)
class FrameCheck:
    """One suite run of one file: the arguments of :func:`validate_frame`."""

    suite_name: str
    frame: pd.DataFrame
    name: str
    parameters: dict[str, Any] | None = None
    notes: dict[str, str] | None = None
    rows: RowNames | None = None

    def validate(self) -> None:
        """:func:`validate_frame` on this file alone (raises :class:`RejectedFile`)."""
        validate_frame(
            self.suite_name,
            self.frame,
            name=self.name,
            parameters=self.parameters,
            notes=self.notes,
            rows=self.rows,
        )


# The columns a batch adds: each row's file (its position in the batch) and its file's rows.
BATCH_FILE, BATCH_ROWS = "_file", "_rows"


def _bound(value: Any, parameters: Mapping[str, Any]) -> Any:
    """A bound's value for one file: a ``$PARAMETER`` is looked up in its parameters."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters.get(value["$PARAMETER"])
    return value


def _batch_plan(suite_name: str) -> list[tuple[Expectation, tuple[str, str] | None]]:
    """The suite's expectations as run over a batch of files, each with its bound columns.

    A batch frame holds the rows of several files, with :data:`BATCH_FILE` (the
    file) and :data:`BATCH_ROWS` (its number of rows).  Each expectation keeps
    its meaning per file: a table row count checks every row's
    :data:`BATCH_ROWS`; a uniqueness holds within a file (:data:`BATCH_FILE`
    joins the key); a range whose bounds are per-file parameters compares the
    column with the bounds written beside each row (``_lo<i>``/``_hi<i>``, by
    ``ExpectColumnPairValuesAToBeGreaterThanB``).  The pairs come with ``None``
    for an expectation that is run as it is.
    """
    plan: list[tuple[Expectation, tuple[str, str] | None]] = []
    for i, expectation in enumerate(SUITES[suite_name]()):
        kind, kwargs = expectation.kind, dict(expectation.kwargs)
        if kind == "ExpectColumnValuesToBeUnique":
            kwargs = {"column_list": [BATCH_FILE, kwargs.pop("column")], **kwargs}
            kind = "ExpectCompoundColumnsToBeUnique"
        elif kind == "ExpectCompoundColumnsToBeUnique":
            kwargs["column_list"] = [BATCH_FILE, *kwargs["column_list"]]
        elif kind == "ExpectTableRowCountToBeBetween":
            kind, kwargs = "ExpectColumnValuesToBeBetween", {"column": BATCH_ROWS, **kwargs}
        if kind == "ExpectColumnValuesToBeBetween" and any(
            isinstance(kwargs.get(key), dict) for key in ("min_value", "max_value")
        ):
            plan.append((Expectation(kind, kwargs), (f"_lo{i}", f"_hi{i}")))
        else:
            plan.append((Expectation(kind, kwargs), None))
    return plan


@cache
def _batch_suite_expectations(suite_name: str) -> tuple[Expectation, ...]:
    """The expectations of the batch form of a suite (see :func:`_batch_plan`)."""
    built: list[Expectation] = []
    for expectation, bounds in _batch_plan(suite_name):
        if bounds is None:
            built.append(expectation)
            continue
        column, kwargs = expectation.kwargs["column"], expectation.kwargs
        low, high = bounds
        built.append(
            Expectation(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": column,
                    "column_B": low,
                    "or_equal": not kwargs.get("strict_min", False),
                    "ignore_row_if": "either_value_is_missing",
                },
            )
        )
        built.append(
            Expectation(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": high,
                    "column_B": column,
                    "or_equal": not kwargs.get("strict_max", False),
                    "ignore_row_if": "either_value_is_missing",
                },
            )
        )
    return tuple(built)


BATCH_SUITE = "{}.batch"


def _batch_frame(suite_name: str, checks: Sequence[FrameCheck]) -> pd.DataFrame:
    """The rows of every file of ``checks``, with their file, row count and per-file bounds."""
    parts = []
    for position, check in enumerate(checks):
        part = check.frame.copy()
        part[BATCH_FILE] = position
        part[BATCH_ROWS] = len(part)
        for expectation, bounds in _batch_plan(suite_name):
            if bounds is None:
                continue
            for column, key in zip(bounds, ("min_value", "max_value"), strict=True):
                value = _bound(expectation.kwargs.get(key), check.parameters or {})
                part[column] = float("nan") if value is None else float(value)
            target = expectation.kwargs["column"]
            part[target] = pd.to_numeric(part[target], errors="coerce").astype("float64")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _suspect_files(result: Any, frame: pd.DataFrame, count: int) -> set[int]:
    """The files of a failed batch result with a failing row (all of them when unknown)."""
    suspects: set[int] = set()
    for outcome in result.results:
        if outcome.success:
            continue
        indexes = _unexpected_indexes(outcome.result or {})
        if not indexes:
            return set(range(count))
        suspects.update(int(f) for f in frame.loc[indexes, BATCH_FILE])
    return suspects


def screen_batch(checks: Sequence[FrameCheck], owners: Sequence[Any] | None = None) -> set[int]:
    """The positions in ``checks`` of the files that may fail; the others pass.

    ``owners`` names the file of each check (default: each check its own file).
    The checks of each suite are run at once on one frame holding all their
    rows (:func:`_batch_plan`: every expectation evaluated once over all the
    files, each still judged per file), so great-expectations' fixed cost per
    run is paid once per suite, not once per file.  A failed batch is run
    again with ``COMPLETE`` and its failing rows mapped back to their files;
    the batches are then run again without those files until they pass.  Only
    the files returned need :meth:`FrameCheck.validate`, which gives their
    verdict and message exactly as alone.  A file with an empty frame is never
    batched.  The batch result of each suite is recorded for the Data Docs
    (one result naming the files that passed).
    """
    owners = list(range(len(checks))) if owners is None else list(owners)
    suspects = {owners[p] for p, check in enumerate(checks) if check.frame.empty}
    while True:
        passed: list[tuple[str, Any, list[str]]] = []
        found: set[Any] = set()
        by_suite: dict[str, list[int]] = {}
        for position, check in enumerate(checks):
            if owners[position] not in suspects:
                by_suite.setdefault(check.suite_name, []).append(position)
        for suite_name, positions in by_suite.items():
            batch = [checks[p] for p in positions]
            frame = _batch_frame(suite_name, batch)
            result = run_suite(BATCH_SUITE.format(suite_name), frame)
            if result.success:
                passed.append((suite_name, result, [check.name for check in batch]))
            else:
                found.update(
                    owners[positions[f]] for f in _suspect_files(result, frame, len(batch))
                )
        if not found:
            break
        suspects |= found
    for suite_name, result, names in passed:
        data_docs.record(
            suite_name,
            result,
            name=f"{len(names)} files: " + ", ".join(names),
            label=f"{len(names)}_files_from_{data_docs.file_label(names[0])}",
        )
    return {position for position, owner in enumerate(owners) if owner in suspects}


def _season_matches(
    source: str,
    league: str,
    season: str,
    pairs: Iterable[tuple[str, str]],
    *,
    as_of: dt.date | None,
    whole_season: bool = True,
) -> tuple[dict[str, int], dict[str, str]]:
    """Parameters and failure note of the season-matches expectation for one file."""
    played: Counter[str] = Counter()
    count = 0
    for home, away in pairs:
        played[home] += 1
        played[away] += 1
        count += 1
    bounds = row_count_bounds(
        source,
        league,
        season,
        clubs=len(played),
        observed=count,
        as_of=as_of or dt.date.today(),
        whole_season=whole_season,
    )
    fewest = ", ".join(f"{club} {n}" for club, n in sorted(played.items(), key=lambda i: i[1])[:3])
    note = f"{bounds.explanation}; fewest matches per club: {fewest}"
    label = describe("ExpectTableRowCountToBeBetween", {}, SEASON_MATCHES)
    return {"min_matches": bounds.min_value, "max_matches": bounds.max_value}, {label: note}


def _odds_frame(parsed: Any) -> pd.DataFrame:
    rows = [
        (m.row, q.bookmaker, q.market, q.timing, q.line, q.outcome, q.price)
        for m in parsed.matches
        for q in m.odds
    ]
    frame = pd.DataFrame(
        rows, columns=["row", "bookmaker", "market", "timing", "line", "outcome", "price"]
    )
    one_x_two = frame[frame["market"] == "1x2"].copy()
    one_x_two["inverse"] = 1.0 / one_x_two["price"]
    groups = one_x_two.groupby(["row", "bookmaker", "timing"])["inverse"]
    complete = groups.transform("size") == 3
    frame["overround_1x2"] = None
    frame.loc[one_x_two.index[complete], "overround_1x2"] = groups.transform("sum")[complete]
    frame["overround_1x2"] = frame["overround_1x2"].astype("float64")
    return frame


# football-data's names of the match columns the suites check.
FOOTBALL_DATA_COLUMNS = {
    "match_date": ("match_date", "Date"),
    "days_into_season": ("match_date", "Date"),
    SEASON_YEAR: ("match_date", "Date"),
    "home_team": ("home_team", "HomeTeam"),
    "away_team": ("away_team", "AwayTeam"),
    "home_goals": ("home_goals", "FTHG"),
    "away_goals": ("away_goals", "FTAG"),
    "ht_home_goals": ("ht_home_goals", "HTHG"),
    "ht_away_goals": ("ht_away_goals", "HTAG"),
    "result": ("result", "FTR"),
}


def _football_data_rows(matches: Sequence[Any]) -> RowNames:
    """Rows named by their line in the file, columns by football-data's headers."""
    return RowNames(lines([m.row for m in matches]), FOOTBALL_DATA_COLUMNS)


def football_data_checks(parsed: Any, *, as_of: dt.date | None = None) -> list[FrameCheck]:
    """The suite runs of a parsed football-data file: its matches, then its odds if any."""
    matches = pd.DataFrame(
        {
            "match_date": [m.match_date for m in parsed.matches],
            "home_team": [m.home_team for m in parsed.matches],
            "away_team": [m.away_team for m in parsed.matches],
            "home_goals": [m.home_goals for m in parsed.matches],
            "away_goals": [m.away_goals for m in parsed.matches],
            "ht_home_goals": [m.ht_home_goals for m in parsed.matches],
            "ht_away_goals": [m.ht_away_goals for m in parsed.matches],
            "result": [m.result for m in parsed.matches],
            "days_into_season": [
                days_into_season(m.match_date, parsed.season) for m in parsed.matches
            ],
            SEASON_YEAR: [season_year(m.match_date) for m in parsed.matches],
        }
    )
    for column in ("home_goals", "away_goals", "ht_home_goals", "ht_away_goals"):
        matches[column] = matches[column].astype("Float64")
    parameters, notes = _season_matches(
        "football-data",
        parsed.league,
        parsed.season,
        ((m.home_team, m.away_team) for m in parsed.matches),
        as_of=as_of,
    )
    window, window_note = _season_window_parameters(as_of)
    dating, dating_note = _days_into_season(parsed.season)
    checks = [
        FrameCheck(
            "football_data.matches",
            matches,
            name=parsed.name,
            parameters=parameters | window | dating,
            notes=notes | window_note | dating_note,
            rows=_football_data_rows(parsed.matches),
        )
    ]
    if parsed.odds_count:
        odds = _odds_frame(parsed)
        checks.append(
            FrameCheck("football_data.odds", odds, name=parsed.name, rows=_odds_rows(odds))
        )
    return checks


def validate_football_data(parsed: Any, *, as_of: dt.date | None = None) -> None:
    """Validate a parsed football-data file (matches and odds) with great-expectations.

    ``as_of`` is when the file was taken (default today): a season that was not
    finished then may be short of its complete number of matches, and the
    window of acceptable seasons ends with the season after its own.
    """
    for check in football_data_checks(parsed, as_of=as_of):
        check.validate()


def validate_football_data_fixtures(group: Any, *, as_of: dt.date | None = None) -> None:
    """Validate one league-season of ``fixtures.csv``: its dates, then its odds.

    ``as_of`` is the day the copy was taken: a fixture may belong to the
    season after that day's, not to a later one.
    """
    frame = pd.DataFrame(
        {
            "match_date": [m.match_date for m in group.matches],
            SEASON_YEAR: [season_year(m.match_date) for m in group.matches],
        }
    )
    parameters, notes = _season_window_parameters(as_of)
    validate_frame(
        "football_data.fixtures",
        frame,
        name=group.name,
        parameters=parameters,
        notes=notes,
        rows=_football_data_rows(group.matches),
    )
    validate_football_data_odds(group)


def _odds_rows(frame: pd.DataFrame) -> RowNames:
    """Odds rows named by line, bookmaker, timing, market, line and outcome."""

    def label(index: int) -> str:
        row = frame.loc[index]
        handicap = f" {_text(row['line'])}" if row["market"] != "1x2" else ""
        return (
            f"line {row['row']} ({row['bookmaker']} {row['timing']} "
            f"{row['market']}{handicap} {row['outcome']})"
        )

    return RowNames(label)


def validate_football_data_odds(parsed: Any) -> None:
    """Validate the odds of a parsed football-data file (or of one league-season of fixtures)."""
    if parsed.odds_count:
        frame = _odds_frame(parsed)
        validate_frame("football_data.odds", frame, name=parsed.name, rows=_odds_rows(frame))


def source_records_checks(
    fixtures: list[Any],
    shots: list[dict[str, Any]],
    *,
    season: str,
    name: str,
    source: str = "",
    league: str = "",
    whole_season: bool = False,
    as_of: dt.date | None = None,
) -> list[FrameCheck]:
    """The suite runs of a file's Understat/FBref matches, then its shots (if any).

    See :func:`validate_source_records`, which runs them on the file alone.
    """
    checks = []
    if fixtures:
        frame = pd.DataFrame(
            {
                "source_match_id": [f.source_match_id for f in fixtures],
                "home_name": [f.home_name for f in fixtures],
                "away_name": [f.away_name for f in fixtures],
                "match_date": [f.match_date for f in fixtures],
                "home_goals": pd.array([f.home_goals for f in fixtures], dtype="Float64"),
                "away_goals": pd.array([f.away_goals for f in fixtures], dtype="Float64"),
                "home_xg": pd.array([f.home_xg for f in fixtures], dtype="Float64"),
                "away_xg": pd.array([f.away_xg for f in fixtures], dtype="Float64"),
                "days_into_season": [days_into_season(f.match_date, season) for f in fixtures],
                SEASON_YEAR: [season_year(f.match_date) for f in fixtures],
            }
        )
        parameters, notes = _season_matches(
            source,
            league,
            season,
            ((f.home_name, f.away_name) for f in fixtures),
            as_of=as_of,
            whole_season=whole_season and bool(league),
        )
        window, window_note = _season_window_parameters(as_of)
        dating, dating_note = _days_into_season(season)
        checks.append(
            FrameCheck(
                "sources.fixtures",
                frame,
                name=name,
                parameters=parameters | window | dating,
                notes=notes | window_note | dating_note,
                rows=RowNames(
                    lines([f.source_match_id for f in fixtures], "match"),
                    {
                        "days_into_season": ("match_date", "date"),
                        SEASON_YEAR: ("match_date", "date"),
                    },
                ),
            )
        )
    if shots:
        frame = pd.DataFrame(
            {
                "source_shot_id": [s["source_shot_id"] for s in shots],
                "x": pd.array([s["x"] for s in shots], dtype="Float64"),
                "y": pd.array([s["y"] for s in shots], dtype="Float64"),
                "xg": pd.array([s["xg"] for s in shots], dtype="Float64"),
                "minute": pd.array([s["minute"] for s in shots], dtype="Float64"),
                "side": [s["side"] for s in shots],
            }
        )
        shot_ids = [s["source_shot_id"] for s in shots]
        checks.append(
            FrameCheck("sources.shots", frame, name=name, rows=RowNames(lines(shot_ids, "shot")))
        )
    return checks


def validate_source_records(
    fixtures: list[Any],
    shots: list[dict[str, Any]],
    *,
    season: str,
    name: str,
    source: str = "",
    league: str = "",
    whole_season: bool = False,
    as_of: dt.date | None = None,
) -> None:
    """Validate a file's Understat/FBref matches and shots before they are loaded.

    ``whole_season`` marks a file that lists every fixture of the league-season
    (an Understat league page, an FBref schedule): once the season is finished
    it must hold exactly the matches of a complete season.  Any other file may
    hold no more than a season of the clubs it names.  ``as_of`` is when the
    file was taken (default today).  A failing match is named by the source's
    id, a failing shot by its id.
    """
    for check in source_records_checks(
        fixtures,
        shots,
        season=season,
        name=name,
        source=source,
        league=league,
        whole_season=whole_season,
        as_of=as_of,
    ):
        check.validate()


def squad_values_checks(
    rows: list[tuple[str, Any, Any, Any]],
    *,
    name: str,
    lines_in_file: Sequence[int | None] | None = None,
    as_of: dt.date | None = None,
) -> list[FrameCheck]:
    """The suite run of (club, as-of date, value, squad size) rows: see validate_squad_values."""
    frame = pd.DataFrame(
        {
            "club": [r[0] for r in rows],
            "as_of": [r[1] for r in rows],
            "market_value_eur": pd.array([r[2] for r in rows], dtype="Float64"),
            SEASON_YEAR: [season_year(r[1]) for r in rows],
            "season": [season_of(r[1]) if isinstance(r[1], dt.date) else None for r in rows],
        }
    )
    label = lines(lines_in_file) if lines_in_file is not None else RowNames().label
    parameters, notes = _season_window_parameters(as_of)
    return [
        FrameCheck(
            "sources.squad_values",
            frame,
            name=name,
            parameters=parameters,
            notes=notes,
            rows=RowNames(label, {SEASON_YEAR: ("season", "season")}),
        )
    ]


def validate_squad_values(
    rows: list[tuple[str, Any, Any, Any]],
    *,
    name: str,
    lines_in_file: Sequence[int | None] | None = None,
    as_of: dt.date | None = None,
) -> None:
    """Validate (club, as-of date, value, squad size) rows before they are loaded.

    ``lines_in_file`` are the rows' lines in the file, to name a failing row;
    ``as_of`` is when the file was taken (default today).
    """
    for check in squad_values_checks(rows, name=name, lines_in_file=lines_in_file, as_of=as_of):
        check.validate()


# The record field of each Transfermarkt table whose season is checked against the
# window, and its column in the file.
TRANSFERMARKT_SEASON_COLUMNS = {
    "games": ("season_code", "season"),
    "player_valuations": ("valuation_date", "date"),
    "appearances": ("match_date", "date"),
    "player_values": ("season_code", "season"),
}


def _suite_columns(expectations: list[Expectation]) -> list[str]:
    columns: set[str] = set()
    for expectation in expectations:
        columns.update(expectation.kwargs.get("column_list", []))
        if "column" in expectation.kwargs:
            columns.add(expectation.kwargs["column"])
    return sorted(columns - {SEASON_YEAR})


def validate_transfermarkt(
    table: str,
    records: list[dict[str, Any]],
    *,
    name: str,
    lines_in_file: Sequence[int | None] | None = None,
    as_of: dt.date | None = None,
) -> None:
    """Validate the rows of one Transfermarkt table (``clubs``, ``games``...) before loading.

    ``records`` are the rows as they will be written; every column the suite
    reads must be in each (numbers may be None).  ``lines_in_file`` are the
    rows' lines in the file, to name a failing row; ``as_of`` is when the file
    was taken (default today): the end of the window of acceptable seasons.
    """
    suite = f"transfermarkt.{table}"
    frame = pd.DataFrame(
        {c: [r[c] for r in records] for c in _suite_columns(SUITES[suite]())}, dtype=object
    )
    for column in frame.columns:
        values = [v for v in frame[column] if v is not None]
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            frame[column] = pd.array(list(frame[column]), dtype="Float64")
    parameters: dict[str, Any] = {}
    notes: dict[str, str] = {}
    shown: dict[str, tuple[str, str]] = {}
    if table in TRANSFERMARKT_SEASON_COLUMNS:
        dated, in_file = TRANSFERMARKT_SEASON_COLUMNS[table]
        frame[SEASON_YEAR] = [season_year(r[dated]) for r in records]
        frame[dated] = [r[dated] for r in records]
        parameters, notes = _season_window_parameters(as_of)
        shown[SEASON_YEAR] = (dated, in_file)
    label = lines(lines_in_file) if lines_in_file is not None else RowNames().label
    validate_frame(
        suite, frame, name=name, parameters=parameters, notes=notes, rows=RowNames(label, shown)
    )
