"""Transfermarkt market values: pure parsers from raw bytes to records.

Three kinds of input are read (there is no live page reader); :func:`table_kind`
tells them apart by their content:

* the transfermarkt-datasets tables (``players``, ``player_valuations``,
  ``clubs``, ``competitions``, ``games``), CSV, columns mapped by name;
* season squad-value tables: one row per club and season with the squad's total
  market value, either in EUR millions (``season,club_name,market_value_m``) or
  as display strings (``"€ 1,370,000,000.00"``), and the matching top-players
  table (``Rank,Player,...,ValueEUR``);
* transfermarkt-scraper output, JSON Lines (:func:`parse_tm_scraper`): games and
  player appearances are read, club/competition/player link lists only counted.

Squad values over time are derived from player valuations: each valuation is
attributed to the club printed on it (:func:`attribute_valuation_clubs`), and
:func:`squad_value_changes` lists every date on which a club's summed value
(:func:`squad_values_as_of`) changes.

Money is read by :func:`parse_money`, which knows every display format seen in
these files (``€1.23bn``, ``€500.00m``, ``+€880k``, ``€-72.30m``, ``+-0``,
``€ 1,370,000,000.00``, plain numbers) and refuses anything else.  Seasons are
``YYYY-YYYY``; Transfermarkt names a season by its start year (``2020`` is
2020-2021).  Transfermarkt competition ids are mapped to our league codes through
:data:`TRANSFERMARKT_LEAGUES`.

Nothing here touches the network or the database; a bad file raises
:class:`~sabiscore_ml.errors.RejectedFile` naming the failed check (``empty``,
``not_csv``, ``encoding``, ``truncated``, ``mandatory_columns``, ``row_width``,
``mandatory_values``, ``money_format``, ``number_format``, ``date_format``,
``season``, ``range``, ``duplicate_key``).
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import LEAGUES, normalize_season
from sabiscore_ml.reconcile import normalize_team_name
from sabiscore_ml.sources.reading import decode, decode_text

SOURCE = "transfermarkt"

# Transfermarkt competition id -> our league code (football-data division codes).
TRANSFERMARKT_LEAGUES: dict[str, str] = {
    "GB1": "E0",
    "GB2": "E1",
    "ES1": "SP1",
    "L1": "D1",
    "IT1": "I1",
    "FR1": "F1",
    "NL1": "N1",
    "PO1": "P1",
    "BE1": "B1",
    "TR1": "T1",
    "GR1": "G1",
    "SC1": "SC0",
}

# A squad (or a player) worth more than this is a unit error, not a valuation.
MAX_MARKET_VALUE_EUR = 5e9

_MONEY_RE = re.compile(
    r"""^(?P<sign>[+-]?)
        (?P<currency>€?)
        (?P<inner_sign>-?)
        (?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
        (?P<unit>bn|m|k)?$""",
    re.VERBOSE | re.IGNORECASE,
)
_UNITS = {"": Decimal(1), "k": Decimal(10**3), "m": Decimal(10**6), "bn": Decimal(10**9)}
_ZERO_BALANCE_RE = re.compile(r"^\+-€?0(?:\.0+)?$")  # Transfermarkt's "no balance" display
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00)?)?$")
_NAME_SEASON_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_/]((?:19|20)?\d{2})(?!\d)")


def parse_money(text: str) -> float | None:
    """An amount in euros from a Transfermarkt money string; None for ``-`` or empty.

    Accepts ``€1.23bn``, ``€500.00m``, ``+€880k``, ``€-72.30m``, ``-€5m``,
    ``€ 1,370,000,000.00`` (thousands commas, spaces anywhere), ``+-0`` (the
    zero-balance display) and plain numbers (``1040.0``, ``150000``, ``-3``).
    Plain numbers are returned as they are: the unit of a bare number is the
    caller's business.  Anything else (another currency, a decimal comma, a
    German ``Mio.`` suffix) raises :class:`ValueError` quoting the text.
    """
    amount = _money_decimal(text)
    return None if amount is None else float(amount)


def _money_decimal(text: str) -> Decimal | None:
    """:func:`parse_money` without the final rounding to float."""
    compact = re.sub(r"\s+", "", text.replace("\xa0", " "))
    if compact in ("", "-"):
        return None
    if _ZERO_BALANCE_RE.match(compact):
        return Decimal(0)
    match = _MONEY_RE.match(compact)
    if not match or (match["sign"] and match["inner_sign"]):
        raise ValueError(f"unrecognised money format {text!r}")
    unit = (match["unit"] or "").lower()
    amount = Decimal(match["number"].replace(",", "")) * _UNITS[unit]
    return -amount if "-" in (match["sign"], match["inner_sign"]) else amount


def league_of(competition_id: str | None) -> str | None:
    """Our league code for a Transfermarkt competition id (``GB1`` -> ``E0``), else None."""
    if not competition_id:
        return None
    return TRANSFERMARKT_LEAGUES.get(competition_id.strip().upper())


def season_of_start_year(start_year: int) -> str:
    """Transfermarkt's season id (its start year) as ``YYYY-YYYY``: 2020 -> ``2020-2021``."""
    return f"{start_year}-{start_year + 1}"


# ---------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class TmPlayer:
    """One row of the ``players`` table (the player as of the dataset release)."""

    row: int  # 1-based line number in the file (header = line 1)
    player_id: int
    name: str
    first_name: str | None
    last_name: str | None
    date_of_birth: dt.date | None
    position: str | None
    sub_position: str | None
    current_club_id: int | None
    current_club_name: str | None
    competition_id: str | None  # current_club_domestic_competition_id (Transfermarkt code)
    league: str | None  # our league code for competition_id, when mapped
    last_season: str | None  # last season the player appears in, ``YYYY-YYYY``
    market_value_eur: float | None
    highest_market_value_eur: float | None


