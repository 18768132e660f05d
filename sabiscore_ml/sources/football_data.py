"""football-data.co.uk results-and-odds CSVs: a pure parser from raw bytes to records.

The files changed shape many times since 1993 (21 to 120 columns, two date
formats, LF and CRLF, Latin-1 and UTF-8 with or without BOM, padded headers,
comma-only rows, bookmakers that come and go, Pinnacle closing odds appended at
the row end, a full closing block from 2019-20).  Columns are therefore mapped by
*name*, never by position, through a small grammar of odds column names:

* 1X2: ``<BK>[C]<H|D|A>`` (``B365H``, ``PSCH``, ``AvgCA``, ``BbMxD``)
* over/under 2.5: ``<BK>[C]<>|<>2.5`` (``B365>2.5``, ``PC<2.5``); files that went
  through pandas spell them ``<BK>[C]_2_5`` (over) and ``<BK>[C]_2_5_1`` (under)
* Asian handicap: ``<BK>[C]AH<H|A>``, with the line in ``<BK>AH``, ``BbAHh``,
  ``AHh`` (pre-closing) or ``AHCh`` (closing); the line is the home handicap.

``C`` marks a closing price.  Everything else in a file (league, season) is
inferred from the content: the ``Div`` column and the first match date.

:func:`parse_football_data` (one league-season file) and
:func:`parse_football_data_fixtures` (``fixtures.csv``: the upcoming matches of
every division with current odds) never touch the network or the database and
raise :class:`~sabiscore_ml.errors.RejectedFile` naming the check that failed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import LEAGUES, season_of
from sabiscore_ml.sources.reading import decode, sha256_hex

SOURCE = "football-data"

# football-data's bookmaker codes -> canonical bookmaker ids.  ``P`` is Pinnacle in
# the over/under and Asian-handicap blocks, ``PS`` in the 1X2 block.  ``Bb*`` are
# BetBrain aggregates (2005-06..2018-19), ``Max/Avg`` their successors.
BOOKMAKERS: dict[str, str] = {
    "B365": "b365",
    "BF": "betfair",
    "BFD": "betfred",
    "BFE": "betfair_exchange",
    "BMGM": "betmgm",
    "BS": "blue_square",
    "BV": "bet_victor",
    "BW": "bwin",
    "CL": "coral",
    "GB": "gamebookers",
    "IW": "interwetten",
    "LB": "ladbrokes",
    "1XB": "1xbet",
    "P": "pinnacle",
    "PS": "pinnacle",
    "SB": "sportingbet",
    "SJ": "stan_james",
    "SO": "sporting_odds",
    "SY": "stanleybet",
    "VC": "bet_victor",
    "WH": "william_hill",
    "BbMx": "market_max",
    "BbAv": "market_avg",
    "Max": "market_max",
    "Avg": "market_avg",
}

_BK = "|".join(sorted((re.escape(code) for code in BOOKMAKERS), key=len, reverse=True))
_RE_1X2 = re.compile(rf"^({_BK})(C?)([HDA])$")
_RE_OU = re.compile(rf"^({_BK})(C?)(?:([<>])2\.5|_2_5(_1)?)$")
_RE_AH_PRICE = re.compile(rf"^({_BK})(C?)AH([HA])$")
_RE_AH_LINE = re.compile(rf"^({_BK})AH$")

_OUTCOME_1X2 = {"H": "home", "D": "draw", "A": "away"}
_OUTCOME_AH = {"H": "home", "A": "away"}
_MARKET_1X2, _MARKET_OU, _MARKET_AH = "1x2", "ou", "ah"
_PRECLOSE, _CLOSE = "preclose", "close"

# Columns that are known but carry no data we keep (bookmaker counts, duplicates).
_IGNORED = {"Bb1X2", "BbOU", "BbAH", "HTR", "FTR", "LB", "Div"}

MANDATORY = ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG")
_COLUMN_ALIASES = {"HT": "HomeTeam", "AT": "AwayTeam"}

# Per-side match statistics: football-data column -> record field.
STAT_COLUMNS: dict[str, str] = {
    "HS": "home_shots",
    "AS": "away_shots",
    "HST": "home_shots_on_target",
    "AST": "away_shots_on_target",
    "HF": "home_fouls",
    "AF": "away_fouls",
    "HC": "home_corners",
    "AC": "away_corners",
    "HY": "home_yellow_cards",
    "AY": "away_yellow_cards",
    "HR": "home_red_cards",
    "AR": "away_red_cards",
    "HO": "home_offsides",
    "AO": "away_offsides",
    "HHW": "home_woodwork",
    "AHW": "away_woodwork",
    "HBP": "home_booking_points",
    "ABP": "away_booking_points",
}

_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_MAX_SEASON_DAYS = 430


class OddsQuote(NamedTuple):
    """One bookmaker price for one outcome of one market."""

    bookmaker: str
    market: str  # "1x2", "ou" (over/under), "ah" (Asian handicap)
    line: float  # 0 for 1X2, the goal line for "ou", the home handicap for "ah"
    outcome: str  # home/draw/away, over/under
    timing: str  # "preclose" or "close"
    price: float


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """One match as published in a football-data file."""

    row: int  # 1-based line number in the file (header = line 1)
    league: str
    season: str
    match_date: dt.date
    kickoff_time: dt.time | None
    home_team: str
    away_team: str
    home_goals: int | None
    away_goals: int | None
    ht_home_goals: int | None
    ht_away_goals: int | None
    referee: str | None
    attendance: int | None
    stats: dict[str, int]
    odds: tuple[OddsQuote, ...]

    @property
    def result(self) -> str | None:
        """``H``, ``D`` or ``A`` from the full-time score (None if unplayed)."""
        if self.home_goals is None or self.away_goals is None:
            return None
        if self.home_goals > self.away_goals:
            return "H"
        return "A" if self.home_goals < self.away_goals else "D"


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """Everything read from one raw file."""

    name: str
    sha256: str
    encoding: str
    league: str
    season: str
    matches: list[MatchRecord]
    columns: tuple[str, ...]
    unknown_columns: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    @property
    def odds_count(self) -> int:
        """Number of odds quotes over all matches."""
        return sum(len(match.odds) for match in self.matches)


@dataclass(frozen=True, slots=True)
class _LineColumn:
    """The position of the column holding an Asian-handicap price's line in each row."""

    index: int


