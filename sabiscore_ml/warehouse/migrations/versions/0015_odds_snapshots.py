"""Odds snapshots: every quote kept with the moment it was taken (``odds_snapshots``).

PostgreSQL partitions the table by month of ``taken_at`` (the loaders create
the months they need); SQLite has one table.  The quotes already in ``odds``
are copied in, stamped as the loaders now stamp them: a season file's blocks by
football-data's collection time and the kick-off, an unplayed fixture's
pre-closing prices with the moment their copy was first archived.

Revision ID: 0015
Revises: 0014

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 2000  # matches per backfill page


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "odds_snapshots",
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bookmaker", sa.String(length=24), nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("timing", sa.String(length=8), nullable=False),
        sa.Column("line", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_odds_snapshots_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"],
            ["raw_files.sha256"],
            name=op.f("fk_odds_snapshots_raw_sha256_raw_files"),
        ),
        sa.PrimaryKeyConstraint(
            "match_id",
            "bookmaker",
            "market",
            "timing",
            "line",
            "outcome",
            "taken_at",
            name=op.f("pk_odds_snapshots"),
        ),
        postgresql_partition_by="RANGE (taken_at)",
    )
    op.create_index(
        "ix_odds_snapshots_match_taken", "odds_snapshots", ["match_id", "taken_at"], unique=False
    )
    _backfill(op.get_bind())


def _backfill(connection: sa.Connection) -> None:
    from sabiscore_ml.warehouse.snapshots import season_quote_time, write_snapshots

    bounds = connection.execute(sa.text("SELECT MIN(match_id), MAX(match_id) FROM odds")).one()
    if bounds[0] is None:
        return
    query = sa.text(
        "SELECT o.match_id, o.bookmaker, o.market, o.timing, o.line, o.outcome, o.price, "
        "o.raw_sha256, m.match_date, m.kickoff_utc, m.result, r.first_seen_at "
        "FROM odds o JOIN matches m ON m.id = o.match_id "
        "JOIN raw_files r ON r.sha256 = o.raw_sha256 "
        "WHERE o.match_id >= :low AND o.match_id < :high"
    ).columns(
        sa.column("match_id"),
        sa.column("bookmaker"),
        sa.column("market"),
        sa.column("timing"),
        sa.column("line"),
        sa.column("outcome"),
        sa.column("price"),
        sa.column("raw_sha256"),
        sa.column("match_date", sa.Date()),
        sa.column("kickoff_utc", sa.DateTime()),
        sa.column("result"),
        sa.column("first_seen_at", sa.DateTime()),
    )
    for low in range(int(bounds[0]), int(bounds[1]) + 1, _PAGE):
        rows = []
        for r in connection.execute(query, {"low": low, "high": low + _PAGE}):
            unplayed_fixture = r.result is None and r.timing == "preclose"
            taken = (
                r.first_seen_at
                if unplayed_fixture
                else season_quote_time(r.match_date, r.kickoff_utc, r.timing)
            )
            rows.append(
                {
                    "match_id": r.match_id,
                    "bookmaker": r.bookmaker,
                    "market": r.market,
                    "timing": r.timing,
                    "line": r.line,
                    "outcome": r.outcome,
                    "taken_at": taken,
                    "price": r.price,
                    "raw_sha256": r.raw_sha256,
                }
            )
        write_snapshots(connection, rows)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_odds_snapshots_match_taken", table_name="odds_snapshots")
    op.drop_table("odds_snapshots")