@dataclass(frozen=True, slots=True)
class TmPlayerValuation:
    """One row of ``player_valuations``: a player's market value from a date on.

    ``club_id`` is the table's ``current_club_id``.  The dataset resolves it from
    the player's transfers (the club joined most recently on or before ``date``)
    and, when no transfer that old is known, falls back to the club the player is
    at in the release: so for old valuations it is often the *current* club.
    ``club_name`` (``current_club_name``) is the club Transfermarkt printed on the
    valuation itself, i.e. the club at ``date``; it is a short name that does not
    match the ``clubs`` table's legal names.
    """

    row: int
    player_id: int
    date: dt.date
    market_value_eur: float
    club_id: int | None
    club_name: str | None
    competition_id: str | None  # player_club_domestic_competition_id
    league: str | None


@dataclass(frozen=True, slots=True)
class TmClub:
    """One row of the ``clubs`` table.

    ``total_market_value_eur`` is empty for every club in recent releases (the
    dataset stopped filling ``total_market_value``); squad values must be summed
    from player valuations (:func:`squad_values_as_of`).  Older releases published
    it as a bare number of EUR millions (``51.66``), read here as euros.
    """

    row: int
    club_id: int
    club_code: str | None
    name: str
    competition_id: str | None  # domestic_competition_id
    league: str | None
    total_market_value_eur: float | None
    squad_size: int | None
    average_age: float | None
    net_transfer_record_eur: float | None  # signed balance (``€-72.30m`` -> -72300000.0)
    last_season: str | None


@dataclass(frozen=True, slots=True)
class TmCompetition:
    """One row of the ``competitions`` table."""

    row: int
    competition_id: str
    competition_code: str | None
    name: str
    type: str | None  # domestic_league, domestic_cup, international_cup, ...
    sub_type: str | None  # first_tier, league_cup, ...
    country_name: str | None
    domestic_league_code: str | None
    is_major_national_league: bool | None
    league: str | None  # our league code for competition_id, when mapped


@dataclass(frozen=True, slots=True)
class TmGame:
    """One row of the ``games`` table."""

    row: int
    game_id: int
    competition_id: str
    league: str | None
    season: str  # ``YYYY-YYYY`` from Transfermarkt's start-year season id
    round: str | None
    date: dt.date
    home_club_id: int
    away_club_id: int
    home_club_name: str | None
    away_club_name: str | None
    home_goals: int | None
    away_goals: int | None
    competition_type: str | None


@dataclass(frozen=True, slots=True)
class SquadValue:
    """The summed market value of one club's players on one date."""

    club_id: int
    as_of: dt.date
    market_value_eur: float | None  # None when no player was counted
    players: int  # players whose latest valuation counted
    stale_players: int  # players left out: latest valuation older than the limit
    oldest_valuation: dt.date | None  # the oldest valuation date among those counted
    published_club_names: tuple[str, ...]  # club names printed on the counted valuations


@dataclass(frozen=True, slots=True)
class TmSquadValue:
    """One club's squad market value in one season, from a season squad-value table."""

    row: int
    season: str
    club_name: str  # as published (``Liverpool FC``, ``Brighton and Hove Albion``)
    market_value_eur: float  # the value the table publishes (at the time it was read)
    start_market_value_eur: float | None  # value at the season start, when the table has it
    squad_size: int | None
    average_age: float | None
    league: str | None


@dataclass(frozen=True, slots=True)
class TmPlayerValue:
    """One player's market value from a season's most-valuable-players table."""

    row: int
    season: str
    rank: int | None
    player_name: str
    position: str | None
    nationality: str | None  # as published, dual nationalities as ``England / Nigeria``
    age: int | None
    club_name: str
    market_value_eur: float
    league: str | None


# ---------------------------------------------------------------------------
# Table reading


class _Row:
    """One data row: cells by column name, with the line number for error messages."""

    __slots__ = ("cells", "line", "name")

    def __init__(self, cells: dict[str, str], line: int, name: str) -> None:
        self.cells = cells
        self.line = line
        self.name = name

    def text(self, column: str | None) -> str | None:
        if column is None:
            return None
        return self.cells.get(column) or None

    def required(self, column: str) -> str:
        value = self.cells.get(column, "")
        if not value:
            raise RejectedFile(self.name, "mandatory_values", f"line {self.line}: empty {column}")
        return value

    def required_integer(self, column: str) -> int:
        value = self.integer(column)
        if value is None:
            raise RejectedFile(self.name, "mandatory_values", f"line {self.line}: empty {column}")
        return value

    def integer(self, column: str | None) -> int | None:
        value = self.text(column)
        if value is None:
            return None
        number = _to_number(value)
        if number is None or not number.is_integer():
            raise RejectedFile(
                self.name,
                "number_format",
                f"line {self.line}: {column} {value!r} is not a whole number",
            )
        return int(number)

    def decimal(self, column: str | None) -> float | None:
        value = self.text(column)
        if value is None:
            return None
        number = _to_number(value)
        if number is None:
            raise RejectedFile(
                self.name, "number_format", f"line {self.line}: {column} {value!r} is not a number"
            )
        return number

    def money(self, column: str | None, *, scale: int = 1) -> float | None:
        """Euros from a money cell; a bare number is multiplied by ``scale``."""
        value = self.text(column)
        if value is None:
            return None
        try:
            amount = _money_decimal(value)
        except ValueError as exc:
            raise RejectedFile(
                self.name,
                "money_format",
                f"line {self.line}: {column} {value!r} is not a money amount ({exc})",
            ) from None
        if amount is None:
            return None
        if _to_number(value) is not None:
            amount *= scale
        return float(amount)

    def market_value(self, column: str | None, *, scale: int = 1) -> float | None:
        """A market value in euros, checked to lie within 0 .. MAX_MARKET_VALUE_EUR."""
        amount = self.money(column, scale=scale)
        if amount is not None and not 0 <= amount <= MAX_MARKET_VALUE_EUR:
            raise RejectedFile(
                self.name,
                "range",
                f"line {self.line}: {column} {self.text(column)!r} = {amount:,.0f} EUR is "
                f"outside 0 .. {MAX_MARKET_VALUE_EUR:,.0f}",
            )
        return amount

    def required_date(self, column: str) -> dt.date:
        value = self.date(column)
        if value is None:
            raise RejectedFile(self.name, "mandatory_values", f"line {self.line}: empty {column}")
        return value

    def date(self, column: str | None) -> dt.date | None:
        value = self.text(column)
        if value is None:
            return None
        match = _DATE_RE.match(value)
        parsed = None
        if match:
            try:
                parsed = dt.date(*(int(part) for part in match.groups()))
            except ValueError:
                parsed = None
        if parsed is None:
            raise RejectedFile(
                self.name, "date_format", f"line {self.line}: {column} {value!r} is not YYYY-MM-DD"
            )
        return parsed

    def season(self, column: str | None) -> str | None:
        value = self.text(column)
        if value is None:
            return None
        season = _season_text(value)
        if season is None:
            raise RejectedFile(
                self.name,
                "season",
                f"line {self.line}: {column} {value!r} is not a season (2020 or 2020-2021)",
            )
        return season


