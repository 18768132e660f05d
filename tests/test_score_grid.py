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
