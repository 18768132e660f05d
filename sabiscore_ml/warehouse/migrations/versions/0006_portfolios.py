"""Portfolios: per-portfolio bankrolls, their bets, and the ledger of every movement.

``portfolios`` (a user's or a strategy's bankroll), ``portfolio_bets`` (each
stake from placement to settlement, placed once per portfolio, match, market,
outcome and run) and ``bankroll_ledger`` (deposits, stakes, settlements and
adjustments, each with the balance after it).

Revision ID: 0006
Revises: 0005

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "portfolios",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("starting_bankroll", sa.Float(), nullable=False),
        sa.Column("kelly_multiplier", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolios")),
        sa.UniqueConstraint("name", name=op.f("uq_portfolios_name")),
    )
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portfolios_owner"), ["owner"], unique=False)

    op.create_table(
        "portfolio_bets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("match_id", ID, nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("bookmaker", sa.String(length=24), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("p_model", sa.Float(), nullable=False),
        sa.Column("edge", sa.Float(), nullable=False),
        sa.Column("stake", sa.Float(), nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.Column("pnl", sa.Float(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'won', 'lost', 'void')", name=op.f("ck_portfolio_bets_status")
        ),
        sa.CheckConstraint(
            "stake > 0 AND price > 1", name=op.f("ck_portfolio_bets_stake_and_price")
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_portfolio_bets_match_id_matches")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_portfolio_bets_portfolio_id_portfolios"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_bets")),
        sa.UniqueConstraint(
            "portfolio_id",
            "match_id",
            "market",
            "outcome",
            "run_id",
            name=op.f("uq_portfolio_bets_portfolio_id"),
        ),
    )
    with op.batch_alter_table("portfolio_bets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portfolio_bets_portfolio_id"), ["portfolio_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_portfolio_bets_match_id"), ["match_id"], unique=False)

    op.create_table(
        "bankroll_ledger",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("balance_after", sa.Float(), nullable=False),
        sa.Column("bet_id", ID, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('deposit', 'stake', 'settlement', 'adjustment')",
            name=op.f("ck_bankroll_ledger_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["bet_id"], ["portfolio_bets.id"], name=op.f("fk_bankroll_ledger_bet_id_portfolio_bets")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_bankroll_ledger_portfolio_id_portfolios"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bankroll_ledger")),
    )
    with op.batch_alter_table("bankroll_ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bankroll_ledger_portfolio_id"), ["portfolio_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bankroll_ledger_bet_id"), ["bet_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    for table, columns in (
        ("bankroll_ledger", ("bet_id", "portfolio_id")),
        ("portfolio_bets", ("match_id", "portfolio_id")),
        ("portfolios", ("owner",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
