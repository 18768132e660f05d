r"""Understat (understat.com) xG data: pure parsers from raw bytes to records.

Understat publishes, per league season, every match with its xG and pre-match
forecast, and per match every shot with its xG and pitch position.  Three kinds
of input reach us:

* **legacy HTML pages** (the site until 2025): the data are JavaScript string
  literals inside ``<script>`` tags, ``var datesData = JSON.parse('\x5B\x7B...')``,
  with every JSON metacharacter written as a ``\xNN`` escape.  League pages embed
  ``datesData``, ``teamsData`` and ``playersData``; match pages ``shotsData``,
  ``rostersData`` and ``match_info`` (assigned without ``var``).
* **JSON**: the 2025 AJAX responses (league ``{"dates", "teams", "players"}``,
  match ``{"shots", "rosters", "tmpl"}``), and the legacy variables saved as JSON
  under their old names (``{"datesData", ...}``, ``{"shotsData", "match_info",
  ...}``, as scraping libraries cache them, or a bare ``datesData`` list).  The
  items inside are the same in every generation; only the outer keys differ.
* **shot-level CSV exports** (one row per shot, all shots of a season), written
  by pandas: integers printed as floats (``424175.0``).

League pages also give, per team, its history of played matches (``teamsData``:
xG, npxG, deep completions, PPDA, expected points, for and against), read into
:class:`UnderstatTeamMatch` records; match pages give the same record per side.

The generation is detected from the content, never from the file name.  The
parsers never touch the network or the database and raise
:class:`~sabiscore_ml.errors.RejectedFile` naming the check that failed.

Quirks handled here:

* Understat timestamps (``"2020-09-12 11:30:00"``) carry **no time zone** and
  the offset is not even constant between seasons (UK local, UTC, or about
  UTC+3/+4 in older seasons).  They are kept as published, as *naive*
  :class:`datetime.datetime` values: match them to other sources by teams and
  date within a day, never by exact timestamp.
* Numbers are JSON strings (``"xG": "0.627539"``), sometimes floats; both are read.
* Names are HTML-escaped, inconsistently (``N&#039;Golo Kanté`` next to
  ``Dara O'Shea`` in the same file): every name is unescaped.
* A shot's ``lastAction`` of ``"None"`` means no recorded action (``None``).
* Own goals are listed under the side of the player who put the ball in his own
  net and count for the other side.
* A season label is the starting year: Understat's ``2020`` is ``2020-2021``.
* A history row names no match and no opponent, only the team, its side and the
  kick-off: it is tied to the page's match with the same three (never guessed).
* PPDA is published as a pair, ``{"att": opponent passes, "def": defensive
  actions}`` on league pages, and as the ratio on match pages.
* Understat's published match xG is *not* always the plain sum of its shot xG
  (in EPL 2015-16 the sum is higher for 327 of 760 team-matches, by up to 0.57):
  the xG derived from a shot CSV is therefore named ``*_xg_sum``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html
import io
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import normalize_season, season_of
from sabiscore_ml.sources.reading import decode_text, sha256_hex

SOURCE = "understat"

# Understat league names (as in its URLs) -> our league codes; RFPL is not one of ours.
UNDERSTAT_LEAGUES: dict[str, str | None] = {
    "EPL": "E0",
    "La_liga": "SP1",
    "Bundesliga": "D1",
    "Serie_A": "I1",
    "Ligue_1": "F1",
    "RFPL": None,
}

GENERATION_HTML = "legacy_html"  # page with JSON.parse('\x5B...') variables
GENERATION_LEGACY_JSON = "legacy_json"  # the legacy variables saved as JSON
GENERATION_AJAX = "ajax_json"  # the 2025 AJAX responses

SIDES = ("h", "a")
SHOT_RESULTS = frozenset(
    {"Goal", "OwnGoal", "SavedShot", "MissedShots", "BlockedShot", "ShotOnPost"}
)
SHOT_SITUATIONS = frozenset({"OpenPlay", "FromCorner", "SetPiece", "DirectFreekick", "Penalty"})
SHOT_TYPES = frozenset({"RightFoot", "LeftFoot", "Head", "OtherBodyPart"})
MAX_MINUTE = 130
_MAX_SEASON_DAYS = 430

# Columns of the shot CSV exports; ``h_goals``, ``a_goals``, ``player_assisted`` and
# ``lastAction`` may be absent.
CSV_MANDATORY = (
    "id",
    "minute",
    "result",
    "X",
    "Y",
    "xG",
    "player",
    "h_a",
    "player_id",
    "situation",
    "season",
    "shotType",
    "match_id",
    "h_team",
    "a_team",
    "date",
)

_LEAGUE_KEYS = ("datesData", "teamsData", "playersData")
_AJAX_LEAGUE_KEYS = ("dates", "teams", "players")
_MATCH_KEYS = ("shotsData", "match_info", "rostersData")
_AJAX_MATCH_KEYS = ("shots", "tmpl", "rosters")
# Variables / keys of other Understat pages (home, team, player): recognised to say so.
_OTHER_PAGES = {
    "statData": "the home page (monthly league averages)",
    "statisticsData": "a team page",
    "statistics": "a team page",
    "groupsData": "a player page",
    "groups": "a player page",
    "player": "a player page",
    "minMaxPlayerStats": "a player page",
}

_PARSE_CALL_RE = re.compile(r"JSON\.parse\(\s*'")
_VAR_NAME_RE = re.compile(r"\b([A-Za-z_]\w*)\s*=\s*$")
_LITERAL_END_RE = re.compile(r"([^'\\]*(?:\\.[^'\\]*)*)'\s*\)", re.DOTALL)
_HEX_ESCAPE_RE = re.compile(r"\\x[0-9A-Fa-f]{2}")
_JS_ESCAPE_RE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u\{[0-9A-Fa-f]{1,6}\}|u[0-9A-Fa-f]{4}|.|\n)")
_JS_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_SELECTED_RE = r'<select\s+name="{0}"[^>]*>.*?<option\s+value="([^"]*)"\s+selected'
_TITLE_RE = re.compile(rb"<title[^>]*>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)
_CHALLENGE_TITLES = (b"just a moment", b"attention required", b"access denied", b"please wait")
_CHALLENGE_MARKERS = (b"_cf_chl_opt", b"cf-browser-verification", b"cf-challenge", b"cf_chl_")
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class Forecast:
    """Understat's pre-match outcome probabilities (home win, draw, away win)."""

    home_win: float
    draw: float
    away_win: float


@dataclass(frozen=True, slots=True)
class UnderstatFixture:
    """One match of a league season, as listed on the league page."""

    match_id: int
    understat_league: str | None  # "EPL", "La_liga"... (None: not named by the source)
    league: str | None  # our league code ("E0"); None for RFPL or when unknown
    season: str  # "2020-2021"
    kickoff: dt.datetime  # as published: naive, time zone unknown (see the module notes)
    home_team: str
    away_team: str
    home_team_id: int
    away_team_id: int
    is_result: bool
    home_goals: int | None
    away_goals: int | None
    home_xg: float | None
    away_xg: float | None
    forecast: Forecast | None