@dataclass(frozen=True, slots=True)
class _OddsColumn:
    index: int
    name: str
    bookmaker: str
    market: str
    outcome: str
    timing: str
    line: float | _LineColumn  # fixed line (1X2, OU), or the column it is read from (AH)


@dataclass(frozen=True, slots=True)
class _ColumnPlan:
    header: tuple[str, ...]
    index: dict[str, int]
    odds: tuple[_OddsColumn, ...]
    stats: tuple[tuple[int, str], ...]
    unknown: tuple[str, ...]
    duplicates: tuple[str, ...]


def _clean(value: str) -> str:
    return value.replace("\xa0", " ").strip()


def _plan_columns(
    header: list[str], name: str, mandatory: tuple[str, ...] = MANDATORY
) -> _ColumnPlan:
    names = tuple(_clean(cell).lstrip("\ufeff") for cell in header)
    index: dict[str, int] = {}
    duplicates: list[str] = []
    for position, column in enumerate(names):
        if not column:
            continue
        if column in index:
            duplicates.append(column)
            continue
        index[column] = position
    for alias, canonical in _COLUMN_ALIASES.items():
        if canonical not in index and alias in index:
            index[canonical] = index[alias]
    missing = [column for column in mandatory if column not in index]
    if missing:
        shown = ",".join(column for column in names if column)[:300]
        raise RejectedFile(
            name,
            "mandatory_columns",
            f"missing column(s) {', '.join(missing)}; the header reads: {shown}",
        )

    def line_column(*candidates: str) -> int | None:
        for candidate in candidates:
            if candidate in index:
                return index[candidate]
        return None

    odds: list[_OddsColumn] = []
    stats: list[tuple[int, str]] = []
    unknown: list[str] = []
    known_plain = (
        set(MANDATORY)
        | set(_COLUMN_ALIASES)
        | {
            "Time",
            "HTHG",
            "HTAG",
            "Referee",
            "Attendance",
            "AHh",
            "AHCh",
            "BbAHh",
        }
    )
    for column, position in index.items():
        if column in STAT_COLUMNS:
            stats.append((position, STAT_COLUMNS[column]))
        elif match := _RE_1X2.match(column):
            code, closing, outcome = match.groups()
            odds.append(
                _OddsColumn(
                    position,
                    column,
                    BOOKMAKERS[code],
                    _MARKET_1X2,
                    _OUTCOME_1X2[outcome],
                    _CLOSE if closing else _PRECLOSE,
                    0.0,
                )
            )
        elif match := _RE_OU.match(column):
            code, closing, sign, under_suffix = match.groups()
            outcome = "over" if sign == ">" or (sign is None and not under_suffix) else "under"
            odds.append(
                _OddsColumn(
                    position,
                    column,
                    BOOKMAKERS[code],
                    _MARKET_OU,
                    outcome,
                    _CLOSE if closing else _PRECLOSE,
                    2.5,
                )
            )
        elif match := _RE_AH_PRICE.match(column):
            code, closing, outcome = match.groups()
            if closing:
                line_index = line_column("AHCh")
            elif code in ("BbMx", "BbAv"):
                line_index = line_column("BbAHh")
            else:
                line_index = line_column(f"{code}AH", "AHh", "BbAHh")
            if line_index is None:
                unknown.append(column)
                continue
            odds.append(
                _OddsColumn(
                    position,
                    column,
                    BOOKMAKERS[code],
                    _MARKET_AH,
                    _OUTCOME_AH[outcome],
                    _CLOSE if closing else _PRECLOSE,
                    _LineColumn(line_index),
                )
            )
        elif column in known_plain or column in _IGNORED or _RE_AH_LINE.match(column):
            continue
        else:
            unknown.append(column)
    return _ColumnPlan(
        header=names,
        index=index,
        odds=tuple(odds),
        stats=tuple(stats),
        unknown=tuple(unknown),
        duplicates=tuple(duplicates),
    )


