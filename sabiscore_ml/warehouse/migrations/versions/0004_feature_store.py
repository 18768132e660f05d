"""Feature store: the offline partition index and the online vectors (embedded mode).

Revision ID: 0004
Revises: 0003

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "feature_partitions",
        sa.Column("league_code", sa.String(length=8), nullable=False),
        sa.Column("season_code", sa.String(length=9), nullable=False),
        sa.Column("catalog_version", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("coverage_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("league_code", "season_code", name=op.f("pk_feature_partitions")),
    )
    op.create_table(
        "online_features",
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("catalog_version", sa.String(length=16), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("features_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_online_features_match_id_matches")
        ),
        sa.PrimaryKeyConstraint("match_id", name=op.f("pk_online_features")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("online_features")
    op.drop_table("feature_partitions")
