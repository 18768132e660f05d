"""Ingest Understat, FBref and Transfermarkt files: archive, parse, reconcile, load.

Each raw file is one unit of work, as for football-data: its bytes are archived
under their hash, parsed by the source's pure parser (the kind of page is
recognised from the content), reconciled to the warehouse's teams and matches,
and loaded in one transaction.  A file that fails a check — including a team
name that does not reconcile — is quarantined in the archive, logged in
``ingestion_runs`` with the check, and leaves the warehouse as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.jobs.football_data import (
    FAILED,
    LOADED,
    REJECTED,
    SKIPPED,
    IngestOutcome,
    now_utc,
    read_input,
    record_run,
)
from sabiscore_ml.leagues import LEAGUES, normalize_season
from sabiscore_ml.sources import fbref, transfermarkt, understat
from sabiscore_ml.sources.archive import archive_raw
from sabiscore_ml.sources.reading import decompress, parse_failures, sha256_hex
from sabiscore_ml.validation import validate_source_records, validate_squad_values
from sabiscore_ml.warehouse import transfermarkt_loaders as tm_loaders
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.loaders import upsert_raw_file
from sabiscore_ml.warehouse.models import TeamMatchLog
from sabiscore_ml.warehouse.source_loaders import (
    LoadCounts,
    SourceFixture,
    known_team_ids,
    load_shots,
    load_source_fixtures,
    load_squad_values,
    load_team_match_logs,
    load_team_season_stats,
    reconcile_teams,
)
from sabiscore_ml.warehouse.upsert import upsert

log = logging.getLogger(__name__)

SOURCES = ("understat", "fbref", "transfermarkt")
_EXTENSIONS = (".html", ".htm", ".json", ".csv", ".html.gz", ".json.gz", ".csv.gz")


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed raw file: where it belongs, and how to load it.

    ``league``/``season`` are None for a table spanning several (a dataset
    table) or whose league is found while loading; ``load`` is None for a file
    with nothing to load, ``skip_reason`` saying why.
    """

    kind: str
    league: str | None
    season: str | None
    load: Callable[[Connection, str, str], LoadCounts] | None  # (connection, sha256, name)
    skip_reason: str | None = None


def _require_league(league: str | None, name: str, what: str) -> str:
    if league is None or league not in LEAGUES:
        raise RejectedFile(
            name, "known_league", f"{what} is not one of our leagues ({', '.join(sorted(LEAGUES))})"
        )
    return league


# ---------------------------------------------------------------- Understat


def _understat_fixture(match: Any, status: str, home_xg: Any, away_xg: Any) -> SourceFixture:
    details = None
    forecast = getattr(match, "forecast", None)
    if forecast is not None:
        details = {"forecast": [forecast.home_win, forecast.draw, forecast.away_win]}
    return SourceFixture(
        source_match_id=str(match.match_id),
        match_date=match.kickoff.date(),
        home_name=match.home_team,
        away_name=match.away_team,
        status=status,
        home_goals=match.home_goals,
        away_goals=match.away_goals,
        home_xg=home_xg,
        away_xg=away_xg,
        kickoff_published=match.kickoff,
        details=details,
    )


def _understat_shot_rows(shots: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "source_shot_id": str(shot.shot_id),
            "source_match_id": str(shot.match_id),
            "side": shot.side,
            "team": shot.team,
            "minute": shot.minute,
            "player": shot.player,
            "assist_player": shot.assist,
            "x": shot.x,
            "y": shot.y,
            "xg": shot.xg,
            "result": shot.result,
            "situation": shot.situation,
            "shot_type": shot.shot_type,
            "raw_sha256": None,
        }
        for shot in shots
    ]


