"""FBref (fbref.com) pages: pure parsers from raw HTML bytes to records.

Four page types are read:

* league "Scores & Fixtures" pages -> :func:`parse_fbref_schedule`
* team match logs (any stat type: schedule, shooting, keeper...) -> :func:`parse_fbref_matchlog`
* match reports (score box and shots table) -> :func:`parse_fbref_match`
* league and Big-5 squad stats pages -> :func:`parse_fbref_team_stats`

Cells are read by their ``data-stat`` attribute, never by position or header
text (the header text carries tooltips).  Tables that FBref ships inside HTML
comments (``<!-- <div class="table_container"> <table ...> -->``) are parsed as
well.  Spacer rows, repeated header rows (``thead``/``over_header``) and table
footers (season totals) are skipped.  Scores use an en dash (``2–1``), with
penalty shoot-out goals in brackets (``(4) 1–1 (3)``); numbers may carry
thousands separators (``14,837``) and signs (``+0.6``).

Team names are kept as FBref publishes them (``Paris S-G`` on schedules,
``Paris Saint-Germain`` in match-log titles); FBref's 8-hex squad, match and
player ids are returned alongside as the stable keys.

Only the standard library's :mod:`html.parser` is used.  Nothing here touches
the network or the database; every parser raises
:class:`~sabiscore_ml.errors.RejectedFile` naming the failed check: ``empty``,
``not_html``, ``blocked`` (challenge, captcha or rate-limit pages),
``missing_table`` (the expected table id is named), ``range`` (the offending
row is quoted), or a format check (``date_format``, ``score_format``...).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import season_of
from sabiscore_ml.sources.reading import decode_text, sha256_hex

SOURCE = "fbref"

# FBref competition ids (``/en/comps/<id>/``) and English names -> league codes.
# The ids are those of FBref's competition index; names are matched after the
# country prefix of Big-5 pages (``eng Premier League``) is removed.
FBREF_LEAGUES: dict[str, str] = {
    "9": "E0",
    "12": "SP1",
    "20": "D1",
    "11": "I1",
    "13": "F1",
    "Premier League": "E0",
    "La Liga": "SP1",
    "Bundesliga": "D1",
    "Fußball-Bundesliga": "D1",
    "Serie A": "I1",
    "Ligue 1": "F1",
    # other divisions of our league list, by FBref competition id only
    "10": "E1",
    "15": "E2",
    "16": "E3",
    "34": "EC",
    "40": "SC0",
    "33": "D2",
    "18": "I2",
    "17": "SP2",
    "60": "F2",
    "23": "N1",
    "37": "B1",
    "32": "P1",
    "26": "T1",
    "27": "G1",
}

# Plausible ranges: a team's match xG, a team's goals, and one shot's xG/PSxG.
MAX_MATCH_XG = 10.0
MAX_GOALS = 15
MAX_SHOT_XG = 1.0

StatValue = float | int | str | None

_SEASON_RE = re.compile(r"(\d{4})-(\d{4})")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")
_SCORE_RE = re.compile(r"^(?:\((\d+)\)\s*)?(\d+)\*?\s*[\u2013\u2014-]\s*(\d+)\*?(?:\s*\((\d+)\))?$")
_GOALS_RE = re.compile(r"^(\d+)\*?(?:\s*\((\d+)\))?$")
_INT_RE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)$")
_FLOAT_RE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d*)\.\d+$")
_MINUTE_RE = re.compile(r"^(\d+)(?:\+(\d+))?$")
_MATCH_HREF_RE = re.compile(r"/en/matches/([0-9a-f]{8})(?:/|$)")
_SQUAD_HREF_RE = re.compile(r"/en/squads/([0-9a-f]{8})(?:/|$)")
_PLAYER_HREF_RE = re.compile(r"/en/players/([0-9a-f]{8})(?:/|$)")
_COMP_HREF_RE = re.compile(r"/en/comps/([0-9A-Za-z]+)/(?:(\d{4}-\d{4}|\d{4})/)?")
_COUNTRY_PREFIX_RE = re.compile(r"^[a-z]{2,3} (?=[A-Z0-9])")
_STAT_TITLE_WORDS_RE = re.compile(
    r"\s+(?:Squad\s+|Player\s+)?(?:Standard|Shooting|Passing|Pass Types|Goalkeeping|"
    r"Advanced Goalkeeping|Goal and Shot Creation|Defensive Actions|Possession|Playing Time|"
    r"Miscellaneous)$"
)

# Lower-case markers of a challenge, captcha or rate-limit page instead of content.
_BLOCK_TITLES = (
    "just a moment",
    "checking your browser",
    "attention required",
    "rate limited",
    "too many requests",
    "access denied",
    "captcha",
    "security check",
)
_BLOCK_BODY = (
    "cf-chl-",
    "challenge-platform",
    "checking your browser",
    "g-recaptcha",
    "h-captcha",
    "hcaptcha",
    "captcha",
    "rate limited request",
    "too many requests",
    "enable javascript and cookies to continue",
)
_SKIPPED_ROW_CLASSES = frozenset({"thead", "spacer", "over_header"})

# Match-log URL stat types -> the name used here (the URL names are kept).
MATCHLOG_STAT_TYPES = (
    "schedule",
    "shooting",
    "keeper",
    "passing",
    "passing_types",
    "gca",
    "defense",
    "possession",
    "misc",
)
_MATCHLOG_TITLE_TYPES = {
    "Shooting": "shooting",
    "Goalkeeping": "keeper",
    "Passing": "passing",
    "Pass Types": "passing_types",
    "Goal and Shot Creation": "gca",
    "Defensive Actions": "defense",
    "Possession": "possession",
    "Miscellaneous Stats": "misc",
}
# Squad stats URL segments -> table stat type (``stats_squads_<type>_for``).
_TEAM_STATS_URL_TYPES = {
    "stats": "standard",
    "keepers": "keeper",
    "keepersadv": "keeper_adv",
    "shooting": "shooting",
    "passing": "passing",
    "passing_types": "passing_types",
    "gca": "gca",
    "defense": "defense",
    "possession": "possession",
    "playingtime": "playing_time",
    "misc": "misc",
}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class FbrefFixture:
    """One match of a league "Scores & Fixtures" page."""

    match_id: str | None  # 8-hex FBref match id from the match-report link
    competition_id: str | None  # FBref competition id (``13`` = Ligue 1)
    competition: str | None
    gameweek: int | None
    match_date: dt.date
    kickoff_time: dt.time | None  # local to the venue
    kickoff_epoch: int | None  # ``data-venue-epoch``: the timezone-safe kick-off
    home_team: str
    home_team_id: str | None
    away_team: str
    away_team_id: str | None
    home_goals: int | None  # None when unplayed (cancelled, postponed, not yet played)
    away_goals: int | None
    home_pens: int | None  # penalty shoot-out goals, when there was one
    away_pens: int | None
    home_xg: float | None
    away_xg: float | None
    attendance: int | None
    venue: str | None
    referee: str | None
    notes: str | None
    status: str  # played, awarded, cancelled, postponed, abandoned or scheduled

    @property
    def played(self) -> bool:
        """True when the fixture has a score."""
        return self.home_goals is not None and self.away_goals is not None

    @property
    def kickoff_utc(self) -> dt.datetime | None:
        """Kick-off as an aware UTC datetime, from the venue epoch."""
        if self.kickoff_epoch is None:
            return None
        return dt.datetime.fromtimestamp(self.kickoff_epoch, tz=dt.UTC)


@dataclass(frozen=True, slots=True)
class FbrefSchedule:
    """Everything read from one league "Scores & Fixtures" page."""

    name: str
    sha256: str
    league: str  # our league code (``SP1``)
    competition: str  # FBref's name (``La Liga``)
    competition_id: str
    season: str  # ``YYYY-YYYY``
    table_ids: tuple[str, ...]
    matches: list[FbrefFixture]  # the league's own fixtures, deduplicated
    other_matches: list[FbrefFixture]  # other competitions on the page (play-offs)
    warnings: list[str] = field(default_factory=list)

    @property
    def played(self) -> list[FbrefFixture]:
        """League fixtures with a score."""
        return [match for match in self.matches if match.played]

    @property
    def unplayed(self) -> list[FbrefFixture]:
        """League fixtures listed without a score (cancelled, postponed, future)."""
        return [match for match in self.matches if not match.played]


@dataclass(frozen=True, slots=True)
class FbrefMatchLogRow:
    """One match of a team's match log (all competitions are kept)."""

    match_id: str | None
    match_date: dt.date
    kickoff_time: dt.time | None
    kickoff_epoch: int | None
    competition: str  # as published (``Ligue 1``, ``Coupe de France``, ``Champions Lg``)
    competition_id: str | None
    league: str | None  # our code when the competition is a known league
    round: str | None
    venue: str  # Home, Away or Neutral
    result: str | None  # W, D or L (None if not yet played)
    goals_for: int | None
    goals_against: int | None
    pens_for: int | None  # penalty shoot-out goals
    pens_against: int | None
    opponent: str
    opponent_id: str | None
    xg: float | None  # ``xg_for`` (schedule logs only)
    xga: float | None  # ``xg_against`` (schedule logs only)
    stats: dict[str, StatValue]  # every other data-stat column

    @property
    def played(self) -> bool:
        """True when the row has a score."""
        return self.goals_for is not None and self.goals_against is not None


