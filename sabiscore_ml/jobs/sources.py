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
    IngestOutcome,
    now_utc,
    record_run,
)
from sabiscore_ml.leagues import LEAGUES, normalize_season
from sabiscore_ml.sources import fbref, transfermarkt, understat
from sabiscore_ml.sources.archive import archive_raw
from sabiscore_ml.sources.football_data import sha256_hex
from sabiscore_ml.validation import validate_source_records, validate_squad_values
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.loaders import upsert_raw_file
from sabiscore_ml.warehouse.models import TeamMatchLog
from sabiscore_ml.warehouse.source_loaders import (
    LoadCounts,
    SourceFixture,
    load_shots,
    load_source_fixtures,
    load_squad_values,
    load_team_season_stats,
    reconcile_teams,
)
from sabiscore_ml.warehouse.upsert import upsert

log = logging.getLogger(__name__)

SOURCES = ("understat", "fbref", "transfermarkt")
_EXTENSIONS = (".html", ".htm", ".json", ".csv", ".html.gz", ".json.gz", ".csv.gz")
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed raw file: where it belongs, and how to load it."""

    kind: str
    league: str
    season: str
    load: Callable[[Connection, str, str], LoadCounts]  # (connection, sha256, name)


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


def _load_fixtures_and_shots(
    source: str,
    league: str,
    season: str,
    fixtures: list[SourceFixture],
    shots: list[dict[str, Any]],
    *,
    whole_season: bool = False,
) -> Callable[[Connection, str, str], LoadCounts]:
    def load(connection: Connection, sha: str, name: str) -> LoadCounts:
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
        )
        if shots:
            for shot in shots:
                shot["raw_sha256"] = sha
            counts.shots = load_shots(
                connection, source=source, shots=shots, links=links, team_ids=teams
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
                "understat", code, info.season, [fixture], _understat_shot_rows(match.shots)
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
        _load_fixtures_and_shots("understat", code, page.season, fixtures, [], whole_season=True),
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


def _gunzip(raw: bytes) -> bytes:
    if raw[:2] == b"\x1f\x8b":
        import gzip

        return gzip.decompress(raw)
    return raw


def parse_fbref(raw: bytes, name: str, *, league: str | None = None) -> Parsed:
    """Recognise and parse an FBref schedule, match report or team stats page."""
    raw = _gunzip(raw)
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
                "fbref", code, schedule.season, fixtures, [], whole_season=True
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
            _load_fixtures_and_shots("fbref", code, report.season, [fixture], shots),
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
        team_id = reconcile_teams(
            connection,
            source="fbref",
            league=code,
            season=log_page.season,
            names=[log_page.team],
            name=file_name,
        )[log_page.team]
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
    """Parse a Transfermarkt season squad-value table (one league-season)."""
    values = transfermarkt.parse_tm_squad_values(raw, name, league=league)
    if not values:
        raise RejectedFile(name, "empty", "no squad values in the table")
    seasons = {v.season for v in values}
    leagues = {v.league for v in values}
    if len(leagues) != 1:
        raise RejectedFile(
            name, "known_league", f"one league per table, found {sorted(map(str, leagues))}"
        )
    code = _require_league(leagues.pop(), name, "the table's league (give --league)")
    by_season: dict[str, list[tuple[str, dt.date, float | None, int | None]]] = {}
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

    def load(connection: Connection, sha: str, file_name: str) -> LoadCounts:
        total = LoadCounts()
        for season, rows in sorted(by_season.items()):
            validate_squad_values(rows, name=file_name)
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

    return Parsed("squad_values", code, min(seasons), load)


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
) -> IngestOutcome:
    """Archive, parse, reconcile and load one raw file of ``source``.

    With ``seasons``, a file of another season is skipped (status ``skipped``).
    """
    engine = engine or get_engine()
    parse = PARSERS[source]
    started = now_utc()
    sha = sha256_hex(raw)
    ext = Path(uri).suffix.lstrip(".").lower() or "bin"
    try:
        parsed = parse(raw, uri, league=league)
    except RejectedFile as exc:
        archive_raw(
            raw,
            sha,
            source=source,
            uri=uri,
            ext=ext,
            fetched_at=fetched_at,
            quarantine={"check": exc.check, "detail": exc.detail},
        )
        outcome = IngestOutcome(uri, REJECTED, sha, check=exc.check, message=str(exc))
        log.warning("%s", exc)
        record_run(engine, outcome, started, source=source)
        return outcome
    if seasons and parsed.season not in seasons:
        return IngestOutcome(uri, SKIPPED, sha, parsed.league, parsed.season)
    archived = archive_raw(
        raw,
        sha,
        source=source,
        uri=uri,
        league=parsed.league,
        season=parsed.season,
        ext=ext,
        fetched_at=fetched_at,
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
    outcome.message = (
        f"{parsed.kind} {parsed.league} {parsed.season}: {counts.rows} rows, "
        f"{counts.teams_matched} teams matched, {counts.matches_linked} matches linked, "
        f"{counts.matches_unlinked} unlinked, {counts.shots} shots"
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
) -> list[dict[str, str]]:
    """Work items (one per file) for ``source`` from files and folders (offline)."""
    if source not in PARSERS:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    if not from_dir and not files:
        raise ValueError(f"give --from-dir or --file for {source} (live fetching is not wired yet)")
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
    path = Path(item["path"])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        outcome = IngestOutcome(str(path), REJECTED, check="readable", message=f"{path}: {exc}")
        record_run(engine or get_engine(), outcome, now_utc(), source=item["source"])
        return outcome
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
    now reconcile it), under the URI recorded in its manifest.
    """
    from sabiscore_ml.settings import get_core_settings

    root = get_core_settings().raw_archive_dir
    order = ["football-data", *SOURCES]
    wanted = [s for s in order if not sources or s in sources]
    items = []
    for source in wanted:
        for manifest_path in sorted((root / source).rglob("*.json")):
            manifest = json.loads(manifest_path.read_text())
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
            items.append(item)
    return items


def run_replay_item(item: dict[str, str], *, engine: Engine | None = None) -> IngestOutcome:
    """Re-ingest one archived body under its original URI."""
    from sabiscore_ml.jobs.football_data import ingest_football_data_bytes

    raw = Path(item["path"]).read_bytes()
    if item["source"] == "football-data":
        return ingest_football_data_bytes(raw, item["uri"], engine=engine)
    return ingest_source_bytes(
        item["source"], raw, item["uri"], league=item.get("league"), engine=engine
    )
