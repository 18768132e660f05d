"""Source matches (Understat, FBref) linked to warehouse matches, shots keyed by source,
team match logs and team season stats.

Revision ID: 0002
Revises: 0001

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "team_match_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("stat_type", sa.String(length=24), nullable=False),
        sa.Column("match_date", sa.Date(), nullable=False),
        sa.Column("competition", sa.String(length=80), nullable=False),
        sa.Column("round", sa.String(length=80), nullable=True),
        sa.Column("venue", sa.String(length=12), nullable=True),
        sa.Column("opponent_name", sa.String(length=120), nullable=False),
        sa.Column("goals_for", sa.Integer(), nullable=True),
        sa.Column("goals_against", sa.Integer(), nullable=True),
        sa.Column("xg_for", sa.Float(), nullable=True),
        sa.Column("xg_against", sa.Float(), nullable=True),
        sa.Column("source_match_id", sa.String(length=40), nullable=True),
        sa.Column("stats_json", sa.Text(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_team_match_logs_raw_sha256_raw_files"),
        ),
        sa.ForeignKeyConstraint(
            ["season_code"], ["seasons.code"], name=op.f("fk_team_match_logs_season_code_seasons")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_match_logs_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_match_logs")),
        sa.UniqueConstraint(
            "source",
            "team_id",
            "match_date",
            "competition",
            "opponent_name",
            "stat_type",
            name=op.f("uq_team_match_logs_source"),
        ),
    )
    with op.batch_alter_table("team_match_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_match_logs_team_id"), ["team_id"], unique=False)

    op.create_table(
        "team_season_stats",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("table_id", sa.String(length=60), nullable=False),
        sa.Column("stats_json", sa.Text(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_team_season_stats_raw_sha256_raw_files"),
        ),
        sa.ForeignKeyConstraint(
            ["season_code"], ["seasons.code"], name=op.f("fk_team_season_stats_season_code_seasons")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_season_stats_team_id_teams")
        ),
        sa.PrimaryKeyConstraint(
            "source", "team_id", "season_code", "table_id", name=op.f("pk_team_season_stats")
        ),
    )
    op.create_table(
        "source_matches",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_match_id", sa.String(length=40), nullable=False),
        sa.Column("league_code", sa.String(length=8), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("match_date", sa.Date(), nullable=False),
        sa.Column("kickoff_published", sa.DateTime(), nullable=True),
        sa.Column("kickoff_utc", sa.DateTime(), nullable=True),
        sa.Column("home_name", sa.String(length=120), nullable=False),
        sa.Column("away_name", sa.String(length=120), nullable=False),
        sa.Column(
            "home_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "away_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("home_goals", sa.Integer(), nullable=True),
        sa.Column("away_goals", sa.Integer(), nullable=True),
        sa.Column("home_xg", sa.Float(), nullable=True),
        sa.Column("away_xg", sa.Float(), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["away_team_id"], ["teams.id"], name=op.f("fk_source_matches_away_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["home_team_id"], ["teams.id"], name=op.f("fk_source_matches_home_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["league_code"], ["leagues.code"], name=op.f("fk_source_matches_league_code_leagues")
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_source_matches_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_source_matches_raw_sha256_raw_files"),
        ),
        sa.ForeignKeyConstraint(
            ["season_code"], ["seasons.code"], name=op.f("fk_source_matches_season_code_seasons")
        ),
        sa.PrimaryKeyConstraint("source", "source_match_id", name=op.f("pk_source_matches")),
    )
    with op.batch_alter_table("source_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_source_matches_match_date"), ["match_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_source_matches_match_id"), ["match_id"], unique=False)

    with op.batch_alter_table("shots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_match_id", sa.String(length=40), nullable=False))
        batch_op.add_column(sa.Column("side", sa.String(length=1), nullable=False))
        batch_op.alter_column("match_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("team_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_shots_source_match_id"), ["source_match_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("shots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shots_source_match_id"))
        batch_op.alter_column("team_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("match_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("side")
        batch_op.drop_column("source_match_id")

    with op.batch_alter_table("source_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_matches_match_id"))
        batch_op.drop_index(batch_op.f("ix_source_matches_match_date"))

    op.drop_table("source_matches")
    op.drop_table("team_season_stats")
    with op.batch_alter_table("team_match_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_match_logs_team_id"))

    op.drop_table("team_match_logs")
