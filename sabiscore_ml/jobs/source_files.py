"""Understat, FBref and Transfermarkt files through the one ingest pipeline.

The adapter of these sources (:class:`SourceFile`) for the pipeline
(:func:`sabiscore_ml.jobs.ingest.ingest_bytes`): the kind of page is recognised
from the content and parsed by the source's pure parser; the load reconciles the
team names with the warehouse's, validates the records and writes them, all in
one transaction.  A file that fails a check — including a team name that does
not reconcile — is quarantined in the archive, logged in ``ingestion_runs`` with
the check, and leaves the warehouse as it was.  :func:`ingest_source_files`
validates many files' records in one batch.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.jobs.ingest import (
    VALIDATION_BATCH_FILES,
    IngestOutcome,
    Prepared,
    Screen,
    ingest_bytes,
    ingest_files,
)
from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.sources import fbref, transfermarkt, understat
from sabiscore_ml.sources.reading import decompress, parse_failures
from sabiscore_ml.validation import FrameCheck, source_records_checks, squad_values_checks
from sabiscore_ml.warehouse import transfermarkt_loaders as tm_loaders
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

# (connection, sha256, the file's name, whether its checks already passed in a batch)
SourceLoad = Callable[[Connection, str, str, bool], LoadCounts]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed raw file: where it belongs, and how to load it.

    ``league``/``season`` are None for a table spanning several (a dataset
    table) or whose league is found while loading; ``load`` is None for a file
    with nothing to load, ``skip_reason`` saying why.  ``checks`` are the suite
    runs the load makes before writing (after reconciling the teams, so an
    unknown team is named as such), unless told they already passed in a batch.
    """

    kind: str
    league: str | None
    season: str | None
    load: SourceLoad | None
    skip_reason: str | None = None
    checks: list[FrameCheck] = field(default_factory=list)


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
    name: str,
) -> tuple[SourceLoad, list[FrameCheck]]:
    """Load the fixtures, their shots and Understat team-match records in one go.

    ``origin`` is the kind of file (``league``, ``match``, ``shots_csv``,
    ``schedule``): it decides which file's figures a match keeps (see
    :mod:`sabiscore_ml.warehouse.source_loaders`), and a shot CSV never replaces
    the shots a match page gave.  The team names are reconciled before the
    records are validated, so an unknown team is named rather than counted as a
    club too many.  Team-match records of a league page replace what is stored
    for the same team-match; those of a match page (npxG from the shots, no
    expected points) only fill in team-matches that no league page gave.
    Returns the loader and the suite runs of the file's records.
    """
    checks = source_records_checks(
        fixtures,
        shots,
        season=season,
        name=name,
        source=source,
        league=league,
        whole_season=whole_season,
    )

    def load(connection: Connection, sha: str, name: str, validated: bool) -> LoadCounts:
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
        if not validated:
            for check in checks:
                check.validate()
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

    return load, checks