def _understat_log_rows(
    records: list[understat.UnderstatTeamMatch],
    *,
    league: str,
    season: str,
    teams: dict[str, int],
    links: dict[str, int | None],
    sha: str,
) -> list[dict[str, Any]]:
    """``team_match_logs`` rows (stat type ``summary``) of Understat team-match records."""
    rows = []
    for record in records:
        stats = {
            "origin": record.origin,
            "npxg": record.npxg,
            "npxga": record.npxga,
            "ppda": record.ppda,
            "ppda_allowed": record.ppda_allowed,
            "ppda_att": record.ppda_att,
            "ppda_def": record.ppda_def,
            "ppda_allowed_att": record.ppda_allowed_att,
            "ppda_allowed_def": record.ppda_allowed_def,
            "deep": record.deep,
            "deep_allowed": record.deep_allowed,
            "xpts": record.xpts,
        }
        match_id = str(record.match_id)
        rows.append(
            {
                "source": "understat",
                "team_id": teams[record.team],
                "season_code": season,
                "stat_type": "summary",
                "match_date": record.kickoff.date(),
                "competition": LEAGUES[league].name,
                "round": None,
                "venue": "Home" if record.side == "h" else "Away",
                "opponent_name": record.opponent,
                "goals_for": record.goals_for,
                "goals_against": record.goals_against,
                "xg_for": record.xg,
                "xg_against": record.xga,
                "source_match_id": match_id if match_id in links else None,
                "stats_json": json.dumps(stats, sort_keys=True),
                "raw_sha256": sha,
            }
        )
    return rows


def _from_league_page(stats: dict[str, Any]) -> bool:
    """A stored Understat row read from a league page: a match page never replaces it."""
    return stats.get("origin") == "league"


def _from_shots_csv(uri: str) -> bool:
    """A stored Understat shot read from a shot CSV (the parser's rule: a ``.csv`` name)."""
    return uri.lower().endswith(".csv")


def _load_fixtures_and_shots(
    source: str,
    league: str,
    season: str,
    fixtures: list[SourceFixture],
    shots: list[dict[str, Any]],
    team_matches: list[understat.UnderstatTeamMatch] | None = None,
    *,
    whole_season: bool = False,
    origin: str,
) -> Callable[[Connection, str, str], LoadCounts]:
    """Load the fixtures, their shots and Understat team-match records in one go.

    ``origin`` is the kind of file (``league``, ``match``, ``shots_csv``,
    ``schedule``): it decides which file's figures a match keeps (see
    :mod:`sabiscore_ml.warehouse.source_loaders`), and a shot CSV never replaces
    the shots a match page gave.  The team names are reconciled before the
    records are validated, so an unknown team is named rather than counted as a
    club too many.  Team-match records of a league page replace what is stored
    for the same team-match; those of a match page (npxG from the shots, no
    expected points) only fill in team-matches that no league page gave.
    """

    def load(connection: Connection, sha: str, name: str) -> LoadCounts:
        # Teams first: a name that does not reconcile is reported as such, not as a
        # league-season with one club too many (the match count of a whole season).
        reconcile_teams(
            connection,
            source=source,
            league=league,
            season=season,
            names={f.home_name for f in fixtures} | {f.away_name for f in fixtures},
            name=name,
        )
        validate_source_records(
            fixtures,
            shots,
            season=season,
            name=name,
            source=source,
            league=league,
            whole_season=whole_season,
        )
        counts, teams, links = load_source_fixtures(
            connection,
            source=source,
            league=league,
            season=season,
            fixtures=fixtures,
            sha256=sha,
            name=name,
            origin=origin,
        )
        if shots:
            for shot in shots:
                shot["raw_sha256"] = sha
            counts.shots = load_shots(
                connection,
                source=source,
                shots=shots,
                links=links,
                team_ids=teams,
                replaces=_from_shots_csv if origin == "shots_csv" else None,
            )
        if team_matches:
            rows = _understat_log_rows(
                team_matches, league=league, season=season, teams=teams, links=links, sha=sha
            )
            from_match_page = any(record.origin == "match" for record in team_matches)
            counts.team_match_logs = load_team_match_logs(
                connection, rows, keep=_from_league_page if from_match_page else None
            )
        return counts

    return load


