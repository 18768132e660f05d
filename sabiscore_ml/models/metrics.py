"""Scores of 1X2 probabilities, and paired comparisons between two forecasters.

Outcomes are indexed ``0 = H``, ``1 = D``, ``2 = A``; probability arrays have one
row per match and the three outcome columns in that order.  The ranked
probability score (RPS) treats the outcomes as ordered (H < D < A): half the sum
of squared differences of the two cumulative distributions over the first two
outcomes.  Lower is better for every score except accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

OUTCOMES = ("H", "D", "A")
EPS = 1e-15


def outcome_index(results: Iterable[object]) -> np.ndarray:
    """``H``/``D``/``A`` labels -> 0/1/2; anything else raises ``ValueError``."""
    lookup = {label: i for i, label in enumerate(OUTCOMES)}
    try:
        return np.fromiter((lookup[str(r)] for r in results), dtype=np.int64)
    except KeyError as error:
        raise ValueError(f"result {error.args[0]!r} is not one of H, D, A") from None


def _onehot(outcome: np.ndarray) -> np.ndarray:
    onehot: np.ndarray = np.eye(3)[outcome]
    return onehot


def rps_per_match(probs: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Ranked probability score of each match."""
    cum_p = np.cumsum(probs, axis=1)[:, :2]
    cum_o = np.cumsum(_onehot(outcome), axis=1)[:, :2]
    rps: np.ndarray = 0.5 * np.sum((cum_p - cum_o) ** 2, axis=1)
    return rps


def log_loss_per_match(probs: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Negative log of the probability given to what happened."""
    loss: np.ndarray = -np.log(np.clip(probs[np.arange(len(outcome)), outcome], EPS, 1.0))
    return loss


def brier_per_match(probs: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Multi-class Brier score (sum over the three outcomes) of each match."""
    brier: np.ndarray = np.sum((probs - _onehot(outcome)) ** 2, axis=1)
    return brier


@dataclass(frozen=True)
class Reliability:
    """Reliability diagram data: per outcome and probability bin, forecast vs observed."""

    outcome: np.ndarray  # outcome index per row
    bin_low: np.ndarray
    bin_high: np.ndarray
    mean_forecast: np.ndarray
    observed: np.ndarray
    count: np.ndarray


def reliability(probs: np.ndarray, outcome: np.ndarray, bins: int = 10) -> Reliability:
    """Class-wise reliability table with equal-width bins over [0, 1] (empty bins left out)."""
    onehot = _onehot(outcome)
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for k in range(3):
        index = np.clip(np.digitize(probs[:, k], edges[1:-1]), 0, bins - 1)
        for b in range(bins):
            mask = index == b
            if mask.any():
                rows.append(
                    (
                        k,
                        edges[b],
                        edges[b + 1],
                        probs[mask, k].mean(),
                        onehot[mask, k].mean(),
                        int(mask.sum()),
                    )
                )
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    return Reliability(*(np.asarray(c) for c in columns))


def expected_calibration_error(probs: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    """Class-wise ECE: count-weighted gap |forecast − observed| over bins, averaged over H/D/A."""
    table = reliability(probs, outcome, bins)
    n = len(outcome)
    if n == 0:
        return float("nan")
    gaps = np.abs(table.mean_forecast - table.observed) * table.count
    return float(gaps.sum() / (3 * n))


@dataclass(frozen=True)
class Scores:
    """The scores of one forecaster over ``n`` matches."""

    n: int
    rps: float
    log_loss: float
    brier: float
    accuracy: float
    ece: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """The scores as ``{prefix + name: value}`` (for MLflow and tables)."""
        return {f"{prefix}{k}": float(v) for k, v in self.__dict__.items()}


def score(probs: np.ndarray, outcome: np.ndarray) -> Scores:
    """Every score of ``probs`` against ``outcome``."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(outcome) == 0:
        nan = float("nan")
        return Scores(0, nan, nan, nan, nan, nan)
    return Scores(
        n=len(outcome),
        rps=float(rps_per_match(probs, outcome).mean()),
        log_loss=float(log_loss_per_match(probs, outcome).mean()),
        brier=float(brier_per_match(probs, outcome).mean()),
        accuracy=float((probs.argmax(axis=1) == outcome).mean()),
        ece=expected_calibration_error(probs, outcome),
    )


@dataclass(frozen=True)
class PairedDifference:
    """Mean per-match difference ``a − b`` of a score on the same matches, with its std. error."""

    n: int
    mean: float
    se: float

    @property
    def z(self) -> float:
        """The difference in standard errors (NaN when the error is zero)."""
        return self.mean / self.se if self.se > 0 else float("nan")

    def __str__(self) -> str:
        return f"{self.mean:+.4f} (se {self.se:.4f}, n {self.n:,})"


def paired_difference(a: np.ndarray, b: np.ndarray) -> PairedDifference:
    """Paired difference of two per-match score arrays; NaN pairs are left out."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    diff = diff[~np.isnan(diff)]
    n = len(diff)
    if n == 0:
        return PairedDifference(0, float("nan"), float("nan"))
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return PairedDifference(n, float(diff.mean()), se)