def parse_understat(raw: bytes, name: str, *, league: str | None = None) -> Parsed:
    """Recognise and parse an Understat league page, match page or shot CSV."""
    if name.lower().endswith(".csv"):
        shots_file = understat.parse_understat_shots_csv(raw, name, league=league)
        code = _require_league(shots_file.league, name, "the shots file's league")
        fixtures = [
            _understat_fixture(m, "played", m.home_xg_sum, m.away_xg_sum)
            for m in shots_file.matches
        ]
        load, checks = _load_fixtures_and_shots(
            "understat",
            code,
            shots_file.season,
            fixtures,
            _understat_shot_rows(shots_file.shots),
            origin="shots_csv",
            name=name,
        )
        return Parsed("shots_csv", code, shots_file.season, load, checks=checks)
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
        load, checks = _load_fixtures_and_shots(
            "understat",
            code,
            info.season,
            [fixture],
            _understat_shot_rows(match.shots),
            match.team_matches,
            origin="match",
            name=name,
        )
        return Parsed("match", code, info.season, load, checks=checks)
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
    load, checks = _load_fixtures_and_shots(
        "understat",
        code,
        page.season,
        fixtures,
        [],
        page.team_matches,
        whole_season=True,
        origin="league",
        name=name,
    )
    return Parsed("league", code, page.season, load, checks=checks)


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
        load, checks = _load_fixtures_and_shots(
            "fbref",
            code,
            schedule.season,
            fixtures,
            [],
            whole_season=True,
            origin="schedule",
            name=name,
        )
        return Parsed("schedule", code, schedule.season, load, checks=checks)
    if (
        b"/en/matches/" in head
        and (b"shots_all" in raw or b"scorebox" in head)
        and b"matchlogs" not in head
    ):
        report = fbref.parse_fbref_match(raw, name)
        code = _require_league(report.league, name, "the match's competition")
        if report.match_id is None or report.match_date is None or report.season is None:
            raise RejectedFile(name, "parse", "the match report names no match id, date or season")
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
        load, checks = _load_fixtures_and_shots(
            "fbref", code, report.season, [fixture], shots, origin="match", name=name
        )
        return Parsed("match", code, report.season, load, checks=checks)
    if b"matchlogs_for" in head:
        return _parse_fbref_matchlog(raw, name)
    stats = fbref.parse_fbref_team_stats(raw, name)
    by_league: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for table in stats.tables.values():
        for row in table.rows:
            row_league = row.league or stats.league or league
            if row_league in LEAGUES:
                by_league.setdefault(row_league, []).append(
                    (row.team, table.table_id, dict(row.stats))
                )
    if not by_league:
        raise RejectedFile(name, "known_league", "no table row belongs to one of our leagues")

    def load_tables(
        connection: Connection, sha: str, file_name: str, validated: bool
    ) -> LoadCounts:
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

    return Parsed("team_stats", min(by_league), stats.season, load_tables)


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

    def load(connection: Connection, sha: str, file_name: str, validated: bool) -> LoadCounts:
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


def _load_records(load: Callable[..., LoadCounts], records: list[Any]) -> SourceLoad:
    """The loader of a file's records (a dataset table, a scraper file)."""

    def run(connection: Connection, sha: str, file_name: str, validated: bool) -> LoadCounts:
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
    load: Callable[[Connection, str, str, str, bool], LoadCounts],
) -> SourceLoad:
    """A loader for a season table, inferring its league first when no one named it."""

    def run(connection: Connection, sha: str, file_name: str, validated: bool) -> LoadCounts:
        how = None
        code = league
        if code is None:
            code, how = tm_loaders.infer_league(
                connection, names=names, season=season, name=file_name
            )
        counts = load(connection, code, sha, file_name, validated)
        counts.league = code
        if how:
            counts.notes.append(how)
        return counts

    return run


def _parse_tm_player_values(raw: bytes, name: str, league: str | None) -> Parsed:
    values = transfermarkt.parse_tm_player_values(raw, name, league=league)
    code = _season_table_league({v.league for v in values}, name)
    season = min(v.season for v in values)

    def load(
        connection: Connection, code: str, sha: str, file_name: str, validated: bool
    ) -> LoadCounts:
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

    checks = {
        season: squad_values_checks(rows, name=name, lines_in_file=lines[season])
        for season, rows in by_season.items()
    }

    def load(
        connection: Connection, code: str, sha: str, file_name: str, validated: bool
    ) -> LoadCounts:
        total = LoadCounts()
        for season, rows in sorted(by_season.items()):
            if not validated:
                for check in checks[season]:
                    check.validate()
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
    load_table = _load_with_league(code, first, names, load)
    every = [check for season in sorted(checks) for check in checks[season]]
    return Parsed("squad_values", code, first, load_table, checks=every)


PARSERS: dict[str, Callable[..., Parsed]] = {
    "understat": parse_understat,
    "fbref": parse_fbref,
    "transfermarkt": parse_transfermarkt,
}


# ---------------------------------------------------------------- the pipeline's adapter

# The check noted on a file loaded with rows of our leagues tied to no team (a
# Transfermarkt clubs or games table loaded before football-data): it is loaded
# again when football-data brings more teams (see ``jobs.sources.waiting_items``).
AWAITS_TEAMS = "awaits_teams"