def _to_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _season_text(text: str) -> str | None:
    value = text.strip()
    if value.isdigit() and len(value) == 4:
        return season_of_start_year(int(value))
    try:
        return normalize_season(value)
    except ValueError:
        return None


def _read_table(
    raw: bytes, name: str, mandatory: Sequence[str], *, aliases: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], list[_Row]]:
    """Header and non-blank rows of a CSV, after the file-level checks."""
    text, encoding = decode(raw, name)
    reader = csv.reader(io.StringIO(text, newline=""))
    header_cells = next(reader, None)
    if header_cells is None or not any(cell.strip() for cell in header_cells):
        raise RejectedFile(name, "empty", "the file has no header line")
    if not raw.endswith(b"\n"):
        tail = raw[-40:].decode(encoding, errors="replace")
        raise RejectedFile(
            name,
            "truncated",
            f"the file does not end with a line break (it ends {tail!r}): the download was cut "
            "short; fetch it again",
        )
    header = tuple(cell.strip().lstrip("\ufeff") for cell in header_cells)
    if aliases:
        header = tuple(aliases.get(column, column) for column in header)
    missing = [column for column in mandatory if column not in header]
    if missing:
        shown = ",".join(column for column in header if column)[:300]
        raise RejectedFile(
            name,
            "mandatory_columns",
            f"missing column(s) {', '.join(missing)}; the header reads: {shown}",
        )
    rows: list[_Row] = []
    width = len(header)
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            raise RejectedFile(
                name,
                "row_width",
                f"line {reader.line_num}: {len(cells)} fields where the header has {width}",
            )
        values = {
            column: cell.replace("\xa0", " ").strip()
            for column, cell in zip(header, cells, strict=True)
        }
        rows.append(_Row(values, reader.line_num, name))
    if not rows:
        raise RejectedFile(name, "empty", "the file has a header but no data rows")
    return header, rows


def _check_unique(name: str, keys: Iterable[tuple[object, int]], label: str) -> None:
    seen: dict[object, int] = {}
    for key, line in keys:
        if key in seen:
            raise RejectedFile(
                name, "duplicate_key", f"line {line} repeats {label} {key} of line {seen[key]}"
            )
        seen[key] = line


def _optional_league(code: str | None, name: str) -> str | None:
    if code is None:
        return None
    value = code.strip()
    if value.upper() in TRANSFERMARKT_LEAGUES:
        return TRANSFERMARKT_LEAGUES[value.upper()]
    if value in LEAGUES:
        return value
    known = ", ".join(sorted({*TRANSFERMARKT_LEAGUES, *LEAGUES}))
    raise ValueError(f"{name}: unknown league {code!r} (known: {known})")


# ---------------------------------------------------------------------------
# transfermarkt-datasets tables


def parse_tm_players(raw: bytes, name: str = "<bytes>") -> list[TmPlayer]:
    """Parse a transfermarkt-datasets ``players.csv``; raises :class:`RejectedFile`."""
    _, rows = _read_table(raw, name, ("player_id", "name"))
    players = []
    for row in rows:
        competition = row.text("current_club_domestic_competition_id")
        last_season = row.integer("last_season")
        players.append(
            TmPlayer(
                row=row.line,
                player_id=row.required_integer("player_id"),
                name=row.required("name"),
                first_name=row.text("first_name"),
                last_name=row.text("last_name"),
                date_of_birth=row.date("date_of_birth"),
                position=row.text("position"),
                sub_position=row.text("sub_position"),
                current_club_id=row.integer("current_club_id"),
                current_club_name=row.text("current_club_name"),
                competition_id=competition,
                league=league_of(competition),
                last_season=None if last_season is None else season_of_start_year(last_season),
                market_value_eur=row.market_value("market_value_in_eur"),
                highest_market_value_eur=row.market_value("highest_market_value_in_eur"),
            )
        )
    _check_unique(name, ((p.player_id, p.row) for p in players), "player_id")
    return players