def parse_understat(raw: bytes, name: str, *, league: str | None = None) -> Parsed:
    """Recognise and parse an Understat league page, match page or shot CSV."""
    if name.lower().endswith(".csv"):
        shots_file = understat.parse_understat_shots_csv(raw, name, league=league)
        code = _require_league(shots_file.league, name, "the shots file's league")
        fixtures = [
            _understat_fixture(m, "played", m.home_xg_sum, m.away_xg_sum)
            for m in shots_file.matches
        ]
        return Parsed(
            "shots_csv",
            code,
            shots_file.season,
            _load_fixtures_and_shots(
                "understat",
                code,
                shots_file.season,
                fixtures,
                _understat_shot_rows(shots_file.shots),
                origin="shots_csv",
            ),
        )
    try:
        page = understat.parse_understat_league(raw, name, league=league)
    except RejectedFile as exc:
        if exc.check != "wrong_page":
            raise
        match = understat.parse_understat_match(raw, name)
        info = match.match_info
        code = _require_league(info.league, name, "the match's league")
        played = info.home_goals is not None
        fixture = _understat_fixture(
            info, "played" if played else "scheduled", info.home_xg, info.away_xg
        )
        return Parsed(
            "match",
            code,
            info.season,
            _load_fixtures_and_shots(
                "understat",
                code,
                info.season,
                [fixture],
                _understat_shot_rows(match.shots),
                match.team_matches,
                origin="match",
            ),
        )
    code = _require_league(page.league, name, "the page's league")
    fixtures = [
        _understat_fixture(
            m,
            "played" if m.is_result else "scheduled",
            m.home_xg if m.is_result else None,
            m.away_xg if m.is_result else None,
        )
        for m in page.matches
    ]
    return Parsed(
        "league",
        code,
        page.season,
        _load_fixtures_and_shots(
            "understat",
            code,
            page.season,
            fixtures,
            [],
            page.team_matches,
            whole_season=True,
            origin="league",
        ),
    )


# ---------------------------------------------------------------- FBref


def _fbref_fixture(f: Any) -> SourceFixture:
    match_id = (
        f.match_id
        or f"{f.match_date}:{f.home_team_id or f.home_team}:{f.away_team_id or f.away_team}"
    )
    details = {
        key: getattr(f, key)
        for key in ("gameweek", "attendance", "venue", "referee", "notes")
        if getattr(f, key, None) not in (None, "")
    }
    return SourceFixture(
        source_match_id=match_id,
        match_date=f.match_date,
        home_name=f.home_team,
        away_name=f.away_team,
        status=f.status,
        home_goals=f.home_goals,
        away_goals=f.away_goals,
        home_xg=f.home_xg,
        away_xg=f.away_xg,
        kickoff_utc=f.kickoff_utc,
        details=details or None,
    )


