"""Warehouse schema (SQLAlchemy 2 declarative models).

The same schema runs on SQLite (embedded default) and PostgreSQL.  Each table
has a natural key enforced by a unique constraint, and loaders write with
upserts on that key, so loading the same raw file twice changes nothing.
Every fact row names the raw file it came from (``raw_sha256``), which the
immutable raw archive keeps under that content hash.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # every model maps one Table (SQLAlchemy types it as any FromClause)
        __table__: ClassVar[Table]


class League(Base):
    """A league division; ``code`` is football-data's division code (E0, SP1...)."""

    __tablename__ = "leagues"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    country: Mapped[str] = mapped_column(String(40))
    tier: Mapped[int] = mapped_column(Integer)


class Season(Base):
    """A season, ``YYYY-YYYY``."""

    __tablename__ = "seasons"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    start_year: Mapped[int] = mapped_column(Integer)


class Team(Base):
    """A club.  Unique per country: two clubs may share a short name across countries."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("country", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))


class TeamAlias(Base):
    """How one source spells a team; ``alias_key`` is the case- and space-folded spelling."""

    __tablename__ = "team_aliases"
    __table_args__ = (UniqueConstraint("source", "country", "alias_key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(40))
    alias_key: Mapped[str] = mapped_column(String(120))
    alias: Mapped[str] = mapped_column(String(120))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)


class RawFile(Base):
    """A raw file kept in the archive under its SHA-256."""

    __tablename__ = "raw_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    uri: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    archive_path: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)


class IngestionRun(Base):
    """One attempt to load one file: what, when, how many rows, and how it ended."""

    __tablename__ = "ingestion_runs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # loaded / rejected / failed
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    loaded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    league_code: Mapped[str | None] = mapped_column(String(8))
    season_code: Mapped[str | None] = mapped_column(String(9))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    matches_loaded: Mapped[int] = mapped_column(Integer, default=0)
    odds_loaded: Mapped[int] = mapped_column(Integer, default=0)
    check_failed: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)


class Match(Base):
    """A match: natural key (league, season, date, home, away) plus result and stats."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint(
            "league_code", "season_code", "match_date", "home_team_id", "away_team_id"
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    league_code: Mapped[str] = mapped_column(ForeignKey("leagues.code"))
    season_code: Mapped[str] = mapped_column(ForeignKey("seasons.code"))
    match_date: Mapped[dt.date] = mapped_column(Date, index=True)
    kickoff_time: Mapped[dt.time | None] = mapped_column(Time)  # UK local time, as published
    kickoff_utc: Mapped[dt.datetime | None] = mapped_column(DateTime)
    home_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    away_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    home_goals: Mapped[int | None] = mapped_column(Integer)
    away_goals: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(String(1))
    ht_home_goals: Mapped[int | None] = mapped_column(Integer)
    ht_away_goals: Mapped[int | None] = mapped_column(Integer)
    referee: Mapped[str | None] = mapped_column(String(80))
    attendance: Mapped[int | None] = mapped_column(Integer)
    home_shots: Mapped[int | None] = mapped_column(Integer)
    away_shots: Mapped[int | None] = mapped_column(Integer)
    home_shots_on_target: Mapped[int | None] = mapped_column(Integer)
    away_shots_on_target: Mapped[int | None] = mapped_column(Integer)
    home_fouls: Mapped[int | None] = mapped_column(Integer)
    away_fouls: Mapped[int | None] = mapped_column(Integer)
    home_corners: Mapped[int | None] = mapped_column(Integer)
    away_corners: Mapped[int | None] = mapped_column(Integer)
    home_yellow_cards: Mapped[int | None] = mapped_column(Integer)
    away_yellow_cards: Mapped[int | None] = mapped_column(Integer)
    home_red_cards: Mapped[int | None] = mapped_column(Integer)
    away_red_cards: Mapped[int | None] = mapped_column(Integer)
    home_offsides: Mapped[int | None] = mapped_column(Integer)
    away_offsides: Mapped[int | None] = mapped_column(Integer)
    home_woodwork: Mapped[int | None] = mapped_column(Integer)
    away_woodwork: Mapped[int | None] = mapped_column(Integer)
    home_booking_points: Mapped[int | None] = mapped_column(Integer)
    away_booking_points: Mapped[int | None] = mapped_column(Integer)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class Odds(Base):
    """One price: bookmaker, market, line, outcome, and when it was quoted.

    ``timing`` is ``preclose`` (the price collected before kick-off, usable as a
    feature) or ``close`` (the closing price: for evaluation only, never a
    feature).
    """

    __tablename__ = "odds"

    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), primary_key=True)
    bookmaker: Mapped[str] = mapped_column(String(24), primary_key=True)
    market: Mapped[str] = mapped_column(String(8), primary_key=True)
    timing: Mapped[str] = mapped_column(String(8), primary_key=True)
    line: Mapped[float] = mapped_column(Float, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    price: Mapped[float] = mapped_column(Float)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class OddsSnapshot(Base):
    """One price as quoted at ``taken_at``: every copy of every quote, never replaced.

    ``odds`` holds each quote's *current* price (its latest snapshot); this table
    keeps them all.  A season file's pre-closing block is stamped with the time
    football-data collected it and its closing block with the kick-off
    (:func:`sabiscore_ml.warehouse.snapshots.season_quote_time`); a ``fixtures.csv``
    copy with the moment it was taken.  The same copy loaded twice adds nothing
    (``taken_at`` is part of the key).  On PostgreSQL the table is partitioned by
    month of ``taken_at``; the index serves "quotes of these matches before T".
    """

    __tablename__ = "odds_snapshots"
    __table_args__ = (Index("ix_odds_snapshots_match_taken", "match_id", "taken_at"),)

    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), primary_key=True)
    bookmaker: Mapped[str] = mapped_column(String(24), primary_key=True)
    market: Mapped[str] = mapped_column(String(8), primary_key=True)
    timing: Mapped[str] = mapped_column(String(8), primary_key=True)
    line: Mapped[float] = mapped_column(Float, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    taken_at: Mapped[dt.datetime] = mapped_column(DateTime, primary_key=True)  # naive UTC
    price: Mapped[float] = mapped_column(Float)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


# --- Tables the later stages fill (xG and shots, squad values, models, predictions). ---


class MatchXg(Base):
    """Expected goals of a match according to one source (Understat, FBref)."""

    __tablename__ = "match_xg"

    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    home_xg: Mapped[float | None] = mapped_column(Float)
    away_xg: Mapped[float | None] = mapped_column(Float)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class SourceMatch(Base):
    """A match as another source (Understat, FBref) lists it, linked to the warehouse match.

    ``match_id`` is set when the teams (reconciled) and the date (within one day)
    identify exactly one warehouse match; it stays empty for fixtures the
    warehouse does not hold yet.
    """

    __tablename__ = "source_matches"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_match_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    league_code: Mapped[str] = mapped_column(ForeignKey("leagues.code"))
    season_code: Mapped[str] = mapped_column(ForeignKey("seasons.code"))
    match_date: Mapped[dt.date] = mapped_column(Date, index=True)
    kickoff_published: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive, as shown
    kickoff_utc: Mapped[dt.datetime | None] = mapped_column(DateTime)
    home_name: Mapped[str] = mapped_column(String(120))
    away_name: Mapped[str] = mapped_column(String(120))
    home_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    away_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))  # played / scheduled / cancelled
    home_goals: Mapped[int | None] = mapped_column(Integer)
    away_goals: Mapped[int | None] = mapped_column(Integer)
    home_xg: Mapped[float | None] = mapped_column(Float)
    away_xg: Mapped[float | None] = mapped_column(Float)
    details_json: Mapped[str | None] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class Shot(Base):
    """One shot of a match, as a source records it."""

    __tablename__ = "shots"
    __table_args__ = (UniqueConstraint("source", "source_shot_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    source_shot_id: Mapped[str] = mapped_column(String(40))
    source_match_id: Mapped[str] = mapped_column(String(40), index=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    side: Mapped[str] = mapped_column(String(1))  # h / a
    minute: Mapped[int | None] = mapped_column(Integer)
    player: Mapped[str | None] = mapped_column(String(120))
    assist_player: Mapped[str | None] = mapped_column(String(120))
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    xg: Mapped[float | None] = mapped_column(Float)
    result: Mapped[str | None] = mapped_column(String(24))
    situation: Mapped[str | None] = mapped_column(String(24))
    shot_type: Mapped[str | None] = mapped_column(String(24))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TeamMatchLog(Base):
    """One row of a team's match log (every competition: league, cups, Europe)."""

    __tablename__ = "team_match_logs"
    __table_args__ = (
        UniqueConstraint(
            "source", "team_id", "match_date", "competition", "opponent_name", "stat_type"
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    season_code: Mapped[str] = mapped_column(ForeignKey("seasons.code"))
    stat_type: Mapped[str] = mapped_column(String(24))
    match_date: Mapped[dt.date] = mapped_column(Date)
    competition: Mapped[str] = mapped_column(String(80))
    round: Mapped[str | None] = mapped_column(String(80))
    venue: Mapped[str | None] = mapped_column(String(12))
    opponent_name: Mapped[str] = mapped_column(String(120))
    # The opponent's team when it is in the registry (league opponents always are).
    opponent_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    goals_for: Mapped[int | None] = mapped_column(Integer)
    goals_against: Mapped[int | None] = mapped_column(Integer)
    xg_for: Mapped[float | None] = mapped_column(Float)
    xg_against: Mapped[float | None] = mapped_column(Float)
    source_match_id: Mapped[str | None] = mapped_column(String(40))
    stats_json: Mapped[str | None] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TeamSeasonStats(Base):
    """A team's season totals from one stats table of one source."""

    __tablename__ = "team_season_stats"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    season_code: Mapped[str] = mapped_column(ForeignKey("seasons.code"), primary_key=True)
    table_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    stats_json: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class SquadValue(Base):
    """A squad's market value on a date (Transfermarkt).

    ``source`` ``transfermarkt`` rows are published squad totals (season tables);
    ``transfermarkt-derived`` rows are sums of player valuations, one row each
    time the sum changes: the value on a day D is the latest row on or before D
    (``market_value_eur`` empty from the day no valuation counts any more).
    ``players_valued`` and ``oldest_valuation`` describe what a derived sum is
    made of; ``raw_sha256`` of a derived row is the valuations file holding the
    newest valuation it counts.
    """

    __tablename__ = "squad_values"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    season_code: Mapped[str | None] = mapped_column(ForeignKey("seasons.code"))
    market_value_eur: Mapped[float | None] = mapped_column(Float)
    squad_size: Mapped[int | None] = mapped_column(Integer)
    players_valued: Mapped[int | None] = mapped_column(Integer)
    oldest_valuation: Mapped[dt.date | None] = mapped_column(Date)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


# --- transfermarkt-datasets tables (dcaribou/transfermarkt-datasets and its scraper). ---
#
# Ids are Transfermarkt's own.  ``release`` ranks the file a row came from (the
# latest season or date the file mentions): a row only replaces a stored one
# from a file of an older release (ties: by ``raw_sha256``), so the tables do not
# depend on the order in which files of several releases are loaded.


class TmCompetition(Base):
    """A Transfermarkt competition (``GB1``, ``CL``, ``FIWC``...), reference data."""

    __tablename__ = "tm_competitions"

    competition_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    competition_code: Mapped[str | None] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(60))
    sub_type: Mapped[str | None] = mapped_column(String(60))
    country_name: Mapped[str | None] = mapped_column(String(80))
    domestic_league_code: Mapped[str | None] = mapped_column(String(16))
    is_major_national_league: Mapped[bool | None] = mapped_column(Boolean)
    league_code: Mapped[str | None] = mapped_column(ForeignKey("leagues.code"))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TmClub(Base):
    """A Transfermarkt club; ``team_id`` is the reconciled warehouse team, when we hold it."""

    __tablename__ = "tm_clubs"

    club_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    club_code: Mapped[str | None] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(255))
    competition_id: Mapped[str | None] = mapped_column(String(16))
    league_code: Mapped[str | None] = mapped_column(ForeignKey("leagues.code"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    last_season: Mapped[str | None] = mapped_column(String(9))
    squad_size: Mapped[int | None] = mapped_column(Integer)
    average_age: Mapped[float | None] = mapped_column(Float)
    net_transfer_record_eur: Mapped[float | None] = mapped_column(Float)
    total_market_value_eur: Mapped[float | None] = mapped_column(Float)
    release: Mapped[str] = mapped_column(String(10))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TmPlayer(Base):
    """A Transfermarkt player as of the dataset release (club and value then)."""

    __tablename__ = "tm_players"

    player_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[str | None] = mapped_column(String(40))
    sub_position: Mapped[str | None] = mapped_column(String(60))
    current_club_id: Mapped[int | None] = mapped_column(BigInteger)
    current_club_name: Mapped[str | None] = mapped_column(String(255))
    competition_id: Mapped[str | None] = mapped_column(String(16))
    last_season: Mapped[str | None] = mapped_column(String(9))
    market_value_eur: Mapped[float | None] = mapped_column(Float)
    highest_market_value_eur: Mapped[float | None] = mapped_column(Float)
    release: Mapped[str] = mapped_column(String(10))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TmPlayerValuation(Base):
    """A player's market value from ``valuation_date`` on.

    ``club_name`` is the club printed on the valuation (the club at that date);
    ``club_id`` is the dataset's ``current_club_id``, which for old valuations is
    usually the player's club at the release, not at the date.
    """

    __tablename__ = "tm_player_valuations"

    player_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    valuation_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    market_value_eur: Mapped[float] = mapped_column(Float)
    club_id: Mapped[int | None] = mapped_column(BigInteger)
    club_name: Mapped[str | None] = mapped_column(String(255))
    competition_id: Mapped[str | None] = mapped_column(String(16))
    release: Mapped[str] = mapped_column(String(10))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TmGame(Base):
    """A Transfermarkt game of any competition; team ids are set in league-seasons we hold."""

    __tablename__ = "tm_games"

    game_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    competition_id: Mapped[str] = mapped_column(String(16))
    league_code: Mapped[str | None] = mapped_column(ForeignKey("leagues.code"))
    season_code: Mapped[str] = mapped_column(String(9))
    round: Mapped[str | None] = mapped_column(String(80))
    match_date: Mapped[dt.date] = mapped_column(Date, index=True)
    home_club_id: Mapped[int] = mapped_column(BigInteger)
    away_club_id: Mapped[int] = mapped_column(BigInteger)
    home_club_name: Mapped[str | None] = mapped_column(String(255))
    away_club_name: Mapped[str | None] = mapped_column(String(255))
    home_goals: Mapped[int | None] = mapped_column(Integer)
    away_goals: Mapped[int | None] = mapped_column(Integer)
    competition_type: Mapped[str | None] = mapped_column(String(60))
    home_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    away_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    release: Mapped[str] = mapped_column(String(10))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TmAppearance(Base):
    """A player's appearance in one game (the scraper's player performance pages)."""

    __tablename__ = "tm_appearances"

    player_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    match_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    competition_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    club_id: Mapped[int] = mapped_column(BigInteger)
    opponent_club_id: Mapped[int] = mapped_column(BigInteger)
    season_code: Mapped[str | None] = mapped_column(String(9))
    matchday: Mapped[str | None] = mapped_column(String(80))
    venue: Mapped[str | None] = mapped_column(String(1))  # H / A
    home_goals: Mapped[int | None] = mapped_column(Integer)
    away_goals: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[str | None] = mapped_column(String(16))
    goals: Mapped[int] = mapped_column(Integer)
    assists: Mapped[int] = mapped_column(Integer)
    yellow_card_minute: Mapped[int | None] = mapped_column(Integer)
    second_yellow_minute: Mapped[int | None] = mapped_column(Integer)
    red_card_minute: Mapped[int | None] = mapped_column(Integer)
    minutes_played: Mapped[int | None] = mapped_column(Integer)
    release: Mapped[str] = mapped_column(String(10))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class TmPlayerValue(Base):
    """A player's value in a season's most-valuable-players table (a top list, not a squad)."""

    __tablename__ = "tm_player_values"

    season_code: Mapped[str] = mapped_column(ForeignKey("seasons.code"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    player_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    league_code: Mapped[str | None] = mapped_column(ForeignKey("leagues.code"))
    club_name: Mapped[str] = mapped_column(String(255))
    rank: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[str | None] = mapped_column(String(60))
    nationality: Mapped[str | None] = mapped_column(String(120))
    age: Mapped[int | None] = mapped_column(Integer)
    market_value_eur: Mapped[float] = mapped_column(Float)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_files.sha256"))


class FeaturePartition(Base):
    """One league-season partition of the offline feature store (a Parquet file).

    ``fingerprint`` summarises the warehouse data the partition was built from
    and ``catalog_version`` the feature definitions: when either changes, the
    partition is rebuilt.
    """

    __tablename__ = "feature_partitions"

    league_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    season_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    catalog_version: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[dt.datetime] = mapped_column(DateTime)
    coverage_json: Mapped[str] = mapped_column(Text)  # feature -> share of rows with a value


class OnlineFeatures(Base):
    """Feature vectors of upcoming fixtures when no Redis is configured."""

    __tablename__ = "online_features"

    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40))
    catalog_version: Mapped[str] = mapped_column(String(16))
    built_at: Mapped[dt.datetime] = mapped_column(DateTime)
    features_json: Mapped[str] = mapped_column(Text)
    # digest of the fingerprints of its country's league-seasons it was built from
    inputs_fingerprint: Mapped[str | None] = mapped_column(String(64))


class ModelVersion(Base):
    """A trained model version as registered in MLflow."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(20))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    alias: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    metrics_json: Mapped[str | None] = mapped_column(Text)
    trained_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # when it was fitted


class Prediction(Base):
    """Outcome probabilities for a match from one model version."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("match_id", "model_version_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    p_home: Mapped[float] = mapped_column(Float)
    p_draw: Mapped[float] = mapped_column(Float)
    p_away: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Stake(Base):
    """A value bet and its fractional-Kelly stake, derived from a prediction."""

    __tablename__ = "stakes"
    __table_args__ = (UniqueConstraint("prediction_id", "bookmaker", "market", "outcome"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), index=True)
    bookmaker: Mapped[str] = mapped_column(String(24))
    market: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(8))
    price: Mapped[float] = mapped_column(Float)
    edge: Mapped[float] = mapped_column(Float)
    kelly_fraction: Mapped[float] = mapped_column(Float)
    stake: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


# --- Published runs: every scoring run as served, never overwritten (sabiscore_ml.publish). ---


class PredictionRun(Base):
    """One published scoring run.

    The row is inserted last, in the transaction that inserts the run's
    predictions, edges and stakes: a run listed here is complete.  ``status``
    is ``pending`` until the publication has switched Redis to the run (or at
    once without Redis), then ``published``: the only change a row sees.
    ``content_sha256`` is the digest of what was published, so publishing a
    different content under the same ``run_id`` is refused.  ``rules_json``:
    the value-bet rules and staking of the run (its meta document's).
    """

    __tablename__ = "prediction_runs"
    __table_args__ = (
        CheckConstraint("mode IN ('live', 'replay')", name="mode"),
        CheckConstraint("status IN ('pending', 'published')", name="status"),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), index=True)
    n_predictions: Mapped[int] = mapped_column(Integer)
    n_value_bets: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime)
    content_sha256: Mapped[str] = mapped_column(String(64))
    rules_json: Mapped[str | None] = mapped_column(Text)


class RunPrediction(Base):
    """A match's prediction in a run, with the fixture as it was published.

    The reference to ``prediction_runs`` is checked at commit (deferred), since
    the run row comes last.
    """

    __tablename__ = "run_predictions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id"],
            ["prediction_runs.run_id"],
            deferrable=True,
            initially="DEFERRED",
        ),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), primary_key=True, index=True)
    league_code: Mapped[str] = mapped_column(String(8))
    season_code: Mapped[str] = mapped_column(String(9))
    match_date: Mapped[dt.date] = mapped_column(Date)
    kickoff_utc: Mapped[dt.datetime | None] = mapped_column(DateTime)
    home_team: Mapped[str] = mapped_column(String(120))
    away_team: Mapped[str] = mapped_column(String(120))
    p_home: Mapped[float] = mapped_column(Float)
    p_draw: Mapped[float] = mapped_column(Float)
    p_away: Mapped[float] = mapped_column(Float)
    p_over25: Mapped[float | None] = mapped_column(Float)
    p_btts: Mapped[float | None] = mapped_column(Float)
    xg_home: Mapped[float | None] = mapped_column(Float)
    xg_away: Mapped[float | None] = mapped_column(Float)
    drivers_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    correct_score_json: Mapped[str | None] = mapped_column(Text)