def parse_tm_player_valuations(raw: bytes, name: str = "<bytes>") -> list[TmPlayerValuation]:
    """Parse a transfermarkt-datasets ``player_valuations.csv``; raises :class:`RejectedFile`.

    ``current_club_id`` / ``current_club_name`` are optional (older releases lack
    them); see :class:`TmPlayerValuation` for what they mean.
    """
    _, rows = _read_table(raw, name, ("player_id", "date", "market_value_in_eur"))
    valuations = []
    for row in rows:
        competition = row.text("player_club_domestic_competition_id")
        value = row.market_value("market_value_in_eur")
        if value is None:
            raise RejectedFile(name, "mandatory_values", f"line {row.line}: empty market value")
        valuations.append(
            TmPlayerValuation(
                row=row.line,
                player_id=row.required_integer("player_id"),
                date=row.required_date("date"),
                market_value_eur=value,
                club_id=row.integer("current_club_id"),
                club_name=row.text("current_club_name"),
                competition_id=competition,
                league=league_of(competition),
            )
        )
    return valuations


def parse_tm_clubs(raw: bytes, name: str = "<bytes>") -> list[TmClub]:
    """Parse a transfermarkt-datasets ``clubs.csv``; raises :class:`RejectedFile`.

    ``total_market_value`` is empty in recent releases (see :class:`TmClub`).
    """
    _, rows = _read_table(raw, name, ("club_id", "name"))
    clubs = []
    for row in rows:
        competition = row.text("domestic_competition_id")
        last_season = row.integer("last_season")
        clubs.append(
            TmClub(
                row=row.line,
                club_id=row.required_integer("club_id"),
                club_code=row.text("club_code"),
                name=row.required("name"),
                competition_id=competition,
                league=league_of(competition),
                total_market_value_eur=row.market_value("total_market_value", scale=1_000_000),
                squad_size=row.integer("squad_size"),
                average_age=row.decimal("average_age"),
                net_transfer_record_eur=row.money("net_transfer_record"),
                last_season=None if last_season is None else season_of_start_year(last_season),
            )
        )
    _check_unique(name, ((c.club_id, c.row) for c in clubs), "club_id")
    return clubs


def parse_tm_competitions(raw: bytes, name: str = "<bytes>") -> list[TmCompetition]:
    """Parse a transfermarkt-datasets ``competitions.csv``; raises :class:`RejectedFile`."""
    _, rows = _read_table(raw, name, ("competition_id", "name"))
    competitions = []
    for row in rows:
        competition_id = row.required("competition_id")
        major = row.text("is_major_national_league")
        if major is not None and major.lower() not in ("true", "false"):
            raise RejectedFile(
                name,
                "mandatory_values",
                f"line {row.line}: is_major_national_league {major!r} is not true/false",
            )
        competitions.append(
            TmCompetition(
                row=row.line,
                competition_id=competition_id,
                competition_code=row.text("competition_code"),
                name=row.required("name"),
                type=row.text("type"),
                sub_type=row.text("sub_type"),
                country_name=row.text("country_name"),
                domestic_league_code=row.text("domestic_league_code"),
                is_major_national_league=None if major is None else major.lower() == "true",
                league=league_of(competition_id),
            )
        )
    _check_unique(name, ((c.competition_id, c.row) for c in competitions), "competition_id")
    return competitions


def parse_tm_games(raw: bytes, name: str = "<bytes>") -> list[TmGame]:
    """Parse a transfermarkt-datasets ``games.csv``; raises :class:`RejectedFile`.

    ``season`` is Transfermarkt's start-year season id (``2012`` -> ``2012-2013``;
    the 2010 World Cup belongs to season ``2009``).
    """
    mandatory = (
        "game_id",
        "competition_id",
        "season",
        "date",
        "home_club_id",
        "away_club_id",
    )
    _, rows = _read_table(raw, name, mandatory)
    games = []
    for row in rows:
        competition_id = row.required("competition_id")
        season = row.season("season")
        if season is None:
            raise RejectedFile(name, "mandatory_values", f"line {row.line}: empty season")
        home_goals, away_goals = row.integer("home_club_goals"), row.integer("away_club_goals")
        if (home_goals is None) != (away_goals is None):
            raise RejectedFile(name, "mandatory_values", f"line {row.line}: only one side scored")
        games.append(
            TmGame(
                row=row.line,
                game_id=row.required_integer("game_id"),
                competition_id=competition_id,
                league=league_of(competition_id),
                season=season,
                round=row.text("round"),
                date=row.required_date("date"),
                home_club_id=row.required_integer("home_club_id"),
                away_club_id=row.required_integer("away_club_id"),
                home_club_name=row.text("home_club_name"),
                away_club_name=row.text("away_club_name"),
                home_goals=home_goals,
                away_goals=away_goals,
                competition_type=row.text("competition_type"),
            )
        )
    _check_unique(name, ((g.game_id, g.row) for g in games), "game_id")
    return games


