"""De-margining bookmaker prices: hand-computed cases, published examples, invalid rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from sabiscore_ml.odds import METHODS, implied_probabilities, shin_probabilities

# 1X2 prices 2.0 / 3.5 / 4.0: inverse prices 1/2, 2/7, 1/4, overround 29/28.
PRICES = [2.0, 3.5, 4.0]
Q = [1 / 2, 2 / 7, 1 / 4]


def test_multiplicative_by_hand():
    result = implied_probabilities(PRICES, "multiplicative")
    assert result.probabilities == pytest.approx([14 / 29, 8 / 29, 7 / 29], abs=1e-15)
    assert float(result.overround) == pytest.approx(29 / 28, abs=1e-15)
    assert float(result.margin) == pytest.approx(1 / 28, abs=1e-15)
    assert math.isnan(float(result.parameter))


def test_additive_by_hand():
    # an equal 1/84 (= (29/28 - 1) / 3) off each inverse price
    result = implied_probabilities(PRICES, "additive")
    assert result.probabilities == pytest.approx([41 / 84, 23 / 84, 20 / 84], abs=1e-15)
    assert float(result.parameter) == pytest.approx(1 / 84, abs=1e-15)


def test_power_solves_its_equation():
    k = brentq(lambda k: sum(q**k for q in Q) - 1, 1.0, 2.0, xtol=1e-15)
    result = implied_probabilities(PRICES, "power")
    assert float(result.parameter) == pytest.approx(k, abs=1e-12)
    assert result.probabilities == pytest.approx([q**k for q in Q], abs=1e-12)


def test_odds_ratio_solves_its_equation():
    def probabilities(c: float) -> list[float]:
        return [q / (c + q - c * q) for q in Q]

    c = brentq(lambda c: sum(probabilities(c)) - 1, 1.0, 2.0, xtol=1e-15)
    result = implied_probabilities(PRICES, "odds_ratio")
    assert float(result.parameter) == pytest.approx(c, abs=1e-12)
    assert result.probabilities == pytest.approx(probabilities(c), abs=1e-12)
    # the defining property: every outcome's odds ratio is c
    for q, p in zip(Q, result.probabilities, strict=True):
        assert (q / (1 - q)) / (p / (1 - p)) == pytest.approx(c, rel=1e-12)


def test_shin_solves_its_equation():
    total = sum(Q)

    def probabilities(z: float) -> list[float]:
        return [(math.sqrt(z * z + 4 * (1 - z) * q * q / total) - z) / (2 * (1 - z)) for q in Q]

    z = brentq(lambda z: sum(probabilities(z)) - 1, 0.0, 0.4, xtol=1e-15)
    result = implied_probabilities(PRICES, "shin")
    assert float(result.parameter) == pytest.approx(z, abs=1e-12)
    assert result.probabilities == pytest.approx(probabilities(z), abs=1e-12)


# penaltyblog's README, odds [2.7, 2.3, 4.4]: probabilities printed to 8 decimals.
PENALTYBLOG = {
    "multiplicative": ([0.35873804, 0.42112726, 0.2201347], None),
    "additive": ([0.3595618, 0.42397404, 0.21646416], None),
    "power": ([0.3591711, 0.42373075, 0.21709815], 1.0309132393169356),
    "shin": ([0.35934392, 0.42324385, 0.21741223], 0.016236442857291165),
    "odds_ratio": ([0.35881036, 0.42256142, 0.21862822], 1.05116912729218),
}


@pytest.mark.parametrize("method", METHODS)
def test_penaltyblog_published_example(method):
    expected, parameter = PENALTYBLOG[method]
    result = implied_probabilities([2.7, 2.3, 4.4], method)
    assert result.probabilities == pytest.approx(expected, abs=6e-9)
    assert float(result.margin) == pytest.approx(0.03242570633874986, abs=1e-15)
    if parameter is not None:
        assert float(result.parameter) == pytest.approx(parameter, rel=1e-9)


def test_shin_package_published_example():
    # the ``shin`` package's README: [2.6, 2.4, 4.3]
    result = implied_probabilities([2.6, 2.4, 4.3], "shin")
    assert result.probabilities == pytest.approx(
        [0.37299406033208965, 0.4047794109200184, 0.2222265287474275], abs=1e-12
    )
    assert float(result.parameter) == pytest.approx(0.01694251276407055, abs=1e-12)


TWO_WAY = [1.25, 4.0]  # favourite and long shot: inverse prices 0.8 and 0.25


def test_two_way_closed_forms():
    q1, q2 = 1 / TWO_WAY[0], 1 / TWO_WAY[1]
    total = q1 + q2
    results = {m: implied_probabilities(TWO_WAY, m) for m in METHODS}
    assert results["multiplicative"].probabilities == pytest.approx([0.8 / 1.05, 0.25 / 1.05])
    assert results["additive"].probabilities == pytest.approx([0.775, 0.225], abs=1e-15)
    # two outcomes: Shin gives the additive probabilities, z in closed form
    assert results["shin"].probabilities == pytest.approx([0.775, 0.225], abs=1e-12)
    d2 = (q1 - q2) ** 2
    z = (total - 1) * (d2 - total) / (total * (d2 - 1))
    assert float(results["shin"].parameter) == pytest.approx(z, abs=1e-12)
    # odds ratio: c = sqrt(q1 q2 / ((1 - q1)(1 - q2)))
    c = math.sqrt(q1 * q2 / ((1 - q1) * (1 - q2)))
    assert float(results["odds_ratio"].parameter) == pytest.approx(c, abs=1e-12)
    assert results["odds_ratio"].probabilities[0] == pytest.approx(q1 / (c + q1 - c * q1))
    k = brentq(lambda k: q1**k + q2**k - 1, 1.0, 2.0, xtol=1e-15)
    assert results["power"].probabilities == pytest.approx([q1**k, q2**k], abs=1e-12)


def test_favourite_longshot_correction_direction():
    # Multiplicative removes margin in proportion; the other methods take more of it
    # from the long shot, so the favourite ends up with more probability.
    multiplicative = implied_probabilities(TWO_WAY, "multiplicative").probabilities
    for method in ("additive", "power", "shin", "odds_ratio"):
        p = implied_probabilities(TWO_WAY, method).probabilities
        assert p[0] > multiplicative[0] + 1e-3, method
        assert p[1] < multiplicative[1] - 1e-3, method
    # 1X2: favourite and long shot move the same way
    prices = [1.5, 4.0, 7.0]
    multiplicative = implied_probabilities(prices, "multiplicative").probabilities
    for method in ("power", "shin", "odds_ratio"):
        p = implied_probabilities(prices, method).probabilities
        assert p[0] > multiplicative[0] and p[2] < multiplicative[2], method


def test_additive_clips_negative_long_shots():
    # overround 1.1384: (Q - 1) / 3 = 0.046 is more than the 1/51 of the long shot
    prices = [1.05, 6.0, 51.0]
    q = np.array([1 / p for p in prices])
    deduction = (q.sum() - 1) / 3
    assert q[2] - deduction < 0
    result = implied_probabilities(prices, "additive")
    p = result.probabilities
    assert p[2] == 0.0
    assert p.sum() == pytest.approx(1.0, abs=1e-15)
    kept = np.clip(q - deduction, 0, None)
    assert p == pytest.approx(kept / kept.sum(), abs=1e-15)
    assert float(result.parameter) == pytest.approx(deduction, abs=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_invalid_rows_are_nan_and_leave_others_alone(method):
    prices = np.array(
        [
            [2.7, 2.3, 4.4],
            [np.nan, 3.0, 3.0],
            [1.0, 3.0, 3.0],  # a price of 1 pays nothing back
            [2.0, -3.0, 3.0],
            [2.0, np.inf, 3.0],
            [2.6, 2.4, 4.3],
        ]
    )
    result = implied_probabilities(prices, method)
    assert result.probabilities.shape == (6, 3)
    assert np.isnan(result.probabilities[1:5]).all()
    assert np.isnan(result.overround[1:5]).all()
    assert np.isnan(result.parameter[1:5]).all()
    for row in (0, 5):
        alone = implied_probabilities(prices[row], method)
        assert np.array_equal(result.probabilities[row], alone.probabilities)
    assert np.allclose(result.probabilities[[0, 5]].sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_random_markets_sum_to_one_and_keep_the_order(method):
    rng = np.random.default_rng(7)
    truth = rng.dirichlet([2.0, 1.5, 1.2], size=500)
    margin = rng.uniform(1.01, 1.12, size=(500, 1))
    prices = 1 / (truth * margin)
    prices = prices[(prices > 1.01).all(axis=1)]
    p = implied_probabilities(prices, method).probabilities
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert (p >= 0).all()
    # a shorter price never gets the smaller probability
    order = np.argsort(prices, axis=1)
    assert (np.diff(np.take_along_axis(p, order, axis=1), axis=1) <= 1e-12).all()


@pytest.mark.parametrize("method", METHODS)
def test_no_margin_returns_the_inverse_prices(method):
    # fair two-way and 1X2 prices: nothing to remove
    for prices in ([2.0, 2.0], [2.0, 4.0, 4.0], [1.25, 5.0]):
        p = implied_probabilities(prices, method).probabilities
        assert p == pytest.approx([1 / o for o in prices], abs=1e-12)


def test_arbitrage_rows_are_still_probabilities():
    # best prices across books can sum below one
    prices = [[2.2, 3.9, 4.6]]
    q = np.array([1 / o for o in prices[0]])
    assert q.sum() < 1
    for method in METHODS:
        p = implied_probabilities(prices, method).probabilities[0]
        assert p.sum() == pytest.approx(1.0, abs=1e-12), method
        assert (p > 0).all(), method
    shin = implied_probabilities(prices, "shin")
    assert float(shin.parameter[0]) == pytest.approx(0.0, abs=1e-15)
    assert shin.probabilities[0] == pytest.approx(q / q.sum(), abs=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown de-margining method"):
        implied_probabilities(PRICES, "basic")
    with pytest.raises(ValueError, match="at least two outcomes"):
        implied_probabilities([[2.0], [3.0]])
    result = implied_probabilities([PRICES])
    with pytest.raises(ValueError):
        result.probabilities[0, 0] = 0.5  # read-only


def test_shin_probabilities_moved_unchanged():
    # the feature store imports the same function: its values must not move
    from feature_store import market

    assert market.shin_probabilities is shin_probabilities
    p, z = shin_probabilities(np.array([[1.5, 4.0, 7.0], [2.7, 2.3, 4.4]]))
    assert z[1] == pytest.approx(0.016236442857291165, rel=1e-9)
    assert p.sum(axis=1) == pytest.approx([1.0, 1.0])
