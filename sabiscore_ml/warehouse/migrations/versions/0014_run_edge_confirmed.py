"""Published edges: the edge the closing line's evidence supports (``run_edges``).

``confirmed_edge`` is what an edge model learned walk-forward from earlier
seasons' closing-line value makes of the stated edge, ``p_confirmed`` the
probability it implies at the price; value bets are chosen and staked on it.
Edges published without an edge model have none (null).

Revision ID: 0014
Revises: 0013

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("run_edges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_edge", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("p_confirmed", sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("run_edges", schema=None) as batch_op:
        batch_op.drop_column("p_confirmed")
        batch_op.drop_column("confirmed_edge")
