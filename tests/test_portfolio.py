"""Portfolios in the warehouse (SQLite and PostgreSQL): bets, settlement, the ledger."""

from __future__ import annotations

import datetime as dt
import threading

import polars as pl
import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from sabiscore_ml.betting.edges import match_edges
from sabiscore_ml.betting.kelly import StakedBet, StakingRules, size_stakes
from sabiscore_ml.betting.portfolio import (
    PortfolioError,
    bankroll_state,
    create_portfolio,
    current_bankroll,
    get_portfolio,
    open_bets,
    place_bets,
    settle_bets,
    transfer,
    void_bet,
)
from sabiscore_ml.warehouse.models import (
    BankrollEntry,
    Match,
    PortfolioBet,
    RawFile,
    Season,
    Team,
)

T0 = dt.datetime(2024, 3, 1, 9, 0)
DAY = dt.date(2024, 3, 2)


def add_matches(engine: Engine, count: int) -> list[int]:
    """``count`` E0 fixtures on DAY, no results yet; their match ids."""
    with engine.begin() as connection:
        connection.execute(insert(Season).values(code="2023-2024", start_year=2023))
        connection.execute(
            insert(RawFile).values(
                sha256="f" * 64,
                source="test",
                uri="test://fixtures",
                size_bytes=0,
                archive_path="-",
                first_seen_at=T0,
            )
        )
        ids = []
        for i in range(count):
            home, away = (
                connection.execute(
                    insert(Team).values(country="England", name=f"Team {i}{side}")
                ).inserted_primary_key[0]
                for side in "HA"
            )
            ids.append(
                connection.execute(
                    insert(Match).values(
                        league_code="E0",
                        season_code="2023-2024",
                        match_date=DAY,
                        home_team_id=home,
                        away_team_id=away,
                        raw_sha256="f" * 64,
                    )
                ).inserted_primary_key[0]
            )
    return ids


def set_result(engine: Engine, match_id: int, home: int, away: int) -> None:
    result = "H" if home > away else "A" if away > home else "D"
    with engine.begin() as connection:
        connection.execute(
            update(Match)
            .where(Match.id == match_id)
            .values(home_goals=home, away_goals=away, result=result)
        )


def staked(match_id: int, outcome: str, price: float, stake: float) -> StakedBet:
    return StakedBet(
        match_id=match_id,
        market="1x2",
        outcome=outcome,
        bookmaker="pinnacle",
        price=price,
        p_model=0.5,
        edge=0.5 * price - 1,
        kelly_fraction=0.1,
        fraction=stake / 1000,
        stake=stake,
        match_date=DAY,
        league_code="E0",
    )


def ledger(engine: Engine, portfolio_id: int) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(
                    BankrollEntry.kind,
                    BankrollEntry.amount,
                    BankrollEntry.balance_after,
                    BankrollEntry.bet_id,
                )
                .where(BankrollEntry.portfolio_id == portfolio_id)
                .order_by(BankrollEntry.id)
            )
        ]


def test_create_and_find(warehouse: Engine):
    record = create_portfolio(warehouse, "alice", 1000.0, owner="user:alice", created_at=T0)
    assert (record.name, record.owner, record.starting_bankroll, record.kelly_multiplier) == (
        "alice",
        "user:alice",
        1000.0,
        0.125,
    )
    assert get_portfolio(warehouse, "alice") == record
    assert current_bankroll(warehouse, "alice") == 1000.0
    assert ledger(warehouse, record.id) == [("deposit", 1000.0, 1000.0, None)]
    with pytest.raises(PortfolioError, match="exists"):
        create_portfolio(warehouse, "alice", 50.0)
    with pytest.raises(PortfolioError, match="no portfolio named 'bob'"):
        current_bankroll(warehouse, "bob")
    with pytest.raises(PortfolioError, match="positive"):
        create_portfolio(warehouse, "bob", 0.0)


