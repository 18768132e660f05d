"""Published runs: every scoring run as served, kept for good.

``prediction_runs`` (one row per run, inserted last in the run's transaction),
``run_predictions`` (a match's probabilities and the fixture as published),
``run_edges`` (each outcome's edge at the price taken) and ``run_stakes`` (the
stakes each portfolio's rules sized).  The older ``predictions`` and ``stakes``
tables stay as they are.

Revision ID: 0007
Revises: 0006

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "prediction_runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=80), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("n_predictions", sa.Integer(), nullable=False),
        sa.Column("n_value_bets", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint("mode IN ('live', 'replay')", name=op.f("ck_prediction_runs_mode")),
        sa.CheckConstraint("status IN ('complete')", name=op.f("ck_prediction_runs_status")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_prediction_runs")),
    )
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prediction_runs_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "run_predictions",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("match_id", ID, nullable=False),
        sa.Column("league_code", sa.String(length=8), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("match_date", sa.Date(), nullable=False),
        sa.Column("kickoff_utc", sa.DateTime(), nullable=True),
        sa.Column("home_team", sa.String(length=120), nullable=False),
        sa.Column("away_team", sa.String(length=120), nullable=False),
        sa.Column("p_home", sa.Float(), nullable=False),
        sa.Column("p_draw", sa.Float(), nullable=False),
        sa.Column("p_away", sa.Float(), nullable=False),
        sa.Column("p_over25", sa.Float(), nullable=True),
        sa.Column("p_btts", sa.Float(), nullable=True),
        sa.Column("xg_home", sa.Float(), nullable=True),
        sa.Column("xg_away", sa.Float(), nullable=True),
        sa.Column("drivers_json", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_run_predictions_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["prediction_runs.run_id"],
            name=op.f("fk_run_predictions_run_id_prediction_runs"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("run_id", "match_id", name=op.f("pk_run_predictions")),
    )
    with op.batch_alter_table("run_predictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_predictions_match_id"), ["match_id"], unique=False)

    op.create_table(
        "run_edges",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("match_id", ID, nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("bookmaker", sa.String(length=24), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("p_model", sa.Float(), nullable=False),
        sa.Column("p_market", sa.Float(), nullable=True),
        sa.Column("edge", sa.Float(), nullable=True),
        sa.Column("prob_edge", sa.Float(), nullable=True),
        sa.Column("is_value", sa.Boolean(), nullable=False),
        sa.Column("n_bookmakers", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id", "match_id"],
            ["run_predictions.run_id", "run_predictions.match_id"],
            name=op.f("fk_run_edges_run_id_run_predictions"),
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "match_id", "market", "outcome", name=op.f("pk_run_edges")
        ),
    )

    op.create_table(
        "run_stakes",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("match_id", ID, nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("portfolio", sa.String(length=80), nullable=False),
        sa.Column("bookmaker", sa.String(length=24), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("p_model", sa.Float(), nullable=False),
        sa.Column("edge", sa.Float(), nullable=False),
        sa.Column("kelly_fraction", sa.Float(), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("stake", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id", "match_id"],
            ["run_predictions.run_id", "run_predictions.match_id"],
            name=op.f("fk_run_stakes_run_id_run_predictions"),
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "match_id", "market", "outcome", "portfolio", name=op.f("pk_run_stakes")
        ),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("run_stakes")
    op.drop_table("run_edges")
    with op.batch_alter_table("run_predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_predictions_match_id"))
    op.drop_table("run_predictions")
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_runs_created_at"))
    op.drop_table("prediction_runs")