# A bookmaker's 1X2 overround (sum of 1/price) outside these bounds is a typo in the
# file, not a price: the three quotes are dropped.  The best price over all books
# ("market_max") can legitimately sum below 1 (an arbitrage), down to OVERROUND_MAX_FLOOR.
OVERROUND_BOUNDS = (0.9, 1.4)
# Asian-handicap lines beyond this many goals are typos (``-225`` for ``-2.25``).
MAX_HANDICAP = 10.0
OVERROUND_MAX_FLOOR = 0.8


def _drop_implausible_1x2(
    quotes: list[OddsQuote], line_number: int, dropped: list[str]
) -> list[OddsQuote]:
    books: dict[tuple[str, str], list[OddsQuote]] = {}
    for quote in quotes:
        if quote.market == _MARKET_1X2:
            books.setdefault((quote.bookmaker, quote.timing), []).append(quote)
    bad: set[tuple[str, str]] = set()
    for (bookmaker, timing), triple in books.items():
        if len(triple) != 3:
            continue
        overround = sum(1.0 / q.price for q in triple)
        low = OVERROUND_MAX_FLOOR if bookmaker == "market_max" else OVERROUND_BOUNDS[0]
        if not low <= overround <= OVERROUND_BOUNDS[1]:
            bad.add((bookmaker, timing))
            prices = "/".join(f"{q.price:g}" for q in triple)
            dropped.append(f"line {line_number} {bookmaker} {timing} {prices} ({overround:.2f})")
    if not bad:
        return quotes
    return [q for q in quotes if q.market != _MARKET_1X2 or (q.bookmaker, q.timing) not in bad]


