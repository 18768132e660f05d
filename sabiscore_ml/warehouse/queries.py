"""Read-side queries over the warehouse: coverage summaries and match exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import polars as pl
from sqlalchemy import (
    JSON,
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Row,
    Select,
    Text,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy import column as sql_column
from sqlalchemy.orm import aliased

from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.sources.fbref import FBREF_LEAGUES
from sabiscore_ml.warehouse.models import (
    Match,
    MatchXg,
    Odds,
    Shot,
    SourceMatch,
    SquadValue,
    Team,
    TeamAlias,
    TeamMatchLog,
)
from sabiscore_ml.warehouse.teams import alias_key

AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"

_TIMING_ORDER = {"preclose": 0, "close": 1}


@dataclass(frozen=True, slots=True)
class Coverage:
    """Matches and 1X2 odds coverage of one league-season."""

    league: str
    season: str
    matches: int
    played: int
    with_odds: int
    with_pinnacle_close: int
    bookmakers: int
    first_date: str
    last_date: str


def coverage_summary(
    engine: Engine, *, leagues: list[str] | None = None, seasons: list[str] | None = None
) -> list[Coverage]:
    """Per league-season: matches, results, and how many have 1X2 odds / Pinnacle closing."""
    odds_1x2 = (
        select(
            Odds.match_id,
            func.count(distinct(Odds.bookmaker)).label("books"),
            func.max(
                case((and_(Odds.bookmaker == "pinnacle", Odds.timing == "close"), 1), else_=0)
            ).label("pin_close"),
        )
        .where(Odds.market == "1x2")
        .group_by(Odds.match_id)
        .subquery()
    )
    stmt = (
        select(
            Match.league_code,
            Match.season_code,
            func.count(Match.id),
            func.count(Match.home_goals),
            func.count(odds_1x2.c.match_id),
            func.coalesce(func.sum(odds_1x2.c.pin_close), 0),
            func.coalesce(func.max(odds_1x2.c.books), 0),
            func.min(Match.match_date),
            func.max(Match.match_date),
        )
        .outerjoin(odds_1x2, odds_1x2.c.match_id == Match.id)
        .group_by(Match.league_code, Match.season_code)
        .order_by(Match.league_code, Match.season_code)
    )
    if leagues:
        stmt = stmt.where(Match.league_code.in_(leagues))
    if seasons:
        stmt = stmt.where(Match.season_code.in_(seasons))
    with engine.connect() as connection:
        return [
            Coverage(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                int(row[5]),
                row[6],
                str(row[7]),
                str(row[8]),
            )
            for row in connection.execute(stmt)
        ]


def _fetch_rows(connection: Connection, stmt: AnySelect) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``stmt`` on the raw DBAPI cursor: column names and rows (no Result objects)."""
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        return [description[0] for description in cursor.description], list(cursor.fetchall())
    finally:
        cursor.close()


def _fetch_frame(connection: Connection, stmt: AnySelect) -> pd.DataFrame:
    """Run ``stmt`` on the raw DBAPI cursor (no per-row Result objects) into a frame."""
    names, rows = _fetch_rows(connection, stmt)
    return pd.DataFrame.from_records(rows, columns=names)


def _missing(value: Any) -> bool:
    """None, NaN, NaT and pandas' NA: a value an export writes as an empty cell."""
    return value is None or bool(pd.isna(value))


def _column_order(column: Hashable) -> tuple[str, int, int]:
    bookmaker, timing, outcome = str(column).rsplit("_", 2)
    return bookmaker, _TIMING_ORDER.get(timing, 9), "hda".index(outcome)


