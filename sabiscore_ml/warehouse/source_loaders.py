"""Load Understat, FBref and Transfermarkt records reconciled to the warehouse.

One transaction per raw file; the caller owns the transaction.

Teams are reconciled one league-season at a time against the football-data roster
of the same league-season (:mod:`sabiscore_ml.reconcile`); a name that does not
reconcile stops the load.  A source match is linked to the warehouse match with
the same (reconciled) home and away teams within one day of its date: Understat
timestamps carry no time zone, so the date alone is never trusted to the day.

Several files of one source can give the same match or shot (Understat's league
page, match page and shot CSV).  Which one a field comes from never depends on
the order the files arrive in: a played record beats a scheduled one, then the
file kind with the higher :data:`ORIGIN_RANKS` rank wins, and a field the winner
lacks is filled from the other record (the newer copy of the same kind of file
replaces the older one).  xG and shot coordinates are stored at
:data:`FIGURE_DIGITS` significant digits, whichever file gave them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import get_league, season_start_year
from sabiscore_ml.reconcile import Reconciliation, ReconciliationError, reconcile_roster
from sabiscore_ml.sources.football_data import SOURCE as FOOTBALL_DATA
from sabiscore_ml.warehouse.models import (
    Match,
    MatchXg,
    RawFile,
    Season,
    Shot,
    SourceMatch,
    SquadValue,
    Team,
    TeamAlias,
    TeamMatchLog,
    TeamSeasonStats,
)
from sabiscore_ml.warehouse.teams import alias_key
from sabiscore_ml.warehouse.upsert import upsert

LINK_TOLERANCE = dt.timedelta(days=1)

# Per source, the rank of each kind of file giving matches (higher wins a field both give):
# Understat's league page and match page publish the match xG (6 significant digits), its
# shot CSV only gives the sums of the shots' xG, which differ (14086: 2.16287 published,
# 2.7199 summed); FBref's match report and schedule print the same one-decimal figures.
ORIGIN_RANKS: dict[str, dict[str, int]] = {
    "understat": {"league": 3, "match": 2, "shots_csv": 1},
    "fbref": {"match": 2, "schedule": 1},
}
# xG and shot coordinates are stored at this many significant digits: Understat's published
# precision (its shot figures are single-precision floats, printed with 17 digits by its
# pages and 16 by the shot CSVs); FBref's one-decimal figures are unchanged.
FIGURE_DIGITS = 6


def round_figure(value: float | None) -> float | None:
    """``value`` at :data:`FIGURE_DIGITS` significant digits (None and NaN: None)."""
    if value is None or value != value:
        return None
    return float(f"{value:.{FIGURE_DIGITS}g}")


@dataclass(slots=True)
class LoadCounts:
    """Rows written by one load, and how many source teams/matches were matched."""

    rows: int = 0
    matches_linked: int = 0
    matches_unlinked: int = 0
    matches_with_xg: int = 0  # linked matches whose xG the warehouse now holds from this source
    teams_matched: int = 0
    shots: int = 0
    team_match_logs: int = 0
    league: str | None = None  # the league found while loading, for a file that names none
    summary: str | None = None  # what was loaded, when the counts above do not say it
    notes: list[str] = field(default_factory=list)  # warnings: loaded, but worth a look
    # some rows of a league we follow found no team to tie to: the file is worth
    # loading again once football-data brings more teams
    awaits_teams: bool = False


def canonical_roster(connection: Connection, league: str, season: str) -> dict[str, int]:
    """Team name -> id of the football-data teams that played ``league`` in ``season``."""
    home = select(Match.home_team_id.label("team_id")).where(
        Match.league_code == league, Match.season_code == season
    )
    away = select(Match.away_team_id.label("team_id")).where(
        Match.league_code == league, Match.season_code == season
    )
    ids = {row[0] for row in connection.execute(home.union(away))}
    if not ids:
        return {}
    return dict(connection.execute(select(Team.name, Team.id).where(Team.id.in_(ids))).all())


def country_roster(connection: Connection, country: str) -> dict[str, int]:
    """Every football-data team of a country (for a league-season the warehouse lacks)."""
    return dict(connection.execute(select(Team.name, Team.id).where(Team.country == country)).all())


def reconcile_teams(
    connection: Connection,
    *,
    source: str,
    league: str,
    season: str,
    names: Iterable[str],
    name: str,
) -> dict[str, int]:
    """Source team name -> warehouse team id for one league-season, or a rejection.

    Names are matched against the football-data roster of the league-season, or,
    when the warehouse has no match of that league-season (a season football-data
    does not cover yet), against every football-data team of the country.  The
    matches found are recorded as the source's aliases in ``team_aliases``.
    """
    country = get_league(league).country
    roster = canonical_roster(connection, league, season) or country_roster(connection, country)
    if not roster:
        raise RejectedFile(
            name,
            "reconcile",
            f"no {FOOTBALL_DATA} teams of {country} in the warehouse: load {league} first",
        )
    try:
        result = reconcile_roster(
            names, roster, source=source, country=country, league=league, season=season
        )
    except ReconciliationError as exc:
        raise RejectedFile(name, "reconcile", exc.reconciliation.report()) from exc
    return _record_aliases(connection, source, country, result.matched, roster)


def _record_aliases(
    connection: Connection,
    source: str,
    country: str,
    matched: dict[str, str],
    roster: dict[str, int],
) -> dict[str, int]:
    """Record the source's spellings that matched as aliases; return spelling -> team id."""
    upsert(
        connection,
        TeamAlias.__table__,
        [
            {
                "source": source,
                "country": country,
                "alias_key": alias_key(spelled),
                "alias": spelled,
                "team_id": roster[canonical],
            }
            for spelled, canonical in matched.items()
        ],
        ["source", "country", "alias_key"],
        update=["team_id"],
    )
    return {spelled: roster[canonical] for spelled, canonical in matched.items()}


