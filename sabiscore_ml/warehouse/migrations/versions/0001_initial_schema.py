"""Initial schema: leagues, seasons, teams, aliases, raw files, runs, matches, odds,
and the tables later stages fill (xG, shots, squad values, models, predictions, stakes).

Revision ID: 0001
Revises:

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "ingestion_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(), nullable=True),
        sa.Column("league_code", sa.String(length=8), nullable=True),
        sa.Column("season_code", sa.String(length=9), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("matches_loaded", sa.Integer(), nullable=False),
        sa.Column("odds_loaded", sa.Integer(), nullable=False),
        sa.Column("check_failed", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingestion_runs")),
    )
    with op.batch_alter_table("ingestion_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingestion_runs_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingestion_runs_source"), ["source"], unique=False)

    op.create_table(
        "leagues",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("country", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_leagues")),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.Column("alias", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_model_versions_name")),
    )
    op.create_table(
        "raw_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("archive_path", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_raw_files")),
    )
    op.create_table(
        "seasons",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("start_year", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_seasons")),
    )
    op.create_table(
        "teams",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("country", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("country", "name", name=op.f("uq_teams_country")),
    )
    op.create_table(
        "matches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("league_code", sa.String(length=8), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("match_date", sa.Date(), nullable=False),
        sa.Column("kickoff_time", sa.Time(), nullable=True),
        sa.Column("kickoff_utc", sa.DateTime(), nullable=True),
        sa.Column(
            "home_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "away_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("home_goals", sa.Integer(), nullable=True),
        sa.Column("away_goals", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=1), nullable=True),
        sa.Column("ht_home_goals", sa.Integer(), nullable=True),
        sa.Column("ht_away_goals", sa.Integer(), nullable=True),
        sa.Column("referee", sa.String(length=80), nullable=True),
        sa.Column("attendance", sa.Integer(), nullable=True),
        sa.Column("home_shots", sa.Integer(), nullable=True),
        sa.Column("away_shots", sa.Integer(), nullable=True),
        sa.Column("home_shots_on_target", sa.Integer(), nullable=True),
        sa.Column("away_shots_on_target", sa.Integer(), nullable=True),
        sa.Column("home_fouls", sa.Integer(), nullable=True),
        sa.Column("away_fouls", sa.Integer(), nullable=True),
        sa.Column("home_corners", sa.Integer(), nullable=True),
        sa.Column("away_corners", sa.Integer(), nullable=True),
        sa.Column("home_yellow_cards", sa.Integer(), nullable=True),
        sa.Column("away_yellow_cards", sa.Integer(), nullable=True),
        sa.Column("home_red_cards", sa.Integer(), nullable=True),
        sa.Column("away_red_cards", sa.Integer(), nullable=True),
        sa.Column("home_offsides", sa.Integer(), nullable=True),
        sa.Column("away_offsides", sa.Integer(), nullable=True),
        sa.Column("home_woodwork", sa.Integer(), nullable=True),
        sa.Column("away_woodwork", sa.Integer(), nullable=True),
        sa.Column("home_booking_points", sa.Integer(), nullable=True),
        sa.Column("away_booking_points", sa.Integer(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["away_team_id"], ["teams.id"], name=op.f("fk_matches_away_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["home_team_id"], ["teams.id"], name=op.f("fk_matches_home_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["league_code"], ["leagues.code"], name=op.f("fk_matches_league_code_leagues")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_matches_raw_sha256_raw_files")
        ),
        sa.ForeignKeyConstraint(
            ["season_code"], ["seasons.code"], name=op.f("fk_matches_season_code_seasons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint(
            "league_code",
            "season_code",
            "match_date",
            "home_team_id",
            "away_team_id",
            name=op.f("uq_matches_league_code"),
        ),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_away_team_id"), ["away_team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_home_team_id"), ["home_team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_match_date"), ["match_date"], unique=False)

    op.create_table(
        "squad_values",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=True),
        sa.Column("market_value_eur", sa.Float(), nullable=True),
        sa.Column("squad_size", sa.Integer(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_squad_values_raw_sha256_raw_files")
        ),
        sa.ForeignKeyConstraint(
            ["season_code"], ["seasons.code"], name=op.f("fk_squad_values_season_code_seasons")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_squad_values_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", "source", "as_of", name=op.f("pk_squad_values")),
    )
    op.create_table(
        "team_aliases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=40), nullable=False),
        sa.Column("alias_key", sa.String(length=120), nullable=False),
        sa.Column("alias", sa.String(length=120), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_aliases_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_aliases")),
        sa.UniqueConstraint("source", "country", "alias_key", name=op.f("uq_team_aliases_source")),
    )
    with op.batch_alter_table("team_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_aliases_team_id"), ["team_id"], unique=False)

    op.create_table(
        "match_xg",
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("home_xg", sa.Float(), nullable=True),
        sa.Column("away_xg", sa.Float(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_xg_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_match_xg_raw_sha256_raw_files")
        ),
        sa.PrimaryKeyConstraint("match_id", "source", name=op.f("pk_match_xg")),
    )
    op.create_table(
        "odds",
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bookmaker", sa.String(length=24), nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("timing", sa.String(length=8), nullable=False),
        sa.Column("line", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_odds_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_odds_raw_sha256_raw_files")
        ),
        sa.PrimaryKeyConstraint(
            "match_id", "bookmaker", "market", "timing", "line", "outcome", name=op.f("pk_odds")
        ),
    )
    op.create_table(
        "predictions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "model_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("p_home", sa.Float(), nullable=False),
        sa.Column("p_draw", sa.Float(), nullable=False),
        sa.Column("p_away", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_predictions_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_predictions_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("match_id", "model_version_id", name=op.f("uq_predictions_match_id")),
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_predictions_match_id"), ["match_id"], unique=False)

    op.create_table(
        "shots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_shot_id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=True),
        sa.Column("player", sa.String(length=120), nullable=True),
        sa.Column("assist_player", sa.String(length=120), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("xg", sa.Float(), nullable=True),
        sa.Column("result", sa.String(length=24), nullable=True),
        sa.Column("situation", sa.String(length=24), nullable=True),
        sa.Column("shot_type", sa.String(length=24), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_shots_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_files.sha256"], name=op.f("fk_shots_raw_sha256_raw_files")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_shots_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shots")),
        sa.UniqueConstraint("source", "source_shot_id", name=op.f("uq_shots_source")),
    )
    with op.batch_alter_table("shots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shots_match_id"), ["match_id"], unique=False)

    op.create_table(
        "stakes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "prediction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bookmaker", sa.String(length=24), nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("edge", sa.Float(), nullable=False),
        sa.Column("kelly_fraction", sa.Float(), nullable=False),
        sa.Column("stake", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prediction_id"], ["predictions.id"], name=op.f("fk_stakes_prediction_id_predictions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakes")),
        sa.UniqueConstraint(
            "prediction_id", "bookmaker", "market", "outcome", name=op.f("uq_stakes_prediction_id")
        ),
    )
    with op.batch_alter_table("stakes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stakes_prediction_id"), ["prediction_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("stakes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stakes_prediction_id"))

    op.drop_table("stakes")
    with op.batch_alter_table("shots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shots_match_id"))

    op.drop_table("shots")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_predictions_match_id"))

    op.drop_table("predictions")
    op.drop_table("odds")
    op.drop_table("match_xg")
    with op.batch_alter_table("team_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_aliases_team_id"))

    op.drop_table("team_aliases")
    op.drop_table("squad_values")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_match_date"))
        batch_op.drop_index(batch_op.f("ix_matches_home_team_id"))
        batch_op.drop_index(batch_op.f("ix_matches_away_team_id"))

    op.drop_table("matches")
    op.drop_table("teams")
    op.drop_table("seasons")
    op.drop_table("raw_files")
    op.drop_table("model_versions")
    op.drop_table("leagues")
    with op.batch_alter_table("ingestion_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingestion_runs_source"))
        batch_op.drop_index(batch_op.f("ix_ingestion_runs_sha256"))

    op.drop_table("ingestion_runs")