def _summary(kind: str, where: str, counts: LoadCounts) -> str:
    """The run-log message of a loaded source file."""
    return (
        f"{kind} {where}".strip()
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


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The pipeline's adapter of an Understat, FBref or Transfermarkt file (gzipped or not).

    ``league_hint`` is the league of a file that does not name it; with
    ``seasons``, a file of another season is skipped; ``season`` is the one
    season the bytes were fetched for (another one is rejected, check
    ``season_mismatch``).  ``screened`` is the parse of these very bytes whose
    checks already passed in a batch (:func:`ingest_source_files`).
    """

    source: str
    league_hint: str | None = None
    seasons: tuple[str, ...] = ()
    season: str | None = None
    screened: Parsed | None = None
    rejects_while_loading: bool = True

    def extension(self, uri: str) -> str:
        """The file's own extension (``bin`` without one)."""
        return Path(uri).suffix.lstrip(".").lower() or "bin"

    def manifest(self, archive_extra: dict[str, object] | None) -> dict[str, object] | None:
        """The download's validators, if any."""
        return archive_extra

    def parse(self, raw: bytes, uri: str) -> Parsed:
        """The source's parse of ``raw`` (raises :class:`RejectedFile`)."""
        with parse_failures(uri):
            parsed = PARSERS[self.source](
                decompress(raw, uri, self.source), uri, league=self.league_hint
            )
        if self.season is not None and parsed.season != self.season:
            raise RejectedFile(
                uri, "season_mismatch", f"the file is season {parsed.season}, not {self.season}"
            )
        return parsed

    def prepare(self, raw: bytes, uri: str, sha256: str) -> Prepared:
        """Parse; the records are validated by the load, once the teams are reconciled."""
        parsed = self.screened or self.parse(raw, uri)
        if self.seasons and parsed.season is not None and parsed.season not in self.seasons:
            return Prepared(parsed.league, parsed.season, None, ignored=True)
        if parsed.load is None:
            return Prepared(parsed.league, parsed.season, None, skip_reason=parsed.skip_reason)
        run, validated = parsed.load, self.screened is not None

        def load(connection: Connection, outcome: IngestOutcome, batch: int) -> None:
            counts = run(connection, sha256, uri, validated)
            outcome.matches = counts.rows
            if counts.awaits_teams:  # loaded: replayed when football-data brings more teams
                outcome.check = AWAITS_TEAMS
            outcome.league = outcome.league or counts.league
            outcome.warnings.extend(counts.notes)
            where = " ".join(str(part) for part in (outcome.league, parsed.season) if part)
            outcome.message = _summary(parsed.kind, where, counts)

        return Prepared(parsed.league, parsed.season, load)


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
    screened: Parsed | None = None,
) -> IngestOutcome:
    """Archive, parse, reconcile and load one raw file of ``source`` (gzipped or not).

    With ``seasons``, a file of another season is skipped (status ``skipped``);
    ``season`` is the one season the bytes were fetched for: another one is
    rejected (check ``season_mismatch``).  ``archive_extra`` goes into the archive
    manifest (a download's validators).  ``screened``: see :class:`SourceFile`.
    """
    adapter = SourceFile(source, league, tuple(seasons or ()), season, screened)
    return ingest_bytes(
        adapter, raw, uri, engine=engine, fetched_at=fetched_at, archive_extra=archive_extra
    )


def ingest_source_files(
    source: str,
    paths: Sequence[str | Path],
    *,
    league: str | None = None,
    seasons: list[str] | None = None,
    engine: Engine | None = None,
    batch_files: int = VALIDATION_BATCH_FILES,
) -> Iterator[IngestOutcome]:
    """Load files of ``source`` from disk, their records validated ``batch_files`` at a time.

    Each file is still loaded (or rejected) alone, in its own transaction and in
    order, with the outcome :func:`ingest_source_bytes` gives it alone; only the
    suites run once over the batch (:func:`~sabiscore_ml.jobs.ingest.ingest_files`).
    """
    adapter = SourceFile(source, league, tuple(seasons or ()))

    def screen(raw: bytes, path: str) -> Screen[Parsed] | None:
        try:
            parsed = adapter.parse(raw, path)
        except RejectedFile:  # ingested alone, it is rejected with its own message
            return None
        if parsed.load is None or (
            adapter.seasons and parsed.season is not None and parsed.season not in adapter.seasons
        ):
            return None
        return Screen(parsed, parsed.checks)

    def ingest(raw: bytes, path: str, parsed: Parsed | None) -> IngestOutcome:
        return ingest_source_bytes(
            source, raw, path, league=league, seasons=seasons, engine=engine, screened=parsed
        )

    return ingest_files(
        paths, source=source, screen=screen, ingest=ingest, engine=engine, batch_files=batch_files
    )
