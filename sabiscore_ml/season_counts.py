"""How many matches a complete league-season has, and the reviewed exceptions.

A league of ``n`` clubs normally plays a double round robin: ``n * (n - 1)``
matches (20 clubs: 380, 18: 306, 24: 552).  Leagues that play otherwise are
listed in ``sabiscore_ml/data/season_formats.csv`` (Scotland: four meetings, or
three meetings and a split); real seasons that ended with another count
(curtailed or abandoned seasons, a club's name misspelt in one row, files
downloaded mid-season) are listed, with the reason, in
``sabiscore_ml/data/season_count_exceptions.csv``.  Both files are data to
review, not code.

Once a season's dating window (1 June to 31 August of the next year, the window
every match date is checked against: :func:`sabiscore_ml.leagues.dating_window_over`)
is over at the time the file was taken, a file that holds the whole season must
have exactly the expected number of matches.  Before that it may be short, never
longer.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sabiscore_ml.leagues import dating_window_over, last_match_date, normalize_season

DATA_DIR = Path(__file__).with_name("data")
FORMATS_FILE = DATA_DIR / "season_formats.csv"
EXCEPTIONS_FILE = DATA_DIR / "season_count_exceptions.csv"


def _double(clubs: int) -> int:
    return clubs * (clubs - 1)


def _quadruple(clubs: int) -> int:
    return 2 * clubs * (clubs - 1)


def _split(clubs: int) -> int:
    # three meetings, then each half of the table plays a single round robin
    return 3 * clubs * (clubs - 1) // 2 + clubs * (clubs // 2 - 1) // 2


FORMATS = {
    "double": (_double, "each pair of clubs meets twice"),
    "quadruple": (_quadruple, "each pair of clubs meets four times"),
    "split": (_split, "three meetings, then the table splits in halves that meet once more"),
}


@dataclass(frozen=True, slots=True)
class RowCountBounds:
    """How many matches (rows) a file of one league-season may hold, and why."""

    min_value: int
    max_value: int
    explanation: str


@cache
def _formats() -> tuple[tuple[str, str, str | None, str], ...]:
    with FORMATS_FILE.open(newline="", encoding="utf-8") as handle:
        return tuple(
            (
                row["league"],
                normalize_season(row["first_season"]),
                normalize_season(row["last_season"]) if row["last_season"] else None,
                row["format"],
            )
            for row in csv.DictReader(handle)
        )


@cache
def _exceptions() -> dict[tuple[str, str, str, int], str]:
    with EXCEPTIONS_FILE.open(newline="", encoding="utf-8") as handle:
        return {
            (row["source"], row["league"], normalize_season(row["season"]), int(row["matches"])): (
                row["reason"]
            )
            for row in csv.DictReader(handle)
        }


def league_format(league: str, season: str) -> str:
    """The format a league played in a season (``double`` unless listed)."""
    season = normalize_season(season)
    for code, first, last, name in _formats():
        if code == league and first <= season and (last is None or season <= last):
            return name
    return "double"


def complete_season_matches(league: str, season: str, clubs: int) -> tuple[int, str]:
    """Matches in a complete season of ``clubs`` clubs, with the format's description."""
    count, description = FORMATS[league_format(league, season)]
    return count(clubs), f"{clubs} clubs, {description}"


def exception_reason(source: str, league: str, season: str, matches: int) -> str | None:
    """The reviewed reason why a finished season has ``matches`` matches, if listed."""
    return _exceptions().get((source, league, normalize_season(season), matches))


def row_count_bounds(
    source: str,
    league: str,
    season: str,
    *,
    clubs: int,
    observed: int,
    as_of: dt.date,
    whole_season: bool = True,
) -> RowCountBounds:
    """Bounds on the number of matches of a file, from the league's format and exceptions.

    ``whole_season`` says the file holds (or will hold) the whole season, as a
    football-data file, an Understat league page or an FBref schedule do; other
    files (one match, the matches with shots) only may not exceed a season.
    """
    expected, description = complete_season_matches(league, season, clubs)
    if not whole_season:
        return RowCountBounds(1, expected, f"at most a season: {expected} ({description})")
    if not dating_window_over(season, as_of):
        return RowCountBounds(
            1,
            expected,
            f"season in progress on {as_of}: at most {expected} ({description})",
        )
    reason = exception_reason(source, league, season, observed)
    if reason is not None:
        return RowCountBounds(observed, observed, f"reviewed exception: {reason}")
    return RowCountBounds(
        expected,
        expected,
        f"season finished on {last_match_date(season)}: {expected} expected ({description}); "
        f"a real exception belongs in {EXCEPTIONS_FILE.name}",
    )