@dataclass(frozen=True, slots=True)
class FbrefMatchLog:
    """Everything read from one team match-log page."""

    name: str
    sha256: str
    team: str
    team_id: str | None
    season: str
    stat_type: str  # schedule, shooting, keeper, passing, passing_types, gca...
    rows: list[FbrefMatchLogRow]  # table ``matchlogs_for``
    against_rows: list[FbrefMatchLogRow]  # table ``matchlogs_against`` (opponents' figures)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FbrefShot:
    """One shot of a match report's shots table."""

    minute: int
    added_time: int | None  # the ``2`` of ``45+2``
    player: str
    player_id: str | None
    squad: str
    squad_id: str | None
    is_home: bool | None
    xg: float | None
    psxg: float | None  # post-shot xG (on-target shots only)
    outcome: str | None  # Goal, Saved, Blocked, Off Target, Woodwork...
    distance: int | None  # yards
    body_part: str | None
    notes: str | None  # Volley, Free kick, Penalty, Deflected...
    sca_1_player: str | None
    sca_1_type: str | None
    sca_2_player: str | None
    sca_2_type: str | None


@dataclass(frozen=True, slots=True)
class FbrefMatch:
    """Everything read from one match report page."""

    name: str
    sha256: str
    match_id: str | None
    competition: str | None
    competition_id: str | None
    league: str | None
    season: str | None
    round: str | None  # ``Matchweek 1``, ``Round of 16``...
    match_date: dt.date | None
    kickoff_time: dt.time | None
    kickoff_epoch: int | None
    home_team: str
    home_team_id: str | None
    away_team: str
    away_team_id: str | None
    home_goals: int | None
    away_goals: int | None
    home_pens: int | None
    away_pens: int | None
    home_xg: float | None
    away_xg: float | None
    awarded: bool  # the score was awarded (``3*``), not played out
    venue: str | None
    attendance: int | None
    referee: str | None
    shots: list[FbrefShot]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FbrefTeamRow:
    """One team of a squad stats table."""

    team: str  # as published, without the ``vs `` of "against" tables
    team_id: str | None
    competition: str | None  # Big-5 pages: the team's league; else the page's
    league: str | None
    stats: dict[str, StatValue]  # every data-stat column but the team's


@dataclass(frozen=True, slots=True)
class FbrefStatsTable:
    """One squad stats table of a stats page."""

    table_id: str
    stat_type: str  # standard, shooting, keeper..., league_table, home_away
    side: str  # "for", "against", or "" for league tables
    rows: list[FbrefTeamRow]


@dataclass(frozen=True, slots=True)
class FbrefTeamStats:
    """Every squad table of a league or Big-5 stats page."""

    name: str
    sha256: str
    season: str
    competition: str
    competition_id: str  # ``Big5`` for the combined Big-5 pages
    league: str | None  # None for Big-5 pages (see each row's ``league``)
    tables: dict[str, FbrefStatsTable]
    warnings: list[str] = field(default_factory=list)

    def table(self, table_id: str) -> FbrefStatsTable:
        """The table with this id (``KeyError`` listing the ids present)."""
        try:
            return self.tables[table_id]
        except KeyError:
            raise KeyError(f"no table {table_id!r}; tables: {', '.join(self.tables)}") from None


# --------------------------------------------------------------------------- HTML layer


@dataclass(slots=True)
class _Cell:
    stat: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    inner: dict[str, str] = field(default_factory=dict)  # descendants' attributes

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).replace("\xa0", " ").split())