def squad_values_as_of(
    valuations: Iterable[TmPlayerValuation],
    players: Iterable[TmPlayer],
    *,
    club_ids: Iterable[int],
    as_of: dt.date,
    max_staleness_days: int = 400,
) -> list[SquadValue]:
    """Squad market value of each club in ``club_ids`` on ``as_of``, from player valuations.

    For every player the latest valuation on or before ``as_of`` is taken (on a
    tie, the one that comes last in ``valuations``); it counts for club C if its
    club is C: the club id recorded on the valuation row (``current_club_id``),
    or the player's ``current_club_id`` from ``players`` when the row has none.
    A latest valuation more than ``max_staleness_days`` before ``as_of`` is left
    out (and counted in ``stale_players``); an older one never replaces it.

    The clubs table cannot be used instead: its ``total_market_value`` column is
    empty in recent releases.  Caveat on the input: for valuations older than
    the transfers the dataset knows, ``current_club_id`` is the player's club at
    the release, not at the valuation date; ``published_club_names`` lists the
    club names printed on the counted valuations so that such squads show up.

    Returns one :class:`SquadValue` per requested club, in the order given.
    """
    if max_staleness_days < 0:
        raise ValueError(f"max_staleness_days must be >= 0, got {max_staleness_days}")
    wanted = list(dict.fromkeys(club_ids))
    player_club = {player.player_id: player.current_club_id for player in players}
    latest: dict[int, TmPlayerValuation] = {}
    for valuation in valuations:
        if valuation.date > as_of:
            continue
        current = latest.get(valuation.player_id)
        if current is None or valuation.date >= current.date:
            latest[valuation.player_id] = valuation

    totals: dict[int, float] = {club: 0.0 for club in wanted}
    counts: dict[int, int] = {club: 0 for club in wanted}
    stale: dict[int, int] = {club: 0 for club in wanted}
    oldest: dict[int, dt.date] = {}
    names: dict[int, set[str]] = {club: set() for club in wanted}
    for player_id, valuation in latest.items():
        club = valuation.club_id if valuation.club_id is not None else player_club.get(player_id)
        if club not in totals:
            continue
        if (as_of - valuation.date).days > max_staleness_days:
            stale[club] += 1
            continue
        totals[club] += valuation.market_value_eur
        counts[club] += 1
        if club not in oldest or valuation.date < oldest[club]:
            oldest[club] = valuation.date
        if valuation.club_name:
            names[club].add(valuation.club_name)
    return [
        SquadValue(
            club_id=club,
            as_of=as_of,
            market_value_eur=totals[club] if counts[club] else None,
            players=counts[club],
            stale_players=stale[club],
            oldest_valuation=oldest.get(club),
            published_club_names=tuple(sorted(names[club])),
        )
        for club in wanted
    ]


# ---------------------------------------------------------------------------
# Season squad-value tables

# Header spellings of the season tables -> canonical column names.
# Canonical names (season, club_name, market_value_m, market_value_eur,
# start_market_value_eur, squad_size, average_age, league) are read as they are.
_SQUAD_ALIASES = {
    "Season": "season",
    "Club": "club_name",
    "CurrentValueEUR": "market_value_eur",
    "ValueAug1EUR": "start_market_value_eur",
    "competition_id": "league",
}
_PLAYER_ALIASES = {
    "Season": "season",
    "Rank": "rank",
    "Player": "player_name",
    "Position": "position",
    "Nat": "nationality",
    "Age": "age",
    "Club": "club_name",
    "ValueEUR": "market_value_eur",
    "competition_id": "league",
}


def _default_season(name: str, season: str | None) -> str | None:
    """The caller's season, else one spelled in the file name (``..._2025_26.csv``)."""
    if season is not None:
        given = _season_text(season)
        if given is None:
            raise ValueError(f"{name}: season {season!r} is not like 2020-2021 or 2020")
        return given
    matches = _NAME_SEASON_RE.findall(PurePath(name).name)
    if len(matches) != 1:
        return None
    return _season_text(f"{matches[0][0]}-{matches[0][1]}")


def _row_season(row: _Row, has_column: bool, default: str | None) -> str:
    season = row.season("season") if has_column else default
    if season is None:
        raise RejectedFile(
            row.name,
            "season",
            f"line {row.line}: no season (no season column or value, none given, "
            "none in the file name)",
        )
    return season


def _row_league(row: _Row, has_column: bool, default: str | None) -> str | None:
    if not has_column or row.text("league") is None:
        return default
    code = row.text("league")
    league = league_of(code) or (code if code in LEAGUES else None)
    if league is None:
        raise RejectedFile(
            row.name, "mandatory_values", f"line {row.line}: league {code!r} is not known"
        )
    return league


def parse_tm_squad_values(
    raw: bytes,
    name: str = "<bytes>",
    *,
    season: str | None = None,
    league: str | None = None,
) -> list[TmSquadValue]:
    """Parse a season squad-value table: one club's total market value per row.

    Two layouts are known: ``season,club_name,market_value_m`` (season start year,
    value in EUR millions) and ``Rank,Club,ValueAug1EUR,CurrentValueEUR,...``
    (display strings like ``"€ 1,370,000,000.00"``; ``ValueAug1EUR`` becomes
    ``start_market_value_eur``).  ``squad_size``/``average_age`` are read when
    the table has them.  The season comes from a season column, else from
    ``season``, else from the file name (``..._2025_26.csv``).  ``league`` (ours,
    ``E0``, or Transfermarkt's, ``GB1``) labels every row unless a league column
    says otherwise.  Values must lie within 0 .. 5e9 euros (check ``range``).
    """
    columns, rows = _read_table(raw, name, ("club_name",), aliases=_SQUAD_ALIASES)
    header = set(columns)
    if "market_value_m" in header:
        value_column, scale = "market_value_m", 1_000_000
    elif "market_value_eur" in header:
        value_column, scale = "market_value_eur", 1
    else:
        raise RejectedFile(
            name,
            "mandatory_columns",
            "missing a market value column (market_value_m or CurrentValueEUR / "
            f"market_value_eur); the header reads: {','.join(columns)[:300]}",
        )
    default_season = _default_season(name, season)
    default_league = _optional_league(league, name)
    records = []
    for row in rows:
        value = row.market_value(value_column, scale=scale)
        if value is None:
            raise RejectedFile(name, "mandatory_values", f"line {row.line}: empty {value_column}")
        records.append(
            TmSquadValue(
                row=row.line,
                season=_row_season(row, "season" in header, default_season),
                club_name=row.required("club_name"),
                market_value_eur=value,
                start_market_value_eur=row.market_value("start_market_value_eur"),
                squad_size=row.integer("squad_size"),
                average_age=row.decimal("average_age"),
                league=_row_league(row, "league" in header, default_league),
            )
        )
    _check_unique(
        name, (((r.season, r.club_name.casefold()), r.row) for r in records), "season and club"
    )
    return records