class RunEdge(Base):
    """An outcome's edge at the price taken, in a run (``match_edges`` rows)."""

    __tablename__ = "run_edges"
    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "match_id"], ["run_predictions.run_id", "run_predictions.match_id"]
        ),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    match_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    market: Mapped[str] = mapped_column(String(8), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    bookmaker: Mapped[str | None] = mapped_column(String(24))
    price: Mapped[float | None] = mapped_column(Float)
    p_model: Mapped[float] = mapped_column(Float)
    p_market: Mapped[float | None] = mapped_column(Float)
    edge: Mapped[float | None] = mapped_column(Float)
    prob_edge: Mapped[float | None] = mapped_column(Float)
    is_value: Mapped[bool] = mapped_column(Boolean)
    n_bookmakers: Mapped[int | None] = mapped_column(Integer)
    excluded_by: Mapped[str | None] = mapped_column(String(24))
    rule_value: Mapped[float | None] = mapped_column(Float)
    # the edge the closing line's evidence supports, and its probability (with an edge model)
    confirmed_edge: Mapped[float | None] = mapped_column(Float)
    p_confirmed: Mapped[float | None] = mapped_column(Float)
    # when the price taken was last seen (naive UTC); a withdrawn bet's price when published
    last_update: Mapped[dt.datetime | None] = mapped_column(DateTime)
    published_price: Mapped[float | None] = mapped_column(Float)


class RunBetClv(Base):
    """The closing-line value of a run's published value bet, early and at the close.

    ``latest_price``: the fair price (margin removed; Pinnacle's, else the
    market average's) of the latest pre-closing prices seen after the run was
    made and before kick-off, taken at ``latest_taken_at``; ``closing_price``
    the fair closing price.  ``early_clv`` and ``clv`` are ``price_taken /
    fair price - 1`` against each (null until known).  The monitor writes them.
    """

    __tablename__ = "run_bet_clv"
    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "match_id"], ["run_predictions.run_id", "run_predictions.match_id"]
        ),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    match_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    market: Mapped[str] = mapped_column(String(8), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    bookmaker: Mapped[str | None] = mapped_column(String(24))
    price_taken: Mapped[float] = mapped_column(Float)
    latest_source: Mapped[str | None] = mapped_column(String(24))
    latest_price: Mapped[float | None] = mapped_column(Float)
    latest_taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    early_clv: Mapped[float | None] = mapped_column(Float)
    closing_source: Mapped[str | None] = mapped_column(String(24))
    closing_price: Mapped[float | None] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class RunStake(Base):
    """A stake a portfolio's rules size for a bet of a run (``size_stakes`` rows)."""

    __tablename__ = "run_stakes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "match_id"], ["run_predictions.run_id", "run_predictions.match_id"]
        ),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    match_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    market: Mapped[str] = mapped_column(String(8), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    portfolio: Mapped[str] = mapped_column(String(80), primary_key=True)
    bookmaker: Mapped[str] = mapped_column(String(24))
    price: Mapped[float] = mapped_column(Float)
    p_model: Mapped[float] = mapped_column(Float)
    edge: Mapped[float] = mapped_column(Float)
    kelly_fraction: Mapped[float] = mapped_column(Float)
    fraction: Mapped[float] = mapped_column(Float)
    stake: Mapped[float] = mapped_column(Float)


# --- Portfolios: a user's or a strategy's bankroll, its bets and its ledger. ---


class Portfolio(Base):
    """A bankroll staked by one user or one strategy."""

    __tablename__ = "portfolios"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    owner: Mapped[str | None] = mapped_column(String(80), index=True)
    starting_bankroll: Mapped[float] = mapped_column(Float)
    kelly_multiplier: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class PortfolioBet(Base):
    """A bet of a portfolio, from placement to settlement.

    ``status`` is ``open``, ``won``, ``lost`` or ``void``; ``pnl`` (profit or
    loss) is set on settlement.  ``run_id`` names the run that placed it: a
    bet is placed once per portfolio, match, market, outcome and run.
    """

    __tablename__ = "portfolio_bets"
    __table_args__ = (
        UniqueConstraint("portfolio_id", "match_id", "market", "outcome", "run_id"),
        CheckConstraint("status IN ('open', 'won', 'lost', 'void')", name="status"),
        CheckConstraint("stake > 0 AND price > 1", name="stake_and_price"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id"), index=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    market: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(8))
    bookmaker: Mapped[str] = mapped_column(String(24))
    price: Mapped[float] = mapped_column(Float)
    p_model: Mapped[float] = mapped_column(Float)
    edge: Mapped[float] = mapped_column(Float)
    stake: Mapped[float] = mapped_column(Float)
    placed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(8))
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    pnl: Mapped[float | None] = mapped_column(Float)
    run_id: Mapped[str | None] = mapped_column(String(64))


class BankrollEntry(Base):
    """One movement of a portfolio's money, and the balance after it.

    ``kind``: ``deposit`` (money in, or out when negative), ``stake`` (a bet's
    stake leaving the balance: negative), ``settlement`` (what a bet returns:
    the stake times the price when won, the stake when void, nothing when
    lost) or ``adjustment``.  Entries are written in order under a lock on the
    portfolio, so the latest one holds the current balance.
    """

    __tablename__ = "bankroll_ledger"
    __table_args__ = (
        CheckConstraint("kind IN ('deposit', 'stake', 'settlement', 'adjustment')", name="kind"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id"), index=True)
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(12))
    amount: Mapped[float] = mapped_column(Float)
    balance_after: Mapped[float] = mapped_column(Float)
    bet_id: Mapped[int | None] = mapped_column(ForeignKey("portfolio_bets.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)


# --- Monitoring of what was published (sabiscore_ml/jobs/monitor.py). ---


class MonitorFigure(Base):
    """One figure the monitor computed on the published history, as of ``computed_at``.

    One row per model version, league (``all``: every league together), window
    (``window_name`` ``all``: every settled published match; ``<n>d``: the last n days
    of them),
    figure and computation.  ``n`` is what the figure rests on (matches, bets or
    feature rows); ``threshold`` is the limit it was checked against (null: not
    checked, e.g. too few matches) and ``breached`` whether it crossed it.
    """

    __tablename__ = "monitor_figures"
    __table_args__ = (
        UniqueConstraint(
            "computed_at", "model_name", "model_version", "league_code", "window_name", "figure"
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    league_code: Mapped[str] = mapped_column(String(8))
    window_name: Mapped[str] = mapped_column(String(8))
    window_start: Mapped[dt.date | None] = mapped_column(Date)
    window_end: Mapped[dt.date | None] = mapped_column(Date)
    figure: Mapped[str] = mapped_column(String(80))
    value: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float | None] = mapped_column(Float)
    breached: Mapped[bool] = mapped_column(Boolean)


# --- API keys of the serving tier (sabiscore_ml/warehouse/api_keys.py). ---


class ApiKey(Base):
    """A key to the HTTP API: only its SHA-256 is kept, found by its public ``key_id``.

    A key reads ``sbk_<key_id>_<secret>``; ``tier`` (``free``, ``premium``,
    ``pro``) sets its quotas.  A revoked key keeps its row (``revoked_at`` set).
    """

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("tier IN ('free', 'premium', 'pro')", name="tier"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(80), index=True)
    tier: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
