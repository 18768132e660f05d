"""The expectation suites: what each source table must satisfy, by name.

Each source table has a suite (schema, ranges, uniqueness of the natural key,
dates inside the season and inside the window of acceptable seasons, the
number of matches of a complete season), a list of :class:`Expectation` built
by a function registered in :data:`SUITES`; :func:`build_suite` turns one into
a great-expectations ``ExpectationSuite``.  :mod:`sabiscore_ml.validation` runs
them on the frames of a file, :mod:`sabiscore_ml.data_docs` renders their pages.

great-expectations is imported by :func:`build_suite` only (it takes seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sabiscore_ml.leagues import last_match_date, season_start

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


# Matches of a season fall in its dating window, 1 June of its first year to 31 August of
# the next (:func:`~sabiscore_ml.leagues.last_match_date`): ``days_into_season`` from 0 to
# the parameter below, given per file by :func:`dating_window_days` (a day longer when the
# second year is a leap year).
LAST_DAY_INTO_SEASON = "last_day_into_season"


def dating_window_days(season: str) -> int:
    """Days from the season's start to the last day a match of it may be dated."""
    return (last_match_date(season) - season_start(season)).days


def days_into_season_expectation() -> Expectation:
    """Every match dated inside its season's dating window."""
    return Expectation(
        "ExpectColumnValuesToBeBetween",
        {
            "column": "days_into_season",
            "min_value": 0,
            "max_value": {"$PARAMETER": LAST_DAY_INTO_SEASON},
        },
    )


# The column holding each row's season (its starting year), checked against
# :func:`~sabiscore_ml.leagues.accepted_seasons` by every suite of dated rows.
SEASON_YEAR = "season_year"


def season_window_expectation() -> Expectation:
    """Every row's season inside the window of :func:`~sabiscore_ml.leagues.accepted_seasons`."""
    return Expectation(
        "ExpectColumnValuesToBeBetween",
        {
            "column": SEASON_YEAR,
            "min_value": {"$PARAMETER": "first_season_year"},
            "max_value": {"$PARAMETER": "last_season_year"},
        },
    )


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
        days_into_season_expectation(),
        season_window_expectation(),
        Expectation(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["match_date", "home_team", "away_team"]},
        ),
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "result", "value_set": ["H", "D", "A"]}
        ),
    ]


def football_data_fixtures_suite() -> list[Expectation]:
    """Expectations on the matches of one league-season of ``fixtures.csv`` (unplayed)."""
    return [season_window_expectation()]


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
        days_into_season_expectation(),
        season_window_expectation(),
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
        season_window_expectation(),
    ]


SUITES: dict[str, Callable[[], list[Expectation]]] = {
    "football_data.matches": football_data_matches_suite,
    "football_data.fixtures": football_data_fixtures_suite,
    "football_data.odds": football_data_odds_suite,
    "sources.fixtures": source_fixtures_suite,
    "sources.shots": source_shots_suite,
    "sources.squad_values": squad_values_suite,
}


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
            season_window_expectation(),
        ],
        "transfermarkt.games": [
            _unique("game_id"),
            *_not_null("competition_id", "season_code", "match_date"),
            *goals,
            season_window_expectation(),
        ],
        "transfermarkt.appearances": [
            _unique("player_id", "match_date", "competition_id"),
            *goals,
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": "minutes_played", "min_value": 0, "max_value": 130},
            ),
            season_window_expectation(),
        ],
        "transfermarkt.player_values": [
            _unique("season_code", "club_name", "player_name"),
            *_not_null("player_name", "club_name"),
            _money_range("market_value_eur"),
            season_window_expectation(),
        ],
    }


def _transfermarkt_suite(name: str) -> Callable[[], list[Expectation]]:
    return lambda: transfermarkt_suites()[name]


SUITES.update({name: _transfermarkt_suite(name) for name in transfermarkt_suites()})


def build_suite(suite_name: str, expectations: Iterable[Expectation] | None = None) -> Any:
    """A great-expectations ``ExpectationSuite`` (not registered anywhere).

    Its expectations are ``expectations``, by default those of ``suite_name`` in
    :data:`SUITES`.
    """
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=suite_name)
    if expectations is None:
        expectations = tuple(SUITES[suite_name]())
    for expectation in expectations:
        extra = {"meta": {"label": expectation.label}} if expectation.label else {}
        suite.add_expectation(
            getattr(gx.expectations, expectation.kind)(**expectation.kwargs, **extra)
        )
    return suite
