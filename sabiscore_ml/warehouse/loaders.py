"""Write parsed source records into the warehouse, one transaction per raw file."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from sabiscore_ml.leagues import get_league, season_start_year
from sabiscore_ml.sources.football_data import SOURCE, STAT_COLUMNS, ParsedFile
from sabiscore_ml.warehouse.models import Match, Odds, RawFile, Season
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


def load_football_data(
    connection: Connection, parsed: ParsedFile, *, batch_size: int = 5000
) -> tuple[int, int]:
    """Upsert a parsed football-data file's matches and odds; return (matches, odds).

    The caller owns the transaction and must have recorded the raw file.
    """
    league = get_league(parsed.league)
    upsert(
        connection,
        Season.__table__,
        [{"code": parsed.season, "start_year": season_start_year(parsed.season)}],
        ["code"],
        update=[],
    )
    names = {m.home_team for m in parsed.matches} | {m.away_team for m in parsed.matches}
    team_ids = resolve_teams(connection, source=SOURCE, country=league.country, names=names)

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
    odds_rows = []
    for m in parsed.matches:
        match_id = ids[(m.match_date, team_ids[m.home_team], team_ids[m.away_team])]
        for q in m.odds:
            odds_rows.append(
                {
                    "match_id": match_id,
                    "bookmaker": q.bookmaker,
                    "market": q.market,
                    "timing": q.timing,
                    "line": q.line,
                    "outcome": q.outcome,
                    "price": q.price,
                    "raw_sha256": parsed.sha256,
                }
            )
    odds_key = ["match_id", "bookmaker", "market", "timing", "line", "outcome"]
    upsert(connection, Odds.__table__, odds_rows, odds_key, batch_size=batch_size)
    return len(match_rows), len(odds_rows)
