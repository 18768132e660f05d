"""Portfolios in the warehouse: bankrolls, their bets, and a ledger of every movement.

A portfolio (a user's or a strategy's) opens with a deposit of its starting
bankroll.  Placing a bet moves its stake out of the balance (a ``stake``
ledger entry); settling it moves its return back in (a ``settlement`` entry:
stake × price when won, the stake when void, nothing when lost).  Each entry
records the balance after it, so the latest one holds the current balance.

- ``balance``: money not at stake; ``at_risk``: the stakes of open bets;
  ``equity``: the two together (open bets at cost).  Stakes are sized on the
  equity, the drawdown throttle compares it with its peak.
- The peak moves with the results: a deposit or withdrawal scales it by the
  same ratio as the equity, so moving money in or out does not change the
  drawdown; an ``adjustment`` counts like a result.
- Every write takes a lock on the portfolio row (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite has one writer at a time) and runs in one transaction, so
  concurrent runs cannot interleave their ledger entries.
- Placing is idempotent: a bet is placed once per portfolio, match, market,
  outcome and ``run_id`` (bets without a run id included), and placing the
  same stakes again places nothing.  A batch the balance cannot cover is
  refused whole.
- Settlement covers the 1X2 market from ``matches.result`` (``H``/``D``/``A``);
  other markets stay open until settled by hand (:func:`void_bet`).

Money is rounded to the cent.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Row, func, insert, select, update

from sabiscore_ml.betting.kelly import StakedBet
from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.warehouse.models import BankrollEntry, Match, Portfolio, PortfolioBet

OPEN, WON, LOST, VOID = "open", "won", "lost", "void"
DEPOSIT, STAKE, SETTLEMENT, ADJUSTMENT = "deposit", "stake", "settlement", "adjustment"
_RESULTS_1X2 = {"home": "H", "draw": "D", "away": "A"}


class PortfolioError(SabiscoreError):
    """A portfolio operation refused: unknown or duplicate portfolio, bankroll too small..."""


@dataclass(frozen=True)
class PortfolioRecord:
    """A portfolio as stored."""

    id: int
    name: str
    owner: str | None
    starting_bankroll: float
    kelly_multiplier: float
    created_at: dt.datetime


@dataclass(frozen=True)
class BetRecord:
    """A bet of a portfolio as stored; ``pnl`` and ``settled_at`` are set on settlement."""

    id: int
    portfolio_id: int
    match_id: int
    market: str
    outcome: str
    bookmaker: str
    price: float
    p_model: float
    edge: float
    stake: float
    placed_at: dt.datetime
    status: str
    settled_at: dt.datetime | None
    pnl: float | None
    run_id: str | None


@dataclass(frozen=True)
class Placement:
    """Bets placed by a call, and those skipped because they were placed before."""

    placed: tuple[BetRecord, ...]
    skipped: tuple[BetRecord, ...]
    balance: float


@dataclass(frozen=True)
class Settlement:
    """Bets settled by a call, their total profit or loss, and the balance after."""

    settled: tuple[BetRecord, ...]
    pnl: float
    balance: float


@dataclass(frozen=True)
class BankrollState:
    """Where a portfolio's money stands (see the module notes)."""

    balance: float
    at_risk: float
    equity: float
    peak_equity: float

    @property
    def drawdown(self) -> float:
        """How far the equity stands below its peak, as a share of the peak."""
        return 1.0 - self.equity / self.peak_equity if self.peak_equity > 0 else 0.0


PortfolioRef = str | PortfolioRecord


def _cents(amount: float) -> float:
    return round(float(amount), 2) + 0.0  # + 0.0: no negative zero


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _inserted_id(result: CursorResult[*tuple[Any, ...]]) -> int:
    """The primary key of the row a single-row ``INSERT`` added."""
    key = result.inserted_primary_key
    assert key is not None  # a single-row insert always has one
    inserted: int = key[0]
    return inserted


def _name(portfolio: PortfolioRef) -> str:
    return portfolio.name if isinstance(portfolio, PortfolioRecord) else portfolio


def _record(row: Row[*tuple[Any, ...]]) -> PortfolioRecord:
    """A row of ``portfolios`` as its record."""
    return PortfolioRecord(
        row.id, row.name, row.owner, row.starting_bankroll, row.kelly_multiplier, row.created_at
    )


