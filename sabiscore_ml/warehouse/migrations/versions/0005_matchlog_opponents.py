"""Team match logs: the opponent's warehouse team, when it is one of ours.

``team_match_logs.opponent_team_id`` (nullable): league opponents are reconciled
like every other team name; cup and European opponents outside the team
registry (other countries, lower divisions) keep their published name only.

Revision ID: 0005
Revises: 0004

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("team_match_logs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "opponent_team_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_team_match_logs_opponent_team_id"), ["opponent_team_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_team_match_logs_opponent_team_id_teams"),
            "teams",
            ["opponent_team_id"],
            ["id"],
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("team_match_logs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_team_match_logs_opponent_team_id_teams"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_team_match_logs_opponent_team_id"))
        batch_op.drop_column("opponent_team_id")
