"""Data contracts checked with great-expectations before anything is loaded.

Each source table has an expectation suite (schema, ranges, uniqueness of the
natural key, dates inside the season, the number of matches of a complete
season).  :func:`validate_frame` runs a suite on a DataFrame built from parsed
records and raises :class:`~sabiscore_ml.errors.RejectedFile` naming the file,
the failed expectation and example values, so the caller loads nothing from
that file.  Every result is also recorded for the Data Docs
(:mod:`sabiscore_ml.data_docs`).

great-expectations is imported on first use (it takes seconds), and one
ephemeral context serves the whole process; each suite and its batch
definition are built once.  A suite first runs with the ``BOOLEAN_ONLY`` result
format, which skips the unexpected-value lists; only a failed run is repeated
with ``SUMMARY`` to name example values (great-expectations' per-expectation
overhead, not the rows, dominates the cost).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import season_start_year
from sabiscore_ml.season_counts import row_count_bounds

# Ranges every source shares.
MAX_GOALS = 15
MAX_XG = 10.0

# The expectation on the number of matches of a league-season; its bounds are
# given per file (``min_matches``/``max_matches``), see :mod:`sabiscore_ml.season_counts`.
SEASON_MATCHES = "matches of the league-season"


@dataclass(frozen=True, slots=True)
class Expectation:
    """One expectation: its great-expectations class name and keyword arguments."""

    kind: str
    kwargs: dict[str, Any]
    label: str | None = None  # names a table-level expectation in messages (kept in its meta)

    def describe(self) -> str:
        """Short label used in error messages (``kind(column)``)."""
        return describe(self.kind, self.kwargs, self.label)


def describe(kind: str, kwargs: dict[str, Any], label: str | None = None) -> str:
    """``kind(column)``, ``kind(col1,col2)``, ``kind(label)`` or ``kind``."""
    target = kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or label
    return f"{kind}({target})" if target else kind


def season_matches_expectation() -> Expectation:
    """Number of matches within the bounds given per file (``min_matches``/``max_matches``)."""
    return Expectation(
        "ExpectTableRowCountToBeBetween",
        {"min_value": {"$PARAMETER": "min_matches"}, "max_value": {"$PARAMETER": "max_matches"}},
        SEASON_MATCHES,
    )


# Matches of a season fall between 1 June of its first year and 31 August of the next.
SEASON_WINDOW_DAYS = (dt.date(2001, 8, 31) - dt.date(2000, 6, 1)).days


def days_into_season(day: dt.date, season: str) -> int:
    """Days from 1 June of the season's first year to ``day``."""
    return (day - dt.date(season_start_year(season), 6, 1)).days


def football_data_matches_suite() -> list[Expectation]:
    """Expectations on a football-data file's matches (one league-season)."""
    return [
        Expectation("ExpectTableRowCountToBeBetween", {"min_value": 1, "max_value": 1000}),
        season_matches_expectation(),
        *(
            Expectation("ExpectColumnValuesToNotBeNull", {"column": c})
            for c in ("match_date", "home_team", "away_team")
        ),
        *(
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": c, "min_value": 0, "max_value": MAX_GOALS},
            )
            for c in ("home_goals", "away_goals", "ht_home_goals", "ht_away_goals")
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "days_into_season", "min_value": 0, "max_value": SEASON_WINDOW_DAYS},
        ),
        Expectation(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["match_date", "home_team", "away_team"]},
        ),
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "result", "value_set": ["H", "D", "A"]}
        ),
    ]


def football_data_odds_suite() -> list[Expectation]:
    """Expectations on a football-data file's odds (long format, plus 1X2 overrounds)."""
    return [
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "price", "min_value": 1.0, "max_value": 10000.0, "strict_min": True},
        ),
        Expectation(
            "ExpectColumnValuesToBeInSet",
            {"column": "timing", "value_set": ["preclose", "close"]},
        ),
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "market", "value_set": ["1x2", "ou", "ah"]}
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "line", "min_value": -10.0, "max_value": 10.0},
        ),
        Expectation(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["row", "bookmaker", "market", "timing", "line", "outcome"]},
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "overround_1x2", "min_value": 0.8, "max_value": 1.4},
        ),
    ]


def source_fixtures_suite() -> list[Expectation]:
    """Expectations on a file's matches from Understat or FBref."""
    return [
        season_matches_expectation(),
        Expectation("ExpectColumnValuesToBeUnique", {"column": "source_match_id"}),
        *(
            Expectation("ExpectColumnValuesToNotBeNull", {"column": c})
            for c in ("home_name", "away_name", "match_date")
        ),
        *(
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": c, "min_value": 0, "max_value": MAX_GOALS},
            )
            for c in ("home_goals", "away_goals")
        ),
        *(
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": c, "min_value": 0.0, "max_value": MAX_XG},
            )
            for c in ("home_xg", "away_xg")
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "days_into_season", "min_value": 0, "max_value": SEASON_WINDOW_DAYS},
        ),
    ]