def parse_tm_player_values(
    raw: bytes,
    name: str = "<bytes>",
    *,
    season: str | None = None,
    league: str | None = None,
) -> list[TmPlayerValue]:
    """Parse a most-valuable-players table (``Rank,Player,Position,Nat,Age,Club,ValueEUR``).

    Season and league are found as in :func:`parse_tm_squad_values`.  A top-N
    list is not a squad: do not sum it into squad values.
    """
    columns, rows = _read_table(
        raw, name, ("player_name", "club_name", "market_value_eur"), aliases=_PLAYER_ALIASES
    )
    header = set(columns)
    default_season = _default_season(name, season)
    default_league = _optional_league(league, name)
    records = []
    for row in rows:
        value = row.market_value("market_value_eur")
        if value is None:
            raise RejectedFile(name, "mandatory_values", f"line {row.line}: empty market value")
        records.append(
            TmPlayerValue(
                row=row.line,
                season=_row_season(row, "season" in header, default_season),
                rank=row.integer("rank"),
                player_name=row.required("player_name"),
                position=row.text("position"),
                nationality=row.text("nationality"),
                age=row.integer("age"),
                club_name=row.required("club_name"),
                market_value_eur=value,
                league=_row_league(row, "league" in header, default_league),
            )
        )
    return records


# ---------------------------------------------------------------------------
# Which table a file holds

# Columns that identify each table (checked in this order; the first match wins).
_TABLE_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("games", frozenset({"game_id", "home_club_id", "away_club_id"})),
    ("player_valuations", frozenset({"player_id", "date", "market_value_in_eur"})),
    ("players", frozenset({"player_id", "name"})),
    ("clubs", frozenset({"club_id", "name"})),
    ("competitions", frozenset({"competition_id", "name"})),
    ("player_values", frozenset({"Player", "ValueEUR"})),
    ("player_values", frozenset({"player_name", "market_value_eur"})),
)


def table_kind(raw: bytes, name: str = "<bytes>") -> str:
    """The kind of Transfermarkt file, from its content (never its name).

    ``scraper`` for transfermarkt-scraper JSON Lines, a dataset table name
    (``players``, ``player_valuations``, ``clubs``, ``competitions``, ``games``),
    ``player_values`` for a most-valuable-players table, else ``squad_values``
    (whose parser names what is missing when the file is none of these).
    Rejects empty, HTML and binary content.
    """
    if raw.lstrip()[:1] == b"{":
        return "scraper"
    text, _ = decode(raw, name)
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    header = {cell.strip().lstrip("\ufeff") for cell in first}
    for kind, columns in _TABLE_SIGNATURES:
        if columns <= header:
            return kind
    return "squad_values"


# ---------------------------------------------------------------------------
# transfermarkt-scraper JSON Lines (dcaribou/transfermarkt-scraper output)


@dataclass(frozen=True, slots=True)
class TmAppearance:
    """One player's appearance in one game, from the scraper's performance pages.

    ``home_goals``/``away_goals`` are the game's score as published (home team
    first, whichever side the player was on; ``venue`` says which).  Transfermarkt
    leaves zero goals or assists blank; cards are the minute they were shown.
    """

    row: int
    player_id: int
    date: dt.date
    competition_id: str
    season: str | None
    matchday: str | None
    venue: str | None  # H / A
    club_id: int
    opponent_club_id: int
    home_goals: int | None
    away_goals: int | None
    position: str | None
    goals: int
    assists: int
    yellow_card_minute: int | None
    second_yellow_minute: int | None
    red_card_minute: int | None
    minutes_played: int | None


@dataclass(frozen=True, slots=True)
class ScraperFile:
    """A transfermarkt-scraper file: one record type per file (``game``, ``club``...)."""

    record_type: str
    records: int
    games: list[TmGame]
    appearances: list[TmAppearance]


SCRAPER_TYPES = ("appearance", "club", "competition", "game", "player")
_SCRAPER_DATE_RE = re.compile(r"^(?:[A-Za-z]{3},\s*)?(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_SCORE_RE = re.compile(r"^(\d+):(\d+)")
_MINUTE_RE = re.compile(r"^(\d+)'?$")


def _href_part(href: object, marker: str) -> str | None:
    """The path segment after ``marker`` in a Transfermarkt link (``verein`` -> ``31``)."""
    if not isinstance(href, str):
        return None
    parts = href.strip("/").split("/")
    for index, part in enumerate(parts[:-1]):
        if part == marker:
            return parts[index + 1]
    return None


class _Record:
    """One JSON Lines record, with its line number for error messages."""

    __slots__ = ("data", "line", "name")

    def __init__(self, data: dict[str, Any], line: int, name: str) -> None:
        self.data = data
        self.line = line
        self.name = name

    def fail(self, check: str, detail: str) -> RejectedFile:
        return RejectedFile(self.name, check, f"line {self.line}: {detail}")

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str | int):
            raise self.fail("mandatory_values", f"{key} {value!r} is not text")
        return str(value).replace("\xa0", " ").strip() or None

    def link_id(self, key: str, marker: str) -> int:
        """The id in a linked object's ``href`` (``{"href": "/x/startseite/verein/31"}``)."""
        linked = self.data.get(key)
        value = _href_part(linked.get("href") if isinstance(linked, dict) else None, marker)
        if value is None or not value.isdigit():
            raise self.fail("mandatory_values", f"{key} has no {marker} id in its link")
        return int(value)

    def date(self, key: str) -> dt.date:
        value = self.text(key) or ""
        match = _SCRAPER_DATE_RE.match(value)
        try:
            if match is None:
                raise ValueError(value)
            month, day, year = (int(part) for part in match.groups())
            if year < 100:
                year += 2000 if year < 70 else 1900
            return dt.date(year, month, day)
        except ValueError:
            raise self.fail("date_format", f"{key} {value!r} is not like 12/18/20") from None

    def score(self, key: str) -> tuple[int | None, int | None]:
        value = self.text(key)
        match = _SCORE_RE.match(value or "")
        if match is None:
            if value in (None, "-:-"):
                return None, None
            raise self.fail("number_format", f"{key} {value!r} is not a score like 2:1")
        return int(match[1]), int(match[2])

    def count(self, key: str) -> int:
        value = self.text(key)
        if value is None:
            return 0
        if not value.isdigit():
            raise self.fail("number_format", f"{key} {value!r} is not a whole number")
        return int(value)

    def minute(self, key: str) -> int | None:
        value = self.text(key)
        if value is None:
            return None
        match = _MINUTE_RE.match(value)
        if match is None:
            raise self.fail("number_format", f"{key} {value!r} is not a minute like 85'")
        return int(match[1])