def parse_fbref(raw: bytes, name: str, *, league: str | None = None) -> Parsed:
    """Recognise and parse an FBref schedule, match report or team stats page."""
    raw = decompress(raw, name, "fbref")
    head = raw[:400_000]
    if b"sched_" in head and b"matchlogs" not in head:
        schedule = fbref.parse_fbref_schedule(raw, name)
        code = _require_league(schedule.league, name, "the schedule's competition")
        fixtures = [_fbref_fixture(f) for f in schedule.matches]
        return Parsed(
            "schedule",
            code,
            schedule.season,
            _load_fixtures_and_shots(
                "fbref", code, schedule.season, fixtures, [], whole_season=True, origin="schedule"
            ),
        )
    if (
        b"/en/matches/" in head
        and (b"shots_all" in raw or b"scorebox" in head)
        and b"matchlogs" not in head
    ):
        report = fbref.parse_fbref_match(raw, name)
        code = _require_league(report.league, name, "the match's competition")
        fixture = SourceFixture(
            source_match_id=report.match_id,
            match_date=report.match_date,
            home_name=report.home_team,
            away_name=report.away_team,
            status="played" if report.home_goals is not None else "scheduled",
            home_goals=report.home_goals,
            away_goals=report.away_goals,
            home_xg=report.home_xg,
            away_xg=report.away_xg,
        )
        shots = [
            {
                "source_shot_id": f"{report.match_id}:{index}",
                "source_match_id": report.match_id,
                "side": "h" if shot.is_home else "a",
                "team": report.home_team if shot.is_home else report.away_team,
                "minute": shot.minute,
                "player": shot.player,
                "assist_player": shot.sca_1_player,
                "x": None,
                "y": None,
                "xg": shot.xg,
                "result": shot.outcome,
                "situation": shot.notes,
                "shot_type": shot.body_part,
                "raw_sha256": None,
            }
            for index, shot in enumerate(report.shots, start=1)
        ]
        return Parsed(
            "match",
            code,
            report.season,
            _load_fixtures_and_shots(
                "fbref", code, report.season, [fixture], shots, origin="match"
            ),
        )
    if b"matchlogs_for" in head:
        return _parse_fbref_matchlog(raw, name)
    stats = fbref.parse_fbref_team_stats(raw, name)
    by_league: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for table in stats.tables.values():
        for row in table.rows:
            code = row.league or stats.league or league
            if code in LEAGUES:
                by_league.setdefault(code, []).append((row.team, table.table_id, dict(row.stats)))
    if not by_league:
        raise RejectedFile(name, "known_league", "no table row belongs to one of our leagues")

    def load(connection: Connection, sha: str, file_name: str) -> LoadCounts:
        total = LoadCounts()
        for code, rows in sorted(by_league.items()):
            counts = load_team_season_stats(
                connection,
                source="fbref",
                league=code,
                season=stats.season,
                rows=rows,
                sha256=sha,
                name=file_name,
            )
            total.rows += counts.rows
            total.teams_matched += counts.teams_matched
        return total

    return Parsed("team_stats", min(by_league), stats.season, load)


def _matchlog_team_ids(
    connection: Connection, league: str, log_page: Any, name: str
) -> tuple[int, dict[str, int]]:
    """The team's id, and opponent name -> id for every opponent in the registry.

    The team and its league opponents are reconciled with the league-season's
    roster (a name that does not reconcile rejects the file); an opponent from
    another competition (a cup, Europe) gets an id only through an exact FBref
    alias in the same country, else none.
    """
    league_names = {row.opponent for row in log_page.rows if row.league == league}
    reconciled = reconcile_teams(
        connection,
        source="fbref",
        league=league,
        season=log_page.season,
        names=sorted({log_page.team, *league_names}),
        name=name,
    )
    others = {row.opponent for row in log_page.rows} - league_names
    known = known_team_ids(connection, source="fbref", league=league, names=others)
    opponents = {**known, **{n: reconciled[n] for n in league_names}}
    return reconciled[log_page.team], opponents


def _parse_fbref_matchlog(raw: bytes, name: str) -> Parsed:
    log_page = fbref.parse_fbref_matchlog(raw, name)
    leagues = {row.league for row in log_page.rows if row.league}
    if len(leagues) != 1:
        raise RejectedFile(
            name, "known_league", f"the match log's league rows name {sorted(leagues) or 'none'}"
        )
    code = _require_league(leagues.pop(), name, "the team's league")
    against = {(row.match_date, row.competition): row for row in log_page.against_rows}

    def load(connection: Connection, sha: str, file_name: str) -> LoadCounts:
        team_id, opponents = _matchlog_team_ids(connection, code, log_page, file_name)
        rows = []
        for row in log_page.rows:
            opponent = against.get((row.match_date, row.competition))
            stats = dict(row.stats)
            if opponent is not None:
                stats.update({f"against_{key}": value for key, value in opponent.stats.items()})
            rows.append(
                {
                    "source": "fbref",
                    "team_id": team_id,
                    "season_code": log_page.season,
                    "stat_type": log_page.stat_type,
                    "match_date": row.match_date,
                    "competition": row.competition or "",
                    "round": row.round,
                    "venue": row.venue,
                    "opponent_name": row.opponent,
                    "opponent_team_id": opponents.get(row.opponent),
                    "goals_for": row.goals_for,
                    "goals_against": row.goals_against,
                    "xg_for": row.xg,
                    "xg_against": row.xga,
                    "source_match_id": row.match_id,
                    "stats_json": json.dumps(stats, sort_keys=True, default=str),
                    "raw_sha256": sha,
                }
            )
        key = ["source", "team_id", "match_date", "competition", "opponent_name", "stat_type"]
        upsert(connection, TeamMatchLog.__table__, rows, key)
        return LoadCounts(rows=len(rows), teams_matched=1)

    return Parsed("matchlog", code, log_page.season, load)