def _bet(row: Row[*tuple[Any, ...]]) -> BetRecord:
    """A row of ``portfolio_bets`` as its record."""
    return BetRecord(*(getattr(row, name) for name in BetRecord.__dataclass_fields__))


def _find(connection: Connection, portfolio: PortfolioRef, *, lock: bool) -> PortfolioRecord:
    query = select(Portfolio).where(Portfolio.name == _name(portfolio))
    row = connection.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise PortfolioError(f"no portfolio named {_name(portfolio)!r}")
    return _record(row)


def _balance(connection: Connection, portfolio_id: int) -> float:
    return connection.execute(
        select(BankrollEntry.balance_after)
        .where(BankrollEntry.portfolio_id == portfolio_id)
        .order_by(BankrollEntry.id.desc())
        .limit(1)
    ).scalar_one()


def _enter(
    connection: Connection,
    portfolio_id: int,
    kind: str,
    amount: float,
    balance_before: float,
    at: dt.datetime,
    *,
    bet_id: int | None = None,
    note: str | None = None,
) -> float:
    """Write one ledger entry; return the balance after it."""
    balance = _cents(balance_before + amount)
    connection.execute(
        insert(BankrollEntry).values(
            portfolio_id=portfolio_id,
            entered_at=at,
            kind=kind,
            amount=_cents(amount),
            balance_after=balance,
            bet_id=bet_id,
            note=note,
        )
    )
    return balance


def _bets(connection: Connection, ids: list[int]) -> tuple[BetRecord, ...]:
    if not ids:
        return ()
    rows = connection.execute(
        select(PortfolioBet).where(PortfolioBet.id.in_(ids)).order_by(PortfolioBet.id)
    )
    return tuple(_bet(row) for row in rows)


def check_rules(name: str, starting_bankroll: float, kelly_multiplier: float) -> None:
    """Refuse a nameless portfolio, a non-positive bankroll, a Kelly multiplier outside (0, 1]."""
    if not name:
        raise PortfolioError("a portfolio needs a name")
    if not (math.isfinite(starting_bankroll) and starting_bankroll > 0):
        raise PortfolioError(
            f"portfolio {name!r}: the starting bankroll must be positive, not {starting_bankroll}"
        )
    if not 0.0 < kelly_multiplier <= 1.0:
        raise PortfolioError(
            f"portfolio {name!r}: the Kelly multiplier must be within (0, 1], "
            f"not {kelly_multiplier}"
        )


def create_portfolio(
    engine: Engine,
    name: str,
    starting_bankroll: float,
    *,
    owner: str | None = None,
    kelly_multiplier: float = 0.125,
    created_at: dt.datetime | None = None,
) -> PortfolioRecord:
    """Create a portfolio holding ``starting_bankroll`` (its first ledger entry, a deposit)."""
    check_rules(name, starting_bankroll, kelly_multiplier)
    at = created_at or _now()
    with engine.begin() as connection:
        exists = connection.execute(select(Portfolio.id).where(Portfolio.name == name)).first()
        if exists is not None:
            raise PortfolioError(f"a portfolio named {name!r} exists")
        portfolio_id = _inserted_id(
            connection.execute(
                insert(Portfolio).values(
                    name=name,
                    owner=owner,
                    starting_bankroll=_cents(starting_bankroll),
                    kelly_multiplier=kelly_multiplier,
                    created_at=at,
                )
            )
        )
        _enter(connection, portfolio_id, DEPOSIT, starting_bankroll, 0.0, at, note="opening")
        return _find(connection, name, lock=False)


def get_portfolio(engine: Engine, name: str) -> PortfolioRecord:
    """The portfolio named ``name``."""
    with engine.connect() as connection:
        return _find(connection, name, lock=False)


def find_portfolio(engine: Engine, name: str) -> PortfolioRecord | None:
    """The portfolio named ``name``, or ``None`` when there is none."""
    with engine.connect() as connection:
        row = connection.execute(select(Portfolio).where(Portfolio.name == name)).one_or_none()
    return None if row is None else _record(row)