def source_shots_suite() -> list[Expectation]:
    """Expectations on a file's shots (coordinates and xG are fractions)."""
    return [
        Expectation("ExpectColumnValuesToBeUnique", {"column": "source_shot_id"}),
        *(
            Expectation(
                "ExpectColumnValuesToBeBetween", {"column": c, "min_value": 0.0, "max_value": 1.0}
            )
            for c in ("x", "y", "xg")
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween", {"column": "minute", "min_value": 0, "max_value": 130}
        ),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "side", "value_set": ["h", "a"]}),
    ]


def squad_values_suite() -> list[Expectation]:
    """Expectations on squad market values (euros)."""
    return [
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "market_value_eur", "min_value": 0.0, "max_value": 5e9},
        ),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["club", "as_of"]}),
    ]


SUITES: dict[str, Callable[[], list[Expectation]]] = {
    "football_data.matches": football_data_matches_suite,
    "football_data.odds": football_data_odds_suite,
    "sources.fixtures": source_fixtures_suite,
    "sources.shots": source_shots_suite,
    "sources.squad_values": squad_values_suite,
}


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


def build_suite(suite_name: str) -> Any:
    """A great-expectations ``ExpectationSuite`` from :data:`SUITES` (not registered anywhere)."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=suite_name)
    for expectation in SUITES[suite_name]():
        extra = {"meta": {"label": expectation.label}} if expectation.label else {}
        suite.add_expectation(
            getattr(gx.expectations, expectation.kind)(**expectation.kwargs, **extra)
        )
    return suite


@cache
def _definition(suite_name: str) -> tuple[Any, Any]:
    """The batch definition and registered suite of ``suite_name``, built once per process."""
    context = _context()
    source = context.data_sources.add_pandas(name=suite_name)
    batch = source.add_dataframe_asset(name=suite_name).add_batch_definition_whole_dataframe("all")
    return batch, context.suites.add(build_suite(suite_name))


def run_suite(
    suite_name: str, frame: pd.DataFrame, parameters: dict[str, Any] | None = None
) -> Any:
    """Validate ``frame`` against a suite; return the ``ExpectationSuiteValidationResult``.

    The first run asks only for success flags; a failed suite runs again with
    ``SUMMARY`` so that the result carries example values.
    """
    with _LOCK:
        batch_definition, suite = _definition(suite_name)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            suite, result_format="BOOLEAN_ONLY", expectation_parameters=parameters
        )
        if not result.success:
            result = batch.validate(
                suite, result_format="SUMMARY", expectation_parameters=parameters
            )
    return result


def failures(result: Any) -> list[tuple[str, dict]]:
    """(:func:`describe` label, result dict) of each failed expectation of a suite result, sorted.

    Results are matched to expectations by their configuration, not by position:
    great-expectations does not keep the suite's order.
    """
    failed = []
    for outcome in result.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        kind = "".join(part.title() for part in config.type.split("_"))
        label = (config.meta or {}).get("label")
        failed.append((describe(kind, dict(config.kwargs), label), outcome.result))
    return sorted(failed, key=lambda item: item[0])


def validate_frame(
    suite_name: str,
    frame: pd.DataFrame,
    *,
    name: str,
    parameters: dict[str, Any] | None = None,
    notes: dict[str, str] | None = None,
) -> None:
    """Raise :class:`RejectedFile` (check ``expectation``) if ``frame`` fails the suite.

    ``parameters`` fill the suite's ``$PARAMETER`` values; ``notes`` add a
    sentence to the message of a failed expectation (keyed as :func:`describe` names it).
    The result is recorded for the Data Docs whether it passed or not.
    """
    from sabiscore_ml import data_docs

    result = run_suite(suite_name, frame, parameters)
    data_docs.record(suite_name, result, name=name)
    if result.success:
        return
    details = []
    for described, outcome in failures(result):
        outcome = dict(outcome or {})
        examples = outcome.get("partial_unexpected_list") or outcome.get("observed_value")
        if isinstance(examples, list):
            examples = [getattr(value, "item", lambda v=value: v)() for value in examples[:5]]
        count = outcome.get("unexpected_count")
        shown = f"{count} unexpected, e.g. {examples!r}" if count else f"observed {examples!r}"
        note = (notes or {}).get(described)
        details.append(
            f"{suite_name}: {described} failed: {shown}"[:400] + (f"; {note}" if note else "")
        )
    raise RejectedFile(name, "expectation", "; ".join(details))


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


def validate_football_data(parsed: Any, *, as_of: dt.date | None = None) -> None:
    """Validate a parsed football-data file (matches and odds) with great-expectations.

    ``as_of`` is when the file was taken (default today): a season that was not
    finished then may be short of its complete number of matches.
    """
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
    validate_frame(
        "football_data.matches", matches, name=parsed.name, parameters=parameters, notes=notes
    )
    validate_football_data_odds(parsed)


def validate_football_data_odds(parsed: Any) -> None:
    """Validate the odds of a parsed football-data file (or of one league-season of fixtures)."""
    if parsed.odds_count:
        validate_frame("football_data.odds", _odds_frame(parsed), name=parsed.name)


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
    hold no more than a season of the clubs it names.
    """
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
        validate_frame("sources.fixtures", frame, name=name, parameters=parameters, notes=notes)
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
        validate_frame("sources.shots", frame, name=name)


