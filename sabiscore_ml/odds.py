"""Bookmaker prices to probabilities: the margin removed five ways.

A bookmaker's decimal prices ``o_i`` over the outcomes of one market imply
``q_i = 1 / o_i``, which sum to the *overround* ``Q = sum q_i`` (about 1.03 to
1.10 for football 1X2; the margin is ``Q - 1``).  Each method below maps the
``q_i`` to probabilities summing to one, and differs in where it takes the
margin from:

``multiplicative``
    ``p_i = q_i / Q``: the margin in proportion to each probability.
``additive``
    ``p_i = q_i - (Q - 1) / n``: the same amount off every outcome.  A long
    shot in a wide market can come out negative; such outcomes are clipped to
    zero and the row renormalised (so the remaining outcomes then give up a
    little less than ``(Q - 1) / n`` each).
``power``
    ``p_i = q_i ** k`` with ``k`` such that the ``p_i`` sum to one (``k > 1``
    when ``Q > 1``): relatively more margin off long shots.
``shin``
    Shin's model (Shin 1992, 1993; Štrumbelj 2014): a share ``z`` of the money
    comes from insiders, and ``p_i = (sqrt(z² + 4 (1 - z) q_i² / Q) - z) /
    (2 (1 - z))`` with ``z`` such that the ``p_i`` sum to one.  For two-way
    markets it coincides with ``additive``.
``odds_ratio``
    Cheung's odds-ratio method: the odds ratio ``(q_i / (1 - q_i)) / (p_i /
    (1 - p_i))`` is the same constant ``c`` for every outcome, i.e. ``p_i = q_i /
    (c + q_i (1 - c))``.

All but ``multiplicative`` correct, to some degree, the favourite-longshot bias:
compared with ``multiplicative`` they give the favourite more probability and
the long shot less.  Every method is vectorised over the rows of an ``n × k``
price array (1X2: ``k = 3``; two-way markets: ``k = 2``); the fitted
parameters are found by bisection, a fixed number of halvings, so results are
reproducible bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Method = Literal["multiplicative", "additive", "power", "shin", "odds_ratio"]
METHODS: tuple[str, ...] = ("multiplicative", "additive", "power", "shin", "odds_ratio")

# Halvings of the bracket for the power and odds-ratio parameters: far below
# double precision for any bracket the prices can give.
_BISECTIONS = 100


@dataclass(frozen=True, eq=False)
class Demargined:
    """Margin-free probabilities of rows of prices, and what was fitted on each row.

    ``probabilities`` has the shape of the prices; rows with a missing or
    invalid price (not finite, or not above 1) are NaN.  ``parameter`` is the
    fitted parameter of each row: Shin's insider share ``z``, the power ``k``,
    the odds ratio ``c``, the amount taken off each outcome by ``additive``
    (before any clipping), NaN for ``multiplicative``.  ``overround`` is the
    sum of the inverse prices (the margin is ``overround - 1``).  For a single
    row of prices (1-D input) the probabilities are 1-D and ``parameter`` and
    ``overround`` are 0-d arrays.  The arrays are read-only.
    """

    method: str
    probabilities: np.ndarray
    parameter: np.ndarray
    overround: np.ndarray

    @property
    def margin(self) -> np.ndarray:
        """The bookmaker's margin of each row: overround minus one."""
        return self.overround - 1.0