def matches_frame(
    engine: Engine, *, leagues: list[str] | None = None, seasons: list[str] | None = None
) -> pd.DataFrame:
    """One row per match with its 1X2 odds as ``<bookmaker>_<timing>_<h|d|a>`` columns."""
    home, away = aliased(Team), aliased(Team)
    base = (
        select(
            Match.id.label("match_id"),
            Match.match_date.label("date"),
            Match.kickoff_time,
            Match.league_code.label("league"),
            Match.season_code.label("season"),
            home.name.label("home_team"),
            away.name.label("away_team"),
            Match.home_goals,
            Match.away_goals,
        )
        .join(home, home.id == Match.home_team_id)
        .join(away, away.id == Match.away_team_id)
        .order_by(Match.match_date, Match.league_code, Match.id)
    )
    # home/draw/away -> h/d/a: the column name is built by the database.
    column = (Odds.bookmaker + "_" + Odds.timing + "_" + func.substr(Odds.outcome, 1, 1)).label(
        "column"
    )
    odds = (
        select(Odds.match_id, column, Odds.price)
        .join(Match, Match.id == Odds.match_id)
        .where(Odds.market == "1x2")
    )
    for key, values in ((Match.league_code, leagues), (Match.season_code, seasons)):
        if values:
            base = base.where(key.in_(values))
            odds = odds.where(key.in_(values))
    with engine.connect() as connection:
        frame = _fetch_frame(connection, base)
        quotes = _fetch_frame(connection, odds)
    frame["date"] = [str(value)[:10] for value in frame["date"]]
    frame = frame.astype({"home_goals": "Int64", "away_goals": "Int64"})
    frame["kickoff_time"] = [
        None if _missing(value) else str(value)[:5] for value in frame["kickoff_time"]
    ]
    if quotes.empty:
        return _with_xg(engine, frame).drop(columns="match_id")
    wide = quotes.pivot(index="match_id", columns="column", values="price")
    wide = wide[sorted(wide.columns, key=_column_order)]
    frame = _with_xg(engine, frame)
    frame = frame.merge(wide, left_on="match_id", right_index=True, how="left")
    return frame.drop(columns="match_id")


# xG columns of the match export, per source: Understat's as home_xg/away_xg.
_XG_COLUMNS = {"understat": ("home_xg", "away_xg"), "fbref": ("fbref_home_xg", "fbref_away_xg")}


def _with_xg(engine: Engine, frame: pd.DataFrame) -> pd.DataFrame:
    """Add the xG columns (empty where a source has no figure for the match)."""
    with engine.connect() as connection:
        xg = _fetch_frame(
            connection,
            select(MatchXg.match_id, MatchXg.source, MatchXg.home_xg, MatchXg.away_xg).where(
                MatchXg.source.in_(list(_XG_COLUMNS))
            ),
        )
    for source, (home, away) in _XG_COLUMNS.items():
        part = xg[xg["source"] == source].set_index("match_id") if not xg.empty else None
        frame[home] = frame["match_id"].map(part["home_xg"]) if part is not None else None
        frame[away] = frame["match_id"].map(part["away_xg"]) if part is not None else None
    return frame


def shots_frame(
    engine: Engine, *, leagues: list[str] | None = None, seasons: list[str] | None = None
) -> pd.DataFrame:
    """Every shot with its source, match (when linked), team and attributes."""
    team = aliased(Team)
    stmt = (
        select(
            Shot.source,
            Shot.source_match_id,
            SourceMatch.league_code.label("league"),
            SourceMatch.season_code.label("season"),
            SourceMatch.match_date.label("date"),
            Shot.match_id,
            team.name.label("team"),
            Shot.side,
            Shot.minute,
            Shot.player,
            Shot.assist_player,
            Shot.x,
            Shot.y,
            Shot.xg,
            Shot.result,
            Shot.situation,
            Shot.shot_type,
        )
        .join(
            SourceMatch,
            and_(
                SourceMatch.source == Shot.source,
                SourceMatch.source_match_id == Shot.source_match_id,
            ),
        )
        .outerjoin(team, team.id == Shot.team_id)
        .order_by(Shot.source, SourceMatch.match_date, Shot.source_match_id, Shot.id)
    )
    if leagues:
        stmt = stmt.where(SourceMatch.league_code.in_(leagues))
    if seasons:
        stmt = stmt.where(SourceMatch.season_code.in_(seasons))
    with engine.connect() as connection:
        frame = _fetch_frame(connection, stmt)
    # whole numbers stay whole where some are missing (an unlinked shot has no match)
    return frame.astype({"match_id": "Int64", "minute": "Int64"})