def reconcile_known_teams(
    connection: Connection,
    *,
    source: str,
    league: str,
    season: str | None,
    names: Iterable[str],
) -> tuple[dict[str, int], Reconciliation | None]:
    """Like :func:`reconcile_teams`, for names that need not all be teams we hold.

    For clubs of a league-season the warehouse lacks (a club promoted after the
    last season football-data covers has no team to match): the names are
    matched against every team of the country, by the same rules; the matches
    are returned and recorded as aliases, the rest (and any ambiguous name) is
    left out.  Returns the matches and the reconciliation, for its report (None
    when the warehouse has no team of the country).
    """
    country = get_league(league).country
    roster = country_roster(connection, country)
    if not roster:
        return {}, None
    result = reconcile_roster(
        names, roster, source=source, country=country, league=league, season=season, strict=False
    )
    shared = {name for names in result.ambiguous.values() for name in names}
    matched = {spelled: team for spelled, team in result.matched.items() if spelled not in shared}
    return _record_aliases(connection, source, country, matched, roster), result


def known_team_ids(
    connection: Connection, *, source: str, league: str, names: Iterable[str]
) -> dict[str, int]:
    """Spelling -> team id for the names ``source`` already has an alias for in the country.

    No reconciliation and no guess: a name without an exact alias of this
    source in the league's country is left out.
    """
    keys = {spelled: alias_key(spelled) for spelled in set(names)}
    if not keys:
        return {}
    found = dict(
        connection.execute(
            select(TeamAlias.alias_key, TeamAlias.team_id).where(
                TeamAlias.source == source,
                TeamAlias.country == get_league(league).country,
                TeamAlias.alias_key.in_(set(keys.values())),
            )
        ).all()
    )
    return {spelled: found[key] for spelled, key in keys.items() if key in found}


