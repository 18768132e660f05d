"""Published edges re-priced: when each price was last seen, and withdrawn value bets.

``run_edges.last_update`` is the moment the price taken was last seen in a
snapshot (naive UTC; the bookmaker's, or the latest of the match's for a
price averaged over bookmakers).  ``published_price`` is the price a value
bet of the previous published run was published at, on the rows of the bets
a run withdraws (``excluded_by = 'withdrawn'``); null otherwise.

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


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("run_edges", schema=None) as batch_op:
        batch_op.drop_column("published_price")
        batch_op.drop_column("last_update")
