"""What the feature builders read: warehouse tables as polars frames.

This module is the only place the feature store reads the warehouse, and it
selects **pre-closing odds only**: closing prices are quoted at kick-off and
exist for evaluation, so they never enter :class:`Inputs` and no feature can
see them.  The same holds for the odds snapshots (every copy of a quote with
the moment it was taken): only pre-closing 1X2 snapshots are read.  Rows are
read straight from the DBAPI cursor (no ORM objects), which keeps a
full-archive read to a few seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple

import polars as pl
from sqlalchemy import ColumnElement, Engine, Select, and_, select, tuple_

from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.warehouse.models import (
    Match,
    MatchXg,
    Shot,
    SourceMatch,
    SquadValue,
    TeamMatchLog,
)
from sabiscore_ml.warehouse.queries import team_match_stats_frame

Ts = TypeVarTuple("Ts")

ColumnType = type[pl.DataType] | pl.DataType
"""A column's polars type: the class (``pl.Float64``) or an instance (``pl.Datetime("us")``)."""

PRECLOSE = "preclose"
# The aggregates football-data publishes next to the bookmakers' prices.
AGGREGATES = ("market_max", "market_avg")
# Outcomes of the 1X2 snapshots, one price column each.
SNAPSHOT_OUTCOMES = ("home", "draw", "away")
# Pre-closing prices are read one row per match, bookmaker, market and line,
# with a column per outcome (1X2: home/draw/away; over/under; handicap: home/away).
ODDS_OUTCOMES = ("home", "draw", "away", "over", "under")

# Match statistics read per side: feature stem -> (home column, away column).
MATCH_STATS: dict[str, tuple[str, str]] = {
    "goals": ("home_goals", "away_goals"),
    "shots": ("home_shots", "away_shots"),
    "sot": ("home_shots_on_target", "away_shots_on_target"),
    "corners": ("home_corners", "away_corners"),
    "fouls": ("home_fouls", "away_fouls"),
    "yellow": ("home_yellow_cards", "away_yellow_cards"),
    "red": ("home_red_cards", "away_red_cards"),
}


@dataclass(frozen=True)
class Inputs:
    """Every warehouse fact the features may use, one polars frame per kind.

    ``matches``: one row per match (league matches of the warehouse), results
    null for fixtures not played yet.  ``odds``: pre-closing quotes only, a row
    per match, bookmaker, market and line with a price column per outcome.
    ``xg``: expected goals per match and source.  ``npxg``: non-penalty xG per
    match and side from shots.  ``team_games``: every game a team played in any
    competition (league matches and FBref match-log rows: cups, Europe), for
    fatigue.  ``squad_values``: squad market values by date.  ``team_stats``:
    Understat's per team-match figures (non-penalty xG, deep completions, PPDA),
    by team and date.  ``snapshots``: the pre-closing 1X2 snapshots of the
    bookmakers (no aggregates) of the matches quoted at two moments or more, a
    row per match, bookmaker and moment ``taken_at`` (naive UTC) with a price
    column per outcome (:func:`_read_snapshots`).  ``matches`` carries each
    match's ``kickoff_utc`` (null when unknown), the moment its snapshots are
    cut at.
    """

    matches: pl.DataFrame
    odds: pl.DataFrame
    xg: pl.DataFrame
    npxg: pl.DataFrame
    team_games: pl.DataFrame
    squad_values: pl.DataFrame
    team_stats: pl.DataFrame
    snapshots: pl.DataFrame


_LEAGUE_FRAME = pl.DataFrame(
    {
        "league_code": [league.code for league in LEAGUES.values()],
        "country": [league.country for league in LEAGUES.values()],
        "tier": [league.tier for league in LEAGUES.values()],
    },
    schema={"league_code": pl.String, "country": pl.String, "tier": pl.Int32},
)


def _read(
    engine: Engine, stmt: Select[*tuple[Any, ...]], schema: dict[str, ColumnType]
) -> pl.DataFrame:
    """Run ``stmt`` on the DBAPI cursor into a polars frame with ``schema``."""
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    return _read_sql(engine, sql, schema)