# ---------------------------------------------------------------- Transfermarkt


def parse_transfermarkt(raw: bytes, name: str, *, league: str | None = None) -> Parsed:
    """Recognise and parse a Transfermarkt file by its content.

    transfermarkt-datasets tables (competitions, clubs, players, player
    valuations, games), transfermarkt-scraper JSON Lines (games, appearances;
    club, competition and player link lists are skipped: they hold no match or
    value data), season squad-value tables and most-valuable-players tables.
    """
    kind = transfermarkt.table_kind(raw, name)
    if kind == "scraper":
        return _parse_tm_scraper(raw, name)
    if kind in _TM_DATASET_TABLES:
        parse, load = _TM_DATASET_TABLES[kind]
        return Parsed(kind, None, None, _load_records(load, parse(raw, name)))
    if kind == "player_values":
        return _parse_tm_player_values(raw, name, league)
    return _parse_tm_squad_values(raw, name, league)


_TM_DATASET_TABLES: dict[str, tuple[Callable[..., list[Any]], Callable[..., LoadCounts]]] = {
    "competitions": (transfermarkt.parse_tm_competitions, tm_loaders.load_competitions),
    "clubs": (transfermarkt.parse_tm_clubs, tm_loaders.load_clubs),
    "players": (transfermarkt.parse_tm_players, tm_loaders.load_players),
    "player_valuations": (transfermarkt.parse_tm_player_valuations, tm_loaders.load_valuations),
    "games": (transfermarkt.parse_tm_games, tm_loaders.load_games),
}


def _load_records(
    load: Callable[..., LoadCounts], records: list[Any]
) -> Callable[[Connection, str, str], LoadCounts]:
    """The loader of a file's records (a dataset table, a scraper file)."""

    def run(connection: Connection, sha: str, file_name: str) -> LoadCounts:
        return load(connection, records, sha256=sha, name=file_name)

    return run


def _parse_tm_scraper(raw: bytes, name: str) -> Parsed:
    scraped = transfermarkt.parse_tm_scraper(raw, name)
    kind = f"scraper_{scraped.record_type}s"
    if scraped.record_type == "game":
        return Parsed(kind, None, None, _load_records(tm_loaders.load_games, scraped.games))
    if scraped.record_type == "appearance":
        load = _load_records(tm_loaders.load_appearances, scraped.appearances)
        return Parsed(kind, None, None, load)
    return Parsed(
        kind,
        None,
        None,
        None,
        skip_reason=(
            f"transfermarkt-scraper {scraped.record_type} list ({scraped.records} record(s) of "
            "links and profile text): no match or value data, nothing to load"
        ),
    )


def _season_table_league(leagues: set[str | None], name: str) -> str | None:
    """The one league a season table's rows name (None: to be inferred when loading)."""
    if len(leagues) != 1:
        raise RejectedFile(
            name, "known_league", f"one league per table, found {sorted(map(str, leagues))}"
        )
    code = leagues.pop()
    return None if code is None else _require_league(code, name, "the table's league")


def _load_with_league(
    league: str | None,
    season: str,
    names: set[str],
    load: Callable[[Connection, str, str, str], LoadCounts],
) -> Callable[[Connection, str, str], LoadCounts]:
    """A loader for a season table, inferring its league first when no one named it."""

    def run(connection: Connection, sha: str, file_name: str) -> LoadCounts:
        how = None
        code = league
        if code is None:
            code, how = tm_loaders.infer_league(
                connection, names=names, season=season, name=file_name
            )
        counts = load(connection, code, sha, file_name)
        counts.league = code
        if how:
            counts.notes.append(how)
        return counts

    return run


