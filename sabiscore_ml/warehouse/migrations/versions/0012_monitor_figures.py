"""Monitoring of what was published: the figures of each monitor run (``monitor_figures``).

One row per computation, model version, league, window and figure (realised RPS
and log loss against the market's, calibration, CLV and profit of the value
bets, input drift), with the threshold it was checked against.

Revision ID: 0012
Revises: 0011

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "monitor_figures",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("model_name", sa.String(length=80), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("league_code", sa.String(length=8), nullable=False),
        sa.Column("window_name", sa.String(length=8), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=True),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("figure", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_figures")),
        sa.UniqueConstraint(
            "computed_at",
            "model_name",
            "model_version",
            "league_code",
            "window_name",
            "figure",
            name=op.f("uq_monitor_figures_computed_at"),
        ),
    )
    with op.batch_alter_table("monitor_figures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_figures_computed_at"), ["computed_at"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("monitor_figures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_figures_computed_at"))
    op.drop_table("monitor_figures")