def validate_squad_values(rows: list[tuple[str, Any, Any, Any]], *, name: str) -> None:
    """Validate (club, as-of date, value, squad size) rows before they are loaded."""
    frame = pd.DataFrame(
        {
            "club": [r[0] for r in rows],
            "as_of": [r[1] for r in rows],
            "market_value_eur": pd.array([r[2] for r in rows], dtype="Float64"),
        }
    )
    validate_frame("sources.squad_values", frame, name=name)


# --- Transfermarkt dataset tables ---------------------------------------------

# A market value (player or squad) of 5 billion euros or more is a unit error.
MAX_MARKET_VALUE_EUR = 5e9


def _money_range(column: str) -> Expectation:
    return Expectation(
        "ExpectColumnValuesToBeBetween",
        {
            "column": column,
            "min_value": 0.0,
            "max_value": MAX_MARKET_VALUE_EUR,
            "strict_max": True,
        },
    )


def _unique(*columns: str) -> Expectation:
    if len(columns) == 1:
        return Expectation("ExpectColumnValuesToBeUnique", {"column": columns[0]})
    return Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": list(columns)})


def _not_null(*columns: str) -> list[Expectation]:
    return [Expectation("ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns]


def transfermarkt_suites() -> dict[str, list[Expectation]]:
    """Expectations on each Transfermarkt table: schema (mandatory columns), ranges, keys."""
    goals = [
        Expectation(
            "ExpectColumnValuesToBeBetween", {"column": c, "min_value": 0, "max_value": MAX_GOALS}
        )
        for c in ("home_goals", "away_goals")
    ]
    return {
        "transfermarkt.competitions": [_unique("competition_id"), *_not_null("name")],
        "transfermarkt.clubs": [
            _unique("club_id"),
            *_not_null("name"),
            _money_range("total_market_value_eur"),
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": "squad_size", "min_value": 0, "max_value": 200},
            ),
        ],
        "transfermarkt.players": [
            _unique("player_id"),
            *_not_null("name"),
            _money_range("market_value_eur"),
            _money_range("highest_market_value_eur"),
        ],
        "transfermarkt.player_valuations": [
            _unique("player_id", "valuation_date"),
            *_not_null("valuation_date", "market_value_eur"),
            _money_range("market_value_eur"),
        ],
        "transfermarkt.games": [
            _unique("game_id"),
            *_not_null("competition_id", "season_code", "match_date"),
            *goals,
        ],
        "transfermarkt.appearances": [
            _unique("player_id", "match_date", "competition_id"),
            *goals,
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": "minutes_played", "min_value": 0, "max_value": 130},
            ),
        ],
        "transfermarkt.player_values": [
            _unique("season_code", "club_name", "player_name"),
            *_not_null("player_name", "club_name"),
            _money_range("market_value_eur"),
        ],
    }


SUITES.update(
    {name: (lambda name=name: transfermarkt_suites()[name]) for name in transfermarkt_suites()}
)


def _suite_columns(expectations: list[Expectation]) -> list[str]:
    columns: set[str] = set()
    for expectation in expectations:
        columns.update(expectation.kwargs.get("column_list", []))
        if "column" in expectation.kwargs:
            columns.add(expectation.kwargs["column"])
    return sorted(columns)


def validate_transfermarkt(table: str, records: list[dict[str, Any]], *, name: str) -> None:
    """Validate the rows of one Transfermarkt table (``clubs``, ``games``...) before loading.

    ``records`` are the rows as they will be written; every column the suite
    reads must be in each (numbers may be None).
    """
    suite = f"transfermarkt.{table}"
    frame = pd.DataFrame(
        {c: [r[c] for r in records] for c in _suite_columns(SUITES[suite]())}, dtype=object
    )
    for column in frame.columns:
        values = [v for v in frame[column] if v is not None]
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            frame[column] = pd.array(list(frame[column]), dtype="Float64")
    validate_frame(suite, frame, name=name)
