"""Canonical leagues and seasons, and the one season calendar.

League ids are football-data.co.uk's division codes (``E0``, ``SP1``...), the
most widely used short codes; other sources map their own names onto them.
A season id is ``YYYY-YYYY`` (``2023-2024``) for leagues that span two years.

The calendar (every module takes its season dates from here):

* a season starts on 1 June of its first year (:func:`season_start`); a date
  belongs to the season that started on or before it (:func:`season_of`);
* its *nominal end* is the day before the next season starts, 31 May
  (:func:`season_nominal_end`);
* its *dating window* runs from its start to 31 August of its second year
  (:func:`last_match_date`): a match of the season may be dated anywhere in it,
  since seasons run late (the 2019-20 seasons ended in July and August 2020);
* the *accepted seasons* (:func:`accepted_seasons`) are the seasons a file of any
  source may hold: from the archive's first season to the one after today's.

Two notions of a season being over, for two questions:

* :func:`dating_window_over`: the dating window has passed, so no match of the
  season can still come; a file holding the whole season must then be complete;
* :func:`season_played_out`: the loaded fixtures say the season is over (its last
  match day and its nominal end, whichever is later, are past by a margin), so
  its pages need not be downloaded again.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class League:
    """A domestic league division."""

    code: str
    name: str
    country: str
    tier: int


LEAGUES: dict[str, League] = {
    league.code: league
    for league in (
        League("E0", "Premier League", "England", 1),
        League("E1", "Championship", "England", 2),
        League("E2", "League One", "England", 3),
        League("E3", "League Two", "England", 4),
        League("EC", "National League", "England", 5),
        League("SC0", "Scottish Premiership", "Scotland", 1),
        League("SC1", "Scottish Championship", "Scotland", 2),
        League("SC2", "Scottish League One", "Scotland", 3),
        League("SC3", "Scottish League Two", "Scotland", 4),
        League("D1", "Bundesliga", "Germany", 1),
        League("D2", "2. Bundesliga", "Germany", 2),
        League("I1", "Serie A", "Italy", 1),
        League("I2", "Serie B", "Italy", 2),
        League("SP1", "La Liga", "Spain", 1),
        League("SP2", "Segunda Division", "Spain", 2),
        League("F1", "Ligue 1", "France", 1),
        League("F2", "Ligue 2", "France", 2),
        League("N1", "Eredivisie", "Netherlands", 1),
        League("B1", "Jupiler Pro League", "Belgium", 1),
        League("P1", "Primeira Liga", "Portugal", 1),
        League("T1", "Super Lig", "Turkey", 1),
        League("G1", "Super League Greece", "Greece", 1),
    )
}

# A season starts on the first day of this month (a date from it on belongs to the season
# starting that year).
SEASON_START_MONTH = 6

# The (month, day) of a season's second year up to which its matches may be dated.
LAST_MATCH_MONTH_DAY = (8, 31)

# The first season of the archive (football-data.co.uk's oldest files); no source goes further back.
FIRST_SEASON = "1993-1994"

_SEASON_RE = re.compile(r"^(\d{4})-(\d{4})$")
_SHORT_SEASON_RE = re.compile(r"^(\d{2})(\d{2})$")


def get_league(code: str) -> League:
    """The league with this code, or a ``KeyError`` naming the known codes."""
    try:
        return LEAGUES[code]
    except KeyError:
        known = ", ".join(sorted(LEAGUES))
        raise KeyError(f"unknown league {code!r}; known leagues: {known}") from None


def season_of(day: dt.date) -> str:
    """The ``YYYY-YYYY`` season a match on ``day`` belongs to."""
    start = day.year if day.month >= SEASON_START_MONTH else day.year - 1
    return f"{start}-{start + 1}"


def season_start_year(season: str) -> int:
    """First calendar year of a ``YYYY-YYYY`` season."""
    return int(normalize_season(season)[:4])


def season_start(season: str) -> dt.date:
    """The first day of a season (1 June of its first year), where its dating window opens."""
    return dt.date(season_start_year(season), SEASON_START_MONTH, 1)


def season_nominal_end(season: str) -> dt.date:
    """The nominal last day of a season: the day before the next one starts (31 May).

    Fixtures can run later (the 2019-20 seasons ended in July and August 2020):
    whoever decides a season is over also looks at its last fixture
    (:func:`season_over_since`).
    """
    return dt.date(season_start_year(season) + 1, SEASON_START_MONTH, 1) - dt.timedelta(days=1)


def last_match_date(season: str) -> dt.date:
    """The last day a match of the season may be dated: 31 August of its second year."""
    return dt.date(season_start_year(season) + 1, *LAST_MATCH_MONTH_DAY)


def dating_window_over(season: str, as_of: dt.date) -> bool:
    """True when the season's dating window (to :func:`last_match_date`) was over on ``as_of``."""
    return as_of > last_match_date(season)