def link_matches(
    connection: Connection,
    *,
    league: str,
    season: str,
    fixtures: Sequence[tuple[str, dt.date, int, int]],
) -> dict[str, int | None]:
    """Key -> warehouse match id for ``(key, date, home_id, away_id)`` fixtures.

    A fixture links when exactly one warehouse match of the league-season has the
    same teams within one day; otherwise it stays unlinked (None).
    """
    by_teams: dict[tuple[int, int], list[tuple[dt.date, int]]] = {}
    rows = connection.execute(
        select(Match.id, Match.match_date, Match.home_team_id, Match.away_team_id).where(
            Match.league_code == league, Match.season_code == season
        )
    )
    for match_id, day, home, away in rows:
        by_teams.setdefault((home, away), []).append((day, match_id))
    links: dict[str, int | None] = {}
    for key, day, home, away in fixtures:
        near = [
            match_id
            for other, match_id in by_teams.get((home, away), [])
            if abs(other - day) <= LINK_TOLERANCE
        ]
        links[key] = near[0] if len(near) == 1 else None
    return links


def ensure_season(connection: Connection, season: str) -> None:
    """Add ``season`` to the seasons table if it is not there."""
    upsert(
        connection,
        Season.__table__,
        [{"code": season, "start_year": season_start_year(season)}],
        ["code"],
        update=[],
    )


@dataclass(frozen=True, slots=True)
class SourceFixture:
    """A source's match, in the shape every source loader writes."""

    source_match_id: str
    match_date: dt.date
    home_name: str
    away_name: str
    status: str
    home_goals: int | None = None
    away_goals: int | None = None
    home_xg: float | None = None
    away_xg: float | None = None
    kickoff_published: dt.datetime | None = None
    kickoff_utc: dt.datetime | None = None
    details: dict[str, Any] | None = None


def load_source_fixtures(
    connection: Connection,
    *,
    source: str,
    league: str,
    season: str,
    fixtures: Sequence[SourceFixture],
    sha256: str,
    name: str,
    xg: bool = True,
    origin: str | None = None,
) -> tuple[LoadCounts, dict[str, int], dict[str, int | None]]:
    """Reconcile, link and upsert fixtures (and their xG); return counts, team ids, links.

    ``origin`` is the kind of file (a key of :data:`ORIGIN_RANKS`): a stored
    record of the same match is merged with the new one by :func:`merge_source_match`,
    and ``match_xg`` gets the merged figures.
    """
    ensure_season(connection, season)
    teams = reconcile_teams(
        connection,
        source=source,
        league=league,
        season=season,
        names={f.home_name for f in fixtures} | {f.away_name for f in fixtures},
        name=name,
    )
    links = link_matches(
        connection,
        league=league,
        season=season,
        fixtures=[
            (f.source_match_id, f.match_date, teams[f.home_name], teams[f.away_name])
            for f in fixtures
        ],
    )
    rows = [_source_match_row(f, source, league, season, teams, links, sha256) for f in fixtures]
    stored = _stored_source_matches(connection, source, [row["source_match_id"] for row in rows])
    ranks = ORIGIN_RANKS.get(source, {})
    rows = [
        merge_source_match(stored.get(row["source_match_id"]), row, origin, ranks) for row in rows
    ]
    for row in rows:
        details = row["details_json"]
        row["details_json"] = json.dumps(details, sort_keys=True) if details else None
    xg_rows = [
        {
            "match_id": row["match_id"],
            "source": source,
            "home_xg": row["home_xg"],
            "away_xg": row["away_xg"],
            "raw_sha256": row.pop("xg_sha256"),
        }
        for row in rows
        if row["match_id"] is not None and row["home_xg"] is not None
    ]
    for row in rows:
        row.pop("xg_sha256", None)
    upsert(connection, SourceMatch.__table__, rows, ["source", "source_match_id"])
    if xg:
        upsert(connection, MatchXg.__table__, xg_rows, ["match_id", "source"])
    linked = sum(1 for value in links.values() if value is not None)
    counts = LoadCounts(
        rows=len(rows),
        matches_linked=linked,
        matches_unlinked=len(links) - linked,
        matches_with_xg=len({row["match_id"] for row in xg_rows}) if xg else 0,
        teams_matched=len(teams),
    )
    return counts, teams, links