def squad_values_frame(engine: Engine, *, seasons: list[str] | None = None) -> pd.DataFrame:
    """Squad market values: team, source, as-of date, season, value in euros, squad size.

    ``transfermarkt`` rows are published season totals; ``transfermarkt-derived``
    rows are sums of player valuations (with ``players_valued`` and the
    ``oldest_valuation`` counted), one row each time the sum changes.
    """
    stmt = (
        select(
            Team.name.label("team"),
            Team.country,
            SquadValue.source,
            SquadValue.season_code.label("season"),
            SquadValue.as_of,
            SquadValue.market_value_eur,
            SquadValue.squad_size,
            SquadValue.players_valued,
            SquadValue.oldest_valuation,
        )
        .join(Team, Team.id == SquadValue.team_id)
        .order_by(SquadValue.as_of, Team.name)
    )
    if seasons:
        stmt = stmt.where(SquadValue.season_code.in_(seasons))
    with engine.connect() as connection:
        frame = _fetch_frame(connection, stmt)
    return frame.astype({"squad_size": "Int64", "players_valued": "Int64"})


def squad_value_on(
    connection: Connection, team_id: int, day: dt.date, *, source: str = "transfermarkt-derived"
) -> Row[*tuple[Any, ...]] | None:
    """A team's squad value as it stood on ``day``: its latest row on or before ``day``.

    Returns the ``squad_values`` row (``as_of``, ``market_value_eur``,
    ``players_valued``...) or None.  A derived value holds from its date until
    the next row (a row with no value: no valuation counted any more).  The
    change over the 90 days before a match is the value on the match day minus
    the value 90 days earlier.
    """
    table = SquadValue.__table__
    return connection.execute(
        select(table)
        .where(table.c.team_id == team_id, table.c.source == source, table.c.as_of <= day)
        .order_by(table.c.as_of.desc())
        .limit(1)
    ).first()


def export_matches(
    engine: Engine,
    output: Path,
    *,
    leagues: list[str] | None = None,
    seasons: list[str] | None = None,
) -> int:
    """Write :func:`matches_frame` to ``output`` as CSV; return the number of matches."""
    frame = matches_frame(engine, leagues=leagues, seasons=seasons)
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False, date_format="%Y-%m-%d")
    return len(frame)


def source_summary(engine: Engine) -> list[tuple[str, str, str, str | None, int, int, int]]:
    """Per source, table and league-season: rows, distinct teams, rows linked to a match."""
    from sabiscore_ml.warehouse.models import SourceMatch, SquadValue, TeamMatchLog, TeamSeasonStats

    queries = [
        select(
            SourceMatch.source,
            literal("matches"),
            SourceMatch.league_code,
            SourceMatch.season_code,
            func.count(),
            literal(0),
            func.count(SourceMatch.match_id),
        ).group_by(SourceMatch.source, SourceMatch.league_code, SourceMatch.season_code),
        select(
            SquadValue.source,
            literal("squad values"),
            literal("-"),
            SquadValue.season_code,
            func.count(),
            func.count(distinct(SquadValue.team_id)),
            literal(0),
        ).group_by(SquadValue.source, SquadValue.season_code),
        select(
            TeamSeasonStats.source,
            literal("team stats"),
            literal("-"),
            TeamSeasonStats.season_code,
            func.count(),
            func.count(distinct(TeamSeasonStats.team_id)),
            literal(0),
        ).group_by(TeamSeasonStats.source, TeamSeasonStats.season_code),
        select(
            TeamMatchLog.source,
            literal("match logs"),
            literal("-"),
            TeamMatchLog.season_code,
            func.count(),
            func.count(distinct(TeamMatchLog.team_id)),
            func.count(TeamMatchLog.source_match_id),
        ).group_by(TeamMatchLog.source, TeamMatchLog.season_code),
    ]
    named = _source_match_teams().subquery()
    match_teams = select(
        named.c.source, named.c.league_code, named.c.season_code, func.count(named.c.team_id)
    ).group_by(named.c.source, named.c.league_code, named.c.season_code)
    rows: list[tuple[str, str, str, str | None, int, int, int]] = []
    with engine.connect() as connection:
        teams = {tuple(row[:3]): row[3] for row in connection.execute(match_teams)}
        for query in queries:
            rows.extend(row._tuple() for row in connection.execute(query))
    # a source's matches name their teams home or away: count both sides
    rows = [
        (*r[:5], teams.get((r[0], r[2], r[3]), 0), r[6]) if r[1] == "matches" else r for r in rows
    ]
    return sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3]))


def _source_match_teams() -> CompoundSelect[*tuple[Any, ...]]:
    """(source, league, season, team id): every team a source's matches name, home or away."""
    home = select(
        SourceMatch.source,
        SourceMatch.league_code,
        SourceMatch.season_code,
        SourceMatch.home_team_id.label("team_id"),
    )
    away = select(
        SourceMatch.source,
        SourceMatch.league_code,
        SourceMatch.season_code,
        SourceMatch.away_team_id.label("team_id"),
    )
    return home.union(away)