def _scraper_season(record: _Record, key: str) -> str | None:
    linked = record.data.get(key)
    year = _href_part(linked.get("href") if isinstance(linked, dict) else None, "saison_id")
    return season_of_start_year(int(year)) if year and year.isdigit() else None


def _scraper_game(record: _Record) -> TmGame:
    competition = _href_part((record.data.get("parent") or {}).get("href"), "wettbewerb")
    if competition is None:
        raise record.fail("mandatory_values", "the game's parent is not a league link")
    season = _scraper_season(record, "home_club")
    if season is None:
        raise record.fail("season", "the home club link has no saison_id")
    game_id = record.data.get("game_id")
    if not isinstance(game_id, int):
        raise record.fail("mandatory_values", f"game_id {game_id!r} is not a number")
    home_goals, away_goals = record.score("result")
    return TmGame(
        row=record.line,
        game_id=game_id,
        competition_id=competition,
        league=league_of(competition),
        season=season,
        round=record.text("matchday"),
        date=record.date("date"),
        home_club_id=record.link_id("home_club", "verein"),
        away_club_id=record.link_id("away_club", "verein"),
        home_club_name=None,
        away_club_name=None,
        home_goals=home_goals,
        away_goals=away_goals,
        competition_type=None,
    )


def _scraper_appearance(record: _Record) -> TmAppearance:
    competition = record.text("competition_code")
    if competition is None:
        raise record.fail("mandatory_values", "empty competition_code")
    venue = record.text("venue")
    if venue not in (None, "H", "A"):
        raise record.fail("mandatory_values", f"venue {venue!r} is not H or A")
    home_goals, away_goals = record.score("result")
    return TmAppearance(
        row=record.line,
        player_id=record.link_id("parent", "spieler"),
        date=record.date("date"),
        competition_id=competition,
        season=_scraper_season(record, "for"),
        matchday=record.text("matchday"),
        venue=venue,
        club_id=record.link_id("for", "verein"),
        opponent_club_id=record.link_id("opponent", "verein"),
        home_goals=home_goals,
        away_goals=away_goals,
        position=record.text("pos"),
        goals=record.count("goals"),
        assists=record.count("assists"),
        yellow_card_minute=record.minute("yellow_cards"),
        second_yellow_minute=record.minute("second_yellow_cards"),
        red_card_minute=record.minute("red_cards"),
        minutes_played=record.minute("minutes_played"),
    )


def parse_tm_scraper(raw: bytes, name: str = "<bytes>") -> ScraperFile:
    """Parse a transfermarkt-scraper JSON Lines file; raises :class:`RejectedFile`.

    Games and appearances are read into records; club, competition and player
    files hold links and profile text only and are just counted.  Every line
    must be one JSON object of the same ``type`` (check ``not_json``,
    ``record_type``); dates are the site's ``12/18/20`` (``Fri, 12/18/20``).
    """
    if not raw.strip():
        raise RejectedFile(name, "empty", "the file has no content")
    if not raw.endswith(b"\n"):
        raise RejectedFile(
            name,
            "truncated",
            f"the file does not end with a line break (it ends {raw[-40:]!r}): the download "
            "was cut short; fetch it again",
        )
    text, _ = decode_text(raw, name, single_byte=False)
    records = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RejectedFile(
                name, "not_json", f"line {line_number}: not a JSON object ({exc.msg})"
            ) from None
        if not isinstance(data, dict):
            raise RejectedFile(name, "not_json", f"line {line_number}: not a JSON object")
        records.append(_Record(data, line_number, name))
    types = sorted({str(record.data.get("type")) for record in records})
    if len(types) != 1 or types[0] not in SCRAPER_TYPES:
        raise RejectedFile(
            name,
            "record_type",
            f"one record type per file ({', '.join(SCRAPER_TYPES)}), found {types}",
        )
    kind = types[0]
    games = [_scraper_game(record) for record in records] if kind == "game" else []
    appearances = (
        [_scraper_appearance(record) for record in records] if kind == "appearance" else []
    )
    _check_unique(name, ((g.game_id, g.row) for g in games), "game_id")
    _check_unique(
        name,
        (((a.player_id, a.date, a.competition_id), a.row) for a in appearances),
        "player, date and competition",
    )
    return ScraperFile(kind, len(records), games, appearances)


# ---------------------------------------------------------------------------
# Squad values over time


