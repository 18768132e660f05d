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


# --- One joint grid for every market ---

#: Goals a side the published correct-score grid lists score by score.
PUBLISHED_GOALS = 5
#: Scores beyond the listed ones, in buckets that each fall on one side of every
#: published market: ``6+-0`` (home 6 or more, away none), ``0-6+``, and the
#: bookmakers' "any other" home win, draw and away win (both sides scoring).
OTHER_SCORES = ("6+-0", "0-6+", "other_home", "other_draw", "other_away")
#: Labels of the correct-score grid, in order: ``h-a`` for 0..5 a side, then the buckets.
CORRECT_SCORE_LABELS: tuple[str, ...] = (
    *(f"{h}-{a}" for h in range(PUBLISHED_GOALS + 1) for a in range(PUBLISHED_GOALS + 1)),
    *OTHER_SCORES,
)
#: Bounds of a fitted scoring rate (the grid's truncation at 10 goals stays below 1%).
RATE_BOUNDS = (0.02, 4.5)
#: Newton stops when every row's 1X2 is within this of its target.
FIT_TOLERANCE = 1e-10
FIT_ITERATIONS = 40


def score_matrix(
    lam_home: np.ndarray, lam_away: np.ndarray, rho: float, max_goals: int = MAX_GOALS
) -> np.ndarray:
    """The Dixon-Coles grid itself: ``(n, max_goals + 1, max_goals + 1)``, each match summing to 1.

    Cell ``[m, i, j]`` is the probability that match ``m`` ends ``i``-``j`` (home
    goals first); the same grid :func:`score_grid_probabilities` sums.
    """
    cells = _unnormalised(np.asarray(lam_home, float), np.asarray(lam_away, float), rho, max_goals)
    matrix: np.ndarray = cells / cells.sum(axis=(1, 2), keepdims=True)
    return matrix


def _unnormalised(
    lam_home: np.ndarray, lam_away: np.ndarray, rho: float, max_goals: int
) -> np.ndarray:
    ph = _poisson_terms(lam_home, max_goals).T  # (n, G)
    pa = _poisson_terms(lam_away, max_goals).T
    cells: np.ndarray = ph[:, :, None] * pa[:, None, :]
    tau = _tau(lam_home, lam_away, rho)
    cells[:, :2, :2] *= tau
    return cells


def _tau(lam_home: np.ndarray, lam_away: np.ndarray, rho: float) -> np.ndarray:
    """The Dixon-Coles factors on 0-0, 0-1, 1-0 and 1-1, clipped at 0: ``(n, 2, 2)``."""
    tau = np.empty((len(lam_home), 2, 2))
    tau[:, 0, 0] = np.maximum(1.0 - lam_home * lam_away * rho, 0.0)
    tau[:, 0, 1] = np.maximum(1.0 + lam_home * rho, 0.0)
    tau[:, 1, 0] = np.maximum(1.0 + lam_away * rho, 0.0)
    tau[:, 1, 1] = max(1.0 - rho, 0.0)
    return tau


def _masks(size: int) -> dict[str, np.ndarray]:
    i, j = np.indices((size, size))
    return {
        "p_home": i > j,
        "p_draw": i == j,
        "p_away": i < j,
        "p_over25": i + j > 2,
        "p_btts": (i > 0) & (j > 0),
    }