@dataclass(frozen=True, slots=True)
class SourceCoverage:
    """One source's matches of a league-season, as reconciled with the warehouse.

    ``teams``: distinct teams named (home or away); ``linked``: matches linked to
    a warehouse match; ``with_xg``: warehouse matches holding this source's xG
    (the ones ``export matches`` fills).
    """

    source: str
    league: str
    season: str
    teams: int
    matches: int
    linked: int
    with_xg: int


def reconciliation_report(
    engine: Engine, *, league: str | None = None, season: str | None = None
) -> tuple[list[SourceCoverage], list[tuple[str, str]]]:
    """Teams and matches per source and league-season, and the latest unreconciled files."""
    from sabiscore_ml.warehouse.models import IngestionRun

    named = _source_match_teams().subquery()
    teams = select(
        named.c.source, named.c.league_code, named.c.season_code, func.count(named.c.team_id)
    ).group_by(named.c.source, named.c.league_code, named.c.season_code)
    with_xg = (
        select(MatchXg.source, Match.league_code, Match.season_code, func.count())
        .join(Match, Match.id == MatchXg.match_id)
        .where(MatchXg.home_xg.is_not(None))
        .group_by(MatchXg.source, Match.league_code, Match.season_code)
    )
    matches = select(
        SourceMatch.source,
        SourceMatch.league_code,
        SourceMatch.season_code,
        func.count(),
        func.count(SourceMatch.match_id),
    ).group_by(SourceMatch.source, SourceMatch.league_code, SourceMatch.season_code)
    if league:
        matches = matches.where(SourceMatch.league_code == league)
    if season:
        matches = matches.where(SourceMatch.season_code == season)
    latest = (
        select(IngestionRun.uri, func.max(IngestionRun.id).label("last"))
        .group_by(IngestionRun.uri)
        .subquery()
    )
    refused = (
        select(IngestionRun.uri, IngestionRun.message)
        .join(latest, latest.c.last == IngestionRun.id)
        .where(IngestionRun.check_failed == "reconcile")
        .order_by(IngestionRun.uri)
    )
    with engine.connect() as connection:
        team_counts = {tuple(r[:3]): r[3] for r in connection.execute(teams)}
        xg_counts = {tuple(r[:3]): r[3] for r in connection.execute(with_xg)}
        rows = [
            SourceCoverage(*key, team_counts.get(key, 0), count, linked, xg_counts.get(key, 0))
            for source, league_code, season_code, count, linked in connection.execute(matches)
            for key in [(source, league_code, season_code)]
        ]
        problems = [
            (uri, message or "")
            for uri, message in connection.execute(refused)
            if (not league or f" {league} " in (message or ""))
            and (not season or season in (message or ""))
        ]
    return sorted(rows, key=lambda r: (r.source, r.league, r.season)), problems


# ------------------------------------------------------------------ team match stats

# The match-log rows the frame reads: source -> stat types (None: every stat type; FBref's
# schedule, shooting, passing... logs all say which matches a team played).
_TEAM_MATCH_SOURCES: dict[str, tuple[str, ...] | None] = {"understat": ("summary",), "fbref": None}
# The rows whose ``stats_json`` holds the advanced figures, and the keys read from it:
# Understat's summaries (npxg, npxga, deep, deep_allowed, ppda, ppda_allowed) and FBref's
# shooting logs (xg, against_xg, npxg, against_npxg).
_STATS_ROWS = {"understat": ("summary",), "fbref": ("shooting",)}
_STATS_KEYS = (
    "xg",
    "against_xg",
    "npxg",
    "npxga",
    "against_npxg",
    "deep",
    "deep_allowed",
    "ppda",
    "ppda_allowed",
)
TEAM_MATCH_STATS_COLUMNS = (
    "team_id",
    "opponent_team_id",
    "match_date",
    "season_code",
    "league_code",
    "source",
    "competition",
    "venue",
    "goals_for",
    "goals_against",
    "xg_for",
    "xg_against",
    "npxg_for",
    "npxg_against",
    "deep_for",
    "deep_against",
    "ppda",
    "ppda_allowed",
    "match_id",
)
_TEAM_MATCH_KEY = ("team_id", "match_date", "source", "competition")
# Types of the columns read (the others are text; SQLite gives dates as text too).
_TEAM_MATCH_TYPES: dict[str, type[pl.DataType] | pl.DataType] = {
    "team_id": pl.Int64,
    "goals_for": pl.Int64,
    "goals_against": pl.Int64,
    "xg_column": pl.Float64,
    "xga_column": pl.Float64,
    "match_id": pl.Int64,
}