def _parse_tm_player_values(raw: bytes, name: str, league: str | None) -> Parsed:
    values = transfermarkt.parse_tm_player_values(raw, name, league=league)
    code = _season_table_league({v.league for v in values}, name)
    season = min(v.season for v in values)

    def load(connection: Connection, code: str, sha: str, file_name: str) -> LoadCounts:
        return tm_loaders.load_player_values(
            connection, values, league=code, sha256=sha, name=file_name
        )

    return Parsed(
        "player_values",
        code,
        season,
        _load_with_league(code, season, {v.club_name for v in values}, load),
    )


def _parse_tm_squad_values(raw: bytes, name: str, league: str | None) -> Parsed:
    """A season squad-value table (one league, one or more seasons)."""
    values = transfermarkt.parse_tm_squad_values(raw, name, league=league)
    code = _season_table_league({v.league for v in values}, name)
    by_season: dict[str, list[tuple[str, dt.date, float | None, int | None]]] = {}
    lines: dict[str, list[int]] = {}
    for value in values:
        start = int(value.season[:4])
        season_start = dt.date(start, 8, 1)
        amount = (
            value.start_market_value_eur
            if value.start_market_value_eur is not None
            else value.market_value_eur
        )
        by_season.setdefault(value.season, []).append(
            (value.club_name, season_start, amount, value.squad_size)
        )
        lines.setdefault(value.season, []).append(value.row)

    def load(connection: Connection, code: str, sha: str, file_name: str) -> LoadCounts:
        total = LoadCounts()
        for season, rows in sorted(by_season.items()):
            validate_squad_values(rows, name=file_name, lines_in_file=lines[season])
            counts = load_squad_values(
                connection,
                source="transfermarkt",
                league=code,
                season=season,
                values=rows,
                sha256=sha,
                name=file_name,
            )
            total.rows += counts.rows
            total.teams_matched += counts.teams_matched
        return total

    first = min(by_season)
    names = {club for club, _, _, _ in by_season[first]}
    return Parsed("squad_values", code, first, _load_with_league(code, first, names, load))


PARSERS: dict[str, Callable[..., Parsed]] = {
    "understat": parse_understat,
    "fbref": parse_fbref,
    "transfermarkt": parse_transfermarkt,
}


# ---------------------------------------------------------------- jobs