def _read_sql(engine: Engine, sql: str, schema: dict[str, ColumnType]) -> pl.DataFrame:
    """Run ``sql`` on the DBAPI cursor into a polars frame with ``schema``."""
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    # Dates arrive as text from SQLite and as date objects from PostgreSQL.
    temporal = (pl.Date, pl.Datetime)
    text_dates = engine.dialect.name == "sqlite"
    build = {
        name: (pl.String if text_dates and dtype in temporal else dtype)
        for name, dtype in schema.items()
    }
    if rows:
        columns = list(zip(*rows, strict=True))
        frame = pl.DataFrame(
            {
                name: pl.Series(name, columns[i], dtype=build[name], strict=False)
                for i, name in enumerate(schema)
            }
        )
    else:
        frame = pl.DataFrame(schema=build)
    casts = []
    for name, dtype in schema.items():
        if dtype == pl.Date and frame.schema[name] == pl.String:
            casts.append(pl.col(name).str.slice(0, 10).str.to_date("%Y-%m-%d"))
        elif dtype == pl.Datetime and frame.schema[name] == pl.String:
            casts.append(pl.col(name).str.to_datetime(time_unit="us"))
    return frame.with_columns(casts) if casts else frame


def match_filter(
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> ColumnElement[bool] | None:
    """A condition on ``matches`` selecting leagues, seasons or (league, season) pairs."""
    conditions = []
    if leagues:
        conditions.append(Match.league_code.in_(list(leagues)))
    if seasons:
        conditions.append(Match.season_code.in_(list(seasons)))
    if pairs is not None:
        conditions.append(tuple_(Match.league_code, Match.season_code).in_(list(pairs)))
    return and_(*conditions) if conditions else None


def _filtered(stmt: Select[*Ts], where: ColumnElement[bool] | None) -> Select[*Ts]:
    return stmt if where is None else stmt.where(where)


@dataclass(frozen=True)
class SeasonFacts:
    """The facts that belong to league-seasons: matches, odds, xG, non-penalty xG, odds snapshots.

    They can be read (and cached) one league-season at a time; see
    :mod:`feature_store.snapshots`.
    """

    matches: pl.DataFrame
    odds: pl.DataFrame
    xg: pl.DataFrame
    npxg: pl.DataFrame
    snapshots: pl.DataFrame

    KINDS = ("matches", "odds", "xg", "npxg", "snapshots")

    @staticmethod
    def concat(parts: Sequence[SeasonFacts]) -> SeasonFacts:
        """The facts of several parts together."""
        return SeasonFacts(
            *(pl.concat([getattr(p, kind) for p in parts]) for kind in SeasonFacts.KINDS)
        )


def read_season_facts(engine: Engine, where: ColumnElement[bool] | None = None) -> SeasonFacts:
    """Matches, pre-closing odds, xG, non-penalty xG and odds snapshots of the chosen matches."""
    stat_columns = [column for pair in MATCH_STATS.values() for column in pair]
    match_schema: dict[str, ColumnType] = {
        "match_id": pl.Int64,
        "league_code": pl.String,
        "season_code": pl.String,
        "match_date": pl.Date,
        "home_team_id": pl.Int64,
        "away_team_id": pl.Int64,
        **{column: pl.Int32 for column in stat_columns},
        "attendance": pl.Int64,
        "kickoff_utc": pl.Datetime("us"),
    }
    matches = _read(
        engine,
        _filtered(
            select(
                Match.id,
                Match.league_code,
                Match.season_code,
                Match.match_date,
                Match.home_team_id,
                Match.away_team_id,
                *(getattr(Match, column) for column in stat_columns),
                Match.attendance,
                Match.kickoff_utc,
            ),
            where,
        ),
        match_schema,
    )
    matches = matches.join(_LEAGUE_FRAME, on="league_code", how="left")
    matches = _with_fbref_attendance(engine, matches, where).sort("match_date", "match_id")
    xg = _read(
        engine,
        _filtered(
            select(MatchXg.match_id, MatchXg.source, MatchXg.home_xg, MatchXg.away_xg).join(
                Match, Match.id == MatchXg.match_id
            ),
            where,
        ),
        {"match_id": pl.Int64, "source": pl.String, "home_xg": pl.Float64, "away_xg": pl.Float64},
    )
    shots = _read(
        engine,
        _filtered(
            select(Shot.match_id, Shot.side, Shot.xg)
            .join(Match, Match.id == Shot.match_id)
            .where(and_(Shot.source == "understat", Shot.situation != "Penalty")),
            where,
        ),
        {"match_id": pl.Int64, "side": pl.String, "xg": pl.Float64},
    )
    return SeasonFacts(
        matches=matches,
        odds=_read_odds(engine, where),
        xg=xg.sort("match_id", "source"),
        npxg=_npxg(matches, shots).sort("match_id"),
        snapshots=_read_snapshots(engine, where),
    )


def complete_inputs(engine: Engine, facts: SeasonFacts) -> Inputs:
    """Add the team-level facts (games in every competition, squad values) to ``facts``."""
    matches = facts.matches.sort("match_date", "match_id")
    squad_values = _read(
        engine,
        select(SquadValue.team_id, SquadValue.as_of, SquadValue.market_value_eur).where(
            SquadValue.market_value_eur.is_not(None)
        ),
        {"team_id": pl.Int64, "as_of": pl.Date, "market_value_eur": pl.Float64},
    )
    return Inputs(
        matches=matches,
        odds=facts.odds,
        xg=facts.xg,
        npxg=facts.npxg,
        team_games=_team_games(engine, matches),
        squad_values=squad_values,
        team_stats=_understat_team_stats(engine),
        snapshots=facts.snapshots,
    )


TEAM_STATS = ("npxg_for", "npxg_against", "deep_for", "deep_against", "ppda", "ppda_allowed")


def _understat_team_stats(engine: Engine) -> pl.DataFrame:
    """Understat's figures per team and date (one row per team-match)."""
    frame = team_match_stats_frame(engine)
    return (
        frame.filter(pl.col("source") == "understat")
        .select("team_id", "match_date", *(pl.col(c).cast(pl.Float64) for c in TEAM_STATS))
        .unique(["team_id", "match_date"], keep="first")
        .sort("team_id", "match_date")
    )


def load_inputs(
    engine: Engine,
    *,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
) -> Inputs:
    """Read the warehouse facts the features need (optionally some leagues/seasons only).

    Restricting ``seasons`` drops the history earlier seasons would give the
    ratings and form: builds that write the offline store read whole countries.
    """
    return complete_inputs(engine, read_season_facts(engine, match_filter(leagues, seasons)))


def _read_odds(engine: Engine, where: ColumnElement[bool] | None) -> pl.DataFrame:
    """Pre-closing quotes, one row per match, bookmaker, market and line.

    The quotes are read row by row and pivoted here.  Reading everything, a
    plain table scan on SQLite (``NOT INDEXED``: walking the primary-key index
    would visit the table in random order) is several times faster; reading
    some matches, the index finds them.
    """
    sqlite = engine.dialect.name == "sqlite"
    sql = (
        "SELECT o.match_id, o.bookmaker, o.market, o.line, o.outcome, o.price "
        f"FROM odds AS o{' NOT INDEXED' if sqlite and where is None else ''} "
        f"WHERE o.timing = '{PRECLOSE}' AND (o.market <> 'ou' OR o.line = 2.5)"
    )
    if where is not None:
        sql += f" AND o.match_id IN ({_chosen_ids(engine, where)})"
    quotes = _read_sql(
        engine,
        sql,
        {
            "match_id": pl.Int64,
            "bookmaker": pl.String,
            "market": pl.String,
            "line": pl.Float64,
            "outcome": pl.String,
            "price": pl.Float64,
        },
    )
    wide = quotes.pivot(
        on="outcome",
        index=["match_id", "bookmaker", "market", "line"],
        values="price",
        aggregate_function="first",
    )
    return wide.select(
        "match_id",
        "bookmaker",
        "market",
        "line",
        *(
            pl.col(o) if o in wide.columns else pl.lit(None, dtype=pl.Float64).alias(o)
            for o in ODDS_OUTCOMES
        ),
    ).sort("match_id", "bookmaker", "market", "line")


def _chosen_ids(engine: Engine, where: ColumnElement[bool]) -> str:
    """SQL selecting the ids of the matches ``where`` selects (literal values bound)."""
    chosen = select(Match.id).where(where)
    return str(chosen.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


SNAPSHOT_SCHEMA: dict[str, ColumnType] = {
    "match_id": pl.Int64,
    "bookmaker": pl.String,
    "taken_at": pl.Datetime("us"),
    **{o: pl.Float64 for o in SNAPSHOT_OUTCOMES},
}
"""The columns of :attr:`Inputs.snapshots`: a row per match, bookmaker and moment."""


def _read_snapshots(engine: Engine, where: ColumnElement[bool] | None) -> pl.DataFrame:
    """Pre-closing 1X2 snapshots of the bookmakers, one row per match, bookmaker and moment.

    Only the matches quoted at two moments or more are read: a single moment
    shows no movement (the usual case for season-file history, whose only
    pre-closing snapshot is the collection before the match).  A first pass
    finds them on the primary key alone (on SQLite, a covering index scan,
    under a second for the ~5 million snapshots of the full archive, where
    transferring every pre-closing 1X2 row would take ten); the second reads
    their rows through the match index.  The moments are counted on every
    pre-closing snapshot; the features count only those before each match's
    kick-off.  The aggregates (``market_max``, ``market_avg``) are not
    bookmakers and are not read.
    """
    aggregates = ", ".join(f"'{a}'" for a in AGGREGATES)
    outcomes = ", ".join(f"'{o}'" for o in SNAPSHOT_OUTCOMES)
    chosen = f"market = '1x2' AND timing = '{PRECLOSE}' AND outcome IN ({outcomes}) " + (
        f"AND bookmaker NOT IN ({aggregates})"
    )
    if where is not None:
        chosen += f" AND match_id IN ({_chosen_ids(engine, where)})"
    moving = (
        f"SELECT match_id FROM odds_snapshots WHERE {chosen} "
        "GROUP BY match_id HAVING MIN(taken_at) < MAX(taken_at)"
    )
    sql = (
        "SELECT match_id, bookmaker, taken_at, outcome, price FROM odds_snapshots "
        f"WHERE {chosen} AND match_id IN ({moving})"
    )
    quotes = _read_sql(
        engine,
        sql,
        {
            "match_id": pl.Int64,
            "bookmaker": pl.String,
            "taken_at": pl.Datetime("us"),
            "outcome": pl.String,
            "price": pl.Float64,
        },
    )
    if quotes.is_empty():
        return pl.DataFrame(schema=SNAPSHOT_SCHEMA)
    wide = quotes.pivot(
        on="outcome",
        index=["match_id", "bookmaker", "taken_at"],
        values="price",
        aggregate_function="first",
    )
    return wide.select(
        "match_id",
        "bookmaker",
        "taken_at",
        *(
            pl.col(o) if o in wide.columns else pl.lit(None, dtype=pl.Float64).alias(o)
            for o in SNAPSHOT_OUTCOMES
        ),
    ).sort("match_id", "taken_at", "bookmaker")


def _with_fbref_attendance(
    engine: Engine, matches: pl.DataFrame, where: ColumnElement[bool] | None
) -> pl.DataFrame:
    """Fill missing attendances from FBref's fixtures (``details_json.attendance``)."""
    fbref = _read(
        engine,
        _filtered(
            select(SourceMatch.match_id, SourceMatch.details_json)
            .join(Match, Match.id == SourceMatch.match_id)
            .where(SourceMatch.source == "fbref"),
            where,
        ),
        {"match_id": pl.Int64, "details_json": pl.String},
    ).select(
        "match_id",
        pl.col("details_json")
        .str.json_path_match("$.attendance")
        .str.replace_all(r"[^0-9]", "")
        .cast(pl.Int64, strict=False)
        .alias("fbref_attendance"),
    )
    fbref = fbref.filter(pl.col("fbref_attendance").is_not_null()).unique("match_id", keep="first")
    return (
        matches.join(fbref, on="match_id", how="left")
        .with_columns(pl.coalesce("attendance", "fbref_attendance").alias("attendance"))
        .drop("fbref_attendance")
    )


def _npxg(matches: pl.DataFrame, shots: pl.DataFrame) -> pl.DataFrame:
    """Non-penalty xG per match and side, for matches whose shots are loaded."""
    if shots.is_empty():
        return pl.DataFrame(
            schema={"match_id": pl.Int64, "home_npxg": pl.Float64, "away_npxg": pl.Float64}
        )
    per_side = shots.group_by("match_id").agg(
        pl.col("xg").filter(pl.col("side") == "h").sum().alias("home_npxg"),
        pl.col("xg").filter(pl.col("side") == "a").sum().alias("away_npxg"),
    )
    return per_side.join(matches.select("match_id"), on="match_id", how="semi")


def _team_games(engine: Engine, matches: pl.DataFrame) -> pl.DataFrame:
    """Every dated game of every team: its league matches plus FBref match-log rows.

    A game counts when it was played (a result is known); match-log rows of the
    league duplicate warehouse matches and collapse on (team, date).
    """
    league = pl.concat(
        [
            matches.filter(pl.col("home_goals").is_not_null()).select(
                pl.col(side).alias("team_id"), "match_date"
            )
            for side in ("home_team_id", "away_team_id")
        ]
    )
    logs = _read(
        engine,
        select(TeamMatchLog.team_id, TeamMatchLog.match_date)
        .where(TeamMatchLog.goals_for.is_not(None))
        .distinct(),
        {"team_id": pl.Int64, "match_date": pl.Date},
    )
    return pl.concat([league, logs]).unique().sort("team_id", "match_date")


def as_of_moment() -> pl.Expr:
    """The moment a match's features are as of (naive UTC), on a frame of matches.

    Its kick-off (``kickoff_utc``), or the start of its match day when the
    kick-off is unknown.  Odds snapshots of the match taken at or after it are
    its future.
    """
    return pl.coalesce(pl.col("kickoff_utc"), pl.col("match_date").cast(pl.Datetime("us")))


def hidden_from(inputs: Inputs, cutoff: dt.date) -> Inputs:
    """``inputs`` as they stood on the morning of ``cutoff``: later facts removed.

    Matches dated on or after ``cutoff`` stay as fixtures (teams, date, and
    their own pre-closing odds, standing in for the prices on offer) but lose
    their results, statistics and attendance; xG, shots, squad values, team
    statistics and other competitions' games dated from ``cutoff`` on are
    dropped.  Features built from this copy for fixtures after ``cutoff`` use
    nothing that happened after it (a replay of the prediction made that day).
    Odds snapshots taken after the cut-off day are dropped too: a prediction
    made that day sees the copies of the fixtures taken until then (and each
    match's features only those taken before its own kick-off).
    """
    later = pl.col("match_date") >= cutoff
    stat_columns = [column for pair in MATCH_STATS.values() for column in pair]
    matches = inputs.matches.with_columns(
        pl.when(later).then(None).otherwise(pl.col(c)).alias(c)
        for c in (*stat_columns, "attendance")
    )
    later_ids = inputs.matches.filter(later)["match_id"].implode()
    return Inputs(
        matches=matches,
        odds=inputs.odds,
        xg=inputs.xg.filter(~pl.col("match_id").is_in(later_ids)),
        npxg=inputs.npxg.filter(~pl.col("match_id").is_in(later_ids)),
        team_games=inputs.team_games.filter(~later),
        squad_values=inputs.squad_values.filter(pl.col("as_of") < cutoff),
        team_stats=inputs.team_stats.filter(~later),
        snapshots=inputs.snapshots.filter(
            pl.col("taken_at") < dt.datetime.combine(cutoff + dt.timedelta(days=1), dt.time())
        ),
    )


def perturbed_after(inputs: Inputs, cutoff: dt.date, *, seed: int = 7) -> Inputs:
    """A copy of ``inputs`` where everything dated on or after ``cutoff`` is changed.

    Results and statistics of matches on or after ``cutoff`` are replaced, every
    second match after the cut-off day is deleted outright, the odds of matches
    after the cut-off day are scaled (a match's own pre-closing odds are quoted
    before its kick-off, so the cut-off day's stay), and xG, squad values and
    team games dated from ``cutoff`` on are altered.  Odds snapshots are moved
    (home and away prices scaled apart) for the matches after the cut-off day
    and, for every match, where they were taken at or after its kick-off
    (:func:`as_of_moment`): a feature reading a match's snapshots from its own
    future changes.  Features of matches dated
    up to and including ``cutoff`` built from this copy must equal those built
    from the original: a match's features
    may use neither the future nor the match's own day (see
    :mod:`feature_store.leakage`).
    """
    later = pl.col("match_date") >= cutoff
    matches = inputs.matches
    later_ids = matches.filter(later).select("match_id")
    stat_columns = [column for pair in MATCH_STATS.values() for column in pair]
    changed = matches.with_columns(
        [
            pl.when(later)
            .then(
                (pl.col(column).fill_null(0) * 3 + 1 + pl.col("match_id") % 5)
                .cast(pl.Int32)
                .shuffle(seed=seed)
            )
            .otherwise(pl.col(column))
            .alias(column)
            for column in stat_columns
        ]
    ).filter(~((pl.col("match_date") > cutoff) & (pl.col("match_id") % 2 == 0)))
    kept = changed.select("match_id")

    after_ids = matches.filter(pl.col("match_date") > cutoff).select("match_id")

    def scaled(
        frame: pl.DataFrame, columns: list[str], factor: float, ids: pl.DataFrame = later_ids
    ) -> pl.DataFrame:
        is_later = pl.col("match_id").is_in(ids["match_id"].implode())
        return frame.with_columns(
            pl.when(is_later).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c)
            for c in columns
        ).join(kept, on="match_id", how="semi")

    team_games = pl.concat(
        [
            inputs.team_games.filter(pl.col("match_date") < cutoff),
            inputs.team_games.filter(pl.col("match_date") >= cutoff)
            .with_columns(pl.col("match_date") - pl.duration(days=1))
            .filter(pl.col("match_date") >= cutoff),
        ]
    )
    squad = inputs.squad_values.with_columns(
        pl.when(pl.col("as_of") >= cutoff)
        .then(pl.col("market_value_eur") * 5)
        .otherwise(pl.col("market_value_eur"))
        .alias("market_value_eur")
    )
    later_stats = pl.col("match_date") >= cutoff
    team_stats = inputs.team_stats.with_columns(
        pl.when(later_stats).then(pl.col(c) * 3 + 1).otherwise(pl.col(c)).alias(c)
        for c in TEAM_STATS
    )
    moments = matches.select("match_id", as_of_moment().alias("_as_of"))
    after = pl.col("match_id").is_in(after_ids["match_id"].implode())
    future = after | (pl.col("taken_at") >= pl.col("_as_of")).fill_null(True)
    # home and away scaled apart: a margin-free probability ignores a common factor
    factors = {"home": 1.37, "draw": 1.0, "away": 0.8}
    snapshots = (
        inputs.snapshots.join(moments, on="match_id", how="left")
        .with_columns(
            pl.when(future).then(pl.col(o) * factors[o]).otherwise(pl.col(o)).alias(o)
            for o in SNAPSHOT_OUTCOMES
        )
        .drop("_as_of")
        .join(kept, on="match_id", how="semi")
    )
    return Inputs(
        team_stats=team_stats,
        snapshots=snapshots,
        matches=changed,
        odds=scaled(inputs.odds, list(ODDS_OUTCOMES), 1.37, after_ids),
        xg=scaled(inputs.xg, ["home_xg", "away_xg"], 2.0),
        npxg=scaled(inputs.npxg, ["home_npxg", "away_npxg"], 0.5),
        team_games=team_games,
        squad_values=squad,
    )
