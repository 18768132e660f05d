"""Transfermarkt dataset tables (competitions, clubs, players, player valuations, games,
appearances, top-player values) and what a derived squad value is made of.

Revision ID: 0003
Revises: 0002

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "tm_appearances",
        sa.Column("player_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("match_date", sa.Date(), nullable=False),
        sa.Column("competition_id", sa.String(length=16), nullable=False),
        sa.Column("club_id", sa.BigInteger(), nullable=False),
        sa.Column("opponent_club_id", sa.BigInteger(), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=True),
        sa.Column("matchday", sa.String(length=80), nullable=True),
        sa.Column("venue", sa.String(length=1), nullable=True),
        sa.Column("home_goals", sa.Integer(), nullable=True),
        sa.Column("away_goals", sa.Integer(), nullable=True),
        sa.Column("position", sa.String(length=16), nullable=True),
        sa.Column("goals", sa.Integer(), nullable=False),
        sa.Column("assists", sa.Integer(), nullable=False),
        sa.Column("yellow_card_minute", sa.Integer(), nullable=True),
        sa.Column("second_yellow_minute", sa.Integer(), nullable=True),
        sa.Column("red_card_minute", sa.Integer(), nullable=True),
        sa.Column("minutes_played", sa.Integer(), nullable=True),
        sa.Column("release", sa.String(length=10), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_tm_appearances_raw_sha256_raw_files"),
        ),
        sa.PrimaryKeyConstraint(
            "player_id", "match_date", "competition_id", name=op.f("pk_tm_appearances")
        ),
    )
    op.create_table(
        "tm_clubs",
        sa.Column("club_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("club_code", sa.String(length=120), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("competition_id", sa.String(length=16), nullable=True),
        sa.Column("league_code", sa.String(length=8), nullable=True),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_season", sa.String(length=9), nullable=True),
        sa.Column("squad_size", sa.Integer(), nullable=True),
        sa.Column("average_age", sa.Float(), nullable=True),
        sa.Column("net_transfer_record_eur", sa.Float(), nullable=True),
        sa.Column("total_market_value_eur", sa.Float(), nullable=True),
        sa.Column("release", sa.String(length=10), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["league_code"], ["leagues.code"], name=op.f("fk_tm_clubs_league_code_leagues")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_tm_clubs_raw_sha256_raw_files")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_tm_clubs_team_id_teams")),
        sa.PrimaryKeyConstraint("club_id", name=op.f("pk_tm_clubs")),
    )
    with op.batch_alter_table("tm_clubs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tm_clubs_team_id"), ["team_id"], unique=False)

    op.create_table(
        "tm_competitions",
        sa.Column("competition_id", sa.String(length=16), nullable=False),
        sa.Column("competition_code", sa.String(length=120), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=True),
        sa.Column("sub_type", sa.String(length=60), nullable=True),
        sa.Column("country_name", sa.String(length=80), nullable=True),
        sa.Column("domestic_league_code", sa.String(length=16), nullable=True),
        sa.Column("is_major_national_league", sa.Boolean(), nullable=True),
        sa.Column("league_code", sa.String(length=8), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["league_code"], ["leagues.code"], name=op.f("fk_tm_competitions_league_code_leagues")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_tm_competitions_raw_sha256_raw_files"),
        ),
        sa.PrimaryKeyConstraint("competition_id", name=op.f("pk_tm_competitions")),
    )
    op.create_table(
        "tm_games",
        sa.Column("game_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("competition_id", sa.String(length=16), nullable=False),
        sa.Column("league_code", sa.String(length=8), nullable=True),
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("round", sa.String(length=80), nullable=True),
        sa.Column("match_date", sa.Date(), nullable=False),
        sa.Column("home_club_id", sa.BigInteger(), nullable=False),
        sa.Column("away_club_id", sa.BigInteger(), nullable=False),
        sa.Column("home_club_name", sa.String(length=255), nullable=True),
        sa.Column("away_club_name", sa.String(length=255), nullable=True),
        sa.Column("home_goals", sa.Integer(), nullable=True),
        sa.Column("away_goals", sa.Integer(), nullable=True),
        sa.Column("competition_type", sa.String(length=60), nullable=True),
        sa.Column(
            "home_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "away_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("release", sa.String(length=10), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["away_team_id"], ["teams.id"], name=op.f("fk_tm_games_away_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["home_team_id"], ["teams.id"], name=op.f("fk_tm_games_home_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["league_code"], ["leagues.code"], name=op.f("fk_tm_games_league_code_leagues")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_tm_games_raw_sha256_raw_files")
        ),
        sa.PrimaryKeyConstraint("game_id", name=op.f("pk_tm_games")),
    )
    with op.batch_alter_table("tm_games", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tm_games_match_date"), ["match_date"], unique=False)

    op.create_table(
        "tm_player_valuations",
        sa.Column("player_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("valuation_date", sa.Date(), nullable=False),
        sa.Column("market_value_eur", sa.Float(), nullable=False),
        sa.Column("club_id", sa.BigInteger(), nullable=True),
        sa.Column("club_name", sa.String(length=255), nullable=True),
        sa.Column("competition_id", sa.String(length=16), nullable=True),
        sa.Column("release", sa.String(length=10), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_tm_player_valuations_raw_sha256_raw_files"),
        ),
        sa.PrimaryKeyConstraint(
            "player_id", "valuation_date", name=op.f("pk_tm_player_valuations")
        ),
    )
    op.create_table(
        "tm_player_values",
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("player_name", sa.String(length=255), nullable=False),
        sa.Column("league_code", sa.String(length=8), nullable=True),
        sa.Column("club_name", sa.String(length=255), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("position", sa.String(length=60), nullable=True),
        sa.Column("nationality", sa.String(length=120), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("market_value_eur", sa.Float(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["league_code"], ["leagues.code"], name=op.f("fk_tm_player_values_league_code_leagues")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_tm_player_values_raw_sha256_raw_files"),
        ),
        sa.ForeignKeyConstraint(
            ["season_code"], ["seasons.code"], name=op.f("fk_tm_player_values_season_code_seasons")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_tm_player_values_team_id_teams")
        ),
        sa.PrimaryKeyConstraint(
            "season_code", "team_id", "player_name", name=op.f("pk_tm_player_values")
        ),
    )
    op.create_table(
        "tm_players",
        sa.Column("player_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("position", sa.String(length=40), nullable=True),
        sa.Column("sub_position", sa.String(length=60), nullable=True),
        sa.Column("current_club_id", sa.BigInteger(), nullable=True),
        sa.Column("current_club_name", sa.String(length=255), nullable=True),
        sa.Column("competition_id", sa.String(length=16), nullable=True),
        sa.Column("last_season", sa.String(length=9), nullable=True),
        sa.Column("market_value_eur", sa.Float(), nullable=True),
        sa.Column("highest_market_value_eur", sa.Float(), nullable=True),
        sa.Column("release", sa.String(length=10), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_tm_players_raw_sha256_raw_files")
        ),
        sa.PrimaryKeyConstraint("player_id", name=op.f("pk_tm_players")),
    )
    with op.batch_alter_table("squad_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("players_valued", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("oldest_valuation", sa.Date(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("squad_values", schema=None) as batch_op:
        batch_op.drop_column("oldest_valuation")
        batch_op.drop_column("players_valued")

    op.drop_table("tm_players")
    op.drop_table("tm_player_values")
    op.drop_table("tm_player_valuations")
    with op.batch_alter_table("tm_games", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tm_games_match_date"))

    op.drop_table("tm_games")
    op.drop_table("tm_competitions")
    with op.batch_alter_table("tm_clubs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tm_clubs_team_id"))

    op.drop_table("tm_clubs")
    op.drop_table("tm_appearances")