@dataclass(frozen=True, slots=True)
class UnderstatTeamMatch:
    """One team's figures in one played match.

    Read from a league page's ``teamsData[team].history`` (``origin`` ``"league"``:
    Understat's published npxG, PPDA as its passes/actions pair, expected points)
    or from one side of a match page (``origin`` ``"match"``: deep completions and
    PPDA as published in ``match_info``, npxG as the sum of the side's non-penalty
    shot xG, no expected points).  ``ppda`` is the opponent's passes allowed per
    defensive action of the team (``ppda.att / ppda.def``; None when ``def`` is 0),
    ``ppda_allowed`` the same for the opponent.  The history row names no
    opponent: it comes from the page's match list (same team, side and kick-off).
    """

    match_id: int
    kickoff: dt.datetime  # as published: naive, time zone unknown
    side: str  # "h" or "a"
    team_id: int
    team: str
    opponent_id: int
    opponent: str
    goals_for: int
    goals_against: int
    xg: float
    xga: float
    npxg: float
    npxga: float
    ppda: float | None
    ppda_allowed: float | None
    ppda_att: int | None  # the pair behind ``ppda`` (league pages only)
    ppda_def: int | None
    ppda_allowed_att: int | None
    ppda_allowed_def: int | None
    deep: int | None  # passes completed within 20 m of the opponent's goal
    deep_allowed: int | None
    xpts: float | None  # expected points (league pages only)
    origin: str  # "league" (teamsData history) or "match" (match page)


@dataclass(frozen=True, slots=True)
class UnderstatLeague:
    """Everything read from one league-season page or response."""

    name: str
    sha256: str
    generation: str  # GENERATION_HTML, GENERATION_LEGACY_JSON or GENERATION_AJAX
    understat_league: str | None
    league: str | None
    season: str
    matches: list[UnderstatFixture]
    teams: dict[int, str]  # Understat team id -> name (empty when the source has no teams)
    player_count: int | None  # players listed with the league (None: not in the source)
    warnings: list[str] = field(default_factory=list)
    # two per played match (one per team) from teamsData; empty when the source has no teams
    team_matches: list[UnderstatTeamMatch] = field(default_factory=list)

    @property
    def results(self) -> list[UnderstatFixture]:
        """The matches already played (``is_result``)."""
        return [match for match in self.matches if match.is_result]


@dataclass(frozen=True, slots=True)
class UnderstatMatchInfo:
    """The match summary of a match page (``match_info`` / ``tmpl``)."""

    match_id: int
    understat_league: str | None
    league: str | None
    season: str
    kickoff: dt.datetime  # as published: naive, time zone unknown
    home_team: str
    away_team: str
    home_team_id: int
    away_team_id: int
    home_goals: int | None
    away_goals: int | None
    home_xg: float | None
    away_xg: float | None
    forecast: Forecast | None
    home_shots: int | None
    away_shots: int | None
    home_shots_on_target: int | None
    away_shots_on_target: int | None
    home_deep: int | None  # passes completed within 20 m of the opponent's goal
    away_deep: int | None
    home_ppda: float | None  # opponent passes allowed per defensive action
    away_ppda: float | None


@dataclass(frozen=True, slots=True)
class UnderstatShot:
    """One shot; ``x`` and ``y`` are fractions of the pitch, ``x`` towards the goal."""

    shot_id: int
    match_id: int
    minute: int
    x: float
    y: float
    xg: float
    result: str  # Goal, OwnGoal, SavedShot, MissedShots, BlockedShot, ShotOnPost
    situation: str  # OpenPlay, FromCorner, SetPiece, DirectFreekick, Penalty
    shot_type: str  # RightFoot, LeftFoot, Head, OtherBodyPart
    last_action: str | None  # the action before the shot (Pass, Cross...); None if none
    player: str
    player_id: int
    assist: str | None  # name of the assisting player
    side: str  # "h" or "a": the side the shot is listed under
    team: str  # name of that side's team


@dataclass(frozen=True, slots=True)
class UnderstatMatch:
    """Everything read from one match page or response."""

    name: str
    sha256: str
    generation: str
    match_info: UnderstatMatchInfo
    shots: list[UnderstatShot]  # home shots then away shots, each in published order
    warnings: list[str] = field(default_factory=list)
    team_matches: list[UnderstatTeamMatch] = field(default_factory=list)  # home, away; if played

    def xg_sum(self, side: str) -> float:
        """Sum of the shot xG of one side (``"h"`` or ``"a"``); 0.0 without shots."""
        return math.fsum(shot.xg for shot in self.shots if shot.side == side)


@dataclass(frozen=True, slots=True)
class UnderstatShotsMatch:
    """One match derived from the shots of a shot CSV."""

    match_id: int
    season: str
    kickoff: dt.datetime  # as published: naive, time zone unknown
    home_team: str
    away_team: str
    home_goals: int | None
    away_goals: int | None
    home_xg_sum: float  # sum of the home shots' xG; 0.0 when the side had no shot
    away_xg_sum: float
    home_shots: int
    away_shots: int


@dataclass(frozen=True, slots=True)
class UnderstatShotsFile:
    """Everything read from one shot-level CSV export."""

    name: str
    sha256: str
    encoding: str
    understat_league: str | None
    league: str | None
    season: str
    shots: list[UnderstatShot]  # in file order
    matches: list[UnderstatShotsMatch]  # by kickoff, then match id
    warnings: list[str] = field(default_factory=list)


def understat_season(year: int | str) -> str:
    """Understat's season label (its starting year) as ``YYYY-YYYY``: ``2020`` -> ``2020-2021``."""
    text = str(year).strip()
    if text.endswith(".0"):  # written by pandas
        text = text[:-2]
    if not re.fullmatch(r"\d{4}", text):
        raise ValueError(f"Understat season {year!r} is not a starting year like 2020")
    start = int(text)
    return f"{start}-{start + 1}"


def understat_league_name(text: str) -> str:
    """The canonical Understat league name for ``EPL``, ``La liga``, ``la_liga`` or ``E0``.

    Raises ``KeyError`` for a league Understat does not cover.
    """
    wanted = text.strip().replace(" ", "_").casefold()
    for name, code in UNDERSTAT_LEAGUES.items():
        if wanted == name.casefold() or (code is not None and wanted == code.casefold()):
            return name
    known = ", ".join(UNDERSTAT_LEAGUES)
    raise KeyError(f"unknown Understat league {text!r}; known leagues: {known}")


def _season_argument(season: str | int) -> str:
    """A caller's season: a 4-digit year is Understat's starting year, else ``YYYY-YYYY``."""
    text = str(season).strip()
    if re.fullmatch(r"\d{4}", text):
        return understat_season(text)
    return normalize_season(text)


# --------------------------------------------------------------------------- decoding