def test_place_is_idempotent_per_run(warehouse: Engine):
    m1, m2 = add_matches(warehouse, 2)
    portfolio = create_portfolio(warehouse, "strategy:eighth-kelly", 1000.0)
    stakes = [
        staked(m1, "home", 2.1, 25.0),
        staked(m1, "draw", 3.6, 5.5),
        staked(m2, "away", 3.0, 10),
    ]
    first = place_bets(warehouse, portfolio, stakes, run_id="run-1", placed_at=T0)
    assert [(b.match_id, b.outcome, b.stake, b.status) for b in first.placed] == [
        (m1, "home", 25.0, "open"),
        (m1, "draw", 5.5, "open"),
        (m2, "away", 10.0, "open"),
    ]
    assert first.skipped == () and first.balance == 959.5
    again = place_bets(warehouse, portfolio, stakes, run_id="run-1")
    assert again.placed == () and again.skipped == first.placed and again.balance == 959.5
    # skipped: only the bets of this call, not the match's other bets
    assert place_bets(warehouse, portfolio, stakes[:1], run_id="run-1").skipped == first.placed[:1]
    assert current_bankroll(warehouse, portfolio) == 959.5
    assert len(open_bets(warehouse, portfolio)) == 3
    # another run is another bet; bets without a run id are deduplicated too
    assert len(place_bets(warehouse, portfolio, stakes[:1], run_id="run-2").placed) == 1
    assert len(place_bets(warehouse, portfolio, stakes[:1]).placed) == 1
    assert len(place_bets(warehouse, portfolio, stakes[:1]).placed) == 0
    assert current_bankroll(warehouse, portfolio) == 909.5
    entries = ledger(warehouse, portfolio.id)
    assert [e[0] for e in entries] == ["deposit"] + ["stake"] * 5
    assert [e[1] for e in entries] == [1000.0, -25.0, -5.5, -10.0, -25.0, -25.0]
    assert {e[3] for e in entries[1:]} == {b.id for b in open_bets(warehouse, portfolio)}


def test_a_batch_beyond_the_balance_is_refused_whole(warehouse: Engine):
    m1, m2 = add_matches(warehouse, 2)
    portfolio = create_portfolio(warehouse, "small", 30.0)
    with pytest.raises(PortfolioError, match="exceed the balance"):
        place_bets(warehouse, portfolio, [staked(m1, "home", 2.0, 20), staked(m2, "home", 2.0, 20)])
    assert open_bets(warehouse, portfolio) == ()
    assert ledger(warehouse, portfolio.id) == [("deposit", 30.0, 30.0, None)]
    with pytest.raises(PortfolioError, match="two stakes"):
        place_bets(warehouse, portfolio, [staked(m1, "home", 2.0, 1), staked(m1, "home", 2.1, 1)])


def test_settlement(warehouse: Engine):
    m1, m2, m3 = add_matches(warehouse, 3)
    portfolio = create_portfolio(warehouse, "alice", 1000.0)
    place_bets(
        warehouse,
        portfolio,
        [
            staked(m1, "home", 2.15, 20.0),
            staked(m1, "draw", 3.6, 5.0),
            staked(m2, "away", 3.0, 10.0),
            staked(m3, "home", 1.9, 15.0),
        ],
        placed_at=T0,
    )
    assert settle_bets(warehouse, portfolio).settled == ()  # nothing played yet
    set_result(warehouse, m1, 2, 1)
    set_result(warehouse, m2, 1, 1)
    settled_at = T0 + dt.timedelta(days=2)
    settlement = settle_bets(warehouse, portfolio, settled_at=settled_at)
    outcomes = {(b.match_id, b.outcome): (b.status, b.pnl) for b in settlement.settled}
    assert outcomes == {
        (m1, "home"): ("won", 23.0),  # 20 x 2.15 = 43 back
        (m1, "draw"): ("lost", -5.0),
        (m2, "away"): ("lost", -10.0),
    }
    assert all(b.settled_at == settled_at for b in settlement.settled)
    assert settlement.pnl == 8.0
    # 1000 - 50 staked + 43 returned
    assert settlement.balance == 993.0 == current_bankroll(warehouse, portfolio)
    assert [(b.match_id, b.outcome) for b in open_bets(warehouse, portfolio)] == [(m3, "home")]
    entries = ledger(warehouse, portfolio.id)
    assert [(e[0], e[1]) for e in entries[-3:]] == [
        ("settlement", 43.0),
        ("settlement", 0.0),
        ("settlement", 0.0),
    ]
    # the balance chain: each entry's balance is the previous one plus its amount
    running = 0.0
    for _, amount, balance_after, _ in entries:
        running = round(running + amount, 2)
        assert balance_after == running
    assert settle_bets(warehouse, portfolio).settled == ()  # settled once only
    state = bankroll_state(warehouse, portfolio)
    assert (state.balance, state.at_risk, state.equity, state.peak_equity) == (
        993.0,
        15.0,
        1008.0,
        1008.0,
    )


