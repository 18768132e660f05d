"""The score grid against closed forms of independent Poisson laws and the Dixon-Coles factor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sabiscore_ml.models.score_grid import score_grid_probabilities


def test_score_grid_matches_independent_poisson_and_the_dixon_coles_factor() -> None:
    lam_h, lam_a = np.array([1.7, 0.4]), np.array([0.9, 1.6])
    plain = score_grid_probabilities(lam_h, lam_a, rho=0.0)

    def pmf(k: int, lam: float) -> float:
        return math.exp(-lam) * lam**k / math.factorial(k)

    for n, (h, a) in enumerate(zip(lam_h, lam_a, strict=True)):
        total = h + a
        under = sum(pmf(k, total) for k in range(3))  # sum of Poissons is Poisson
        # The grid stops at 10 goals a side: a few 1e-6 of truncated mass.
        assert plain["p_over25"][n] == pytest.approx(1 - under, abs=1e-5)
        assert plain["p_btts"][n] == pytest.approx((1 - pmf(0, h)) * (1 - pmf(0, a)), abs=1e-5)
        draw = sum(pmf(k, h) * pmf(k, a) for k in range(11))
        assert plain["p_draw"][n] == pytest.approx(draw, abs=1e-5)
    # rho < 0 moves mass from 1-0 and 0-1 to 0-0 and 1-1: more draws, same total.
    corrected = score_grid_probabilities(lam_h, lam_a, rho=-0.1)
    h, a = lam_h[0], lam_a[0]
    extra_draw = 0.1 * h * a * pmf(0, h) * pmf(0, a) + 0.1 * pmf(1, h) * pmf(1, a)
    assert corrected["p_draw"][0] == pytest.approx(plain["p_draw"][0] + extra_draw, abs=1e-6)
    assert corrected["p_home"][0] == pytest.approx(
        plain["p_home"][0] - 0.1 * a * pmf(1, h) * pmf(0, a), abs=1e-6
    )
    assert extra_draw > 0.01


# --- one grid for every market -------------------------------------------------------

from sabiscore_ml.models.score_grid import (  # noqa: E402
    CORRECT_SCORE_LABELS,
    FIT_TOLERANCE,
    correct_scores,
    fit_rates,
    grid_markets,
    joint_markets,
    score_matrix,
)
from sabiscore_ml.publish.contract import CORRECT_SCORE_KEYS, correct_score_markets  # noqa: E402

RHO = -0.07


def test_the_matrix_is_the_grid_the_markets_sum() -> None:
    rng = np.random.default_rng(3)
    lam_h, lam_a = rng.uniform(0.2, 3.5, 500), rng.uniform(0.2, 3.5, 500)
    matrix = score_matrix(lam_h, lam_a, RHO)
    np.testing.assert_allclose(matrix.sum(axis=(1, 2)), 1.0, atol=1e-12)
    assert (matrix >= 0).all()
    old = score_grid_probabilities(lam_h, lam_a, RHO)
    for market, values in grid_markets(matrix).items():
        np.testing.assert_allclose(values, old[market], atol=1e-12)
    # Dixon-Coles keeps each side's goal law: the mean goals are the rates, but for the
    # scores beyond 10 a side the grid cuts off (1e-4 of a goal at a rate of 2, 1e-2 at 3.5)
    goals = np.arange(matrix.shape[1])
    usual = (lam_h < 2.0) & (lam_a < 2.0)
    mean_h, mean_a = (matrix.sum(axis=2) * goals).sum(axis=1), (matrix.sum(axis=1) * goals).sum(1)
    np.testing.assert_allclose(mean_h[usual], lam_h[usual], atol=2e-4)
    np.testing.assert_allclose(mean_a[usual], lam_a[usual], atol=2e-4)
    assert np.abs(mean_h - lam_h).max() < 0.02


def test_rates_are_recovered_from_their_1x2_from_any_start() -> None:
    rng = np.random.default_rng(11)
    n = 3000
    lam_h, lam_a = rng.uniform(0.1, 3.5, n), rng.uniform(0.1, 3.5, n)
    target = grid_markets(score_matrix(lam_h, lam_a, RHO))
    start_h, start_a = rng.uniform(0.3, 3.0, n), rng.uniform(0.3, 3.0, n)
    fitted_h, fitted_a = fit_rates(target["p_home"], target["p_away"], RHO, start_h, start_a)
    fitted = grid_markets(score_matrix(fitted_h, fitted_a, RHO))
    for market in ("p_home", "p_draw", "p_away"):
        assert np.abs(fitted[market] - target[market]).max() <= 2 * FIT_TOLERANCE
    # one pair of rates gives a 1X2: they are the rates it came from
    np.testing.assert_allclose(fitted_h, lam_h, rtol=1e-6)
    np.testing.assert_allclose(fitted_a, lam_a, rtol=1e-6)


def test_any_usual_1x2_is_matched_and_every_market_comes_from_its_grid() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    draw = rng.uniform(0.16, 0.45, n)
    share = rng.uniform(0.05, 0.95, n)
    p_home, p_away = (1 - draw) * share, (1 - draw) * (1 - share)
    joint = joint_markets(p_home, p_away, RHO, np.full(n, 1.4), np.full(n, 1.1))
    assert joint["residual"].max() <= 2 * FIT_TOLERANCE
    np.testing.assert_allclose(joint["p_home"], p_home, atol=2 * FIT_TOLERANCE)
    np.testing.assert_allclose(joint["p_draw"], draw, atol=2 * FIT_TOLERANCE)
    scores = joint["correct_score"]
    assert scores.shape == (n, len(CORRECT_SCORE_LABELS)) == (n, 41)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-12)
    # the published scores give every published market, to rounding error
    for k in rng.choice(n, 200, replace=False):
        grid = dict(zip(CORRECT_SCORE_LABELS, scores[k].tolist(), strict=True))
        for market, value in correct_score_markets(grid).items():
            assert value == pytest.approx(joint[market][k], abs=1e-12), market
    # more goals expected, more overs; the xG are the grid's rates
    total = joint["xg_home"] + joint["xg_away"]
    order = np.argsort(total)
    assert joint["p_over25"][order[-300:]].mean() > joint["p_over25"][order[:300]].mean() + 0.2
    again = grid_markets(score_matrix(joint["xg_home"], joint["xg_away"], RHO))
    np.testing.assert_allclose(again["p_btts"], joint["p_btts"], atol=1e-12)


def test_a_1x2_out_of_reach_gives_the_nearest_grid_and_says_how_far() -> None:
    # a 10% draw between even sides needs more goals than the rates' bound allows
    joint = joint_markets(
        np.array([0.45, 0.5]), np.array([0.45, 0.3]), RHO, np.array([1.3, 1.3]), np.ones(2)
    )
    assert joint["residual"][0] > 0.01 and joint["residual"][1] <= 2 * FIT_TOLERANCE
    assert joint["p_draw"][0] > 0.1  # the grid's, not the target's
    np.testing.assert_allclose(joint["correct_score"].sum(axis=1), 1.0, atol=1e-12)
    grid = dict(zip(CORRECT_SCORE_LABELS, joint["correct_score"][0].tolist(), strict=True))
    assert correct_score_markets(grid)["p_draw"] == pytest.approx(joint["p_draw"][0], abs=1e-12)


def test_the_correct_scores_are_the_published_keys_and_partition_the_grid() -> None:
    assert CORRECT_SCORE_LABELS == CORRECT_SCORE_KEYS
    matrix = score_matrix(np.array([4.0, 0.3]), np.array([0.2, 3.9]), RHO)
    scores = correct_scores(matrix)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-12)
    labels = list(CORRECT_SCORE_LABELS)
    # a heavy favourite: 6 or more to nil is a real part of both-teams-to-score's "no"
    assert scores[0, labels.index("6+-0")] > 0.01 and scores[1, labels.index("0-6+")] > 0.01
    assert scores[0, labels.index("2-1")] == pytest.approx(matrix[0, 2, 1])
    assert scores[0, labels.index("other_home")] == pytest.approx(
        matrix[0, 6:, 1:].sum()
        - sum(matrix[0, i, i] for i in range(6, 11))
        - np.triu(matrix[0, 6:, 6:], 1).sum()
    )
    with pytest.raises(ValueError, match="41"):
        correct_score_markets({"0-0": 1.0})
