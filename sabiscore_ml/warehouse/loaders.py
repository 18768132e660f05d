"""Write parsed source records into the warehouse, one transaction per raw file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, delete, select, update

from sabiscore_ml.leagues import get_league, season_start_year
from sabiscore_ml.sources.football_data import (
    SOURCE,
    STAT_COLUMNS,
    OddsQuote,
    ParsedFile,
    ParsedFixtures,
)
from sabiscore_ml.warehouse.models import Match, Odds, OddsSnapshot, RawFile, Season
from sabiscore_ml.warehouse.snapshots import check_lookback, season_quote_time, write_snapshots
from sabiscore_ml.warehouse.teams import resolve_teams
from sabiscore_ml.warehouse.upsert import upsert

# football-data.co.uk publishes kick-off times in UK local time for every league.
FOOTBALL_DATA_TZ = ZoneInfo("Europe/London")
_UTC = ZoneInfo("UTC")


def _kickoff_utc(day: dt.date, time: dt.time | None) -> dt.datetime | None:
    if time is None:
        return None
    local = dt.datetime.combine(day, time, tzinfo=FOOTBALL_DATA_TZ)
    return local.astimezone(_UTC).replace(tzinfo=None)


def upsert_raw_file(
    connection: Connection, *, sha256: str, source: str, uri: str, size: int, path: str
) -> None:
    """Record a raw file (first sighting wins; later loads of the same bytes change nothing)."""
    upsert(
        connection,
        RawFile.__table__,
        [
            {
                "sha256": sha256,
                "source": source,
                "uri": uri,
                "size_bytes": size,
                "archive_path": path,
                "first_seen_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
            }
        ],
        ["sha256"],
        update=[],
    )


def _season_and_teams(connection: Connection, parsed: ParsedFile) -> dict[str, int]:
    """Record the file's season; return its team names' warehouse ids (football-data's aliases)."""
    league = get_league(parsed.league)
    upsert(
        connection,
        Season.__table__,
        [{"code": parsed.season, "start_year": season_start_year(parsed.season)}],
        ["code"],
        update=[],
    )
    names = {m.home_team for m in parsed.matches} | {m.away_team for m in parsed.matches}
    return resolve_teams(connection, source=SOURCE, country=league.country, names=names)


ODDS_KEY = ["match_id", "bookmaker", "market", "timing", "line", "outcome"]


def _odds_row(match_id: int, quote: OddsQuote, sha256: str) -> dict[str, object]:
    """The ``odds`` row of one quote of a match, traced to its raw file."""
    return {
        "match_id": match_id,
        "bookmaker": quote.bookmaker,
        "market": quote.market,
        "timing": quote.timing,
        "line": quote.line,
        "outcome": quote.outcome,
        "price": quote.price,
        "raw_sha256": sha256,
    }


def load_football_data(
    connection: Connection, parsed: ParsedFile, *, batch_size: int = 5000
) -> tuple[int, int]:
    """Upsert a parsed football-data file's matches and odds; return (matches, odds).

    The caller owns the transaction and must have recorded the raw file.
    """
    team_ids = _season_and_teams(connection, parsed)

    match_rows = []
    for m in parsed.matches:
        row = {
            "league_code": parsed.league,
            "season_code": parsed.season,
            "match_date": m.match_date,
            "home_team_id": team_ids[m.home_team],
            "away_team_id": team_ids[m.away_team],
            "kickoff_time": m.kickoff_time,
            "kickoff_utc": _kickoff_utc(m.match_date, m.kickoff_time),
            "home_goals": m.home_goals,
            "away_goals": m.away_goals,
            "result": m.result,
            "ht_home_goals": m.ht_home_goals,
            "ht_away_goals": m.ht_away_goals,
            "referee": m.referee,
            "attendance": m.attendance,
            "raw_sha256": parsed.sha256,
        }
        for column in STAT_COLUMNS.values():
            row[column] = m.stats.get(column)
        match_rows.append(row)
    key = ["league_code", "season_code", "match_date", "home_team_id", "away_team_id"]
    upsert(connection, Match.__table__, match_rows, key, batch_size=batch_size)

    ids = {
        (day, home, away): match_id
        for match_id, day, home, away in connection.execute(
            select(Match.id, Match.match_date, Match.home_team_id, Match.away_team_id).where(
                Match.league_code == parsed.league, Match.season_code == parsed.season
            )
        )
    }
    odds_rows: list[dict[str, object]] = []
    snapshot_rows: list[dict[str, object]] = []
    for m, row in zip(parsed.matches, match_rows, strict=True):
        match_id = ids[(m.match_date, team_ids[m.home_team], team_ids[m.away_team])]
        kickoff = row["kickoff_utc"]
        assert kickoff is None or isinstance(kickoff, dt.datetime)
        times = {t: season_quote_time(m.match_date, kickoff, t) for t in ("preclose", "close")}
        for q in m.odds:
            odds_row = _odds_row(match_id, q, parsed.sha256)
            odds_rows.append(odds_row)
            snapshot_rows.append({**odds_row, "taken_at": times[q.timing]})
    upsert(connection, Odds.__table__, odds_rows, ODDS_KEY, batch_size=batch_size)
    write_snapshots(connection, snapshot_rows, batch_size=batch_size)
    return len(match_rows), len(odds_rows)


# An unplayed fixture is taken for one rescheduled only this close to its new day: the
# same home side can host the same visitor twice in a season (the Scottish leagues).
RESCHEDULE_MAX_DAYS = 60


@dataclass(slots=True)
class FixturesLoad:
    """What loading a ``fixtures.csv`` did (per league-season and in total)."""

    per_league_season: dict[str, int] = field(default_factory=dict)  # "E0 2024-2025" -> fixtures
    matches: int = 0  # fixtures inserted, updated or already current
    inserted: int = 0
    odds: int = 0  # pre-closing quotes written
    played: list[str] = field(default_factory=list)  # listed, but the warehouse has the result
    moved: list[str] = field(default_factory=list)  # an unplayed fixture moved to another day
    superseded: int = 0  # priced fixtures whose current prices come from a later copy


def _priced_after(connection: Connection, match_ids: list[int], taken_at: dt.datetime) -> set[int]:
    """The matches of ``match_ids`` with a pre-closing snapshot taken after ``taken_at``."""
    later: set[int] = set()
    for start in range(0, len(match_ids), 20_000):
        later.update(
            connection.execute(
                select(OddsSnapshot.match_id)
                .where(OddsSnapshot.match_id.in_(match_ids[start : start + 20_000]))
                .where(OddsSnapshot.timing == "preclose", OddsSnapshot.taken_at > taken_at)
                .distinct()
            ).scalars()
        )
    return later


def _describe(day: dt.date, home: str, away: str) -> str:
    return f"{day} {home} v {away}"


def load_football_data_fixtures(
    connection: Connection,
    parsed: ParsedFixtures,
    *,
    taken_at: dt.datetime,
    batch_size: int = 5000,
) -> FixturesLoad:
    """Load upcoming fixtures and their current pre-closing odds; never touch a played match.

    Fixtures take the season files' natural key (league, season, date, home, away)
    and team names (``resolve_teams`` with source ``football-data``):

    * a new fixture is inserted without a result;
    * a fixture already in the warehouse and unplayed may only have its kick-off
      time (and UTC kick-off) and referee changed;
    * a fixture whose warehouse match has a result is skipped (``played``);
    * an unplayed match of the same league, season, home and away team on another
      day at most :data:`RESCHEDULE_MAX_DAYS` away, that this file does not list,
      is the same fixture rescheduled: it is moved to the new day (``moved``)
      instead of leaving a second, phantom fixture.

    Odds: every quote of the file is kept as a snapshot taken at ``taken_at``
    (naive UTC; the same copy loaded again adds nothing).  The file's quotes
    are also the *current* pre-closing prices (``odds``) of every unplayed
    fixture it prices, replacing all its earlier ``preclose`` quotes (a line or
    bookmaker no longer quoted goes), unless a copy taken later already priced
    it (a replay of an older copy: ``superseded``); a fixture listed without
    prices keeps its earlier ones.  Closing prices are never written from here.
    The caller owns the transaction and must have recorded the raw file.
    """
    report = FixturesLoad()
    for group in parsed.files:
        team_ids = _season_and_teams(connection, group)
        stored = connection.execute(
            select(
                Match.id,
                Match.match_date,
                Match.home_team_id,
                Match.away_team_id,
                Match.kickoff_time,
                Match.kickoff_utc,
                Match.referee,
                Match.home_goals,
                Match.result,
            ).where(Match.league_code == group.league, Match.season_code == group.season)
        ).all()
        by_key = {(r.match_date, r.home_team_id, r.away_team_id): r for r in stored}
        listed = {
            (m.match_date, team_ids[m.home_team], team_ids[m.away_team]) for m in group.matches
        }
        movable: dict[tuple[int, int], list[Row[*tuple[Any, ...]]]] = {}
        for r in stored:
            key = (r.match_date, r.home_team_id, r.away_team_id)
            if r.home_goals is None and r.result is None and key not in listed:
                movable.setdefault((r.home_team_id, r.away_team_id), []).append(r)

        inserts, updates, kept = [], [], []
        for m in group.matches:
            home, away = team_ids[m.home_team], team_ids[m.away_team]
            values: dict[str, object] = {
                "kickoff_time": m.kickoff_time,
                "kickoff_utc": _kickoff_utc(m.match_date, m.kickoff_time),
                "referee": m.referee,
            }
            current = by_key.get((m.match_date, home, away))
            candidates = [
                r
                for r in movable.get((home, away), [])
                if abs((r.match_date - m.match_date).days) <= RESCHEDULE_MAX_DAYS
            ]
            if current is None and candidates:
                current = min(candidates, key=lambda r: abs((r.match_date - m.match_date).days))
                movable[(home, away)].remove(current)
                values["match_date"] = m.match_date
                report.moved.append(
                    f"{_describe(current.match_date, m.home_team, m.away_team)} -> {m.match_date}"
                )
            if current is None:
                inserts.append(
                    {
                        "league_code": group.league,
                        "season_code": group.season,
                        "match_date": m.match_date,
                        "home_team_id": home,
                        "away_team_id": away,
                        **values,
                        "raw_sha256": parsed.sha256,
                    }
                )
                kept.append(m)
                continue
            if current.home_goals is not None or current.result is not None:
                report.played.append(_describe(m.match_date, m.home_team, m.away_team))
                continue
            if any(getattr(current, column) != value for column, value in values.items()):
                updates.append({"match_id": current.id, **values})
            kept.append(m)
        natural_key = ["league_code", "season_code", "match_date", "home_team_id", "away_team_id"]
        upsert(connection, Match.__table__, inserts, natural_key, update=[], batch_size=batch_size)
        for row in updates:  # a handful per file
            match_id = row.pop("match_id")
            connection.execute(update(Match).where(Match.id == match_id).values(**row))
        ids = {
            (day, home, away): match_id
            for match_id, day, home, away in connection.execute(
                select(Match.id, Match.match_date, Match.home_team_id, Match.away_team_id).where(
                    Match.league_code == group.league, Match.season_code == group.season
                )
            )
        }
        quoted: dict[int, list[dict[str, object]]] = {}
        for m in kept:
            match_id = ids[(m.match_date, team_ids[m.home_team], team_ids[m.away_team])]
            rows = [_odds_row(match_id, q, parsed.sha256) for q in m.odds if q.timing == "preclose"]
            if rows:
                check_lookback(
                    m.match_date, taken_at, _describe(m.match_date, m.home_team, m.away_team)
                )
                quoted[match_id] = rows
        write_snapshots(
            connection,
            [{**row, "taken_at": taken_at} for rows in quoted.values() for row in rows],
            batch_size=batch_size,
        )
        later = _priced_after(connection, list(quoted), taken_at)
        report.superseded += len(later)
        priced = [match_id for match_id in quoted if match_id not in later]
        odds_rows = [row for match_id in priced for row in quoted[match_id]]
        if priced:
            connection.execute(
                delete(Odds).where(Odds.match_id.in_(priced), Odds.timing == "preclose")
            )
        upsert(connection, Odds.__table__, odds_rows, ODDS_KEY, batch_size=batch_size)
        report.per_league_season[f"{group.league} {group.season}"] = len(kept)
        report.matches += len(kept)
        report.inserted += len(inserts)
        report.odds += len(odds_rows)
    return report
