"""Published predictions: their correct scores (``run_predictions.correct_score_json``).

The probability of every score up to 5-5 and of the buckets of the others, from
the score grid the prediction's other markets come from, as the JSON object its
documents carry.  Predictions published before this revision have none (null).

Revision ID: 0013
Revises: 0012

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("run_predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("correct_score_json", sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("run_predictions", schema=None) as batch_op:
        batch_op.drop_column("correct_score_json")