def _decode_js_string(body: str) -> str:
    r"""Undo JavaScript string-literal escapes (``\x5B``, ``\u00e9``, ``\'``, ``\\``)."""
    if body.isascii() and body.count("\\") == len(_HEX_ESCAPE_RE.findall(body)):
        # Understat's usual form: only \xNN escapes, which Python's codec reads the same way
        return body.encode("ascii").decode("unicode_escape")

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] == "x" and len(escape) == 3:
            return chr(int(escape[1:], 16))
        if escape[0] == "u" and len(escape) > 1:
            return chr(int(escape[1:].strip("{}"), 16))
        if escape == "\n":  # line continuation
            return ""
        return _JS_SIMPLE_ESCAPES.get(escape, escape)

    text = _JS_ESCAPE_RE.sub(replace, body)
    if any("\ud800" <= char <= "\udfff" for char in text):  # JS-level surrogate pairs
        text = text.encode("utf-16", "surrogatepass").decode("utf-16")
    return text


def _embedded_variables(text: str, name: str) -> dict[str, str]:
    """Every ``x = JSON.parse('...')`` of a page: variable name -> decoded JSON text."""
    found: dict[str, str] = {}
    position = 0
    while (call := _PARSE_CALL_RE.search(text, position)) is not None:
        assigned = _VAR_NAME_RE.search(text, max(0, call.start() - 200), call.start())
        variable = assigned.group(1) if assigned else "an unnamed JSON.parse"
        literal = _LITERAL_END_RE.match(text, call.end())
        if literal is None:
            raise RejectedFile(
                name,
                "json",
                f"the JavaScript string of {variable} is never closed: the page was cut "
                "short; fetch it again",
            )
        if assigned:
            found.setdefault(variable, _decode_js_string(literal.group(1)))
        position = literal.end()
    return found


def understat_page_variables(raw: bytes, name: str = "<bytes>") -> dict[str, Any]:
    """Every ``x = JSON.parse('...')`` variable of a legacy Understat HTML page, decoded.

    Gives access to what the typed parsers do not keep (``playersData``,
    ``rostersData``, ``teamsData`` histories).  Raises :class:`RejectedFile` for an
    empty or block page, an unclosed string or invalid JSON (check ``json``).
    """
    if not raw.strip():
        raise RejectedFile(name, "empty", "the file has no content")
    text, _ = decode_text(raw, name, single_byte=False)
    variables = _embedded_variables(text, name)
    _check_blocked(raw, name, has_data=bool(variables))
    return {
        key: _load_json(value, name, f"the embedded variable {key}")
        for key, value in variables.items()
    }