def ingest_source_bytes(
    source: str,
    raw: bytes,
    uri: str,
    *,
    league: str | None = None,
    seasons: list[str] | None = None,
    engine: Engine | None = None,
    fetched_at: dt.datetime | None = None,
    season: str | None = None,
    archive_extra: dict[str, object] | None = None,
) -> IngestOutcome:
    """Archive, parse, reconcile and load one raw file of ``source`` (gzipped or not).

    With ``seasons``, a file of another season is skipped (status ``skipped``);
    ``season`` is the one season the bytes were fetched for: another one is
    rejected (check ``season_mismatch``).  ``archive_extra`` goes into the archive
    manifest (a download's validators).
    """
    engine = engine or get_engine()
    parse = PARSERS[source]
    started = now_utc()
    sha = sha256_hex(raw)
    ext = Path(uri).suffix.lstrip(".").lower() or "bin"
    try:
        with parse_failures(uri):
            parsed = parse(decompress(raw, uri, source), uri, league=league)
        if season is not None and parsed.season != season:
            raise RejectedFile(
                uri, "season_mismatch", f"the file is season {parsed.season}, not {season}"
            )
    except RejectedFile as exc:
        archive_raw(
            raw,
            sha,
            source=source,
            uri=uri,
            ext=ext,
            fetched_at=fetched_at,
            extra=archive_extra,
            quarantine={"check": exc.check, "detail": exc.detail},
        )
        outcome = IngestOutcome(uri, REJECTED, sha, check=exc.check, message=str(exc))
        log.warning("%s", exc)
        record_run(engine, outcome, started, source=source)
        return outcome
    if seasons and parsed.season is not None and parsed.season not in seasons:
        return IngestOutcome(uri, SKIPPED, sha, parsed.league, parsed.season)
    if parsed.load is None:
        archive_raw(raw, sha, source=source, uri=uri, ext=ext, fetched_at=fetched_at)
        outcome = IngestOutcome(uri, SKIPPED, sha, message=f"{uri}: {parsed.skip_reason}")
        record_run(engine, outcome, started, source=source)
        return outcome
    archived = archive_raw(
        raw,
        sha,
        source=source,
        uri=uri,
        league=parsed.league,
        season=parsed.season,
        ext=ext,
        fetched_at=fetched_at,
        extra=archive_extra,
    )
    outcome = IngestOutcome(uri, LOADED, sha, parsed.league, parsed.season)
    try:
        with engine.begin() as connection:
            upsert_raw_file(
                connection,
                sha256=sha,
                source=source,
                uri=uri,
                size=len(raw),
                path=str(archived.path),
            )
            counts = parsed.load(connection, sha, uri)
    except RejectedFile as exc:  # reconciliation refused: the transaction rolled back
        archive_raw(
            raw,
            sha,
            source=source,
            uri=uri,
            ext=ext,
            fetched_at=fetched_at,
            extra=archive_extra,
            quarantine={"check": exc.check, "detail": exc.detail},
        )
        outcome.status, outcome.check, outcome.message = REJECTED, exc.check, str(exc)
        log.warning("%s", exc)
        record_run(engine, outcome, started, source=source)
        return outcome
    except Exception as exc:
        outcome.status, outcome.check, outcome.message = (
            FAILED,
            "database",
            f"{uri}: load failed: {exc}",
        )
        record_run(engine, outcome, started, source=source)
        raise
    outcome.matches = counts.rows
    outcome.league = outcome.league or counts.league
    outcome.warnings.extend(counts.notes)
    where = " ".join(str(part) for part in (outcome.league, parsed.season) if part)
    outcome.message = (
        f"{parsed.kind} {where}".strip()
        + ": "
        + (
            counts.summary
            or (
                f"{counts.rows} rows, {counts.teams_matched} teams matched, "
                f"{counts.matches_linked} matches linked ({counts.matches_with_xg} with xG), "
                f"{counts.matches_unlinked} unlinked, "
                f"{counts.shots} shots"
            )
        )
    )
    record_run(engine, outcome, started, source=source, loaded_at=now_utc(), rows_read=counts.rows)
    return outcome


def plan_source(
    source: str,
    *,
    from_dir: str | None = None,
    files: list[str] | None = None,
    leagues: list[str] | None = None,
    seasons: list[str] | None = None,
    refresh: bool = False,
    match_ids: list[str] | None = None,
) -> list[dict[str, str]]:
    """Work items for ``source``: one per file, or live fetches without files.

    Without ``from_dir`` and ``files`` each league × season (default: the current
    season) is fetched from the source's site, or each of Understat's
    ``match_ids``; ``refresh`` fetches even a finished season again (see
    :mod:`sabiscore_ml.jobs.live`).
    """
    if source not in PARSERS:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    if not from_dir and not files:
        from sabiscore_ml.jobs.live import plan_live_source

        return plan_live_source(
            source, leagues=leagues or [], seasons=seasons, refresh=refresh, match_ids=match_ids
        )
    found = [*(files or [])]
    if from_dir:
        found.extend(
            str(p)
            for p in sorted(Path(from_dir).rglob("*"))
            if p.is_file() and p.name.lower().endswith(_EXTENSIONS)
        )
    item: dict[str, str] = {"kind": "file", "source": source}
    if leagues:
        if len(leagues) > 1:
            raise ValueError("give at most one --league: it names the league of files that do not")
        item["league"] = leagues[0]
    if seasons:
        item["seasons"] = ",".join(normalize_season(s) for s in seasons)
    items = []
    for path in found:
        entry = {**item, "path": path}
        # a folder named after a league (``transfermarkt/E0/...``) names the file's league
        hint = next((_league_hint(part) for part in Path(path).parts if _league_hint(part)), None)
        if hint and "league" not in entry:
            entry["league"] = hint
        items.append(entry)
    return items