def _source_match_row(
    f: SourceFixture,
    source: str,
    league: str,
    season: str,
    teams: dict[str, int],
    links: dict[str, int | None],
    sha256: str,
) -> dict[str, Any]:
    """The ``source_matches`` row of a fixture (details as a dict, xG rounded)."""
    return {
        "source": source,
        "source_match_id": f.source_match_id,
        "league_code": league,
        "season_code": season,
        "match_date": f.match_date,
        "kickoff_published": f.kickoff_published,
        "kickoff_utc": f.kickoff_utc,
        "home_name": f.home_name,
        "away_name": f.away_name,
        "home_team_id": teams[f.home_name],
        "away_team_id": teams[f.away_name],
        "match_id": links[f.source_match_id],
        "status": f.status,
        "home_goals": f.home_goals,
        "away_goals": f.away_goals,
        "home_xg": round_figure(f.home_xg),
        "away_xg": round_figure(f.away_xg),
        "details_json": dict(f.details or {}),
        "raw_sha256": sha256,
    }


def _stored_source_matches(
    connection: Connection, source: str, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The stored ``source_matches`` rows of ``source`` with these ids (details decoded)."""
    table = SourceMatch.__table__
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for row in connection.execute(
            select(table).where(table.c.source == source, table.c.source_match_id.in_(chunk))
        ).mappings():
            stored = dict(row)
            stored["details_json"] = json.loads(stored["details_json"] or "{}")
            found[stored["source_match_id"]] = stored
    return found


# Fields taken together from one record: a score or an xG pair never mixes two files.
_FIELD_GROUPS = (
    ("match_date", "kickoff_published"),
    ("kickoff_utc",),
    ("home_goals", "away_goals"),
    ("home_xg", "away_xg"),
    ("match_id",),
)


def merge_source_match(
    stored: dict[str, Any] | None,
    new: dict[str, Any],
    origin: str | None,
    ranks: dict[str, int],
) -> dict[str, Any]:
    """The record kept for a match two files of one source give, whatever their order.

    The winner is the played record, then the one whose file kind (``origin``,
    kept in the details as ``origin``) ranks higher in ``ranks``; at equal rank
    the new record (a newer copy of the same kind of file).  The winner's fields
    are kept and those it lacks (a group of :data:`_FIELD_GROUPS` all None,
    a details key) come from the other record.  Adds ``xg_sha256``: the file the
    kept xG came from.
    """
    if origin is not None:
        new["details_json"]["origin"] = origin
    new = {**new, "xg_sha256": new["raw_sha256"]}
    if stored is None:
        return new
    stored = {**stored, "xg_sha256": stored["raw_sha256"]}

    def standing(row: dict[str, Any]) -> tuple[bool, int]:
        return row["status"] == "played", ranks.get(row["details_json"].get("origin"), 0)

    first, second = (new, stored) if standing(new) >= standing(stored) else (stored, new)
    merged = dict(first)
    for group in _FIELD_GROUPS:
        if all(first[field] is None for field in group):
            merged.update({field: second[field] for field in group})
            if group == ("home_xg", "away_xg"):
                merged["xg_sha256"] = second["xg_sha256"]
    merged["details_json"] = {**second["details_json"], **first["details_json"]}
    return merged


def load_shots(
    connection: Connection,
    *,
    source: str,
    shots: Sequence[dict[str, Any]],
    links: dict[str, int | None],
    team_ids: Mapping[str, int | None],
    replaces: Callable[[str], bool] | None = None,
) -> int:
    """Upsert shots (dicts with the ``shots`` columns, ``team`` as a source team name).

    xG and coordinates are stored at :data:`FIGURE_DIGITS` significant digits.
    ``replaces`` is asked about the raw file (its URI) of every stored shot a new
    row would replace: where it says False, the stored shot stays as it is (a
    shot CSV never replaces the shot a match page gave).  Returns the shots read.
    """
    rows = []
    for shot in shots:
        row = {key: value for key, value in shot.items() if key != "team"}
        row["source"] = source
        row["match_id"] = links.get(shot["source_match_id"])
        row["team_id"] = team_ids.get(shot["team"])
        for figure in ("x", "y", "xg"):
            row[figure] = round_figure(row[figure])
        rows.append(row)
    if replaces is not None and rows:
        kept = {
            shot_id
            for shot_id, uri in _stored_shot_files(
                connection, source, [row["source_shot_id"] for row in rows]
            )
            if not replaces(uri)
        }
        rows = [row for row in rows if row["source_shot_id"] not in kept]
    upsert(connection, Shot.__table__, rows, ["source", "source_shot_id"])
    return len(shots)


def _stored_shot_files(
    connection: Connection, source: str, shot_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """(shot id, URI of the raw file it came from) of the stored shots of ``source``."""
    found: list[tuple[str, str]] = []
    for start in range(0, len(shot_ids), 500):
        chunk = list(shot_ids[start : start + 500])
        found.extend(
            (row[0], row[1])
            for row in connection.execute(
                select(Shot.source_shot_id, RawFile.uri)
                .join(RawFile, RawFile.sha256 == Shot.raw_sha256)
                .where(Shot.source == source, Shot.source_shot_id.in_(chunk))
            )
        )
    return found


TEAM_MATCH_LOG_KEY = (
    "source",
    "team_id",
    "match_date",
    "competition",
    "opponent_name",
    "stat_type",
)


def load_team_match_logs(
    connection: Connection,
    rows: Sequence[dict[str, Any]],
    *,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> int:
    """Upsert ``team_match_logs`` rows on their natural key; return the rows written.

    ``keep`` is asked about every stored row that a new row would replace (its
    decoded ``stats_json``): where it says True, the stored row stays as it is.
    """
    if keep is not None and rows:
        table = TeamMatchLog.__table__
        stored = connection.execute(
            select(*(table.c[column] for column in TEAM_MATCH_LOG_KEY), table.c.stats_json).where(
                table.c.source.in_({row["source"] for row in rows}),
                table.c.team_id.in_({row["team_id"] for row in rows}),
                table.c.match_date.in_({row["match_date"] for row in rows}),
            )
        )
        kept = {tuple(found[:-1]) for found in stored if keep(json.loads(found[-1] or "{}"))}
        rows = [row for row in rows if tuple(row[c] for c in TEAM_MATCH_LOG_KEY) not in kept]
    upsert(connection, TeamMatchLog.__table__, rows, TEAM_MATCH_LOG_KEY)
    return len(rows)


def load_squad_values(
    connection: Connection,
    *,
    source: str,
    league: str,
    season: str,
    values: Sequence[tuple[str, dt.date, float | None, int | None]],
    sha256: str,
    name: str,
) -> LoadCounts:
    """Upsert (club name, as-of date, value in euros, squad size) rows of one league-season."""
    ensure_season(connection, season)
    teams = reconcile_teams(
        connection,
        source=source,
        league=league,
        season=season,
        names={club for club, _, _, _ in values},
        name=name,
    )
    rows = [
        {
            "team_id": teams[club],
            "source": source,
            "as_of": as_of,
            "season_code": season,
            "market_value_eur": value,
            "squad_size": size,
            "raw_sha256": sha256,
        }
        for club, as_of, value, size in values
    ]
    upsert(connection, SquadValue.__table__, rows, ["team_id", "source", "as_of"])
    return LoadCounts(rows=len(rows), teams_matched=len(teams))


def load_team_season_stats(
    connection: Connection,
    *,
    source: str,
    league: str,
    season: str,
    rows: Sequence[tuple[str, str, dict[str, Any]]],
    sha256: str,
    name: str,
) -> LoadCounts:
    """Upsert (team name, table id, stats) rows of one league-season."""
    ensure_season(connection, season)
    teams = reconcile_teams(
        connection,
        source=source,
        league=league,
        season=season,
        names={team for team, _, _ in rows},
        name=name,
    )
    written = [
        {
            "source": source,
            "team_id": teams[team],
            "season_code": season,
            "table_id": table_id,
            "stats_json": json.dumps(stats, sort_keys=True, default=str),
            "raw_sha256": sha256,
        }
        for team, table_id, stats in rows
    ]
    upsert(
        connection,
        TeamSeasonStats.__table__,
        written,
        ["source", "team_id", "season_code", "table_id"],
    )
    return LoadCounts(rows=len(written), teams_matched=len(teams))