def test_drawdown_and_transfers(warehouse: Engine):
    (m1,) = add_matches(warehouse, 1)
    portfolio = create_portfolio(warehouse, "alice", 1000.0)
    place_bets(warehouse, portfolio, [staked(m1, "away", 4.0, 200.0)])
    state = bankroll_state(warehouse, portfolio)
    assert (state.balance, state.at_risk, state.equity, state.drawdown) == (800.0, 200.0, 1000.0, 0)
    set_result(warehouse, m1, 1, 0)
    settle_bets(warehouse, portfolio)
    state = bankroll_state(warehouse, portfolio)
    assert (state.equity, state.peak_equity) == (800.0, 1000.0)
    assert state.drawdown == pytest.approx(0.2)
    # money moved in or out leaves the drawdown where it was
    assert transfer(warehouse, portfolio, 200.0) == 1000.0
    assert bankroll_state(warehouse, portfolio).drawdown == pytest.approx(0.2)
    transfer(warehouse, portfolio, -500.0, note="withdrawal")
    state = bankroll_state(warehouse, portfolio)
    assert (state.equity, state.drawdown) == (500.0, pytest.approx(0.2))
    # an adjustment counts like a result
    transfer(warehouse, portfolio, 125.0, kind="adjustment", note="bonus")
    assert bankroll_state(warehouse, portfolio).drawdown == pytest.approx(0.0)
    with pytest.raises(PortfolioError, match="out of a balance"):
        transfer(warehouse, portfolio, -1000.0)
    with pytest.raises(PortfolioError, match="not 'stake'"):
        transfer(warehouse, portfolio, 5.0, kind="stake")


def test_void(warehouse: Engine):
    (m1,) = add_matches(warehouse, 1)
    portfolio = create_portfolio(warehouse, "alice", 100.0)
    (bet,) = place_bets(warehouse, portfolio, [staked(m1, "draw", 3.3, 12.5)]).placed
    voided = void_bet(warehouse, portfolio, bet.id, note="abandoned")
    assert (voided.status, voided.pnl) == ("void", 0.0)
    assert current_bankroll(warehouse, portfolio) == 100.0
    assert open_bets(warehouse, portfolio) == ()
    with pytest.raises(PortfolioError, match="no open bet"):
        void_bet(warehouse, portfolio, bet.id)
    other = create_portfolio(warehouse, "bob", 100.0)
    with pytest.raises(PortfolioError, match="no open bet"):
        void_bet(warehouse, other, bet.id)


def test_the_schema_guards_its_rows(warehouse: Engine):
    (m1,) = add_matches(warehouse, 1)
    portfolio = create_portfolio(warehouse, "alice", 100.0)
    row = dict(
        portfolio_id=portfolio.id,
        match_id=m1,
        market="1x2",
        outcome="home",
        bookmaker="b365",
        price=2.0,
        p_model=0.6,
        edge=0.2,
        stake=5.0,
        placed_at=T0,
        status="open",
        run_id="r",
    )
    for bad in ({"status": "pending"}, {"stake": 0.0}, {"price": 1.0}, {"match_id": 999_999}):
        with pytest.raises(IntegrityError), warehouse.begin() as connection:
            connection.execute(insert(PortfolioBet).values(**{**row, **bad}))
    with warehouse.begin() as connection:
        connection.execute(insert(PortfolioBet).values(**row))
    with pytest.raises(IntegrityError), warehouse.begin() as connection:
        connection.execute(insert(PortfolioBet).values(**row))  # same bet, same run


def test_from_prices_to_settled_bets(warehouse: Engine):
    m1, m2 = add_matches(warehouse, 2)
    predictions = pl.DataFrame(
        {
            "match_id": [m1, m2],
            "match_date": [DAY, DAY],
            "league_code": ["E0", "E0"],
            "p_home": [0.55, 0.20],
            "p_draw": [0.25, 0.27],
            "p_away": [0.20, 0.53],
        }
    )
    prices = pl.DataFrame(
        {
            "match_id": [m1] * 3 + [m2] * 3,
            "bookmaker": ["pinnacle", "b365", "bwin"] * 2,
            "price_home": [2.05, 2.00, 2.02, 3.9, 4.0, 3.8],
            "price_draw": [3.5, 3.4, 3.5, 3.4, 3.3, 3.4],
            "price_away": [4.0, 4.1, 3.9, 2.0, 1.95, 2.05],
        }
    )
    portfolio = create_portfolio(warehouse, "strategy:value", 2000.0)
    state = bankroll_state(warehouse, portfolio)
    rules = StakingRules(kelly_multiplier=portfolio.kelly_multiplier)
    result = size_stakes(match_edges(predictions, prices), state.equity, state.peak_equity, rules)
    assert {(s.match_id, s.outcome) for s in result.stakes} == {(m1, "home"), (m2, "away")}
    placement = place_bets(warehouse, portfolio, result.stakes, run_id="2024-03-01")
    assert placement.balance == pytest.approx(2000.0 - result.total)
    set_result(warehouse, m1, 3, 0)
    set_result(warehouse, m2, 0, 0)
    settlement = settle_bets(warehouse, portfolio)
    home = next(s for s in result.stakes if s.match_id == m1)
    away = next(s for s in result.stakes if s.match_id == m2)
    assert settlement.pnl == pytest.approx(home.stake * (home.price - 1) - away.stake, abs=0.011)
    assert current_bankroll(warehouse, portfolio) == pytest.approx(2000 + settlement.pnl)


