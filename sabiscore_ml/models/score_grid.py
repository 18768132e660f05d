"""The score grid: scoring rates of the two sides to every market of a match.

A Dixon-Coles grid of scores (two Poisson laws with the low-score correction
``tau``) gives 1X2, over 2.5 goals and both-teams-to-score from one pair of
rates.  The goals model (:class:`~sabiscore_ml.models.estimators.GoalsModel`)
prices its markets with it, and the rating features
(:mod:`feature_store.ratings`) turn their strengths into probabilities with the
same grid.  Pure numpy: it imports nothing else of the project.
"""

from __future__ import annotations

import numpy as np

#: Goals a side the grid runs to (the truncated mass is a few 1e-6 at usual rates).
MAX_GOALS = 10


def score_grid_probabilities(
    lam_home: np.ndarray,
    lam_away: np.ndarray,
    rho: float,
    max_goals: int = MAX_GOALS,
) -> dict[str, np.ndarray]:
    """1X2, over 2.5 and both-teams-to-score from a Dixon-Coles score grid.

    The grid is the product of two Poisson laws up to ``max_goals`` a side, with the
    Dixon-Coles factors ``tau`` on 0-0, 0-1, 1-0 and 1-1 (clipped at 0), renormalised
    to sum to 1.  The renormalisation also absorbs the ``exp(-lambda)`` factors, so the
    grid is built from ``lambda^k / k!`` with arithmetic only: a match's probabilities
    do not depend on the other rows of the arrays.  NaN rates give NaN probabilities.
    """
    ph = _poisson_terms(lam_home, max_goals)
    pa = _poisson_terms(lam_away, max_goals)
    tau = {
        (0, 0): np.maximum(1.0 - lam_home * lam_away * rho, 0.0),
        (0, 1): np.maximum(1.0 + lam_home * rho, 0.0),
        (1, 0): np.maximum(1.0 + lam_away * rho, 0.0),
        (1, 1): np.full_like(lam_home, max(1.0 - rho, 0.0)),
    }
    home, draw, away, over, btts = (np.zeros_like(lam_home) for _ in range(5))
    for i in range(max_goals + 1):
        for j in range(max_goals + 1):
            cell = ph[i] * pa[j]
            if (i, j) in tau:
                cell *= tau[(i, j)]
            if i > j:
                home += cell
            elif i == j:
                draw += cell
            else:
                away += cell
            if i + j > 2:
                over += cell
            if i > 0 and j > 0:
                btts += cell
    total = home + draw + away
    return {
        "p_home": home / total,
        "p_draw": draw / total,
        "p_away": away / total,
        "p_over25": over / total,
        "p_btts": btts / total,
    }


def _poisson_terms(lam: np.ndarray, max_goals: int) -> np.ndarray:
    """``lam^k / k!`` for k = 0..max_goals, shape (max_goals + 1, n)."""
    terms = np.empty((max_goals + 1, len(lam)))
    terms[0] = 1.0
    for k in range(1, max_goals + 1):
        terms[k] = terms[k - 1] * lam / k
    return terms