def transfer(
    engine: Engine,
    portfolio: PortfolioRef,
    amount: float,
    *,
    kind: str = DEPOSIT,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> float:
    """Move money in (positive) or out (negative) as a deposit or an adjustment; new balance."""
    if kind not in (DEPOSIT, ADJUSTMENT):
        raise PortfolioError(f"a transfer is a {DEPOSIT} or an {ADJUSTMENT}, not {kind!r}")
    with engine.begin() as connection:
        record = _find(connection, portfolio, lock=True)
        balance = _balance(connection, record.id)
        if balance + amount < 0:
            raise PortfolioError(
                f"portfolio {record.name!r}: {-amount:.2f} out of a balance of {balance:.2f}"
            )
        return _enter(connection, record.id, kind, amount, balance, at or _now(), note=note)


def place_bets(
    engine: Engine,
    portfolio: PortfolioRef,
    stakes: Iterable[StakedBet],
    *,
    run_id: str | None = None,
    placed_at: dt.datetime | None = None,
) -> Placement:
    """Place ``stakes`` for ``portfolio`` in one transaction: the bets and their ledger entries.

    A bet already placed for the same match, market, outcome and ``run_id`` is
    skipped (returned in ``skipped``).  Raises :class:`PortfolioError`, writing
    nothing, when the new stakes exceed the balance.
    """
    stakes = list(stakes)
    keys = {(s.match_id, s.market, s.outcome) for s in stakes}
    if len(keys) != len(stakes):
        raise PortfolioError("two stakes for one match, market and outcome")
    at = placed_at or _now()
    with engine.begin() as connection:
        record = _find(connection, portfolio, lock=True)
        same_run = (
            PortfolioBet.run_id.is_(None) if run_id is None else PortfolioBet.run_id == run_id
        )
        existing = {
            (row.match_id, row.market, row.outcome): row.id
            for row in connection.execute(
                select(
                    PortfolioBet.id,
                    PortfolioBet.match_id,
                    PortfolioBet.market,
                    PortfolioBet.outcome,
                ).where(
                    PortfolioBet.portfolio_id == record.id,
                    same_run,
                    PortfolioBet.match_id.in_(sorted({s.match_id for s in stakes})),
                )
            )
            if (row.match_id, row.market, row.outcome) in keys
        }
        new = [s for s in stakes if (s.match_id, s.market, s.outcome) not in existing]
        balance = _balance(connection, record.id)
        total = _cents(sum(_cents(s.stake) for s in new))
        if total > balance:
            raise PortfolioError(
                f"portfolio {record.name!r}: stakes of {total:.2f} exceed the balance {balance:.2f}"
            )
        placed = []
        for s in new:
            stake = _cents(s.stake)
            if stake <= 0:
                raise PortfolioError(f"match {s.match_id} {s.outcome}: stake {s.stake} rounds to 0")
            bet_id = _inserted_id(
                connection.execute(
                    insert(PortfolioBet).values(
                        portfolio_id=record.id,
                        match_id=s.match_id,
                        market=s.market,
                        outcome=s.outcome,
                        bookmaker=s.bookmaker,
                        price=s.price,
                        p_model=s.p_model,
                        edge=s.edge,
                        stake=stake,
                        placed_at=at,
                        status=OPEN,
                        run_id=run_id,
                    )
                )
            )
            balance = _enter(connection, record.id, STAKE, -stake, balance, at, bet_id=bet_id)
            placed.append(bet_id)
        return Placement(
            _bets(connection, placed), _bets(connection, sorted(existing.values())), balance
        )


def settle_bets(
    engine: Engine, portfolio: PortfolioRef, *, settled_at: dt.datetime | None = None
) -> Settlement:
    """Settle the open 1X2 bets of ``portfolio`` whose match has a result, in one transaction."""
    at = settled_at or _now()
    with engine.begin() as connection:
        record = _find(connection, portfolio, lock=True)
        rows = connection.execute(
            select(
                PortfolioBet.id,
                PortfolioBet.outcome,
                PortfolioBet.stake,
                PortfolioBet.price,
                Match.result,
            )
            .join(Match, Match.id == PortfolioBet.match_id)
            .where(
                PortfolioBet.portfolio_id == record.id,
                PortfolioBet.status == OPEN,
                PortfolioBet.market == "1x2",
                Match.result.in_(tuple(_RESULTS_1X2.values())),
            )
            .order_by(PortfolioBet.id)
        ).all()
        balance = _balance(connection, record.id)
        settled, total = [], 0.0
        for bet_id, outcome, stake, price, result in rows:
            if outcome not in _RESULTS_1X2:
                continue
            won = _RESULTS_1X2[outcome] == result
            returned = _cents(stake * price) if won else 0.0
            pnl = _cents(returned - stake)
            connection.execute(
                update(PortfolioBet)
                .where(PortfolioBet.id == bet_id)
                .values(status=WON if won else LOST, settled_at=at, pnl=pnl)
            )
            balance = _enter(
                connection, record.id, SETTLEMENT, returned, balance, at, bet_id=bet_id
            )
            settled.append(bet_id)
            total += pnl
        return Settlement(_bets(connection, settled), _cents(total), balance)


def void_bet(
    engine: Engine,
    portfolio: PortfolioRef,
    bet_id: int,
    *,
    note: str | None = None,
    settled_at: dt.datetime | None = None,
) -> BetRecord:
    """Void an open bet (match abandoned, market withdrawn): its stake comes back."""
    at = settled_at or _now()
    with engine.begin() as connection:
        record = _find(connection, portfolio, lock=True)
        row = connection.execute(
            select(PortfolioBet).where(
                PortfolioBet.id == bet_id, PortfolioBet.portfolio_id == record.id
            )
        ).one_or_none()
        if row is None or row.status != OPEN:
            raise PortfolioError(f"portfolio {record.name!r} has no open bet {bet_id}")
        connection.execute(
            update(PortfolioBet)
            .where(PortfolioBet.id == bet_id)
            .values(status=VOID, settled_at=at, pnl=0.0)
        )
        balance = _balance(connection, record.id)
        _enter(connection, record.id, SETTLEMENT, row.stake, balance, at, bet_id=bet_id, note=note)
        return _bets(connection, [bet_id])[0]


def current_bankroll(engine: Engine, portfolio: PortfolioRef) -> float:
    """The balance of ``portfolio``: its money not at stake."""
    with engine.connect() as connection:
        return _balance(connection, _find(connection, portfolio, lock=False).id)


def open_bets(engine: Engine, portfolio: PortfolioRef) -> tuple[BetRecord, ...]:
    """The open bets of ``portfolio``, oldest first."""
    with engine.connect() as connection:
        record = _find(connection, portfolio, lock=False)
        rows = connection.execute(
            select(PortfolioBet)
            .where(PortfolioBet.portfolio_id == record.id, PortfolioBet.status == OPEN)
            .order_by(PortfolioBet.placed_at, PortfolioBet.id)
        )
        return tuple(_bet(row) for row in rows)


def bankroll_state(engine: Engine, portfolio: PortfolioRef) -> BankrollState:
    """Balance, money at risk, equity and peak equity of ``portfolio`` (see the module notes)."""
    with engine.connect() as connection:
        record = _find(connection, portfolio, lock=False)
        entries = connection.execute(
            select(
                BankrollEntry.entered_at,
                BankrollEntry.kind,
                BankrollEntry.amount,
                PortfolioBet.stake,
            )
            .outerjoin(PortfolioBet, PortfolioBet.id == BankrollEntry.bet_id)
            .where(BankrollEntry.portfolio_id == record.id)
            .order_by(BankrollEntry.id)
        ).all()
        at_risk = connection.execute(
            select(func.coalesce(func.sum(PortfolioBet.stake), 0.0)).where(
                PortfolioBet.portfolio_id == record.id, PortfolioBet.status == OPEN
            )
        ).scalar_one()
        balance = _balance(connection, record.id)
    equity = peak = 0.0
    for i, (entered_at, kind, amount, stake) in enumerate(entries):
        if kind == STAKE:
            pass  # money moves from the balance to the bet: the equity is unchanged
        elif kind == DEPOSIT:
            before, equity = equity, _cents(equity + amount)
            peak = peak * equity / before if before > 0 else peak
        else:
            equity = _cents(equity + (amount - stake if kind == SETTLEMENT else amount))
        # the settlements of one call (one time stamp) count as one result for the peak
        following = entries[i + 1] if i + 1 < len(entries) else None
        if not (
            kind == SETTLEMENT
            and following is not None
            and following.kind == SETTLEMENT
            and following.entered_at == entered_at
        ):
            peak = max(peak, equity)
    equity = _cents(balance + at_risk)
    return BankrollState(balance, _cents(at_risk), equity, _cents(max(peak, equity)))