def _load_json(text: str | bytes, name: str, label: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RejectedFile(
            name,
            "json",
            f"{label} is not valid JSON ({exc}); a truncated or corrupted download?",
        ) from exc


def _check_blocked(raw: bytes, name: str, *, has_data: bool = False) -> None:
    """Reject a block/challenge page: by its title, or by Cloudflare markers if no data."""
    head = raw[:65536].lower()
    title_match = _TITLE_RE.search(head)
    title = title_match.group(1) if title_match else b""
    markers = not has_data and any(marker in head for marker in _CHALLENGE_MARKERS)
    if title.startswith(_CHALLENGE_TITLES) or markers:
        shown = title.decode("utf-8", errors="replace")[:80]
        raise RejectedFile(
            name,
            "blocked",
            f"a block or challenge page (title {shown!r}), not Understat data; fetch it again "
            "later",
        )


def _looks_like_html(raw: bytes) -> bool:
    head = raw[:2048].lstrip().lower()
    return head.startswith(b"<") or b"<html" in head or b"<!doctype" in head


@dataclass(frozen=True, slots=True)
class _Payload:
    generation: str
    data: dict[str, Any]  # canonical (legacy) key -> decoded value
    html_text: str | None = None


def _read_payload(raw: bytes, name: str) -> _Payload:
    """Detect the generation and return the data under the legacy key names."""
    if not raw.strip():
        raise RejectedFile(name, "empty", "the file has no content")
    if _looks_like_html(raw):
        text, _ = decode_text(raw, name, single_byte=False)
        variables = {
            key: value
            for key, value in _embedded_variables(text, name).items()
            if key in _LEAGUE_KEYS or key in _MATCH_KEYS or key in _OTHER_PAGES
        }
        _check_blocked(raw, name, has_data=bool(variables))
        if not variables and "understat" not in text[:20000].lower():
            raise RejectedFile(
                name, "not_understat", "an HTML page without Understat's embedded data"
            )
        data = {
            key: _load_json(value, name, f"the embedded variable {key}")
            for key, value in variables.items()
        }
        return _Payload(GENERATION_HTML, data, text)
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    stripped = body.lstrip()
    if not stripped.startswith((b"{", b"[")):
        raise RejectedFile(
            name, "not_understat", "neither an HTML page nor a JSON document (a CSV?)"
        )
    value = _load_json(body, name, "the response")
    if isinstance(value, list) and value:
        if all(isinstance(item, dict) and "isResult" in item for item in value):
            return _Payload(GENERATION_LEGACY_JSON, {"datesData": value})
    extract = _bare_extract(value)
    if extract is not None:
        raise RejectedFile(
            name,
            "missing_key",
            f"a bare {extract} variable saved on its own: it lacks the rest of its page "
            "(datesData for a league; shotsData with match_info for a match)",
        )
    if isinstance(value, list):
        raise RejectedFile(
            name, "not_understat", "a JSON list that is not a list of Understat matches"
        )
    if not isinstance(value, dict):
        raise RejectedFile(name, "not_understat", "the JSON document is not an object")
    if any(key in value for key in _LEAGUE_KEYS + _MATCH_KEYS):
        return _Payload(GENERATION_LEGACY_JSON, value)
    renamed = {
        legacy: value[ajax]
        for ajax, legacy in zip(
            _AJAX_LEAGUE_KEYS + _AJAX_MATCH_KEYS, _LEAGUE_KEYS + _MATCH_KEYS, strict=True
        )
        if ajax in value
    }
    renamed.update({key: value[key] for key in _OTHER_PAGES if key in value})
    if not renamed:
        shown = ", ".join(list(value)[:8])
        raise RejectedFile(
            name, "not_understat", f"a JSON object without Understat keys (keys: {shown})"
        )
    return _Payload(GENERATION_AJAX, renamed)


def _bare_extract(value: Any) -> str | None:
    """The legacy variable a JSON value is on its own (``shotsData``...), else None."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "playersData" if "player_name" in value[0] else None
    if not isinstance(value, dict) or not value:
        return None
    if {"team_h", "team_a", "h_xg"} <= value.keys():
        return "match_info"
    if set(value) <= set(SIDES):
        sides = [value[side] for side in value]
        if all(isinstance(items, list) for items in sides):
            return "shotsData"
        if all(isinstance(items, dict) for items in sides):
            return "rostersData"
    items = list(value.values())
    if all(isinstance(item, dict) and "history" in item and "title" in item for item in items):
        return "teamsData"
    return None


def _other_page(payload: _Payload) -> str | None:
    for key, what in _OTHER_PAGES.items():
        if key in payload.data:
            return what
    return None


# ----------------------------------------------------------------------------- values


class _Values:
    """Typed reads of Understat values that raise ``RejectedFile`` (check ``values``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, where: str, detail: str, check: str = "values") -> RejectedFile:
        return RejectedFile(self.name, check, f"{where}: {detail}")

    def integer(self, value: Any, where: str) -> int:
        result = self.optional_integer(value, where)
        if result is None:
            raise self.fail(where, "missing")
        return result

    def optional_integer(self, value: Any, where: str) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise self.fail(where, f"{value!r} is not a whole number")
        if isinstance(value, int):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not number.is_integer():
            raise self.fail(where, f"{value!r} is not a whole number")
        return int(number)

    def number(self, value: Any, where: str) -> float:
        result = self.optional_number(value, where)
        if result is None:
            raise self.fail(where, "missing")
        return result

    def optional_number(self, value: Any, where: str) -> float | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise self.fail(where, f"{value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(where, f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise self.fail(where, f"{value!r} is not a finite number")
        return number

    def text(self, value: Any, where: str) -> str:
        result = self.optional_text(value, where)
        if result is None:
            raise self.fail(where, "missing")
        return result

    def optional_text(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(where, f"{value!r} is not a string")
        cleaned = html.unescape(value).strip() if "&" in value else value.strip()
        return cleaned or None

    def kickoff(self, value: Any, where: str) -> dt.datetime:
        if not isinstance(value, str):
            raise self.fail(where, f"{value!r} is not a date-time", "datetime")
        try:
            return dt.datetime.strptime(value.strip(), _DATETIME_FORMAT)
        except ValueError:
            raise self.fail(where, f"{value!r} is not YYYY-MM-DD HH:MM:SS", "datetime") from None

    def probability(self, value: Any, where: str) -> float:
        number = self.number(value, where)
        if not 0.0 <= number <= 1.0:
            raise self.fail(where, f"{value!r} is not a probability in [0, 1]")
        return number

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, found {type(value).__name__}")
        return value


def _forecast(values: _Values, win: Any, draw: Any, loss: Any, where: str) -> Forecast | None:
    if win is None or draw is None or loss is None:
        return None
    return Forecast(
        home_win=values.probability(win, f"{where} home win"),
        draw=values.probability(draw, f"{where} draw"),
        away_win=values.probability(loss, f"{where} away win"),
    )


def _resolve_league(
    content: str | None, argument: str | None, name: str, warnings: list[str]
) -> tuple[str | None, str | None]:
    """``(understat_league, league_code)`` from the content and the caller's argument."""
    wanted = understat_league_name(argument) if argument is not None else None
    found: str | None = None
    if content is not None:
        try:
            found = understat_league_name(content)
        except KeyError:
            warnings.append(f"league {content!r} is not one of {', '.join(UNDERSTAT_LEAGUES)}")
            found = content
    if wanted is not None and found is not None and wanted != found:
        raise RejectedFile(
            name, "league_mismatch", f"the content is league {found!r}, expected {wanted!r}"
        )
    resolved = found or wanted
    return resolved, UNDERSTAT_LEAGUES.get(resolved) if resolved else None


# ------------------------------------------------------------------------------ league


def _fixture(
    values: _Values, item: Any, index: int, understat_league: str | None, league: str | None
) -> UnderstatFixture:
    where = f"match #{index + 1}"
    item = values.mapping(item, where)
    match_id = values.integer(item.get("id"), f"{where} id")
    where = f"match {match_id}"
    home = values.mapping(item.get("h"), f"{where} h")
    away = values.mapping(item.get("a"), f"{where} a")
    goals = values.mapping(item.get("goals") or {}, f"{where} goals")
    xg = values.mapping(item.get("xG") or {}, f"{where} xG")
    is_result = item.get("isResult")
    if not isinstance(is_result, bool):
        raise values.fail(f"{where} isResult", f"{is_result!r} is not true/false")
    home_goals = values.optional_integer(goals.get("h"), f"{where} goals.h")
    away_goals = values.optional_integer(goals.get("a"), f"{where} goals.a")
    home_xg = values.optional_number(xg.get("h"), f"{where} xG.h")
    away_xg = values.optional_number(xg.get("a"), f"{where} xG.a")
    if is_result and None in (home_goals, away_goals, home_xg, away_xg):
        raise values.fail(where, "a result (isResult true) without goals or xG for both sides")
    forecast_item = item.get("forecast")
    forecast = None
    if forecast_item:
        forecast_item = values.mapping(forecast_item, f"{where} forecast")
        forecast = _forecast(
            values,
            forecast_item.get("w"),
            forecast_item.get("d"),
            forecast_item.get("l"),
            f"{where} forecast",
        )
    kickoff = values.kickoff(item.get("datetime"), f"{where} datetime")
    return UnderstatFixture(
        match_id=match_id,
        understat_league=understat_league,
        league=league,
        season="",  # set by the caller once the season is known
        kickoff=kickoff,
        home_team=values.text(home.get("title"), f"{where} h.title"),
        away_team=values.text(away.get("title"), f"{where} a.title"),
        home_team_id=values.integer(home.get("id"), f"{where} h.id"),
        away_team_id=values.integer(away.get("id"), f"{where} a.id"),
        is_result=is_result,
        home_goals=home_goals,
        away_goals=away_goals,
        home_xg=home_xg,
        away_xg=away_xg,
        forecast=forecast,
    )


def _selected_option(text: str | None, select: str) -> str | None:
    if text is None:
        return None
    match = re.search(_SELECTED_RE.format(select), text, re.DOTALL)
    return html.unescape(match.group(1)) if match else None


def parse_understat_league(
    raw: bytes,
    name: str = "<bytes>",
    *,
    league: str | None = None,
    season: str | int | None = None,
) -> UnderstatLeague:
    """Parse one Understat league-season page or response from raw bytes.

    Accepts the legacy HTML page, the 2025 AJAX response (``dates``/``teams``/
    ``players``) and the legacy variables saved as JSON.  ``league`` (``EPL``,
    ``La_liga``... or our code ``E0``) and ``season`` (Understat's starting year
    ``2020``/``"2020"``, or ``2020-2021``) say what was requested: they are checked
    against the page when it names them, and fill in what a JSON response does
    not say.  Without them, a JSON response has no league and its season is
    inferred from the first kick-off (with a warning).  Raises
    :class:`RejectedFile` naming the failed check; an unknown ``league`` argument
    raises ``KeyError`` and a malformed ``season`` argument ``ValueError``.
    """
    wanted_league = understat_league_name(league) if league is not None else None
    wanted_season = _season_argument(season) if season is not None else None
    payload = _read_payload(raw, name)
    values = _Values(name)
    warnings: list[str] = []
    if "datesData" not in payload.data:
        other = _other_page(payload)
        if other is not None:
            raise RejectedFile(name, "wrong_page", f"{other}, not a league page")
        if any(key in payload.data for key in _MATCH_KEYS):
            raise RejectedFile(name, "wrong_page", "a match page, not a league page")
        detail = (
            "no datesData variable in the page"
            if payload.generation == GENERATION_HTML
            else "no 'dates' (2025 response) or 'datesData' (legacy) key"
        )
        if payload.generation == GENERATION_HTML and not payload.data:
            detail += " (the page embeds no data: a 2025 page that loads it by AJAX?)"
        raise RejectedFile(name, "missing_key", detail)
    if "statisticsData" in payload.data or "statistics" in payload.data:
        raise RejectedFile(name, "wrong_page", "a team page, not a league page")
    dates = payload.data["datesData"]
    if dates is None or dates == [] or dates == {}:
        raise RejectedFile(name, "empty", "the league has no matches (datesData is empty)")
    if not isinstance(dates, list):
        raise RejectedFile(
            name, "values", f"datesData is a {type(dates).__name__}, not a list of matches"
        )

    understat_league, league_code = _resolve_league(
        _selected_option(payload.html_text, "league"), wanted_league, name, warnings
    )
    content_season = _selected_option(payload.html_text, "season")
    try:
        page_season = understat_season(content_season) if content_season else None
    except ValueError as exc:
        raise RejectedFile(name, "values", f"the page's season selector: {exc}") from None
    if page_season and wanted_season and page_season != wanted_season:
        raise RejectedFile(
            name,
            "season_mismatch",
            f"the page is season {page_season}, expected {wanted_season}",
        )

    parsed = [
        _fixture(values, item, index, understat_league, league_code)
        for index, item in enumerate(dates)
    ]
    first = min(match.kickoff for match in parsed)
    last = max(match.kickoff for match in parsed)
    if (last - first).days > _MAX_SEASON_DAYS:
        raise RejectedFile(
            name,
            "season_span",
            f"matches from {first:%Y-%m-%d} to {last:%Y-%m-%d}: more than one season",
        )
    inferred = season_of(first.date())
    resolved_season = page_season or wanted_season
    if resolved_season is None:
        resolved_season = inferred
        warnings.append(
            f"season {inferred} inferred from the first kick-off ({first:%Y-%m-%d}); "
            "the source does not name it"
        )
    elif resolved_season != inferred:
        raise RejectedFile(
            name,
            "season_mismatch",
            f"season {resolved_season} but the first match is on {first:%Y-%m-%d}",
        )

    matches: list[UnderstatFixture] = []
    seen: set[int] = set()
    for match in parsed:
        if match.match_id in seen:
            raise RejectedFile(
                name, "duplicate_match", f"match id {match.match_id} is listed twice"
            )
        if match.home_team_id == match.away_team_id:
            raise RejectedFile(
                name,
                "distinct_teams",
                f"match {match.match_id}: team {match.home_team} plays itself",
            )
        seen.add(match.match_id)
        matches.append(dataclasses.replace(match, season=resolved_season))

    teams = _teams(values, payload.data.get("teamsData"))
    if teams:
        unknown = sorted(
            {
                team_id
                for match in matches
                for team_id in (match.home_team_id, match.away_team_id)
                if team_id not in teams
            }
        )
        if unknown:
            warnings.append(f"team id(s) in matches but not in teamsData: {unknown[:10]}")
    players = payload.data.get("playersData")
    return UnderstatLeague(
        name=name,
        sha256=sha256_hex(raw),
        generation=payload.generation,
        understat_league=understat_league,
        league=league_code,
        season=resolved_season,
        matches=matches,
        teams=teams,
        player_count=len(players) if isinstance(players, list) else None,
        warnings=warnings,
        team_matches=understat_team_history(payload.data.get("teamsData"), matches, name, warnings),
    )


def _teams(values: _Values, data: Any) -> dict[int, str]:
    if not isinstance(data, dict):
        return {}
    teams: dict[int, str] = {}
    for key, item in data.items():
        item = values.mapping(item, f"teamsData[{key}]")
        team_id = values.integer(item.get("id", key), f"teamsData[{key}] id")
        teams[team_id] = values.text(item.get("title"), f"teamsData[{key}] title")
    return teams


# Keys of a teamsData history row that we read; the others (result, wins, pts...) follow
# from these.  ``ppda`` and ``ppda_allowed`` are ``{"att": passes, "def": actions}``.
_HISTORY_KEYS = (
    "h_a",
    "date",
    "xG",
    "xGA",
    "npxG",
    "npxGA",
    "ppda",
    "ppda_allowed",
    "deep",
    "deep_allowed",
    "scored",
    "missed",
    "xpts",
)
_PPDA_KEYS = ("att", "def")


def _ratio(passes: int | None, actions: int | None) -> float | None:
    """Passes per defensive action; None without actions."""
    if passes is None or not actions:
        return None
    return passes / actions


def _count(values: _Values, value: Any, where: str) -> int:
    number = values.integer(value, where)
    if number < 0:
        raise values.fail(where, f"{value!r} is negative")
    return number


def _amount(values: _Values, value: Any, where: str) -> float:
    number = values.number(value, where)
    if number < 0:
        raise values.fail(where, f"{value!r} is negative")
    return number


def _keys_present(item: Mapping[str, Any], keys: tuple[str, ...], where: str, name: str) -> None:
    missing = [key for key in keys if key not in item]
    if missing:
        raise RejectedFile(name, "missing_key", f"{where} has no {', '.join(missing)}")


def _ppda_pair(values: _Values, data: Any, where: str, name: str) -> tuple[int, int]:
    pair = values.mapping(data, where)
    _keys_present(pair, _PPDA_KEYS, where, name)
    return _count(values, pair["att"], f"{where}.att"), _count(values, pair["def"], f"{where}.def")


def _history_row(
    values: _Values,
    item: Any,
    where: str,
    team_id: int,
    by_side: Mapping[tuple[int, str, dt.datetime], UnderstatFixture],
) -> UnderstatTeamMatch:
    """One history row, with its match (and so its opponent) found in the match list."""
    name = values.name
    item = values.mapping(item, where)
    _keys_present(item, _HISTORY_KEYS, where, name)
    side = item["h_a"]
    if side not in SIDES:
        raise values.fail(f"{where} h_a", f"{side!r} is not 'h' or 'a'", "side")
    kickoff = values.kickoff(item["date"], f"{where} date")
    match = by_side.get((team_id, side, kickoff))
    venue = "at home" if side == "h" else "away"
    if match is None or not match.is_result:
        state = "no match" if match is None else f"only the unplayed match {match.match_id}"
        raise RejectedFile(
            name,
            "history_match",
            f"{where}: the match list has {state} of team {team_id} {venue} at {kickoff}",
        )
    goals = (
        _count(values, item["scored"], f"{where} scored"),
        _count(values, item["missed"], f"{where} missed"),
    )
    published = (match.home_goals, match.away_goals)
    if side == "a":
        published = published[::-1]
    if goals != published:
        raise RejectedFile(
            name,
            "history_match",
            f"{where} says {goals[0]}-{goals[1]} for team {team_id}, match {match.match_id} "
            f"says {published[0]}-{published[1]}",
        )
    att, actions = _ppda_pair(values, item["ppda"], f"{where} ppda", name)
    allowed_att, allowed_actions = _ppda_pair(
        values, item["ppda_allowed"], f"{where} ppda_allowed", name
    )
    home = side == "h"
    return UnderstatTeamMatch(
        match_id=match.match_id,
        kickoff=kickoff,
        side=side,
        team_id=team_id,
        team=match.home_team if home else match.away_team,
        opponent_id=match.away_team_id if home else match.home_team_id,
        opponent=match.away_team if home else match.home_team,
        goals_for=goals[0],
        goals_against=goals[1],
        xg=_amount(values, item["xG"], f"{where} xG"),
        xga=_amount(values, item["xGA"], f"{where} xGA"),
        npxg=_amount(values, item["npxG"], f"{where} npxG"),
        npxga=_amount(values, item["npxGA"], f"{where} npxGA"),
        ppda=_ratio(att, actions),
        ppda_allowed=_ratio(allowed_att, allowed_actions),
        ppda_att=att,
        ppda_def=actions,
        ppda_allowed_att=allowed_att,
        ppda_allowed_def=allowed_actions,
        deep=_count(values, item["deep"], f"{where} deep"),
        deep_allowed=_count(values, item["deep_allowed"], f"{where} deep_allowed"),
        xpts=_amount(values, item["xpts"], f"{where} xpts"),
        origin="league",
    )


def understat_team_history(
    teams_data: Any,
    matches: list[UnderstatFixture],
    name: str = "<bytes>",
    warnings: list[str] | None = None,
) -> list[UnderstatTeamMatch]:
    """Every team's per-match history of a league page, each row tied to its match.

    ``teams_data`` is the decoded ``teamsData`` variable (the 2025 ``teams`` key),
    ``matches`` the page's parsed match list.  A history row names no match: it
    is the played match of that team, on that side, at that kick-off.  Strict:
    a missing key (check ``missing_key``), a value that is not a non-negative
    number (``values``), a row without its played match, listed twice, or whose
    score differs from the match's (``history_match``) rejects the file.  Played
    matches without a history row are reported in ``warnings``.  Returns the rows
    by kick-off, then match id, home side first; none without ``teams_data``.
    """
    if teams_data is None or teams_data == {} or teams_data == []:
        return []
    values = _Values(name)
    if not isinstance(teams_data, dict):
        raise values.fail("teamsData", f"a {type(teams_data).__name__}, not an object of teams")
    by_side = {
        (team_id, side, match.kickoff): match
        for match in matches
        for team_id, side in ((match.home_team_id, "h"), (match.away_team_id, "a"))
    }
    found: dict[tuple[int, str], str] = {}
    rows: list[UnderstatTeamMatch] = []
    for key, team in teams_data.items():
        where = f"teamsData[{key}]"
        team = values.mapping(team, where)
        _keys_present(team, ("history",), where, name)
        team_id = values.integer(team.get("id", key), f"{where} id")
        history = team["history"]
        if not isinstance(history, list):
            raise values.fail(f"{where} history", f"a {type(history).__name__}, not a list")
        for index, item in enumerate(history):
            row_where = f"{where} history[{index}]"
            row = _history_row(values, item, row_where, team_id, by_side)
            if (row.match_id, row.side) in found:
                raise RejectedFile(
                    name,
                    "history_match",
                    f"{row_where} repeats match {row.match_id} of {found[row.match_id, row.side]}",
                )
            found[row.match_id, row.side] = row_where
            rows.append(row)
    missing = sum(
        1 for m in matches if m.is_result for side in SIDES if (m.match_id, side) not in found
    )
    if missing and warnings is not None:
        warnings.append(f"{missing} team-match(es) of played matches have no teamsData history")
    rows.sort(key=lambda row: (row.kickoff, row.match_id, row.side != "h"))
    return rows


# ------------------------------------------------------------------------------ shots


def _shot(
    values: _Values,
    get: Callable[[str], Any],
    where: str,
    home_team: str | None = None,
    away_team: str | None = None,
) -> UnderstatShot:
    """One shot from its published fields (``get(key)`` returns the raw value)."""
    side = get("h_a")
    if side not in SIDES:
        raise values.fail(f"{where} h_a", f"{side!r} is not 'h' or 'a'", "side")
    home = home_team or values.text(get("h_team"), f"{where} h_team")
    away = away_team or values.text(get("a_team"), f"{where} a_team")
    last_action = values.optional_text(get("lastAction"), f"{where} lastAction")
    return UnderstatShot(
        shot_id=values.integer(get("id"), f"{where} id"),
        match_id=values.integer(get("match_id"), f"{where} match_id"),
        minute=values.integer(get("minute"), f"{where} minute"),
        x=values.number(get("X"), f"{where} X"),
        y=values.number(get("Y"), f"{where} Y"),
        xg=values.number(get("xG"), f"{where} xG"),
        result=values.text(get("result"), f"{where} result"),
        situation=values.text(get("situation"), f"{where} situation"),
        shot_type=values.text(get("shotType"), f"{where} shotType"),
        last_action=None if last_action == "None" else last_action,
        player=values.text(get("player"), f"{where} player"),
        player_id=values.integer(get("player_id"), f"{where} player_id"),
        assist=values.optional_text(get("player_assisted"), f"{where} player_assisted"),
        side=side,
        team=home if side == "h" else away,
    )


def _shot_problem(shot: UnderstatShot) -> str | None:
    if not 0.0 <= shot.x <= 1.0:
        return f"X={shot.x} outside [0, 1]"
    if not 0.0 <= shot.y <= 1.0:
        return f"Y={shot.y} outside [0, 1]"
    if not 0.0 <= shot.xg <= 1.0:
        return f"xG={shot.xg} outside [0, 1]"
    if not 0 <= shot.minute <= MAX_MINUTE:
        return f"minute {shot.minute} outside 0..{MAX_MINUTE}"
    return None


def _check_shots(shots: list[tuple[str, UnderstatShot]], name: str, warnings: list[str]) -> None:
    """Range, duplicate and vocabulary checks over ``(where, shot)`` pairs."""
    bad = [(where, shot, problem) for where, shot in shots if (problem := _shot_problem(shot))]
    if bad:
        where, shot, problem = bad[0]
        raise RejectedFile(
            name,
            "shot_range",
            f"{len(bad)} shot(s) out of range, e.g. {where} (shot {shot.shot_id}, "
            f"minute {shot.minute}, {shot.player}): {problem}",
        )
    seen: dict[int, str] = {}
    for where, shot in shots:
        if shot.shot_id in seen:
            raise RejectedFile(
                name,
                "duplicate_shot",
                f"{where} repeats shot id {shot.shot_id} of {seen[shot.shot_id]}",
            )
        seen[shot.shot_id] = where
    for label, allowed, attribute in (
        ("result", SHOT_RESULTS, "result"),
        ("situation", SHOT_SITUATIONS, "situation"),
        ("shotType", SHOT_TYPES, "shot_type"),
    ):
        unknown = sorted({getattr(shot, attribute) for _, shot in shots} - allowed)
        if unknown:
            warnings.append(f"unrecognised shot {label} value(s) kept: {', '.join(unknown)}")


# ------------------------------------------------------------------------------ match


def _match_info(values: _Values, data: Any, name: str, warnings: list[str]) -> UnderstatMatchInfo:
    where = "match_info"
    info = values.mapping(data, where)
    understat_league, league_code = _resolve_league(
        values.optional_text(info.get("league"), f"{where} league"), None, name, warnings
    )
    season_text = info.get("season")
    if season_text is None:
        raise RejectedFile(name, "missing_key", "match_info has no season")
    try:
        season = understat_season(season_text)
    except ValueError as exc:
        raise values.fail(f"{where} season", str(exc)) from None

    def integer(key: str) -> int | None:
        return values.optional_integer(info.get(key), f"{where} {key}")

    def number(key: str) -> float | None:
        return values.optional_number(info.get(key), f"{where} {key}")

    home_id = values.integer(info.get("h"), f"{where} h")
    away_id = values.integer(info.get("a"), f"{where} a")
    if home_id == away_id:
        raise RejectedFile(name, "distinct_teams", f"team {home_id} plays itself")
    return UnderstatMatchInfo(
        match_id=values.integer(info.get("id"), f"{where} id"),
        understat_league=understat_league,
        league=league_code,
        season=season,
        kickoff=values.kickoff(info.get("date"), f"{where} date"),
        home_team=values.text(info.get("team_h"), f"{where} team_h"),
        away_team=values.text(info.get("team_a"), f"{where} team_a"),
        home_team_id=home_id,
        away_team_id=away_id,
        home_goals=integer("h_goals"),
        away_goals=integer("a_goals"),
        home_xg=number("h_xg"),
        away_xg=number("a_xg"),
        forecast=_forecast(values, info.get("h_w"), info.get("h_d"), info.get("h_l"), where),
        home_shots=integer("h_shot"),
        away_shots=integer("a_shot"),
        home_shots_on_target=integer("h_shotOnTarget"),
        away_shots_on_target=integer("a_shotOnTarget"),
        home_deep=integer("h_deep"),
        away_deep=integer("a_deep"),
        home_ppda=number("h_ppda"),
        away_ppda=number("a_ppda"),
    )


def parse_understat_match(raw: bytes, name: str = "<bytes>") -> UnderstatMatch:
    """Parse one Understat match page or response (match summary and every shot).

    Accepts the legacy HTML page (``shotsData``/``match_info``), the 2025 AJAX
    response (``shots``/``tmpl``) and the legacy variables saved as JSON.  Every
    shot must lie on the pitch (``X``, ``Y`` in [0, 1]), have an xG in [0, 1] and a
    minute in 0..130 (check ``shot_range``), belong to the match and be listed
    under its own side.  Raises :class:`RejectedFile` naming the failed check.
    """
    payload = _read_payload(raw, name)
    values = _Values(name)
    warnings: list[str] = []
    data = payload.data
    if "shotsData" not in data or "match_info" not in data:
        other = _other_page(payload)
        if other is not None:
            raise RejectedFile(name, "wrong_page", f"{other}, not a match page")
        if "datesData" in data or "teamsData" in data:
            raise RejectedFile(name, "wrong_page", "a league page, not a match page")
        published_keys = (
            {"shotsData": "shots", "match_info": "tmpl"}
            if payload.generation == GENERATION_AJAX
            else {"shotsData": "shotsData", "match_info": "match_info"}
        )
        missing = [published_keys[key] for key in ("shotsData", "match_info") if key not in data]
        detail = f"no {' or '.join(repr(key) for key in missing)}"
        if payload.generation == GENERATION_HTML and not data:
            detail += " (the page embeds no data: a 2025 page that loads it by AJAX?)"
        raise RejectedFile(name, "missing_key", detail)
    info = _match_info(values, data["match_info"], name, warnings)
    shots_data = data["shotsData"]
    if not isinstance(shots_data, dict):
        raise RejectedFile(
            name,
            "values",
            f"shots are a {type(shots_data).__name__}, not {{'h': [...], 'a': [...]}}",
        )
    pairs: list[tuple[str, UnderstatShot]] = []
    for side in SIDES:
        side_shots = shots_data.get(side) or []
        if not isinstance(side_shots, list):
            raise RejectedFile(name, "values", f"shots[{side!r}] is not a list")
        for index, item in enumerate(side_shots):
            where = f"shots.{side}[{index}]"
            item = values.mapping(item, where)
            shot = _shot(values, item.get, where, info.home_team, info.away_team)
            if shot.side != side:
                raise RejectedFile(
                    name, "side", f"{where} (shot {shot.shot_id}) says h_a={shot.side!r}"
                )
            if shot.match_id != info.match_id:
                raise RejectedFile(
                    name,
                    "match_id",
                    f"{where} (shot {shot.shot_id}) belongs to match {shot.match_id}, "
                    f"the page is match {info.match_id}",
                )
            published = (
                values.optional_text(item.get("h_team"), f"{where} h_team"),
                values.optional_text(item.get("a_team"), f"{where} a_team"),
            )
            if published != (None, None) and published != (info.home_team, info.away_team):
                raise RejectedFile(
                    name,
                    "teams",
                    f"{where} (shot {shot.shot_id}) names {published[0]} v {published[1]}, "
                    f"the match is {info.home_team} v {info.away_team}",
                )
            pairs.append((where, shot))
    _check_shots(pairs, name, warnings)
    shots = [shot for _, shot in pairs]
    if info.home_goals is not None and info.away_goals is not None:
        counted = (
            sum(1 for s in shots if (s.side, s.result) in (("h", "Goal"), ("a", "OwnGoal"))),
            sum(1 for s in shots if (s.side, s.result) in (("a", "Goal"), ("h", "OwnGoal"))),
        )
        if counted != (info.home_goals, info.away_goals):
            warnings.append(
                f"the shots give {counted[0]}-{counted[1]} but the score is "
                f"{info.home_goals}-{info.away_goals}"
            )
    return UnderstatMatch(
        name=name,
        sha256=sha256_hex(raw),
        generation=payload.generation,
        match_info=info,
        shots=shots,
        warnings=warnings,
        team_matches=match_team_matches(info, shots),
    )


def match_team_matches(
    info: UnderstatMatchInfo, shots: list[UnderstatShot]
) -> list[UnderstatTeamMatch]:
    """The two sides of a played match page as team-match records (home, then away).

    Deep completions and PPDA are ``match_info``'s (``h_deep``, ``h_ppda``...; the
    passes/actions pair behind PPDA is not published there), npxG is the sum of
    the side's non-penalty shot xG (it can differ from the npxG of the league
    page, as match xG can differ from the shot-xG sum).  A match without a score
    or xG (not played yet) gives no record.
    """
    home_goals, away_goals = info.home_goals, info.away_goals
    home_xg, away_xg = info.home_xg, info.away_xg
    if home_goals is None or away_goals is None or home_xg is None or away_xg is None:
        return []
    npxg = {
        side: math.fsum(s.xg for s in shots if s.side == side and s.situation != "Penalty")
        for side in SIDES
    }
    sides = {
        "h": (info.home_team_id, info.home_team, home_goals, home_xg, info.home_deep),
        "a": (info.away_team_id, info.away_team, away_goals, away_xg, info.away_deep),
    }
    ppda = {"h": info.home_ppda, "a": info.away_ppda}
    records = []
    for side, other in (("h", "a"), ("a", "h")):
        team_id, team, goals_for, xg, deep = sides[side]
        opponent_id, opponent, goals_against, xga, deep_allowed = sides[other]
        records.append(
            UnderstatTeamMatch(
                match_id=info.match_id,
                kickoff=info.kickoff,
                side=side,
                team_id=team_id,
                team=team,
                opponent_id=opponent_id,
                opponent=opponent,
                goals_for=goals_for,
                goals_against=goals_against,
                xg=xg,
                xga=xga,
                npxg=npxg[side],
                npxga=npxg[other],
                ppda=ppda[side],
                ppda_allowed=ppda[other],
                ppda_att=None,
                ppda_def=None,
                ppda_allowed_att=None,
                ppda_allowed_def=None,
                deep=deep,
                deep_allowed=deep_allowed,
                xpts=None,
                origin="match",
            )
        )
    return records


# -------------------------------------------------------------------------------- CSV


def _decode_csv(raw: bytes, name: str) -> tuple[str, str]:
    if not raw.strip():
        raise RejectedFile(name, "empty", "the file has no content")
    if _looks_like_html(raw):
        _check_blocked(raw, name)
        raise RejectedFile(name, "not_csv", "the content is an HTML page, not a CSV")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise RejectedFile(name, "encoding", "the content holds NUL bytes, not a text CSV")
    return decode_text(raw, name)


def parse_understat_shots_csv(
    raw: bytes, name: str = "<bytes>", *, league: str | None = None
) -> UnderstatShotsFile:
    """Parse one shot-level Understat CSV export (all shots of one season).

    Matches are derived from the shots: kick-off, teams and goals from the shot
    rows, xG as the sum of each side's shot xG (0.0 for a side without a shot).
    A match in which neither side had a shot cannot appear.  ``league`` names the
    league (the file does not).  Raises :class:`RejectedFile` naming the failed
    check.
    """
    text, encoding = _decode_csv(raw, name)
    values = _Values(name)
    warnings: list[str] = []
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RejectedFile(name, "empty", "the file has no header line")
    header = [cell.strip().lstrip("\ufeff") for cell in rows[0]]
    index = {column: position for position, column in reversed(list(enumerate(header)))}
    missing = [column for column in CSV_MANDATORY if column not in index]
    if missing:
        raise RejectedFile(
            name,
            "mandatory_columns",
            f"missing column(s) {', '.join(missing)}; the header reads: {','.join(header)[:300]}",
        )
    if not raw.endswith(b"\n"):
        raise RejectedFile(
            name,
            "truncated",
            "the file does not end with a line break: the download was cut short",
        )

    understat_league, league_code = _resolve_league(None, league, name, warnings)
    width = len(header)
    pairs: list[tuple[str, UnderstatShot]] = []
    seasons: dict[str, int] = {}
    matches: dict[int, dict[str, Any]] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            raise RejectedFile(
                name, "columns", f"line {number} has {len(cells)} fields, the header {width}"
            )
        where = f"line {number}"

        def get(column: str, cells: list[str] = cells) -> str | None:
            position = index.get(column)
            return cells[position] if position is not None else None

        shot = _shot(values, get, where)
        try:
            season = understat_season(values.integer(get("season"), f"{where} season"))
        except ValueError as exc:
            raise values.fail(f"{where} season", str(exc)) from None
        seasons.setdefault(season, number)
        kickoff = values.kickoff(get("date"), f"{where} date")
        home = values.text(get("h_team"), f"{where} h_team")
        away = values.text(get("a_team"), f"{where} a_team")
        home_goals = values.optional_integer(get("h_goals"), f"{where} h_goals")
        away_goals = values.optional_integer(get("a_goals"), f"{where} a_goals")
        identity = (season, kickoff, home, away, home_goals, away_goals)
        entry = matches.get(shot.match_id)
        if entry is None:
            matches[shot.match_id] = {"identity": identity, "line": number, "h": [], "a": []}
            entry = matches[shot.match_id]
        elif entry["identity"] != identity:
            raise RejectedFile(
                name,
                "inconsistent_match",
                f"{where}: match {shot.match_id} is {home} v {away} {kickoff} "
                f"({home_goals}-{away_goals}) but line {entry['line']} says "
                f"{entry['identity'][2]} v {entry['identity'][3]} {entry['identity'][1]} "
                f"({entry['identity'][4]}-{entry['identity'][5]})",
            )
        entry[shot.side].append(shot.xg)
        pairs.append((where, shot))
    if not pairs:
        raise RejectedFile(name, "empty", "the file has a header but no shots")
    if len(seasons) != 1:
        shown = ", ".join(f"{season} (line {line})" for season, line in seasons.items())
        raise RejectedFile(name, "single_season", f"one season per file, found {shown}")
    _check_shots(pairs, name, warnings)

    derived = []
    for match_id, entry in matches.items():
        season, kickoff, home, away, home_goals, away_goals = entry["identity"]
        if home == away:
            raise RejectedFile(
                name,
                "distinct_teams",
                f"line {entry['line']}: match {match_id}: {home} plays itself",
            )
        derived.append(
            UnderstatShotsMatch(
                match_id=match_id,
                season=season,
                kickoff=kickoff,
                home_team=home,
                away_team=away,
                home_goals=home_goals,
                away_goals=away_goals,
                home_xg_sum=math.fsum(entry["h"]),
                away_xg_sum=math.fsum(entry["a"]),
                home_shots=len(entry["h"]),
                away_shots=len(entry["a"]),
            )
        )
    derived.sort(key=lambda match: (match.kickoff, match.match_id))
    (season,) = seasons
    return UnderstatShotsFile(
        name=name,
        sha256=sha256_hex(raw),
        encoding=encoding,
        understat_league=understat_league,
        league=league_code,
        season=season,
        shots=[shot for _, shot in pairs],
        matches=derived,
        warnings=warnings,
    )