@dataclass(slots=True)
class _Row:
    section: str
    classes: frozenset[str]
    cells: list[_Cell] = field(default_factory=list)

    def by_stat(self) -> dict[str, _Cell]:
        found: dict[str, _Cell] = {}
        for cell in self.cells:
            if cell.stat:
                found.setdefault(cell.stat, cell)
        return found


@dataclass(slots=True)
class _Table:
    table_id: str
    commented: bool
    caption_parts: list[str] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)

    @property
    def caption(self) -> str:
        return " ".join("".join(self.caption_parts).split())

    def data_rows(self) -> list[tuple[int, dict[str, _Cell]]]:
        """Body rows with their 1-based position, without spacer and header rows."""
        rows = []
        position = 0
        for row in self.rows:
            if row.section in ("thead", "tfoot"):
                continue
            position += 1
            if row.classes & _SKIPPED_ROW_CLASSES:
                continue
            cells = row.by_stat()
            if not cells or any(cell.attrs.get("scope") == "col" for cell in row.cells):
                continue  # a repeated header row without its class
            rows.append((position, cells))
        return rows


@dataclass(slots=True)
class _Event:
    kind: str  # "start", "end" or "text"
    depth: int
    tag: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""


class _PageParser(HTMLParser):
    """Collects tables (also those inside comments), title, canonical URL, score box."""

    def __init__(self, *, commented: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.commented = commented
        self.tables: list[_Table] = []
        self.title_parts: list[str] = []
        self.canonical = ""
        self.saw_tag = False
        self.scorebox: list[_Event] = []
        self._stack: list[_Table] = []
        self._section = ""
        self._row: _Row | None = None
        self._cell: _Cell | None = None
        self._in_caption = False
        self._in_title = False
        self._in_flag = False
        self._box_depth = 0  # >0 while inside div.scorebox

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.saw_tag = True
        values = {key: value or "" for key, value in attrs}
        if self._box_depth:
            if tag == "div":
                self._box_depth += 1
            self.scorebox.append(_Event("start", self._box_depth, tag, values))
        elif tag == "div" and "scorebox" in values.get("class", "").split():
            self._box_depth = 1
        if tag == "title":
            self._in_title = True
        elif tag == "link" and values.get("rel") == "canonical":
            self.canonical = values.get("href", "")
        elif tag == "table":
            self._close_row()
            self._stack.append(_Table(values.get("id", ""), self.commented))
            self._section = ""
            return
        if not self._stack:
            return
        if tag in ("thead", "tbody", "tfoot"):
            self._close_row()
            self._section = tag
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._close_row()
            self._row = _Row(self._section, frozenset(values.get("class", "").split()))
        elif tag in ("td", "th"):
            if self._row is None:
                self._row = _Row(self._section, frozenset())
            self._cell = _Cell(values.get("data-stat", ""), values)
            self._row.cells.append(self._cell)
        elif self._cell is not None:
            if tag == "span" and "f-i" in values.get("class", "").split():
                self._in_flag = True  # a country flag's code ("eng", "es"), not cell text
            if tag == "a" and values.get("href"):
                self._cell.links.append(values["href"])
            elif tag == "br":
                self._cell.parts.append(" ")
            for key, value in values.items():
                self._cell.inner.setdefault(key, value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("td", "th"):
            self._cell = None

    def handle_endtag(self, tag: str) -> None:
        if self._box_depth:
            self.scorebox.append(_Event("end", self._box_depth, tag))
            if tag == "div":
                self._box_depth -= 1
        if tag == "title":
            self._in_title = False
        if not self._stack:
            return
        if tag == "span":
            self._in_flag = False
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "tr":
            self._close_row()
        elif tag == "caption":
            self._in_caption = False
        elif tag in ("thead", "tbody", "tfoot"):
            self._close_row()
            self._section = ""
        elif tag == "table":
            self._close_row()
            self.tables.append(self._stack.pop())

    def handle_data(self, data: str) -> None:
        if self._box_depth:
            self.scorebox.append(_Event("text", self._box_depth, text=data))
        if self._in_title:
            self.title_parts.append(data)
        if self._cell is not None:
            if not self._in_flag:
                self._cell.parts.append(data)
        elif self._in_caption and self._stack:
            self._stack[-1].caption_parts.append(data)

    def handle_comment(self, data: str) -> None:
        if "<table" not in data:
            return
        inner = _PageParser(commented=True)
        inner.feed(data)
        inner.close()
        self.tables.extend(inner.tables)

    def close(self) -> None:
        super().close()
        self._close_row()
        while self._stack:  # an unclosed table at the end of a cut page
            self.tables.append(self._stack.pop())

    def _close_row(self) -> None:
        if self._row is not None and self._stack:
            self._stack[-1].rows.append(self._row)
        self._row = None
        self._cell = None


@dataclass(slots=True)
class _Page:
    name: str
    text: str
    title: str
    canonical: str
    tables: list[_Table]
    scorebox: list[_Event]

    def table(self, table_id: str) -> _Table | None:
        for table in self.tables:
            if table.table_id == table_id:
                return table
        return None

    def table_ids(self) -> list[str]:
        return [table.table_id for table in self.tables if table.table_id]

    def missing(self, table_id: str, what: str) -> RejectedFile:
        """The rejection for an absent table: ``blocked`` if the page is a block page."""
        lowered = self.text.lower()
        for marker in _BLOCK_BODY:
            if marker in lowered:
                return RejectedFile(
                    self.name,
                    "blocked",
                    f"no {what} table and the page reads like a block page ({marker!r}); "
                    f"title {self.title!r}",
                )
        present = ", ".join(self.table_ids()[:12]) or "none"
        return RejectedFile(
            self.name,
            "missing_table",
            f"the {what} table {table_id!r} is not on the page (title {self.title!r}; "
            f"tables: {present})",
        )


def _read_page(raw: bytes, name: str) -> _Page:
    if not raw or not raw.strip():
        raise RejectedFile(name, "empty", "the page has no content")
    text, _ = decode_text(raw, name)
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    title = " ".join("".join(parser.title_parts).split())
    if not parser.saw_tag:
        raise RejectedFile(name, "not_html", f"the content is not an HTML page: {text[:80]!r}")
    lowered_title = title.lower()
    for marker in _BLOCK_TITLES:
        if marker in lowered_title:
            raise RejectedFile(
                name, "blocked", f"a challenge/rate-limit page, not content: title {title!r}"
            )
    return _Page(name, text, title, parser.canonical, parser.tables, parser.scorebox)


# --------------------------------------------------------------------------- value helpers


def _text(cells: dict[str, _Cell], stat: str) -> str:
    cell = cells.get(stat)
    return cell.text if cell is not None else ""


def _optional(cells: dict[str, _Cell], stat: str) -> str | None:
    return _text(cells, stat) or None


def _link_id(cell: _Cell | None, pattern: re.Pattern[str]) -> str | None:
    if cell is None:
        return None
    for href in cell.links:
        if match := pattern.search(href):
            return match.group(1)
    return None


def _comp_id(cell: _Cell | None) -> str | None:
    return _link_id(cell, _COMP_HREF_RE)


def fbref_league(competition: str | None) -> str | None:
    """Our league code for an FBref competition id or name (None if not a known league)."""
    if not competition:
        return None
    key = competition.strip()
    if key in FBREF_LEAGUES:
        return FBREF_LEAGUES[key]
    return FBREF_LEAGUES.get(_COUNTRY_PREFIX_RE.sub("", key))


def stat_value(text: str) -> StatValue:
    """A cell's text as int, float or str (None if empty); ``14,837``, ``+0.6`` are numbers."""
    value = text.strip()
    if not value:
        return None
    if _INT_RE.match(value):
        return int(value.replace(",", ""))
    if _FLOAT_RE.match(value):
        return float(value.replace(",", ""))
    return value


def _parse_date(text: str) -> dt.date | None:
    match = _DATE_RE.match(text)
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _kickoff(cell: _Cell | None) -> tuple[dt.time | None, int | None]:
    if cell is None:
        return None, None
    time_text = cell.inner.get("data-venue-time") or cell.text.split(" ")[0]
    kickoff_time = None
    if match := _TIME_RE.match(time_text):
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour <= 23 and minute <= 59:
            kickoff_time = dt.time(hour, minute)
    epoch_text = cell.inner.get("data-venue-epoch", "")
    epoch = int(epoch_text) if epoch_text.isdigit() else None
    return kickoff_time, epoch


def _count(text: str) -> int | None:
    value = text.replace(",", "").strip()
    return int(value) if value.isdigit() else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _season_from(*texts: str) -> str | None:
    for text in texts:
        if text and (match := _SEASON_RE.search(text)):
            start, end = int(match.group(1)), int(match.group(2))
            if end == start + 1:
                return f"{start}-{end}"
    return None


def _status(played: bool, notes: str) -> str:
    lowered = notes.lower()
    if played:
        return "awarded" if "awarded" in lowered else "played"
    for word in ("cancel", "postpone", "abandon"):
        if word in lowered:
            return {"cancel": "cancelled", "postpone": "postponed", "abandon": "abandoned"}[word]
    return "scheduled"


def _check_range(
    name: str, label: str, value: float | None, high: float, where: str, row: str
) -> None:
    if value is not None and not 0 <= value <= high:
        raise RejectedFile(
            name, "range", f"{where}: {label} {value} is outside [0, {high:g}]; the row: {row}"
        )


def _row_summary(cells: dict[str, _Cell]) -> str:
    return " | ".join(f"{stat}={cell.text}" for stat, cell in cells.items() if cell.text)[:300]


# --------------------------------------------------------------------------- schedule


def _schedule_row(
    cells: dict[str, _Cell],
    position: int,
    table: _Table,
    comp_id: str | None,
    comp_name: str | None,
    name: str,
) -> FbrefFixture | None:
    home, away = _text(cells, "home_team"), _text(cells, "away_team")
    date_text = _text(cells, "date")
    if not home and not away:
        return None  # spacer or header row without its class
    where = f"table {table.table_id!r} row {position}"
    if not (home and away and date_text):
        raise RejectedFile(name, "mandatory_values", f"{where}: {_row_summary(cells)}")
    match_date = _parse_date(date_text)
    if match_date is None:
        raise RejectedFile(name, "date_format", f"{where}: date {date_text!r} is not YYYY-MM-DD")
    if home.casefold() == away.casefold():
        raise RejectedFile(name, "distinct_teams", f"{where}: {home} plays itself")
    score_cell = cells.get("score")
    match_id = _link_id(score_cell, _MATCH_HREF_RE) or _link_id(
        cells.get("match_report"), _MATCH_HREF_RE
    )
    score = score_cell.text if score_cell is not None else ""
    home_goals = away_goals = home_pens = away_pens = None
    if score:
        parsed = _SCORE_RE.match(score)
        if not parsed:
            raise RejectedFile(name, "score_format", f"{where}: score {score!r} is not like 2–1")
        home_goals, away_goals = int(parsed.group(2)), int(parsed.group(3))
        if parsed.group(1) is not None and parsed.group(4) is not None:
            home_pens, away_pens = int(parsed.group(1)), int(parsed.group(4))
    xg_values = []
    for stat in ("home_xg", "away_xg"):
        text = _text(cells, stat)
        value = _float(text) if text else None
        if text and value is None:
            raise RejectedFile(name, "xg_format", f"{where}: {stat} {text!r} is not a number")
        xg_values.append(value)
    summary = f"{date_text} {home} {score or '-'} {away}"
    for label, value in (("home_goals", home_goals), ("away_goals", away_goals)):
        _check_range(name, label, value, MAX_GOALS, where, summary)
    for label, value in zip(("home_xg", "away_xg"), xg_values, strict=True):
        _check_range(name, label, value, MAX_MATCH_XG, where, summary)
    round_cell = cells.get("round")
    if round_cell is not None and round_cell.text:
        comp_id = _comp_id(round_cell) or comp_id
        comp_name = round_cell.text
    kickoff_time, epoch = _kickoff(cells.get("start_time"))
    gameweek_text = _text(cells, "gameweek")
    notes = _text(cells, "notes")
    return FbrefFixture(
        match_id=match_id,
        competition_id=comp_id,
        competition=comp_name,
        gameweek=int(gameweek_text) if gameweek_text.isdigit() else None,
        match_date=match_date,
        kickoff_time=kickoff_time,
        kickoff_epoch=epoch,
        home_team=home,
        home_team_id=_link_id(cells.get("home_team"), _SQUAD_HREF_RE),
        away_team=away,
        away_team_id=_link_id(cells.get("away_team"), _SQUAD_HREF_RE),
        home_goals=home_goals,
        away_goals=away_goals,
        home_pens=home_pens,
        away_pens=away_pens,
        home_xg=xg_values[0],
        away_xg=xg_values[1],
        attendance=_count(_text(cells, "attendance")),
        venue=_optional(cells, "venue"),
        referee=_optional(cells, "referee"),
        notes=notes or None,
        status=_status(home_goals is not None, notes),
    )


_SAME_MATCH_FIELDS = ("match_date", "home_team", "away_team", "home_goals", "away_goals")


def parse_fbref_schedule(raw: bytes, name: str = "<bytes>") -> FbrefSchedule:
    """Parse a league "Scores & Fixtures" page (one league, one season) from raw bytes.

    Every ``sched_*`` table of the page is read and fixtures are deduplicated by
    their match-report id (``sched_all`` repeats the per-competition tables).
    Fixtures of the page's league go to ``matches``; those of other competitions
    listed on the page (relegation play-offs) to ``other_matches``.  Fixtures
    without a score are kept with ``None`` goals and a ``status`` taken from the
    notes (``cancelled``...), and counted in a warning.
    """
    page = _read_page(raw, name)
    comp_match = _COMP_HREF_RE.search(page.canonical)
    title_match = re.match(r"^(\d{4}-\d{4}|\d{4}) (.+?) Scores (?:&|and) Fixtures", page.title)
    sched_tables = [table for table in page.tables if table.table_id.startswith("sched_")]
    season = _season_from(
        title_match.group(1) if title_match else "",
        comp_match.group(2) if comp_match and comp_match.group(2) else "",
        *(table.table_id for table in sched_tables),
    )
    comp_id = comp_match.group(1) if comp_match else None
    if comp_id is None or not comp_id.isdigit():
        comp_id = next(
            (
                match.group(1)
                for table in sched_tables
                if (match := re.match(r"^sched_[\d-]+_(\d+)_1$", table.table_id))
            ),
            None,
        )
    if season is None or comp_id is None:
        raise page.missing("sched_<season>_<competition id>_1", "league schedule")
    expected = f"sched_{season}_{comp_id}_1"
    if page.table(expected) is None:
        raise page.missing(expected, "league schedule")
    competition = title_match.group(2) if title_match else ""
    league = fbref_league(comp_id) or fbref_league(competition)
    if league is None:
        raise RejectedFile(
            name,
            "known_league",
            f"FBref competition {competition!r} (id {comp_id}) is not mapped to a league code",
        )
    # Competition names as sched_all's "round" column prints them (the per-
    # competition tables' captions all carry the league name).
    names: dict[str, str] = {comp_id: competition}
    for table in sched_tables:
        for _, cells in table.data_rows():
            round_cell = cells.get("round")
            if round_cell is not None and round_cell.text and (cid := _comp_id(round_cell)):
                names.setdefault(cid, round_cell.text)

    by_key: dict[tuple[object, ...], FbrefFixture] = {}
    order: list[tuple[object, ...]] = []
    for table in sched_tables:
        table_comp = re.match(r"^sched_[\d-]+_(\d+)(?:_\d+)?$", table.table_id)
        default_comp = table_comp.group(1) if table_comp else None
        for position, cells in table.data_rows():
            fixture = _schedule_row(
                cells, position, table, default_comp, names.get(default_comp or ""), name
            )
            if fixture is None:
                continue
            if fixture.competition_id and fixture.competition is None:
                fixture = replace(fixture, competition=names.get(fixture.competition_id))
            key = (
                ("id", fixture.match_id)
                if fixture.match_id
                else ("teams", fixture.match_date, fixture.home_team, fixture.away_team)
            )
            seen = by_key.get(key)
            if seen is None:
                by_key[key] = fixture
                order.append(key)
                continue
            differs = [f for f in _SAME_MATCH_FIELDS if getattr(seen, f) != getattr(fixture, f)]
            if differs:
                raise RejectedFile(
                    name,
                    "conflicting_duplicate",
                    f"match {fixture.match_id} appears twice with different "
                    f"{', '.join(differs)} (table {table.table_id!r} row {position})",
                )
    fixtures = [by_key[key] for key in order]
    matches = [f for f in fixtures if f.competition_id in (None, comp_id)]
    others = [f for f in fixtures if f.competition_id not in (None, comp_id)]
    if not matches:
        raise RejectedFile(name, "empty", f"table {expected!r} lists no fixtures")

    warnings: list[str] = []
    unplayed = [f for f in matches if not f.played]
    if unplayed:
        statuses: dict[str, int] = {}
        for fixture in unplayed:
            statuses[fixture.status] = statuses.get(fixture.status, 0) + 1
        shown = "; ".join(
            f"{f.match_date} {f.home_team} v {f.away_team} ({f.notes or f.status})"
            for f in unplayed[:3]
        )
        counts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        warnings.append(f"{len(unplayed)} fixture(s) without a score ({counts}): {shown}")
    if others:
        comps = sorted({f.competition or f.competition_id or "?" for f in others})
        warnings.append(
            f"{len(others)} fixture(s) of other competitions kept apart: {', '.join(comps)}"
        )
    first = min(f.match_date for f in matches)
    if len(season) == 9 and season_of(first) != season:
        warnings.append(f"the first fixture ({first}) falls outside season {season}")
    return FbrefSchedule(
        name=name,
        sha256=sha256_hex(raw),
        league=league,
        competition=competition,
        competition_id=comp_id,
        season=season,
        table_ids=tuple(table.table_id for table in sched_tables),
        matches=matches,
        other_matches=others,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- match logs

_MATCHLOG_FIELDS = frozenset(
    {
        "date",
        "start_time",
        "comp",
        "round",
        "venue",
        "result",
        "goals_for",
        "goals_against",
        "opponent",
        "xg_for",
        "xg_against",
        "match_report",
    }
)
_VENUES = frozenset({"Home", "Away", "Neutral"})
_RESULTS = frozenset({"W", "D", "L"})


def _goals(text: str, where: str, stat: str, name: str) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    match = _GOALS_RE.match(text)
    if not match:
        raise RejectedFile(name, "score_format", f"{where}: {stat} {text!r} is not a goal count")
    pens = int(match.group(2)) if match.group(2) is not None else None
    return int(match.group(1)), pens


def _matchlog_rows(table: _Table, name: str) -> list[FbrefMatchLogRow]:
    rows: list[FbrefMatchLogRow] = []
    for position, cells in table.data_rows():
        date_text = _text(cells, "date")
        opponent = _text(cells, "opponent")
        if not date_text and not opponent:
            continue
        where = f"table {table.table_id!r} row {position}"
        match_date = _parse_date(date_text)
        if match_date is None:
            raise RejectedFile(
                name, "date_format", f"{where}: date {date_text!r} is not YYYY-MM-DD"
            )
        venue = _text(cells, "venue")
        if venue not in _VENUES:
            raise RejectedFile(
                name, "venue", f"{where}: venue {venue!r} is not Home, Away or Neutral"
            )
        result = _text(cells, "result")
        if result and result not in _RESULTS:
            raise RejectedFile(name, "result", f"{where}: result {result!r} is not W, D or L")
        goals_for, pens_for = _goals(_text(cells, "goals_for"), where, "goals_for", name)
        goals_against, pens_against = _goals(
            _text(cells, "goals_against"), where, "goals_against", name
        )
        xg, xga = (_float(_text(cells, stat)) for stat in ("xg_for", "xg_against"))
        summary = f"{date_text} {venue} v {opponent} {result} {goals_for}-{goals_against}"
        _check_range(name, "goals_for", goals_for, MAX_GOALS, where, summary)
        _check_range(name, "goals_against", goals_against, MAX_GOALS, where, summary)
        _check_range(name, "xg_for", xg, MAX_MATCH_XG, where, summary)
        _check_range(name, "xg_against", xga, MAX_MATCH_XG, where, summary)
        comp_cell = cells.get("comp")
        comp_id = _comp_id(comp_cell)
        competition = comp_cell.text if comp_cell is not None else ""
        kickoff_time, epoch = _kickoff(cells.get("start_time"))
        match_id = _link_id(cells.get("match_report"), _MATCH_HREF_RE) or _link_id(
            cells.get("date"), _MATCH_HREF_RE
        )
        stats = {
            stat: stat_value(cell.text)
            for stat, cell in cells.items()
            if stat not in _MATCHLOG_FIELDS
        }
        rows.append(
            FbrefMatchLogRow(
                match_id=match_id,
                match_date=match_date,
                kickoff_time=kickoff_time,
                kickoff_epoch=epoch,
                competition=competition,
                competition_id=comp_id,
                league=fbref_league(comp_id) if comp_id else fbref_league(competition),
                round=_optional(cells, "round"),
                venue=venue,
                result=result or None,
                goals_for=goals_for,
                goals_against=goals_against,
                pens_for=pens_for,
                pens_against=pens_against,
                opponent=opponent,
                opponent_id=_link_id(cells.get("opponent"), _SQUAD_HREF_RE),
                xg=xg,
                xga=xga,
                stats=stats,
            )
        )
    return rows


def parse_fbref_matchlog(raw: bytes, name: str = "<bytes>") -> FbrefMatchLog:
    """Parse a team match-log page (any stat type) from raw bytes.

    Rows of every competition are kept (league, cups, European matches) with
    their competition; filter on ``league``/``competition_id`` for league-only
    use.  Table ``matchlogs_for`` gives ``rows``; ``matchlogs_against`` (the
    opponents' figures, on every stat type but ``schedule``) gives ``against_rows``.
    """
    page = _read_page(raw, name)
    main = page.table("matchlogs_for")
    if main is None:
        raise page.missing("matchlogs_for", "match log")
    url = re.search(
        r"/en/squads/([0-9a-f]{8})/(?:(\d{4}-\d{4}|\d{4})/)?matchlogs/[^/]+/([a-z_]+)/",
        page.canonical,
    )
    title = re.match(
        r"^(\d{4}-\d{4}|\d{4}) (.+?) (?:Scores and Fixtures|Match Logs \((.+?)\))", page.title
    )
    season = _season_from(
        title.group(1) if title else "", url.group(2) if url and url.group(2) else ""
    )
    if season is None:
        raise RejectedFile(name, "season", f"no season in the title {page.title!r}")
    team = title.group(2) if title else ""
    if not team:
        raise RejectedFile(name, "team", f"no team name in the title {page.title!r}")
    if url:
        stat_type = url.group(3)
    elif title and title.group(3):
        stat_type = _MATCHLOG_TITLE_TYPES.get(title.group(3), title.group(3).lower())
    else:
        stat_type = "schedule"
    rows = _matchlog_rows(main, name)
    against = page.table("matchlogs_against")
    against_rows = _matchlog_rows(against, name) if against is not None else []
    if not rows:
        raise RejectedFile(name, "empty", "table 'matchlogs_for' lists no matches")
    warnings: list[str] = []
    if stat_type not in MATCHLOG_STAT_TYPES:
        warnings.append(f"unfamiliar match-log stat type {stat_type!r}")
    return FbrefMatchLog(
        name=name,
        sha256=sha256_hex(raw),
        team=team,
        team_id=url.group(1) if url else None,
        season=season,
        stat_type=stat_type,
        rows=rows,
        against_rows=against_rows,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- match reports


@dataclass(slots=True)
class _ScoreSide:
    team: str = ""
    team_id: str | None = None
    score: str = ""
    xg: str = ""
    pens: str = ""


def _read_scorebox(events: list[_Event]) -> tuple[list[_ScoreSide], list[str], list[_Event]]:
    """The two team blocks, the meta lines, and the meta block's events."""
    sides: list[_ScoreSide] = []
    meta_lines: list[str] = []
    meta_events: list[_Event] = []
    block: str | None = None  # "team" or "meta" while inside a direct child div
    capture: str | None = None  # the score div being read, or "team" inside <strong>
    line: list[str] = []
    for event in events:
        if event.kind == "start" and event.tag == "div" and event.depth == 2:
            classes = event.attrs.get("class", "").split()
            if "scorebox_meta" in classes:
                block = "meta"
            elif "event" in classes or len(sides) == 2:
                block = "other"  # goal/card event lists
            else:
                block = "team"
                sides.append(_ScoreSide())
            continue
        if event.kind == "end" and event.tag == "div" and event.depth == 2:
            block = None
            continue
        if block == "team":
            side = sides[-1]
            classes = event.attrs.get("class", "").split() if event.kind == "start" else []
            if event.kind == "start" and event.tag == "div":
                capture = next(
                    (c for c in ("score", "score_xg", "score_pen") if c in classes), None
                )
            elif event.kind == "end" and event.tag == "div":
                capture = None
            elif event.kind == "start" and event.tag == "a" and not side.team:
                if match := _SQUAD_HREF_RE.search(event.attrs.get("href", "")):
                    side.team_id = match.group(1)
                    capture = "team"
            elif event.kind == "end" and event.tag == "a" and capture == "team":
                capture = None
            elif event.kind == "text" and capture:
                attribute = {"score": "score", "score_xg": "xg", "score_pen": "pens"}.get(
                    capture, "team"
                )
                setattr(side, attribute, getattr(side, attribute) + event.text)
        elif block == "meta":
            meta_events.append(event)
            if event.kind == "start" and event.tag == "div" and event.depth == 3:
                line = []
            elif event.kind == "end" and event.tag == "div" and event.depth == 3:
                meta_lines.append(" ".join("".join(line).replace("\xa0", " ").split()))
            elif event.kind == "text":
                line.append(event.text)
    for side in sides:
        side.team = " ".join(side.team.replace("\xa0", " ").split())
        side.score, side.xg, side.pens = side.score.strip(), side.xg.strip(), side.pens.strip()
    return sides, meta_lines, meta_events


def _shot(cells: dict[str, _Cell], where: str, home_id: str | None, name: str) -> FbrefShot:
    minute_text = _text(cells, "minute")
    minute = _MINUTE_RE.match(minute_text)
    if not minute:
        raise RejectedFile(name, "minute_format", f"{where}: minute {minute_text!r}")
    xg_text, psxg_text = _text(cells, "xg_shot"), _text(cells, "psxg_shot")
    xg, psxg = _float(xg_text), _float(psxg_text)
    for stat, text, value in (("xg_shot", xg_text, xg), ("psxg_shot", psxg_text, psxg)):
        if text and value is None:
            raise RejectedFile(name, "xg_format", f"{where}: {stat} {text!r} is not a number")
    summary = f"{minute_text}' {_text(cells, 'player')} ({_text(cells, 'team')})"
    _check_range(name, "xg_shot", xg, MAX_SHOT_XG, where, summary)
    _check_range(name, "psxg_shot", psxg, MAX_SHOT_XG, where, summary)
    squad_id = _link_id(cells.get("team"), _SQUAD_HREF_RE)
    distance = _text(cells, "distance")
    return FbrefShot(
        minute=int(minute.group(1)),
        added_time=int(minute.group(2)) if minute.group(2) else None,
        player=_text(cells, "player"),
        player_id=(cells["player"].attrs.get("data-append-csv") if "player" in cells else None)
        or _link_id(cells.get("player"), _PLAYER_HREF_RE),
        squad=_text(cells, "team"),
        squad_id=squad_id,
        is_home=None if squad_id is None or home_id is None else squad_id == home_id,
        xg=xg,
        psxg=psxg,
        outcome=_optional(cells, "outcome"),
        distance=int(distance) if distance.isdigit() else None,
        body_part=_optional(cells, "body_part"),
        notes=_optional(cells, "notes"),
        sca_1_player=_optional(cells, "sca_1_player"),
        sca_1_type=_optional(cells, "sca_1_type"),
        sca_2_player=_optional(cells, "sca_2_player"),
        sca_2_type=_optional(cells, "sca_2_type"),
    )


def parse_fbref_match(raw: bytes, name: str = "<bytes>") -> FbrefMatch:
    """Parse a match report page from raw bytes: score box and shots table.

    The shots come from table ``shots_all`` (or, without it, the per-team
    ``shots_<squad id>`` tables).  Reports without shot data (awarded matches,
    older seasons) give no shots and a warning.
    """
    page = _read_page(raw, name)
    sides, meta_lines, meta_events = _read_scorebox(page.scorebox)
    if len(sides) < 2 or not (sides[0].team and sides[1].team):
        raise page.missing("scorebox", "score box")
    home, away = sides[0], sides[1]
    match_id = None
    if found := _MATCH_HREF_RE.search(page.canonical):
        match_id = found.group(1)
    warnings: list[str] = []

    goals: list[int | None] = []
    for side in (home, away):
        if not side.score:
            goals.append(None)
        elif (value := _count(side.score.rstrip("*"))) is not None:
            goals.append(value)
        else:
            raise RejectedFile(
                name, "score_format", f"{side.team}: score {side.score!r} is not a number"
            )
    if (goals[0] is None) != (goals[1] is None):
        raise RejectedFile(name, "score_format", "only one side has a score")
    xgs = [_float(side.xg) if side.xg else None for side in (home, away)]
    pens = [_count(side.pens) if side.pens else None for side in (home, away)]
    summary = f"{home.team} {home.score or '-'} {away.team} {away.score or '-'}"
    for label, value in zip(("home_goals", "away_goals"), goals, strict=True):
        _check_range(name, label, value, MAX_GOALS, "score box", summary)
    for label, xg in zip(("home_xg", "away_xg"), xgs, strict=True):
        _check_range(name, label, xg, MAX_MATCH_XG, "score box", summary)

    comp_id = competition = season = round_name = None
    match_date = kickoff_time = None
    epoch = None
    anchor_href = ""
    for event in meta_events:
        if event.kind == "start" and event.tag == "span" and "data-venue-epoch" in event.attrs:
            match_date = _parse_date(event.attrs.get("data-venue-date", ""))
            epoch_text = event.attrs.get("data-venue-epoch", "")
            epoch = int(epoch_text) if epoch_text.isdigit() else None
            if time_match := _TIME_RE.match(event.attrs.get("data-venue-time", "")):
                kickoff_time = dt.time(int(time_match.group(1)), int(time_match.group(2)))
        elif event.kind == "start" and event.tag == "a":
            anchor_href = event.attrs.get("href", "")
            if competition is None and (comp := _COMP_HREF_RE.search(anchor_href)):
                comp_id, season = comp.group(1), comp.group(2)
        elif event.kind == "text" and comp_id and competition is None and anchor_href:
            if _COMP_HREF_RE.search(anchor_href) and event.text.strip():
                competition = event.text.strip()
    venue = attendance = referee = None
    for line in meta_lines:
        if competition and line.startswith(competition) and "(" in line:
            round_name = line[line.index("(") + 1 : line.rindex(")")].strip() or None
        elif line.startswith("Venue:"):
            venue = line.partition(":")[2].strip() or None
        elif line.startswith("Attendance:"):
            attendance = _count(line.partition(":")[2])
        elif line.startswith("Officials:"):
            if found := re.search(r"([^:·]+?)\s*\(Referee\)", line):
                referee = found.group(1).strip()
    awarded = home.score.endswith("*") or away.score.endswith("*")

    shots: list[FbrefShot] = []
    shot_tables = [page.table("shots_all")]
    if shot_tables[0] is None:
        shot_tables = [
            table
            for table in page.tables
            if table.table_id.startswith("shots_") and table.table_id != "shots_all"
        ]
    for table in shot_tables:
        if table is None:
            continue
        for position, cells in table.data_rows():
            if not _text(cells, "minute") and not _text(cells, "player"):
                continue
            shots.append(
                _shot(cells, f"table {table.table_id!r} row {position}", home.team_id, name)
            )
    shots.sort(key=lambda shot: (shot.minute, shot.added_time or 0))
    if not any(table is not None for table in shot_tables):
        warnings.append("no shots table on the page (no shot data for this match)")
    if awarded:
        warnings.append("the score was awarded, not played out")
    return FbrefMatch(
        name=name,
        sha256=sha256_hex(raw),
        match_id=match_id,
        competition=competition,
        competition_id=comp_id,
        league=fbref_league(comp_id) if comp_id else None,
        season=season,
        round=round_name,
        match_date=match_date,
        kickoff_time=kickoff_time,
        kickoff_epoch=epoch,
        home_team=home.team,
        home_team_id=home.team_id,
        away_team=away.team,
        away_team_id=away.team_id,
        home_goals=goals[0],
        away_goals=goals[1],
        home_pens=pens[0],
        away_pens=pens[1],
        home_xg=xgs[0],
        away_xg=xgs[1],
        awarded=awarded,
        venue=venue,
        attendance=attendance,
        referee=referee,
        shots=shots,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- squad stats


# Season totals that cannot be negative (a sign error or a shifted column otherwise).
_NON_NEGATIVE_TOTALS = ("games", "goals", "goals_for", "goals_against", "xg", "xg_for", "shots")


def _stats_table_kind(table_id: str) -> tuple[str, str] | None:
    """``(stat_type, side)`` of a squad table id, None for other tables."""
    if match := re.match(r"^stats_(?:squads|teams)_(.+)_(for|against)$", table_id):
        return match.group(1), match.group(2)
    if match := re.match(r"^results.*_(overall|home_away)$", table_id):
        return ("league_table" if match.group(1) == "overall" else "home_away"), ""
    return None


def parse_fbref_team_stats(raw: bytes, name: str = "<bytes>") -> FbrefTeamStats:
    """Parse a league "Stats" page or a Big-5 squad stats page from raw bytes.

    Every squad table is returned (league table ``results<season><comp>1_overall``,
    ``..._home_away``, ``stats_squads_<type>_for/against`` or, on Big-5 pages,
    ``stats_teams_<type>_for/against``), each row a team with a dict of all its
    data-stat values.  The table the page exists for must be present.
    """
    page = _read_page(raw, name)
    url = re.search(
        r"/en/comps/([0-9A-Za-z]+)/(?:(\d{4}-\d{4}|\d{4})/)?(?:([a-z_]+)/)?", page.canonical
    )
    title = re.match(r"^(\d{4}-\d{4}|\d{4}) (.+?) Stats\b", page.title)
    season = _season_from(
        title.group(1) if title else "", url.group(2) if url and url.group(2) else ""
    )
    comp_id = url.group(1) if url else ""
    segment = url.group(3) if url and url.group(3) else ""
    big5 = comp_id == "Big5" or "Big 5" in page.title
    if big5:
        stat_type = _TEAM_STATS_URL_TYPES.get(segment, "standard")
        expected = f"stats_teams_{stat_type}_for"
    elif segment in _TEAM_STATS_URL_TYPES:
        expected = f"stats_squads_{_TEAM_STATS_URL_TYPES[segment]}_for"
    else:
        expected = f"results{season}{comp_id}1_overall"
    if page.table(expected) is None:
        raise page.missing(expected, "squad stats")
    if season is None:
        raise RejectedFile(name, "season", f"no season in the title {page.title!r}")
    competition = title.group(2) if title else ""
    if big5:
        competition = "Big 5 European Leagues"
    else:
        competition = _STAT_TITLE_WORDS_RE.sub("", competition)
    league = None if big5 else fbref_league(comp_id) or fbref_league(competition)

    tables: dict[str, FbrefStatsTable] = {}
    for table in page.tables:
        kind = _stats_table_kind(table.table_id)
        if kind is None or table.table_id in tables:
            continue
        rows: list[FbrefTeamRow] = []
        for position, cells in table.data_rows():
            team_cell = cells.get("team")
            if team_cell is None or not team_cell.text:
                continue
            team = team_cell.text
            if kind[1] == "against" and team.startswith("vs "):
                team = team[3:]
            comp_cell = cells.get("comp")
            row_comp = competition or None
            row_league = league
            if comp_cell is not None and comp_cell.text:
                row_comp = _COUNTRY_PREFIX_RE.sub("", comp_cell.text)
                row_league = fbref_league(_comp_id(comp_cell) or "") or fbref_league(row_comp)
            stats = {stat: stat_value(cell.text) for stat, cell in cells.items() if stat != "team"}
            for stat in _NON_NEGATIVE_TOTALS:
                value = stats.get(stat)
                if isinstance(value, int | float) and value < 0:
                    raise RejectedFile(
                        name,
                        "range",
                        f"table {table.table_id!r} row {position}: {stat} {value} < 0; "
                        f"the row: {_row_summary(cells)}",
                    )
            rows.append(
                FbrefTeamRow(
                    team=team,
                    team_id=_link_id(team_cell, _SQUAD_HREF_RE),
                    competition=row_comp,
                    league=row_league,
                    stats=stats,
                )
            )
        tables[table.table_id] = FbrefStatsTable(table.table_id, kind[0], kind[1], rows)
    if not tables[expected].rows:
        raise RejectedFile(name, "empty", f"table {expected!r} lists no teams")
    warnings: list[str] = []
    empty = [table_id for table_id, table in tables.items() if not table.rows]
    if empty:
        warnings.append(f"squad table(s) without rows: {', '.join(empty)}")
    return FbrefTeamStats(
        name=name,
        sha256=sha256_hex(raw),
        season=season,
        competition=competition,
        competition_id=comp_id,
        league=league,
        tables=tables,
        warnings=warnings,
    )