# Folder or file names that name a league: ours (``E0``), Understat's (``epl``,
# ``EPL_2015``) and the plain English ones used by data exports.
_NAMED_LEAGUES = {
    **{name.casefold(): code for name, code in understat.UNDERSTAT_LEAGUES.items() if code},
    "premier_league": "E0",
    "la_liga": "SP1",
    "bundesliga": "D1",
    "serie_a": "I1",
    "ligue_1": "F1",
}


def _league_hint(part: str) -> str | None:
    """The league a folder or file name names, if any (never guessed from content)."""
    if part in LEAGUES:
        return part
    folded = part.casefold()
    for name, code in _NAMED_LEAGUES.items():
        if folded == name or folded.startswith((f"{name}_", f"{name}.")):
            return code
    return None


def run_source_item(item: dict[str, str], *, engine: Engine | None = None) -> IngestOutcome:
    """Run one work item from :func:`plan_source`."""
    if item.get("kind") == "live":
        from sabiscore_ml.jobs.live import run_live_source_item

        return run_live_source_item(item, engine=engine)
    path = Path(item["path"])
    raw = read_input(path, item["source"], engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    seasons = [s for s in item.get("seasons", "").split(",") if s]
    return ingest_source_bytes(
        item["source"],
        raw,
        str(path),
        league=item.get("league") or None,
        seasons=seasons or None,
        engine=engine,
    )


def replay_items(sources: list[str] | None = None) -> list[dict[str, str]]:
    """Work items that rebuild the warehouse from the raw archive, football-data first.

    Every archived body is replayed (quarantined ones too: an alias added since may
    now reconcile it), under the URI recorded in its manifest.  football-data
    fixtures files come after the season files, oldest first.
    """
    from sabiscore_ml.settings import get_core_settings

    root = get_core_settings().raw_archive_dir
    order = ["football-data", *SOURCES]
    wanted = [s for s in order if not sources or s in sources]
    items: list[dict[str, str]] = []
    fixtures: list[dict[str, str]] = []
    for source in wanted:
        for manifest_path in sorted((root / source).rglob("*.json")):
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("block_page"):  # a block page kept for inspection, not data
                continue
            body = next(
                (
                    p
                    for p in manifest_path.parent.glob(f"{manifest['sha256']}.*")
                    if p.suffix != ".json"
                ),
                None,
            )
            if body is None:
                continue
            item = {"kind": "archive", "source": source, "path": str(body), "uri": manifest["uri"]}
            if manifest.get("league"):
                item["league"] = manifest["league"]
            if manifest.get("fixtures"):  # a fixtures.csv, judged as of the day it was taken
                item["taken_on"] = str(manifest.get("taken_on") or manifest["fetched_at"][:10])
                fixtures.append(item)
                continue
            items.append(item)
        # after the season files, oldest first: the latest copy's odds end up current
        items.extend(sorted(fixtures, key=lambda i: (i["taken_on"], i["path"])))
        fixtures.clear()
    return items


def run_replay_item(item: dict[str, str], *, engine: Engine | None = None) -> IngestOutcome:
    """Re-ingest one archived body under its original URI."""
    from sabiscore_ml.jobs.football_data import (
        ingest_football_data_bytes,
        ingest_football_data_fixtures_bytes,
    )

    raw = read_input(Path(item["path"]), item["source"], engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    if item["source"] == "football-data" and item.get("taken_on"):
        return ingest_football_data_fixtures_bytes(
            raw, item["uri"], engine=engine, today=dt.date.fromisoformat(item["taken_on"])
        )
    if item["source"] == "football-data":
        return ingest_football_data_bytes(raw, item["uri"], engine=engine)
    return ingest_source_bytes(
        item["source"], raw, item["uri"], league=item.get("league"), engine=engine
    )