def season_over_since(season: str, last_match_day: dt.date) -> dt.date:
    """The day a season is over: its last match day or its nominal end, whichever is later."""
    return max(last_match_day, season_nominal_end(season))


def season_played_out(
    season: str, last_match_day: dt.date, *, today: dt.date, margin: dt.timedelta
) -> bool:
    """True when ``margin`` has passed since the season was over (:func:`season_over_since`).

    ``last_match_day`` is the last loaded fixture's date; the caller checks that
    every loaded fixture is over.
    """
    return today > season_over_since(season, last_match_day) + margin


@dataclass(frozen=True, slots=True)
class AcceptedSeasons:
    """The seasons a file of any source may hold, first and last included."""

    first: str
    last: str
    as_of: dt.date  # the day whose season is followed by ``last``

    @property
    def first_year(self) -> int:
        """Starting year of the first season."""
        return season_start_year(self.first)

    @property
    def last_year(self) -> int:
        """Starting year of the last season."""
        return season_start_year(self.last)

    def describe(self) -> str:
        """``seasons 1993-1994 to 2027-2028 (...)``, for rejection messages."""
        return (
            f"seasons {self.first} to {self.last} (the archive's first season to the one "
            f"after the season of {self.as_of})"
        )


def accepted_seasons(today: dt.date | None = None) -> AcceptedSeasons:
    """The one window of acceptable seasons for every source.

    From :data:`FIRST_SEASON` to the season after ``today``'s (default: the
    current date), so next season's fixtures are accepted and a date typed
    decades ahead (2099) is not.  A match date is acceptable when its season
    (:func:`season_of`) is.
    """
    today = today or dt.date.today()
    following = season_start_year(season_of(today)) + 1
    return AcceptedSeasons(FIRST_SEASON, f"{following}-{following + 1}", today)


def normalize_season(text: str) -> str:
    """Accept ``2023-2024``, ``2023-24``, ``2023/24`` or ``2324``; return ``2023-2024``."""
    value = text.strip().replace("/", "-")
    if match := _SEASON_RE.match(value):
        start, end = int(match.group(1)), int(match.group(2))
    elif re.match(r"^\d{4}-\d{2}$", value):
        start = int(value[:4])
        end = start + 1
        if value[-2:] != f"{end % 100:02d}":
            raise ValueError(f"season {text!r}: the second year must follow the first")
    elif match := _SHORT_SEASON_RE.match(value):
        first = int(match.group(1))
        start = (1900 if first >= 90 else 2000) + first
        end = start + 1
        if int(match.group(2)) != end % 100:
            raise ValueError(f"season {text!r}: the second year must follow the first")
    else:
        raise ValueError(f"season {text!r} is not like 2023-2024")
    if end != start + 1:
        raise ValueError(f"season {text!r}: the second year must follow the first")
    return f"{start}-{end}"


def football_data_season_code(season: str) -> str:
    """football-data.co.uk's URL code for a season: ``2023-2024`` -> ``2324``."""
    start = season_start_year(season)
    return f"{start % 100:02d}{(start + 1) % 100:02d}"