def _parse_date(text: str) -> dt.date | None:
    match = _DATE_RE.match(text)
    if not match:
        return None
    day, month, year_text = match.groups()
    year = int(year_text)
    if len(year_text) == 2:
        year += 1900 if year >= 90 else 2000
    try:
        return dt.date(year, int(month), int(day))
    except ValueError:
        return None


def _parse_time(text: str) -> dt.time | None:
    match = _TIME_RE.match(text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


def _parse_count(text: str) -> int | None:
    """A non-negative integer written as ``3`` or (after pandas) ``3.0``; None if not."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    if value < 0 or not value.is_integer():
        return None
    return int(value)


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Rows:
    """Cells of one CSV row, stripped and padded to ``width``; ``get(None)`` is ''."""

    __slots__ = ("cells",)

    def __init__(self, cells: list[str], width: int) -> None:
        stripped = [cell.strip() for cell in cells]
        if len(stripped) < width:
            stripped.extend([""] * (width - len(stripped)))
        self.cells = stripped

    def get(self, position: int | None) -> str:
        return "" if position is None else self.cells[position]


def _read_table(
    raw: bytes, name: str, mandatory: tuple[str, ...]
) -> tuple[str, _ColumnPlan, list[tuple[int, list[str]]], list[str]]:
    """Decode and split a CSV, plan its columns and check it is whole.

    Returns ``(encoding, plan, numbered data rows, warnings)``.
    """
    text, encoding = decode(raw, name)
    if "\xa0" in text:  # non-breaking spaces (e.g. before referee names) are padding
        text = text.replace("\xa0", " ")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(_clean(cell) for cell in rows[0]):
        raise RejectedFile(name, "empty", "the file has no header line")
    plan = _plan_columns(rows[0], name, mandatory)
    warnings: list[str] = []
    if plan.duplicates:
        warnings.append(f"duplicated header name(s) ignored: {', '.join(plan.duplicates)}")
    if not raw.endswith(b"\n"):
        tail = raw[-40:].decode(encoding, errors="replace")
        raise RejectedFile(
            name,
            "truncated",
            f"the file does not end with a line break (it ends {tail!r}): the download was cut "
            "short; fetch it again",
        )
    return encoding, plan, list(enumerate(rows[1:], start=2)), warnings


def _dated_rows(
    name: str, plan: _ColumnPlan, data_rows: list[tuple[int, list[str]]]
) -> list[tuple[int, _Rows, dt.date, str]]:
    """The non-blank rows with their date and Div; rejects empty mandatory values and bad dates."""
    col = plan.index
    width = len(plan.header)
    parsed: list[tuple[int, _Rows, dt.date, str]] = []
    for number, cells in data_rows:
        row = _Rows(cells, width)
        div = row.get(col["Div"])
        date_text = row.get(col["Date"])
        home, away = row.get(col["HomeTeam"]), row.get(col["AwayTeam"])
        if not div and not date_text and not home and not away:
            continue  # blank or comma-only padding row
        if not (div and date_text and home and away):
            missing = [
                label
                for label, value in (
                    ("Div", div),
                    ("Date", date_text),
                    ("HomeTeam", home),
                    ("AwayTeam", away),
                )
                if not value
            ]
            raise RejectedFile(
                name, "mandatory_values", f"line {number}: empty {', '.join(missing)}"
            )
        match_date = _parse_date(date_text)
        if match_date is None:
            raise RejectedFile(
                name, "date_format", f"line {number}: Date {date_text!r} is not dd/mm/yy(yy)"
            )
        parsed.append((number, row, match_date, div))
    return parsed


@dataclass(slots=True)
class _RowIssues:
    """What the rows of one file had that is worth a warning, and the matches seen so far."""

    seen: dict[tuple[dt.date, str, str], int] = field(default_factory=dict)
    dropped_odds: list[str] = field(default_factory=list)
    implausible: list[str] = field(default_factory=list)
    result_mismatches: list[str] = field(default_factory=list)

    def warnings(self, plan: _ColumnPlan) -> list[str]:
        warnings = []
        if self.dropped_odds:
            warnings.append(
                f"dropped {len(self.dropped_odds)} malformed odds value(s): "
                + "; ".join(self.dropped_odds[:5])
            )
        if self.implausible:
            warnings.append(
                f"dropped {len(self.implausible)} 1X2 price set(s) with an implausible overround: "
                + "; ".join(self.implausible[:5])
            )
        if self.result_mismatches:
            warnings.append(
                f"{len(self.result_mismatches)} published result(s) disagree with the score "
                "(score kept): " + "; ".join(self.result_mismatches[:5])
            )
        if plan.unknown:
            warnings.append(f"unrecognised column(s) not loaded: {', '.join(plan.unknown)}")
        return warnings


def _match_record(
    name: str,
    plan: _ColumnPlan,
    number: int,
    row: _Rows,
    match_date: dt.date,
    *,
    league: str,
    season: str,
    today: dt.date,
    issues: _RowIssues,
) -> MatchRecord:
    """One row as a :class:`MatchRecord`: teams, score, time, statistics and odds checked."""
    col = plan.index
    home, away = row.get(col["HomeTeam"]), row.get(col["AwayTeam"])
    if home.casefold() == away.casefold():
        raise RejectedFile(name, "distinct_teams", f"line {number}: {home} plays itself")
    key = (match_date, home.casefold(), away.casefold())
    if key in issues.seen:
        raise RejectedFile(
            name,
            "duplicate_match",
            f"line {number} repeats line {issues.seen[key]}: {match_date} {home} v {away}",
        )
    issues.seen[key] = number
    goals_text = (row.get(col.get("FTHG")), row.get(col.get("FTAG")))
    home_goals, away_goals = (_parse_count(value) for value in goals_text)
    for label, value, parsed_value in zip(
        ("FTHG", "FTAG"), goals_text, (home_goals, away_goals), strict=True
    ):
        if value and parsed_value is None:
            raise RejectedFile(
                name, "goals", f"line {number}: {label} {value!r} is not a whole number"
            )
    if (home_goals is None) != (away_goals is None):
        raise RejectedFile(name, "goals", f"line {number}: only one side has a score")
    if home_goals is not None and match_date > today:
        raise RejectedFile(
            name,
            "future_result",
            f"line {number}: {match_date} {home} v {away} has a result but is after {today}",
        )
    time_text = row.get(col.get("Time"))
    kickoff_time = _parse_time(time_text) if time_text else None
    if time_text and kickoff_time is None:
        raise RejectedFile(name, "time_format", f"line {number}: Time {time_text!r} is not HH:MM")
    stats: dict[str, int] = {}
    for position, field_name in plan.stats:
        count = _parse_count(row.get(position))
        if count is not None:
            stats[field_name] = count
    quotes: list[OddsQuote] = []
    cells = row.cells
    for column in plan.odds:
        value = cells[column.index]
        if not value:
            continue
        try:
            price = float(value)
        except ValueError:
            price = 0.0
        if not 1.0 < price < 10000.0:
            issues.dropped_odds.append(f"line {number} {column.name}={value!r}")
            continue
        if isinstance(column.line, _LineColumn):
            line_text = cells[column.line.index]
            line = _parse_float(line_text) if line_text else None
            if line is not None and not -MAX_HANDICAP <= line <= MAX_HANDICAP:
                issues.dropped_odds.append(f"line {number} {column.name} with handicap {line:g}")
                continue
            if line is None:
                issues.dropped_odds.append(f"line {number} {column.name} without a handicap line")
                continue
        else:
            line = column.line
        quotes.append(
            OddsQuote(column.bookmaker, column.market, line, column.outcome, column.timing, price)
        )
    quotes = _drop_implausible_1x2(quotes, number, issues.implausible)
    record = MatchRecord(
        row=number,
        league=league,
        season=season,
        match_date=match_date,
        kickoff_time=kickoff_time,
        home_team=home,
        away_team=away,
        home_goals=home_goals,
        away_goals=away_goals,
        ht_home_goals=_parse_count(row.get(col.get("HTHG"))),
        ht_away_goals=_parse_count(row.get(col.get("HTAG"))),
        referee=row.get(col.get("Referee")) or None,
        attendance=_parse_count(row.get(col.get("Attendance")).replace(",", "")),
        stats=stats,
        odds=tuple(quotes),
    )
    published = row.get(col.get("FTR"))
    if published and record.result and published != record.result:
        issues.result_mismatches.append(
            f"line {number} FTR={published} but score gives {record.result}"
        )
    return record


def parse_football_data(
    raw: bytes,
    name: str = "<bytes>",
    *,
    today: dt.date | None = None,
) -> ParsedFile:
    """Parse one football-data.co.uk CSV (one league, one season) from raw bytes.

    ``name`` labels errors and warnings (a path or URL).  ``today`` is the date
    after which a match cannot have a result (defaults to the current date).
    Raises :class:`RejectedFile` naming the failed check; returns a
    :class:`ParsedFile` otherwise.  Malformed single odds values (``c``,
    ``3.53.75``, prices of at most 1) are dropped with a warning, not fatal.
    """
    today = today or dt.date.today()
    encoding, plan, data_rows, warnings = _read_table(raw, name, MANDATORY)
    parsed = _dated_rows(name, plan, data_rows)
    if not parsed:
        raise RejectedFile(name, "empty", "the file has a header but no matches")
    divisions = {div for _, _, _, div in parsed}
    if len(divisions) != 1:
        raise RejectedFile(
            name, "single_division", f"one league per file, found Div {sorted(divisions)}"
        )
    league = divisions.pop()
    if league not in LEAGUES:
        raise RejectedFile(
            name,
            "known_division",
            f"Div {league!r} is not a known league ({', '.join(sorted(LEAGUES))})",
        )
    first_date = min(match_date for _, _, match_date, _ in parsed)
    last_date = max(match_date for _, _, match_date, _ in parsed)
    if (last_date - first_date).days > _MAX_SEASON_DAYS:
        raise RejectedFile(
            name,
            "season_span",
            f"matches from {first_date} to {last_date}: more than one season in one file",
        )
    season = season_of(first_date)
    issues = _RowIssues()
    matches = [
        _match_record(
            name,
            plan,
            number,
            row,
            match_date,
            league=league,
            season=season,
            today=today,
            issues=issues,
        )
        for number, row, match_date, _ in parsed
    ]
    return ParsedFile(
        name=name,
        sha256=sha256_hex(raw),
        encoding=encoding,
        league=league,
        season=season,
        matches=matches,
        columns=plan.header,
        unknown_columns=plan.unknown,
        warnings=warnings + issues.warnings(plan),
    )


# fixtures.csv: the upcoming matches of every division, with current pre-closing odds.
FIXTURES_MANDATORY = ("Div", "Date", "HomeTeam", "AwayTeam")
# A fixture dated more than this many days before the day the file was taken means the
# copy is not current (a stale mirror or cache): its odds are not "current odds".
STALE_FIXTURE_DAYS = 3


@dataclass(frozen=True, slots=True)
class ParsedFixtures:
    """Everything read from one ``fixtures.csv``: one :class:`ParsedFile` per league-season."""

    name: str
    sha256: str
    encoding: str
    files: list[ParsedFile]
    columns: tuple[str, ...]
    skipped_divisions: dict[str, int]  # Div not in LEAGUES -> rows skipped
    warnings: list[str] = field(default_factory=list)

    @property
    def matches(self) -> int:
        """Number of fixtures kept (known divisions)."""
        return sum(len(group.matches) for group in self.files)

    @property
    def odds_count(self) -> int:
        """Number of odds quotes kept."""
        return sum(group.odds_count for group in self.files)


def parse_football_data_fixtures(
    raw: bytes, name: str = "<bytes>", *, today: dt.date | None = None
) -> ParsedFixtures:
    """Parse football-data.co.uk's ``fixtures.csv`` (upcoming matches of many divisions).

    The columns follow the season files' grammar without results or statistics;
    only ``Div``, ``Date``, ``HomeTeam`` and ``AwayTeam`` are mandatory.  Rows are
    grouped per league and season (``season_of`` each date) into one
    :class:`ParsedFile` each, whose matches have no goals and only pre-closing
    odds (a closing price is dropped with a warning).  A division that is not a
    known league is skipped with a warning naming it.  ``today`` is the day the
    file was taken (default: the current date): a fixture may be dated up to
    :data:`STALE_FIXTURE_DAYS` before it (late rows of the last matchday), an
    older one rejects the file (check ``stale_fixtures``: the copy is not current).
    A row carrying a result rejects it too (``fixtures_only``: a season file?).
    Otherwise the season files' checks apply, and a header without rows is an
    empty list of fixtures (the close season), not an error.
    """
    today = today or dt.date.today()
    encoding, plan, data_rows, warnings = _read_table(raw, name, FIXTURES_MANDATORY)
    col = plan.index
    result_columns = [col[c] for c in ("FTHG", "FTAG") if c in col]
    oldest = today - dt.timedelta(days=STALE_FIXTURE_DAYS)
    skipped: dict[str, int] = {}
    groups: dict[tuple[str, str], list[MatchRecord]] = {}
    closing: list[str] = []
    issues = _RowIssues()
    for number, row, match_date, div in _dated_rows(name, plan, data_rows):
        home, away = row.get(col["HomeTeam"]), row.get(col["AwayTeam"])
        if any(row.get(position) for position in result_columns):
            raise RejectedFile(
                name,
                "fixtures_only",
                f"line {number}: {match_date} {home} v {away} carries a result; "
                "a fixtures file lists unplayed matches only",
            )
        if match_date < oldest:
            raise RejectedFile(
                name,
                "stale_fixtures",
                f"line {number}: {match_date} {home} v {away} is more than "
                f"{STALE_FIXTURE_DAYS} days before {today}: the copy is not current",
            )
        if div not in LEAGUES:
            skipped[div] = skipped.get(div, 0) + 1
            continue
        season = season_of(match_date)
        record = _match_record(
            name,
            plan,
            number,
            row,
            match_date,
            league=div,
            season=season,
            today=today,
            issues=issues,
        )
        if any(quote.timing == _CLOSE for quote in record.odds):
            closing.append(f"line {number}")
            record = replace(record, odds=tuple(q for q in record.odds if q.timing == _PRECLOSE))
        groups.setdefault((div, season), []).append(record)
    warnings += issues.warnings(plan)
    if skipped:
        warnings.append(
            "skipped division(s) that are not known leagues: "
            + ", ".join(f"{div} ({count} fixture(s))" for div, count in sorted(skipped.items()))
        )
    if closing:
        warnings.append(
            f"closing prices in a fixtures file ignored on {len(closing)} row(s): "
            + ", ".join(closing[:5])
        )
    if not groups:
        warnings.append("no fixture of a known league in the file")
    sha = sha256_hex(raw)
    files = [
        ParsedFile(
            name=f"{name} [{league} {season}]",
            sha256=sha,
            encoding=encoding,
            league=league,
            season=season,
            matches=matches,
            columns=plan.header,
            unknown_columns=plan.unknown,
        )
        for (league, season), matches in sorted(groups.items())
    ]
    return ParsedFixtures(
        name=name,
        sha256=sha,
        encoding=encoding,
        files=files,
        columns=plan.header,
        skipped_divisions=dict(sorted(skipped.items())),
        warnings=warnings,
    )


def iter_csv_files(paths: Iterable[str]) -> list[str]:
    """Every ``*.csv`` under the given files or directories, recursively, sorted."""
    found: list[str] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found.extend(str(p) for p in sorted(path.rglob("*")) if p.suffix.lower() == ".csv")
        else:
            found.append(str(path))
    return found
