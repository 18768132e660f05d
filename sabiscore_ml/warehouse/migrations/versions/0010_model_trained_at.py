"""Model versions: when each was trained (``trained_at``), apart from when its row was written.

Versions mirrored before this revision have no training time (null): it lives
in their bundle, not in the warehouse.

Revision ID: 0010
Revises: 0009

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trained_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("trained_at")
