"""Re-pricing: when each published price was last seen, withdrawn value bets, early CLV.

``run_edges.last_update`` is the moment the price taken was last seen in a
snapshot (naive UTC; the bookmaker's, or the latest of the match's for a
price averaged over bookmakers).  ``published_price`` is the price a value
bet of the previous published run was published at, on the rows of the bets
a run withdraws (``excluded_by = 'withdrawn'``); null otherwise.

``run_bet_clv`` (the monitor's): per run and published value bet, the price
taken against the latest pre-closing prices seen after the run and before
kick-off (``early_clv``, known once a later copy of the prices is loaded) and
against the closing prices (``clv``, once the season file brings them), both
``price_taken / fair price - 1``.

Revision ID: 0016
Revises: 0015

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("run_edges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_update", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("published_price", sa.Float(), nullable=True))
    op.create_table(
        "run_bet_clv",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("bookmaker", sa.String(length=24), nullable=True),
        sa.Column("price_taken", sa.Float(), nullable=False),
        sa.Column("latest_source", sa.String(length=24), nullable=True),
        sa.Column("latest_price", sa.Float(), nullable=True),
        sa.Column("latest_taken_at", sa.DateTime(), nullable=True),
        sa.Column("early_clv", sa.Float(), nullable=True),
        sa.Column("closing_source", sa.String(length=24), nullable=True),
        sa.Column("closing_price", sa.Float(), nullable=True),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id", "match_id"], ["run_predictions.run_id", "run_predictions.match_id"]
        ),
        sa.PrimaryKeyConstraint("run_id", "match_id", "market", "outcome"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("run_bet_clv")
    with op.batch_alter_table("run_edges", schema=None) as batch_op:
        batch_op.drop_column("published_price")
        batch_op.drop_column("last_update")