def grid_markets(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """1X2, over 2.5 and both-teams-to-score of a normalised score matrix (sums of its cells)."""
    return {
        name: (matrix * mask).sum(axis=(1, 2)) for name, mask in _masks(matrix.shape[1]).items()
    }


def correct_scores(matrix: np.ndarray) -> np.ndarray:
    """The published correct-score grid: ``(n, len(CORRECT_SCORE_LABELS))``, in label order.

    Every score up to 5-5, then the buckets of :data:`OTHER_SCORES`.  Each cell
    of ``matrix`` falls in exactly one label, and each label on one side of
    every market of :func:`grid_markets`, so those markets are sums of the
    published probabilities.
    """
    g = PUBLISHED_GOALS + 1
    listed = matrix[:, :g, :g].reshape(len(matrix), -1)
    i, j = np.indices(matrix.shape[1:])
    beyond = (i >= g) | (j >= g)
    buckets = [
        beyond & (j == 0),
        beyond & (i == 0),
        beyond & (i > j) & (j > 0),
        beyond & (i == j),
        beyond & (i < j) & (i > 0),
    ]
    others = np.stack([(matrix * b).sum(axis=(1, 2)) for b in buckets], axis=1)
    return np.concatenate([listed, others], axis=1)


def fit_rates(
    p_home: np.ndarray,
    p_away: np.ndarray,
    rho: float,
    lam_home: np.ndarray,
    lam_away: np.ndarray,
    max_goals: int = MAX_GOALS,
) -> tuple[np.ndarray, np.ndarray]:
    """The scoring rates whose Dixon-Coles grid gives ``p_home`` and ``p_away`` (so the draw too).

    Newton's method on the log-rates, vectorised over the matches, from the
    rates given (the goals model's); the Jacobian is exact (the grid's cells are
    ``lambda^i / i!`` products, times ``tau``).  A step changes a rate by at most
    a factor of e and is halved until it shrinks the residual (backtracking), and
    the rates stay within :data:`RATE_BOUNDS`.  Where a 1X2 lies within
    the grid's reach the result reproduces it to :data:`FIT_TOLERANCE`; where it
    does not (a draw rarer or likelier than any pair of rates gives) the rates
    stop at the nearest point Newton reaches, and the grid's 1X2 differs from
    the target (callers measure by how much).
    """
    target = np.stack([np.asarray(p_home, float), np.asarray(p_away, float)], axis=1)
    bounds = np.log(RATE_BOUNDS[0]), np.log(RATE_BOUNDS[1])
    x = np.clip(np.log(np.stack([lam_home, lam_away], axis=1).astype(float)), *bounds)
    residual, jac = _residual_and_jacobian(x, target, rho, max_goals)
    # Where a node of a coarse table of rates is nearer the target, start from it instead.
    nodes, node_probs = _rate_table(rho, max_goals)
    nearest = np.empty(len(x), dtype=int)
    for start in range(0, len(x), 4096):
        chunk = target[start : start + 4096]
        gap = np.abs(chunk[:, None, :] - node_probs[None, :, :]).max(axis=2)
        nearest[start : start + 4096] = gap.argmin(axis=1)
    node_res, node_jac = _residual_and_jacobian(nodes[nearest], target, rho, max_goals)
    closer = np.abs(node_res).max(axis=1) < np.abs(residual).max(axis=1)
    x[closer], residual[closer], jac[closer] = (
        nodes[nearest][closer],
        node_res[closer],
        node_jac[closer],
    )
    for _ in range(FIT_ITERATIONS):
        size = np.abs(residual).max(axis=1)
        if np.all(size < FIT_TOLERANCE):
            break
        det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
        safe = np.abs(det) > 1e-300
        det = np.where(safe, det, 1.0)
        step = (
            np.stack(
                [
                    jac[:, 1, 1] * residual[:, 0] - jac[:, 0, 1] * residual[:, 1],
                    jac[:, 0, 0] * residual[:, 1] - jac[:, 1, 0] * residual[:, 0],
                ],
                axis=1,
            )
            / det[:, None]
        )
        # At most a factor of e on either rate, the direction kept (a descent direction).
        longest = np.maximum(np.abs(step).max(axis=1, keepdims=True), 1.0)
        step = np.where(safe[:, None], step / longest, 0.0)
        # Backtracking: a row takes the longest of step, step/2, ... that shrinks its residual.
        pending = size >= FIT_TOLERANCE
        for _halving in range(12):
            if not pending.any():
                break
            trial = np.clip(x[pending] - step[pending], *bounds)
            t_res, t_jac = _residual_and_jacobian(trial, target[pending], rho, max_goals)
            better = np.abs(t_res).max(axis=1) < size[pending]
            rows = np.flatnonzero(pending)[better]
            x[rows], residual[rows], jac[rows] = trial[better], t_res[better], t_jac[better]
            pending[rows] = False
            step[pending] /= 2.0
    return np.exp(x[:, 0]), np.exp(x[:, 1])


def _rate_table(rho: float, max_goals: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-rates on a coarse grid within :data:`RATE_BOUNDS`, and their (p_home, p_away)."""
    axis = np.linspace(np.log(RATE_BOUNDS[0]), np.log(RATE_BOUNDS[1]), 32)
    nodes = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    residual, _ = _residual_and_jacobian(nodes, np.zeros_like(nodes), rho, max_goals)
    return nodes, residual


def _residual_and_jacobian(
    x: np.ndarray, target: np.ndarray, rho: float, max_goals: int
) -> tuple[np.ndarray, np.ndarray]:
    """The grid's (p_home, p_away) minus the target, and its exact Jacobian in the log-rates."""
    lh, la = np.exp(x[:, 0]), np.exp(x[:, 1])
    masks = _masks(max_goals + 1)
    home, away = masks["p_home"], masks["p_away"]
    i, j = np.indices((max_goals + 1, max_goals + 1))
    cells = _unnormalised(lh, la, rho, max_goals)
    total = cells.sum(axis=(1, 2))
    probs = np.stack(
        [(cells * home).sum(axis=(1, 2)) / total, (cells * away).sum(axis=(1, 2)) / total], axis=1
    )
    # d cell / d log-rate: i (or j) times the cell, plus the change of tau (0 where clipped).
    tau = _tau(lh, la, rho)
    live = tau > 0
    bare = cells[:, :2, :2] / np.where(live, tau, 1.0)
    dtau_h, dtau_a = np.zeros_like(tau), np.zeros_like(tau)
    dtau_h[:, 0, 0] = dtau_a[:, 0, 0] = -lh * la * rho
    dtau_h[:, 0, 1] = lh * rho
    dtau_a[:, 1, 0] = la * rho
    jac = np.empty((len(x), 2, 2))
    for k, (weight, dtau) in enumerate(((i, dtau_h), (j, dtau_a))):
        d_cells = cells * weight
        d_cells[:, :2, :2] += bare * np.where(live, dtau, 0.0)
        d_total = d_cells.sum(axis=(1, 2))
        for r, mask in enumerate((home, away)):
            jac[:, r, k] = ((d_cells * mask).sum(axis=(1, 2)) - probs[:, r] * d_total) / total
    return probs - target, jac


def joint_markets(
    p_home: np.ndarray,
    p_away: np.ndarray,
    rho: float,
    lam_home: np.ndarray,
    lam_away: np.ndarray,
    max_goals: int = MAX_GOALS,
) -> dict[str, np.ndarray]:
    """Every market of a match from one grid matched to a 1X2 forecast.

    The rates are :func:`fit_rates`' (from the goals model's ``lam_home`` and
    ``lam_away``, its ``rho``); the grid gives 1X2, over 2.5, both teams to
    score, the correct scores (``correct_score``, ``(n, 41)`` in
    :data:`CORRECT_SCORE_LABELS` order) and the expected goals (``xg_home``,
    ``xg_away``: the rates).  ``residual`` is each match's largest difference
    between the grid's 1X2 and the target.

    Two rates for two equations: the 1X2 is matched exactly (where reachable),
    and the total goals follow from its draw probability rather than from the
    goals model (``bench/score_grid.py`` measures what that costs over 2.5 and
    BTTS, and the alternative of anchoring the total).
    """
    fitted_h, fitted_a = fit_rates(p_home, p_away, rho, lam_home, lam_away, max_goals)
    matrix = score_matrix(fitted_h, fitted_a, rho, max_goals)
    markets = grid_markets(matrix)
    target_draw = 1.0 - np.asarray(p_home, float) - np.asarray(p_away, float)
    residual = np.max(
        np.abs(
            np.stack(
                [
                    markets["p_home"] - p_home,
                    markets["p_draw"] - target_draw,
                    markets["p_away"] - p_away,
                ]
            )
        ),
        axis=0,
    )
    return {
        **markets,
        "xg_home": fitted_h,
        "xg_away": fitted_a,
        "correct_score": correct_scores(matrix),
        "residual": residual,
    }
