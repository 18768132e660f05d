"""Online vectors: the fingerprint of the inputs each was built from (``inputs_fingerprint``).

The digest of every league-season fingerprint of the vector's country when its
offline partitions were built; a prediction uses the vector only while the
warehouse still gives that digest.  Vectors written before this revision have
none (null) and are not used.

Revision ID: 0011
Revises: 0010

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("online_features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inputs_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("online_features", schema=None) as batch_op:
        batch_op.drop_column("inputs_fingerprint")