def attribute_valuation_clubs(
    valuations: Iterable[TmPlayerValuation],
    *,
    club_spellings: Mapping[int, Iterable[str]],
    player_clubs: Mapping[int, int | None] | None = None,
) -> tuple[list[TmPlayerValuation], dict[str, int]]:
    """The valuations with ``club_id`` replaced by the club at the valuation date.

    The dataset's ``current_club_id`` is often the player's club at the release
    (see :class:`TmPlayerValuation`), so the club printed on the valuation
    (``club_name``) decides: it is compared, normalised as in team
    reconciliation (:func:`~sabiscore_ml.reconcile.normalize_team_name`), with
    every spelling known for each club (``club_spellings``: club id -> names).
    The row's own club id is kept when one of its spellings matches, another
    club is taken when exactly one matches, and the club is left unknown (None)
    otherwise: such a valuation counts for no squad.  A row without a printed
    name (older releases) keeps the dataset's club: its ``club_id``, else the
    player's current club from ``player_clubs``.

    Returns the valuations and how many were attributed each way
    (``printed_confirms_id``, ``printed_other_club``, ``printed_unknown``,
    ``no_printed_name``).
    """
    index: dict[str, set[int]] = {}
    for club_id, spellings in club_spellings.items():
        for spelling in spellings:
            if spelling:
                index.setdefault(normalize_team_name(spelling), set()).add(club_id)
    player_clubs = player_clubs or {}
    counts = dict.fromkeys(
        ("printed_confirms_id", "printed_other_club", "printed_unknown", "no_printed_name"), 0
    )
    found_by_name: dict[str, set[int]] = {}
    attributed = []
    for valuation in valuations:
        if valuation.club_name is None:
            club = (
                valuation.club_id
                if valuation.club_id is not None
                else player_clubs.get(valuation.player_id)
            )
            counts["no_printed_name"] += 1
        else:
            if valuation.club_name not in found_by_name:
                key = normalize_team_name(valuation.club_name)
                found_by_name[valuation.club_name] = index.get(key, set())
            found = found_by_name[valuation.club_name]
            if valuation.club_id in found:
                club = valuation.club_id
                counts["printed_confirms_id"] += 1
            elif len(found) == 1:
                (club,) = found
                counts["printed_other_club"] += 1
            else:
                club = None
                counts["printed_unknown"] += 1
        attributed.append(replace(valuation, club_id=club))
    return attributed, counts


@dataclass(frozen=True, slots=True)
class SquadValueChange:
    """A club's summed squad value from ``as_of`` until its next change."""

    club_id: int
    as_of: dt.date
    market_value_eur: float | None  # None when no valuation counts any more
    players: int
    oldest_valuation: dt.date | None
    newest_row: int | None  # ``row`` of the newest valuation counted


def squad_value_changes(
    valuations: Sequence[TmPlayerValuation],
    *,
    club_ids: Iterable[int],
    max_staleness_days: int = 400,
) -> list[SquadValueChange]:
    """Every date on which :func:`squad_values_as_of` changes for a club of ``club_ids``.

    Read as a step function -- the value on day D is the club's last change on or
    before D, and nothing before its first -- the result gives, for every D, the
    market value, players counted and oldest valuation that
    ``squad_values_as_of(valuations, [], club_ids=..., as_of=D,
    max_staleness_days=...)`` returns.  ``club_id`` must already be the club at
    the valuation date (:func:`attribute_valuation_clubs`).  A club changes on
    the day one of its players is valued, on the day a player's newer valuation
    is for another club (or for no known club), and on the day a player's latest
    valuation becomes older than the staleness limit.  One pass over the
    valuations in date order (ties: input order, the last one wins).
    """
    if max_staleness_days < 0:
        raise ValueError(f"max_staleness_days must be >= 0, got {max_staleness_days}")
    wanted = set(club_ids)
    stale_after = dt.timedelta(days=max_staleness_days + 1)
    by_day: dict[dt.date, list[int]] = {}
    for index, valuation in enumerate(valuations):
        by_day.setdefault(valuation.date, []).append(index)
    days = sorted(by_day, reverse=True)  # popped from the end: earliest first
    latest: dict[int, int] = {}  # player -> index of his latest valuation so far
    members: dict[int, dict[int, int]] = {club: {} for club in wanted}  # club -> player -> index
    expiries: list[tuple[dt.date, int]] = []  # (first day a valuation is stale, index)
    shown: dict[int, tuple[float | None, int, dt.date | None]] = {}
    changes: list[SquadValueChange] = []
    while days or expiries:
        day = min(days[-1] if days else dt.date.max, expiries[0][0] if expiries else dt.date.max)
        touched: set[int] = set()
        while expiries and expiries[0][0] == day:
            _, index = heapq.heappop(expiries)
            valuation = valuations[index]
            # only a valuation of a wanted club (never None) has an expiry
            club_id = valuation.club_id
            if latest.get(valuation.player_id) == index and club_id is not None:
                members[club_id].pop(valuation.player_id, None)
                touched.add(club_id)
        for index in by_day.get(day, []) if days and days[-1] == day else []:
            valuation = valuations[index]
            previous = latest.get(valuation.player_id)
            if previous is not None:
                club = valuations[previous].club_id
                if club in wanted and members[club].get(valuation.player_id) == previous:
                    del members[club][valuation.player_id]
                    touched.add(club)
            latest[valuation.player_id] = index
            if valuation.club_id in wanted:
                members[valuation.club_id][valuation.player_id] = index
                touched.add(valuation.club_id)
                heapq.heappush(expiries, (valuation.date + stale_after, index))
        if days and days[-1] == day:
            days.pop()
        for club in sorted(touched):
            counted = sorted(members[club].values())
            state = (
                sum(valuations[i].market_value_eur for i in counted) if counted else None,
                len(counted),
                min(valuations[i].date for i in counted) if counted else None,
            )
            if shown.get(club, (None, 0, None)) == state:
                continue
            shown[club] = state
            newest = max(counted, key=lambda i: (valuations[i].date, i)) if counted else None
            changes.append(
                SquadValueChange(
                    club_id=club,
                    as_of=day,
                    market_value_eur=state[0],
                    players=state[1],
                    oldest_valuation=state[2],
                    newest_row=None if newest is None else valuations[newest].row,
                )
            )
    return changes