def shin_probabilities(prices: np.ndarray, iterations: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Shin's margin-free probabilities for rows of decimal ``prices``; also each row's ``z``.

    Solves ``sum_i p_i(z) = 1`` for the insider share ``z`` by bisection on
    [0, 0.5), vectorised over rows.  Rows with a missing price give NaN.  Rows
    whose overround is below one (an arbitrage, e.g. best prices across books)
    have no solution with ``z >= 0``: they get ``z = 0`` and, after the final
    normalisation, the multiplicative probabilities.
    """
    q = 1.0 / prices
    total = q.sum(axis=1, keepdims=True)
    share = q * q / total

    def probs(z: np.ndarray) -> np.ndarray:
        z = z[:, None]
        p: np.ndarray = (np.sqrt(z * z + 4.0 * (1.0 - z) * share) - z) / (2.0 * (1.0 - z))
        return p

    low = np.zeros(len(prices))
    high = np.full(len(prices), 0.5)
    for _ in range(iterations):
        mid = (low + high) / 2.0
        too_big = probs(mid).sum(axis=1) > 1.0
        low = np.where(too_big, mid, low)
        high = np.where(too_big, high, mid)
    z = (low + high) / 2.0
    p = probs(z)
    return p / p.sum(axis=1, keepdims=True), z


def _bisect(
    total: Callable[[np.ndarray], np.ndarray], low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Per row, the ``x`` in [low, high] where the decreasing ``total(x)`` crosses one."""
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2.0
        too_big = total(mid) > 1.0
        low = np.where(too_big, mid, low)
        high = np.where(too_big, high, mid)
    middle: np.ndarray = (low + high) / 2.0
    return middle


def _multiplicative(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return q / q.sum(axis=1, keepdims=True), np.full(len(q), np.nan)


def _additive(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    deduction = (q.sum(axis=1) - 1.0) / q.shape[1]
    p = np.clip(q - deduction[:, None], 0.0, None)
    return p / p.sum(axis=1, keepdims=True), deduction


def _power(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # sum q_i^k falls from n (k = 0) below one once n * max(q)^k < 1
    high = np.log(q.shape[1]) / -np.log(q.max(axis=1)) * 1.01 + 1e-9
    k = _bisect(lambda k: (q ** k[:, None]).sum(axis=1), np.zeros(len(q)), high)
    p = q ** k[:, None]
    return p / p.sum(axis=1, keepdims=True), k


def _odds_ratio(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def probs(c: np.ndarray) -> np.ndarray:
        c = c[:, None]
        return q / (c + q * (1.0 - c))

    # p_i < q_i / (c (1 - q_i)), so the sum is below one from c = sum q_i / (1 - q_i) on
    high = np.maximum((q / (1.0 - q)).sum(axis=1), 1.0) * 1.01
    c = _bisect(lambda c: probs(c).sum(axis=1), np.zeros(len(q)), high)
    p = probs(c)
    return p / p.sum(axis=1, keepdims=True), c


def _shin(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return shin_probabilities(1.0 / q)


_SOLVERS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "multiplicative": _multiplicative,
    "additive": _additive,
    "power": _power,
    "shin": _shin,
    "odds_ratio": _odds_ratio,
}


def implied_probabilities(
    prices: npt.ArrayLike, method: Method | str = "multiplicative"
) -> Demargined:
    """Margin-free probabilities of decimal ``prices`` by ``method`` (see the module notes).

    ``prices`` is an ``n × k`` array (one market per row: ``k = 3`` for 1X2,
    ``2`` for two-way markets) or a single row.  A row with any price missing,
    not finite, or not above 1 gives NaN throughout; every other row sums to
    one.  Rows are independent: a row's result does not depend on the others.
    """
    if method not in _SOLVERS:
        raise ValueError(f"unknown de-margining method {method!r}; expected one of {METHODS}")
    array = np.asarray(prices, dtype=float)
    single = array.ndim == 1
    rows = np.atleast_2d(array)
    if rows.ndim != 2 or rows.shape[1] < 2:
        raise ValueError(f"prices must be rows of at least two outcomes, got shape {array.shape}")
    valid = (np.isfinite(rows) & (rows > 1.0)).all(axis=1)
    probabilities = np.full(rows.shape, np.nan)
    parameter = np.full(len(rows), np.nan)
    overround = np.full(len(rows), np.nan)
    if valid.any():
        q = 1.0 / rows[valid]
        probabilities[valid], parameter[valid] = _SOLVERS[method](q)
        overround[valid] = q.sum(axis=1)
    if single:
        probabilities, parameter, overround = probabilities[0], parameter[0], overround[0]
        parameter, overround = np.asarray(parameter), np.asarray(overround)
    for array_out in (probabilities, parameter, overround):
        array_out.setflags(write=False)
    return Demargined(method, probabilities, parameter, overround)
