"""Kelly fractions: single bets, exclusive outcomes against brute force, and batch staking."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize

from sabiscore_ml.betting.kelly import (
    DrawdownThrottle,
    StakingRules,
    expected_log_growth,
    kelly_fraction,
    simultaneous_kelly,
    size_stakes,
)

# --- one bet ---------------------------------------------------------------------------


def test_kelly_fraction_by_hand():
    # p = 0.5 at 2.2: edge 0.1, fraction 0.1 / 1.2
    assert kelly_fraction(0.5, 2.2) == pytest.approx(1 / 12)
    # 60% at evens: 20% of the bankroll
    assert kelly_fraction(0.6, 2.0) == pytest.approx(0.2)
    assert kelly_fraction(0.5, 2.0) == 0.0  # no edge
    assert kelly_fraction(0.3, 2.0) == 0.0  # negative edge: no bet, not a lay
    assert kelly_fraction(1.0, 1.5) == pytest.approx(1.0)


def test_kelly_fraction_maximises_log_growth():
    for p, price in [(0.55, 2.0), (0.3, 4.5), (0.12, 10.0)]:
        f = kelly_fraction(p, price)
        best = max(np.linspace(0, 0.99, 9901), key=lambda x: expected_log_growth([p], [price], [x]))
        assert f == pytest.approx(best, abs=1e-4)


@pytest.mark.parametrize("p, price", [(-0.1, 2.0), (1.1, 2.0), (0.5, 1.0), (0.5, float("nan"))])
def test_kelly_fraction_refuses_nonsense(p, price):
    with pytest.raises(ValueError):
        kelly_fraction(p, price)


# --- exclusive outcomes ---------------------------------------------------------------


def brute_force(probs: list[float], prices: list[float]) -> tuple[np.ndarray, float]:
    """Numerical maximum of expected log growth over f >= 0, sum f <= 1 (several starts)."""
    n = len(probs)

    def loss(f: np.ndarray) -> float:
        growth = expected_log_growth(probs, prices, np.clip(f, 0, None))
        return 1e6 if not np.isfinite(growth) else -growth

    best = None
    for start in [np.zeros(n), np.full(n, 0.05), np.asarray(probs) * 0.5]:
        result = minimize(
            loss,
            start,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * n,
            constraints=[{"type": "ineq", "fun": lambda f: 0.999999 - f.sum()}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        if best is None or result.fun < best.fun:
            best = result
    return np.clip(best.x, 0, None), -best.fun


def random_markets(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.choice([2, 3]))
        model = rng.dirichlet(np.full(n, 2.0))
        # the bookmaker's view: the model's probabilities perturbed, plus a 2-8% margin
        book = model * np.exp(rng.normal(0, 0.25, n))
        book = book / book.sum() * rng.uniform(1.02, 1.08)
        prices = np.round(1 / book, 2)
        if (prices > 1.01).all():
            yield model.tolist(), prices.tolist()


def test_simultaneous_kelly_matches_brute_force():
    compared = with_two_bets = 0
    for probs, prices in random_markets(seed=11, count=120):
        exact = simultaneous_kelly(probs, prices)
        numeric, growth = brute_force(probs, prices)
        assert exact.expected_growth >= growth - 1e-9, (probs, prices)
        assert np.allclose(exact.fractions, numeric, atol=2e-4), (probs, prices, numeric)
        assert exact.reserve == pytest.approx(1 - sum(exact.fractions))
        compared += 1
        with_two_bets += sum(f > 0 for f in exact.fractions) >= 2
    assert compared > 80
    assert with_two_bets > 5  # the case where exclusivity matters was exercised


def test_simultaneous_kelly_by_hand():
    # Home 0.5 at 2.3 and draw 0.3 at 3.6 both have value, away 0.2 at 3.4 none.
    # S = {home}: R = 0.5 / (1 - 1/2.3); draw's 0.3 * 3.6 = 1.08 > R, so S = {home, draw}:
    # R = (1 - 0.8) / (1 - 1/2.3 - 1/3.6), f_i = p_i - R / o_i.
    probs, prices = [0.5, 0.3, 0.2], [2.3, 3.6, 3.4]
    reserve = 0.2 / (1 - 1 / 2.3 - 1 / 3.6)
    assert 0.3 * 3.6 > 0.5 / (1 - 1 / 2.3)
    result = simultaneous_kelly(probs, prices)
    assert result.fractions == pytest.approx([0.5 - reserve / 2.3, 0.3 - reserve / 3.6, 0.0])
    assert result.reserve == pytest.approx(reserve)
    # staking both is not two independent Kelly bets
    separate = [kelly_fraction(0.5, 2.3), kelly_fraction(0.3, 3.6)]
    assert result.fractions[:2] != pytest.approx(separate, abs=1e-3)


def test_simultaneous_kelly_single_value_outcome_is_plain_kelly():
    result = simultaneous_kelly([0.5, 0.25, 0.25], [2.2, 3.5, 3.5])
    assert result.fractions == pytest.approx([kelly_fraction(0.5, 2.2), 0.0, 0.0])


def test_simultaneous_kelly_no_edge_no_stake():
    # fair or worse prices everywhere: nothing
    result = simultaneous_kelly([0.5, 0.3, 0.2], [1.9, 3.2, 4.8])
    assert result.fractions == (0.0, 0.0, 0.0)
    assert result.reserve == 1.0
    assert result.expected_growth == 0.0


def test_simultaneous_kelly_outcomes_not_offered():
    # Only home is on offer (the others failed the value rules): their mass is a loss.
    alone = simultaneous_kelly([0.5], [2.2])
    assert alone.fractions[0] == pytest.approx(kelly_fraction(0.5, 2.2))
    numeric, _ = brute_force([0.5, 0.3], [2.2, 3.6])
    assert simultaneous_kelly([0.5, 0.3], [2.2, 3.6]).fractions == pytest.approx(
        numeric.tolist(), abs=2e-4
    )


def test_simultaneous_kelly_arbitrage_bets_everything_in_proportion():
    # inverse prices sum to 0.90: every outcome, f_i = p_i, nothing kept back
    result = simultaneous_kelly([0.5, 0.3, 0.2], [2.4, 3.8, 6.0])
    assert result.fractions == pytest.approx([0.5, 0.3, 0.2])
    assert result.reserve == pytest.approx(0.0, abs=1e-12)


def test_simultaneous_kelly_refuses_nonsense():
    with pytest.raises(ValueError, match="sum to"):
        simultaneous_kelly([0.6, 0.3, 0.2], [2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="same non-zero length"):
        simultaneous_kelly([0.5, 0.5], [2.0])
    with pytest.raises(ValueError, match="above 1"):
        simultaneous_kelly([0.5, 0.5], [2.0, 1.0])


# --- batches ----------------------------------------------------------------------------

DAY1, DAY2 = dt.date(2024, 3, 2), dt.date(2024, 3, 3)
NO_CAPS = StakingRules(
    kelly_multiplier=1.0,
    max_stake_per_bet=None,
    max_stake_per_matchday=None,
    max_stake_per_league=None,
    min_stake=0.0,
    drawdown_throttle=None,
)


def bets(*rows: tuple) -> pl.DataFrame:
    """Value bets: (match_id, outcome, p_model, price, match_date, league_code)."""
    return pl.DataFrame(
        rows,
        schema={
            "match_id": pl.Int64,
            "outcome": pl.String,
            "p_model": pl.Float64,
            "price": pl.Float64,
            "match_date": pl.Date,
            "league_code": pl.String,
        },
        orient="row",
    )


def test_one_bet_eighth_kelly_rounded_down():
    result = size_stakes(bets((1, "home", 0.5, 2.2, DAY1, "E0")), 1000.0, 1000.0, StakingRules())
    (stake,) = result.stakes
    # full Kelly 1/12, an eighth of it: 10.4166... of 1000, rounded down to the cent
    assert stake.kelly_fraction == pytest.approx(1 / 12)
    assert stake.stake == 10.41
    assert stake.edge == pytest.approx(0.1)
    assert (stake.match_id, stake.market, stake.outcome, stake.match_date) == (
        1,
        "1x2",
        "home",
        DAY1,
    )
    assert result.throttle_factor == 1.0 and result.warnings == ()


def test_two_outcomes_of_a_match_are_staked_together():
    frame = bets((1, "home", 0.5, 2.3, DAY1, "E0"), (1, "draw", 0.3, 3.6, DAY1, "E0"))
    result = size_stakes(frame, 10_000.0, 10_000.0, NO_CAPS)
    exact = simultaneous_kelly([0.3, 0.5], [3.6, 2.3])  # sorted: draw, home
    by_outcome = {s.outcome: s for s in result.stakes}
    assert by_outcome["draw"].kelly_fraction == pytest.approx(exact.fractions[0])
    assert by_outcome["home"].kelly_fraction == pytest.approx(exact.fractions[1])
    assert by_outcome["home"].stake == pytest.approx(10_000 * exact.fractions[1], abs=0.01)


def test_per_bet_cap_clips():
    rules = StakingRules(kelly_multiplier=1.0, max_stake_per_bet=0.02, min_stake=0.0)
    result = size_stakes(bets((1, "home", 0.6, 2.0, DAY1, "E0")), 1000.0, 1000.0, rules)
    assert [s.stake for s in result.stakes] == [20.0]  # full Kelly would be 200


def test_league_and_matchday_caps_scale_in_proportion():
    frame = bets(
        (1, "home", 0.6, 2.0, DAY1, "E0"),  # full Kelly 0.20
        (2, "away", 0.55, 2.0, DAY1, "E0"),  # 0.10
        (3, "home", 0.55, 2.0, DAY1, "SP1"),  # 0.10
    )
    rules = StakingRules(
        kelly_multiplier=0.5,
        max_stake_per_bet=None,
        max_stake_per_league=0.06,
        max_stake_per_matchday=0.08,
        min_stake=0.0,
        drawdown_throttle=None,
    )
    result = size_stakes(frame, 1000.0, 1000.0, rules)
    stakes = {s.match_id: s.stake for s in result.stakes}
    # halves: 0.10, 0.05 (E0: 0.15 > 0.06, x0.4 -> 0.04, 0.02) and 0.05 (SP1);
    # the day: 0.11 > 0.08, x 8/11 -> 29.09, 14.54, 36.36
    assert stakes == {1: 29.09, 2: 14.54, 3: 36.36}
    assert stakes[1] / stakes[2] == pytest.approx(2.0, abs=1e-3)
    assert sum(w.startswith("league cap") for w in result.warnings) == 1
    assert sum(w.startswith("matchday cap") for w in result.warnings) == 1


def test_drawdown_throttle():
    frame = bets((1, "home", 0.6, 2.0, DAY1, "E0"))
    rules = StakingRules(
        kelly_multiplier=0.125,
        max_stake_per_bet=None,
        min_stake=0.0,
        drawdown_throttle=DrawdownThrottle(reduce_at=0.2, factor=0.5, stop_at=0.4),
    )
    calm = size_stakes(frame, 1000.0, 1100.0, rules)
    assert calm.stakes[0].stake == 25.0 and calm.throttle_factor == 1.0
    halved = size_stakes(frame, 750.0, 1000.0, rules)  # 25% down
    assert halved.throttle_factor == 0.5
    assert halved.stakes[0].stake == 9.37  # 750 * 0.2 / 8 / 2 = 9.375, rounded down
    assert "stakes scaled by 0.5" in halved.warnings[0]
    stopped = size_stakes(frame, 600.0, 1000.0, rules)  # 40% down
    assert stopped.stakes == () and stopped.throttle_factor == 0.0
    assert "betting stopped" in stopped.warnings[0]


def test_the_throttle_stops_and_resumes_with_hysteresis():
    throttle = DrawdownThrottle(reduce_at=0.2, factor=0.5, stop_at=0.4, resume_at=0.3)
    stopped = False
    path = [0.0, 0.25, 0.41, 0.35, 0.31, 0.29, 0.15, 0.39, 0.42, 0.1]
    seen = []
    for drawdown in path:
        factor, stopped = throttle.step(drawdown, stopped)
        seen.append((factor, stopped))
    assert seen == [
        (1.0, False),
        (0.5, False),  # reduced from 20 %
        (0.0, True),  # stopped at 40 %
        (0.0, True),  # 35 %: still above the resume level, still stopped
        (0.0, True),
        (0.5, False),  # below 30 %: resumes, at the reduced stakes
        (1.0, False),  # below 20 %: full stakes
        (0.5, False),  # 39 % without a stop first: reduced, not stopped
        (0.0, True),
        (1.0, False),  # a recovery below the resume level from a stop
    ]
    # the default resume level is halfway between reducing and stopping
    assert DrawdownThrottle().resume_level == pytest.approx(0.3)
    assert StakingRules().describe()["drawdown_throttle"]["resume_at"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="resume_at"):
        DrawdownThrottle(reduce_at=0.2, stop_at=0.4, resume_at=0.5)


def test_the_per_bet_cap_scales_a_match_together():
    # an arbitrage-like match: stakes on all three outcomes, the favourite's above the cap
    frame = bets(
        (1, "home", 0.55, 2.1, DAY1, "E0"),
        (1, "draw", 0.27, 4.2, DAY1, "E0"),
        (1, "away", 0.18, 6.5, DAY1, "E0"),
        (2, "home", 0.52, 2.0, DAY1, "SP1"),  # another match, below the cap: untouched
    )
    uncapped = size_stakes(frame.filter(pl.col("match_id") == 1), 100_000.0, 100_000.0, NO_CAPS)
    rules = StakingRules(
        kelly_multiplier=1.0,
        max_stake_per_bet=0.05,
        max_stake_per_matchday=None,
        max_stake_per_league=None,
        min_stake=0.0,
        drawdown_throttle=None,
    )
    capped = size_stakes(frame, 100_000.0, 100_000.0, rules)
    before = {(s.match_id, s.outcome): s.stake for s in uncapped.stakes}
    after = {(s.match_id, s.outcome): s.stake for s in capped.stakes}
    assert set(before) | {(2, "home")} == set(after) and len(before) == 3
    assert max(before[1, o] for o in ("home", "draw", "away")) > 5_000.0
    assert all(stake <= 0.05 * 100_000.0 + 1e-9 for stake in after.values())
    assert max(after[1, o] for o in ("home", "draw", "away")) == pytest.approx(5_000.0, abs=0.01)
    # the match's stakes keep their ratios: a hedge stays a hedge
    for outcome in ("draw", "away"):
        assert after[1, outcome] / after[1, "home"] == pytest.approx(
            before[1, outcome] / before[1, "home"], rel=1e-5
        )
    assert after[2, "home"] == pytest.approx(0.04 * 100_000.0)  # its own Kelly, 0.04: below
    assert any("matches scaled together" in w for w in capped.warnings)


def test_random_batches_never_exceed_the_per_bet_cap_and_keep_each_match_s_ratios():
    rng = np.random.default_rng(7)
    for _ in range(30):
        rows = []
        for match in range(int(rng.integers(1, 6))):
            p = rng.dirichlet([4.0, 2.5, 2.0])
            for outcome, prob in zip(("home", "draw", "away"), p, strict=True):
                price = float(np.round(rng.uniform(1.02, 1.25) / prob, 2))
                rows.append((match, outcome, float(prob), max(price, 1.01), DAY1, "E0"))
        frame = bets(*rows)
        cap = float(rng.uniform(0.01, 0.05))
        common = dict(
            kelly_multiplier=1.0,
            max_stake_per_matchday=None,
            max_stake_per_league=None,
            min_stake=0.0,
            stake_step=1e-6,
            drawdown_throttle=None,
        )
        free = size_stakes(frame, 1000.0, 1000.0, StakingRules(max_stake_per_bet=None, **common))
        capped = size_stakes(frame, 1000.0, 1000.0, StakingRules(max_stake_per_bet=cap, **common))
        before = {(s.match_id, s.outcome): s.stake for s in free.stakes}
        after = {(s.match_id, s.outcome): s.stake for s in capped.stakes}
        assert all(stake <= cap * 1000.0 + 1e-6 for stake in after.values())
        for match in {m for m, _ in after}:
            keys = [k for k in after if k[0] == match]
            top = max(keys, key=lambda k: before[k])
            for key in keys:
                assert after[key] * before[top] == pytest.approx(
                    before[key] * after[top], rel=1e-4, abs=1e-6
                )


def test_stakes_are_sized_on_the_confirmed_probability_when_given():
    frame = bets((1, "home", 0.6, 2.0, DAY1, "E0")).with_columns(
        pl.lit(0.02).alias("confirmed_edge"), pl.lit(0.51).alias("p_confirmed")
    )
    (stake,) = size_stakes(frame, 1000.0, 1000.0, NO_CAPS).stakes
    # Kelly on 0.51 at evens is 2 %, not the 20 % the stated 0.6 claims
    assert stake.kelly_fraction == pytest.approx(0.02)
    assert stake.stake == pytest.approx(20.0)
    assert stake.edge == pytest.approx(0.02) and stake.p_model == pytest.approx(0.6)


def test_minimum_stake_and_non_value_rows():
    frame = bets(
        (1, "home", 0.6, 2.0, DAY1, "E0"),
        (2, "home", 0.51, 2.0, DAY1, "E0"),  # full Kelly 0.02 -> 0.25% -> 2.50
        (3, "home", 0.7, 2.0, DAY1, "E0"),
    ).with_columns(pl.Series("is_value", [True, True, False]))
    rules = StakingRules(max_stake_per_bet=None, min_stake=5.0, drawdown_throttle=None)
    result = size_stakes(frame, 1000.0, 1000.0, rules)
    assert [s.match_id for s in result.stakes] == [1]
    assert "1 stake(s) below the minimum of 5 dropped" in result.warnings


def test_no_edge_no_stake():
    frame = bets((1, "home", 0.5, 2.0, DAY1, "E0"), (2, "draw", 0.25, 3.5, DAY1, "E0"))
    assert size_stakes(frame, 1000.0, 1000.0, NO_CAPS).stakes == ()
    assert size_stakes(bets(), 1000.0, 1000.0).stakes == ()
    broke = size_stakes(bets((1, "home", 0.6, 2.0, DAY1, "E0")), 0.0, 1000.0)
    assert broke.stakes == () and broke.warnings


def test_batch_input_checks():
    frame = bets((1, "home", 0.6, 2.0, DAY1, "E0"))
    with pytest.raises(ValueError, match="match_date"):
        size_stakes(frame.drop("match_date"), 1000.0, 1000.0, StakingRules())
    # without caps by day or league, dates and leagues are not needed
    no_day = StakingRules(max_stake_per_matchday=None, max_stake_per_league=None, min_stake=0)
    assert size_stakes(frame.drop("match_date", "league_code"), 1000.0, 1000.0, no_day).stakes
    # an outcome without a price is no bet
    unpriced = pl.concat([frame, bets((2, "home", 0.6, None, DAY1, "E0"))])
    assert [s.match_id for s in size_stakes(unpriced, 1000.0, 1000.0).stakes] == [1]
    with pytest.raises(ValueError, match="two prices for one outcome"):
        size_stakes(pl.concat([frame, frame]), 1000.0, 1000.0)
    with pytest.raises(ValueError, match="Kelly multiplier"):
        StakingRules(kelly_multiplier=0.0)
    with pytest.raises(ValueError, match="fraction of the bankroll"):
        StakingRules(max_stake_per_bet=5.0)
    # pandas frames are welcome (default rules: at most 2% of the bankroll on one bet)
    (stake,) = size_stakes(frame.to_pandas(), 1000.0, 1000.0).stakes
    assert (stake.stake, stake.match_date) == (20.0, DAY1)


def test_batch_properties_on_random_value_bets():
    rng = np.random.default_rng(3)
    leagues = ["E0", "E1", "SP1", "D1"]
    days = [DAY1, DAY2]
    checked = bound = 0
    for _ in range(150):
        rows = []
        for match_id in range(int(rng.integers(1, 25))):
            model = rng.dirichlet([3.0, 2.0, 2.0])
            prices = 1 / (model * np.exp(rng.normal(0, 0.2, 3)) * 1.05)
            day, league = days[rng.integers(2)], leagues[rng.integers(4)]
            for outcome, p, price in zip(("home", "draw", "away"), model, prices, strict=True):
                if price > 1.01 and p * price > 1.0:
                    rows.append((match_id, outcome, float(p), float(price), day, league))
        rules = StakingRules(
            kelly_multiplier=float(rng.choice([0.125, 0.25, 1.0])),
            max_stake_per_bet=float(rng.uniform(0.005, 0.05)),
            max_stake_per_league=float(rng.uniform(0.01, 0.08)),
            max_stake_per_matchday=float(rng.uniform(0.02, 0.15)),
            min_stake=float(rng.choice([0.0, 2.0])),
        )
        bankroll = float(rng.uniform(100, 10_000))
        peak = bankroll * float(rng.choice([1.0, 1.3, 2.0]))
        result = size_stakes(bets(*rows), bankroll, peak, rules)
        tolerance = 1e-9 * bankroll
        for stake in result.stakes:
            assert stake.stake >= max(rules.min_stake, 0.01)
            assert stake.stake <= rules.max_stake_per_bet * bankroll + tolerance
            assert stake.edge > 0 and stake.kelly_fraction > 0
        for _, group in itertools.groupby(
            sorted(result.stakes, key=lambda s: (s.match_date, s.league_code)),
            key=lambda s: (s.match_date, s.league_code),
        ):
            assert sum(s.stake for s in group) <= rules.max_stake_per_league * bankroll + tolerance
        for day in days:
            on_day = sum(s.stake for s in result.stakes if s.match_date == day)
            assert on_day <= rules.max_stake_per_matchday * bankroll + tolerance
        assert result.total <= bankroll
        if peak >= bankroll / 0.6:
            assert result.stakes == ()
        checked += bool(result.stakes)
        bound += any("cap bound" in w for w in result.warnings)
    assert checked > 50 and bound > 10


def test_result_as_frame():
    result = size_stakes(
        bets((1, "home", 0.6, 2.0, DAY1, "E0"), (2, "away", 0.5, 2.3, DAY2, "D1")),
        1000.0,
        1000.0,
    )
    frame = result.to_frame()
    assert frame.columns[:3] == ["match_id", "market", "outcome"]
    assert frame["stake"].to_list() == [s.stake for s in result.stakes]
    assert frame["match_date"].to_list() == [DAY1, DAY2]