def _rows_of(sources: Mapping[str, tuple[str, ...] | None]) -> ColumnElement[bool]:
    log = TeamMatchLog
    return or_(
        *(
            and_(log.source == source, log.stat_type.in_(types)) if types else log.source == source
            for source, types in sources.items()
        )
    )


def _team_match_select(dialect: str, seasons: list[str] | None) -> AnySelect:
    """The match-log rows, with the ``stats_json`` figures read in the database.

    Each document is parsed once, and only on the rows that hold figures, into
    one JSON array of the keys' values (column ``stats``, split by
    :func:`_split_stats`): ``json_to_record`` on PostgreSQL, ``json_extract``
    with every path on SQLite.
    """
    log = TeamMatchLog
    with_stats = case((_rows_of(_STATS_ROWS), log.stats_json), else_=None)
    stmt: AnySelect = (
        select(
            log.team_id,
            log.match_date,
            log.source,
            log.competition,
            Team.country,
            log.season_code,
            log.opponent_name,
            log.venue,
            log.goals_for,
            log.goals_against,
            log.xg_for.label("xg_column"),
            log.xg_against.label("xga_column"),
            SourceMatch.league_code.label("linked_league"),
            SourceMatch.match_id,
        )
        .select_from(log)
        .join(Team, Team.id == log.team_id)
        .outerjoin(
            SourceMatch,
            and_(
                SourceMatch.source == log.source,
                SourceMatch.source_match_id == log.source_match_id,
            ),
        )
        .where(_rows_of(_TEAM_MATCH_SOURCES))
    )
    if dialect == "postgresql":
        record = (
            func.json_to_record(cast(with_stats, JSON))
            .table_valued(*(sql_column(key, JSON) for key in _STATS_KEYS))
            .render_derived(name="stats", with_types=True)
        )
        values = func.json_build_array(*(record.c[key] for key in _STATS_KEYS))
        stmt = stmt.add_columns(cast(values, Text).label("stats")).outerjoin(record, true())
    else:
        paths = [f"$.{key}" for key in _STATS_KEYS]
        stmt = stmt.add_columns(func.json_extract(with_stats, *paths).label("stats"))
    if seasons:
        stmt = stmt.where(log.season_code.in_(seasons))
    return stmt


_QUOTED = r'"(?:[^"\\]|\\.)*"'


def _split_stats(frame: pl.DataFrame) -> pl.DataFrame:
    """The JSON array of the stats values -> one text column per key.

    The values are the scalars the loaders wrote: numbers, null, or a string
    (FBref keeps a cell it cannot read as text), which becomes null.
    """
    values = (
        pl.col("stats")
        .str.replace_all(_QUOTED, "null")
        .str.replace_all(r"[\s\[\]]", "")  # PostgreSQL writes "[1.2, null]"
        .str.split_exact(",", len(_STATS_KEYS) - 1)
        .struct.rename_fields(list(_STATS_KEYS))
    )
    return frame.with_columns(values).unnest("stats")


def _leagues_by_competition() -> pl.DataFrame:
    """The league a match log's competition name is, per country of the team."""
    names = {(league.name, league.country): code for code, league in LEAGUES.items()}
    names.update(
        ((name, LEAGUES[code].country), code)
        for name, code in FBREF_LEAGUES.items()
        if not name.isdigit()  # FBref's competition ids
    )
    return pl.DataFrame(
        [(*key, code) for key, code in names.items()],
        schema={"competition": pl.String, "country": pl.String, "named_league": pl.String},
        orient="row",
    )