def test_concurrent_placements_write_one_set(warehouse: Engine):
    if warehouse.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: nothing to interleave")
    m1, m2 = add_matches(warehouse, 2)
    portfolio = create_portfolio(warehouse, "alice", 1000.0)
    stakes = [staked(m1, "home", 2.0, 10.0), staked(m2, "draw", 3.3, 7.5)]
    placed, errors = [], []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            placed.append(len(place_bets(warehouse, portfolio, stakes).placed))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(placed) == [0, 0, 0, 2]
    entries = ledger(warehouse, portfolio.id)
    assert [e[2] for e in entries] == [1000.0, 990.0, 982.5]


# --- the portfolio a prediction run stakes for ------------------------------------------


def _ledger(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(
            select(BankrollEntry.portfolio_id, BankrollEntry.kind, BankrollEntry.amount)
        ).all()


def test_a_run_creates_its_portfolio_or_uses_the_one_with_its_rules(warehouse: Engine):
    from sabiscore_ml.jobs.predict import PredictRequest, staking_portfolio

    request = PredictRequest(portfolio="club", bankroll=500.0, kelly=0.25)
    created = staking_portfolio(warehouse, request)
    assert (created.name, created.starting_bankroll, created.kelly_multiplier) == (
        "club",
        500.0,
        0.25,
    )
    assert staking_portfolio(warehouse, request) == created  # the same one, nothing written
    assert _ledger(warehouse) == [(created.id, "deposit", 500.0)]


def test_a_run_asking_an_existing_portfolio_for_other_rules_is_refused(warehouse: Engine):
    from sabiscore_ml.jobs.predict import PredictRequest, staking_portfolio

    create_portfolio(warehouse, "club", 500.0, kelly_multiplier=0.25)
    before = _ledger(warehouse)
    with pytest.raises(PortfolioError) as kelly:
        staking_portfolio(warehouse, PredictRequest(portfolio="club", bankroll=500.0))
    message = str(kelly.value)
    assert "'club'" in message and "Kelly multiplier of 0.25" in message
    assert "asks for 0.125" in message and "--kelly 0.25" in message
    with pytest.raises(PortfolioError) as bankroll:
        staking_portfolio(warehouse, PredictRequest(portfolio="club", bankroll=2000.0, kelly=0.25))
    message = str(bankroll.value)
    assert "'club'" in message and "starting bankroll of 500.00" in message
    assert "asks for 2000.00" in message and "transfer" in message
    # the portfolio keeps its rules and its money
    assert get_portfolio(warehouse, "club").kelly_multiplier == 0.25
    assert _ledger(warehouse) == before


@pytest.mark.parametrize(
    ("bankroll", "kelly", "wrong"),
    [
        (0.0, 0.125, "starting bankroll"),
        (-100.0, 0.125, "starting bankroll"),
        (float("nan"), 0.125, "starting bankroll"),
        (float("inf"), 0.125, "starting bankroll"),
        (1000.0, 0.0, "Kelly multiplier"),
        (1000.0, 1.5, "Kelly multiplier"),
        (1000.0, float("nan"), "Kelly multiplier"),
    ],
)
def test_a_bad_bankroll_or_kelly_multiplier_is_always_an_error(
    warehouse: Engine, bankroll: float, kelly: float, wrong: str
):
    from sabiscore_ml.jobs.predict import PredictRequest, predict, staking_portfolio

    request = PredictRequest(portfolio="club", bankroll=bankroll, kelly=kelly)
    # no portfolio yet: refused, and none is created
    with pytest.raises(PortfolioError, match=wrong):
        staking_portfolio(warehouse, request)
    assert not _ledger(warehouse)
    # an existing portfolio: refused as well, before anything is scored
    create_portfolio(warehouse, "club", 1000.0)
    with pytest.raises(PortfolioError, match=f"'club'.*{wrong}"):
        predict(request, engine=warehouse)
    assert len(_ledger(warehouse)) == 1
