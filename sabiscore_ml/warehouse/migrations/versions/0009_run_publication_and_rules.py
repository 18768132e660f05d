"""Published runs: a run is current only once published, and it says by which rules.

``prediction_runs.status`` becomes ``pending`` (every row of the run written,
not yet published: a publication to Redis has not switched to it) or
``published`` (what :func:`~sabiscore_ml.publish.latest_run` reads); the runs
already there were served, so they become ``published``.
``prediction_runs.rules_json`` holds the value-bet rules and the staking
(bankroll, unit, Kelly multiplier, caps) the run used, as its meta document
publishes them.  ``run_edges.excluded_by`` and ``run_edges.rule_value`` name
the rule that kept an outcome from being a value bet, and that rule's value.

Revision ID: 0009
Revises: 0008

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_prediction_runs_status"), type_="check")
        batch_op.add_column(sa.Column("rules_json", sa.Text(), nullable=True))
    op.execute("UPDATE prediction_runs SET status = 'published'")
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_prediction_runs_status"), "status IN ('pending', 'published')"
        )
        batch_op.create_index(batch_op.f("ix_prediction_runs_status"), ["status"], unique=False)
    with op.batch_alter_table("run_edges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excluded_by", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("rule_value", sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema (pending runs are dropped: they were never published)."""
    with op.batch_alter_table("run_edges", schema=None) as batch_op:
        batch_op.drop_column("rule_value")
        batch_op.drop_column("excluded_by")
    pending = "(SELECT run_id FROM prediction_runs WHERE status = 'pending')"
    for table in ("run_stakes", "run_edges", "run_predictions"):
        op.execute(f"DELETE FROM {table} WHERE run_id IN {pending}")
    op.execute("DELETE FROM prediction_runs WHERE status = 'pending'")
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_runs_status"))
        batch_op.drop_constraint(batch_op.f("ck_prediction_runs_status"), type_="check")
        batch_op.drop_column("rules_json")
    op.execute("UPDATE prediction_runs SET status = 'complete'")
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_prediction_runs_status"), "status IN ('complete')"
        )