def _resolve_opponents(connection: Connection, pairs: pl.DataFrame) -> pl.DataFrame:
    """Opponent team ids of (source, team's country, opponent name), where one team fits.

    First the source's own alias in the team's country, then any source's alias in
    that country, then the source's alias in any country (cup and European
    opponents) — each only when it names exactly one team; otherwise no id.
    """
    rows = connection.execute(
        select(TeamAlias.source, TeamAlias.country, TeamAlias.alias_key, TeamAlias.team_id)
    ).all()
    tiers: list[dict[tuple[str, ...], set[int]]] = [{}, {}, {}]
    for source, country, key, team_id in rows:
        tiers[0].setdefault((source, country, key), set()).add(team_id)
        tiers[1].setdefault((country, key), set()).add(team_id)
        tiers[2].setdefault((source, key), set()).add(team_id)
    resolved = []
    for source, country, opponent in pairs.iter_rows():
        key = alias_key(opponent)
        lookups = ((source, country, key), (country, key), (source, key))
        for tier, lookup in zip(tiers, lookups, strict=True):
            found = tier.get(lookup, ())
            if len(found) == 1:
                resolved.append((source, country, opponent, next(iter(found))))
                break
    return pl.DataFrame(
        resolved,
        schema={
            "source": pl.String,
            "country": pl.String,
            "opponent_name": pl.String,
            "opponent_team_id": pl.Int64,
        },
        orient="row",
    )


def team_match_stats_frame(
    engine: Engine, *, leagues: list[str] | None = None, seasons: list[str] | None = None
) -> pl.DataFrame:
    """Per team-match advanced statistics: Understat summaries and FBref match logs.

    One row per (``team_id``, ``match_date``, ``source``, ``competition``), with
    the columns of :data:`TEAM_MATCH_STATS_COLUMNS`: Understat's league matches
    (xG, non-penalty xG, deep completions, PPDA for and against) and FBref's
    match logs of every competition (league, cups, Europe: score, xG and
    non-penalty xG where its logs give them; several stat-type logs of one
    match agree, and each column takes the value any of them gives).
    ``league_code`` is the warehouse league of a league match (null for cups and
    Europe), ``match_id`` the linked warehouse match (through
    ``source_matches``), ``opponent_team_id`` the reconciled opponent where its
    name identifies exactly one team.

    ``seasons`` keeps those seasons; ``leagues`` keeps the teams that play one of
    those leagues in a season, with all their matches of that season (cups
    included).  Rows are ordered by date, team, source and competition.
    """
    with engine.connect() as connection:
        dialect = connection.dialect.name
        names, rows = _fetch_rows(connection, _team_match_select(dialect, seasons))
        schema = {name: _TEAM_MATCH_TYPES.get(name, pl.String) for name in names}
        if dialect == "postgresql":
            schema["match_date"] = pl.Date
        raw = _split_stats(pl.DataFrame(rows, schema=schema, orient="row"))
        del rows
        if dialect != "postgresql":
            raw = raw.with_columns(pl.col("match_date").str.to_date("%Y-%m-%d"))
        opponents = _resolve_opponents(
            connection, raw.select("source", "country", "opponent_name").unique()
        )
    numbers = raw.with_columns(pl.col(_STATS_KEYS).cast(pl.Float64, strict=False))
    figures = numbers.select(
        *_TEAM_MATCH_KEY,
        "country",
        "season_code",
        "opponent_name",
        "venue",
        "goals_for",
        "goals_against",
        pl.coalesce("xg_column", "xg").alias("xg_for"),
        pl.coalesce("xga_column", "against_xg").alias("xg_against"),
        pl.col("npxg").alias("npxg_for"),
        pl.coalesce("npxga", "against_npxg").alias("npxg_against"),
        pl.col("deep").alias("deep_for"),
        pl.col("deep_allowed").alias("deep_against"),
        "ppda",
        "ppda_allowed",
        "linked_league",
        "match_id",
    )
    frame = (
        figures.group_by(_TEAM_MATCH_KEY)
        .agg(pl.all().drop_nulls().first())
        .join(opponents, on=["source", "country", "opponent_name"], how="left")
        .join(_leagues_by_competition(), on=["competition", "country"], how="left")
        .with_columns(
            pl.coalesce("linked_league", "named_league").alias("league_code"),
            pl.col("deep_for", "deep_against").cast(pl.Int64),
        )
    )
    if leagues:
        playing = (
            frame.filter(pl.col("league_code").is_in(leagues))
            .select("team_id", "season_code")
            .unique()
        )
        frame = frame.join(playing, on=["team_id", "season_code"], how="semi")
    return frame.select(TEAM_MATCH_STATS_COLUMNS).sort(
        "match_date", "team_id", "source", "competition"
    )
