"""The deployable model: the 1X2 estimator, the goals model, and the columns they read.

A :class:`ModelBundle` is what MLflow stores (as a joblib artifact inside a
pyfunc model) and what the prediction jobs load back.  It imports no MLflow,
so it can be used and tested without a tracking store.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import joblib
import numpy as np
import pandas as pd
import polars as pl

from sabiscore_ml.models.data import features_matrix
from sabiscore_ml.models.score_grid import CORRECT_SCORE_LABELS, joint_markets

if TYPE_CHECKING:
    from sabiscore_ml.models.estimators import GoalsModel

log = logging.getLogger(__name__)


class ProbabilityModel(Protocol):
    """A fitted 1X2 model: per row of a feature matrix, the probabilities of [H, D, A]."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """One row of three probabilities per match."""
        ...


class OutcomeModel(ProbabilityModel, Protocol):
    """A bundle's 1X2 model (a CalibratedModel): probabilities and the features behind them."""

    def feature_importance(self) -> pd.Series[float]:
        """Importance by feature, largest first (empty when the model has none)."""
        ...


class Estimator(ProbabilityModel, Protocol):
    """An unfitted model of the walk-forward: ``fit(X, y)`` then ``predict_proba``.

    ``y`` is the results (``H``/``D``/``A``), or the goals for a model with
    ``fits_goals``.
    """

    def fit(self, X: pd.DataFrame, y: Any) -> object:
        """Fit on the feature matrix and the targets."""
        ...


#: Columns of every prediction, in order.
OUTPUT_COLUMNS = ("p_home", "p_draw", "p_away", "p_over25", "p_btts", "xg_home", "xg_away")


@dataclass(frozen=True)
class ModelBundle:
    """A fitted outcome model (and optionally a goals model) over named feature columns."""

    features: tuple[str, ...]
    outcome: OutcomeModel
    goals: GoalsModel | None
    catalog_version: str
    trained_until: dt.date
    trained_at: dt.datetime
    description: dict[str, Any] = field(default_factory=dict)

    def matrix(self, frame: pd.DataFrame | pl.DataFrame) -> pd.DataFrame:
        """The model's feature matrix from a frame holding (at least) its columns."""
        if isinstance(frame, pd.DataFrame):
            frame = pl.from_pandas(frame)
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{len(missing)} feature column(s) missing from the input, e.g. {missing[:5]}"
            )
        return features_matrix(frame, self.features)

    def predict(self, frame: pd.DataFrame | pl.DataFrame) -> pd.DataFrame:
        """Probabilities of every published market, one row per input row.

        Every market comes from one Dixon-Coles grid per match, so none
        contradicts another: the grid whose scoring rates reproduce the outcome
        model's 1X2 (:func:`~sabiscore_ml.models.score_grid.joint_markets`, from
        the goals model's rates and with its ``rho``).  ``p_home``, ``p_draw`` and
        ``p_away`` are the grid's (the outcome model's to 1e-9 wherever the grid
        can reach them), ``p_over25``, ``p_btts`` and the correct scores its
        sums, ``xg_home`` and ``xg_away`` its rates.  ``correct_score`` is a JSON
        object of the grid's probabilities by score (``h-a`` up to 5-5, then the
        buckets of :data:`~sabiscore_ml.models.score_grid.OTHER_SCORES`).
        Without a goals model: the outcome model's 1X2, the other markets NaN and
        ``correct_score`` None.
        """
        X = self.matrix(frame)
        probs = self.outcome.predict_proba(X)
        out = pd.DataFrame(probs, columns=list(OUTPUT_COLUMNS[:3]))
        if self.goals is None:
            for column in OUTPUT_COLUMNS[3:]:
                out[column] = np.nan
            out["correct_score"] = None
            return out
        lam_home, lam_away = self.goals.rates(X)
        joint = joint_markets(probs[:, 0], probs[:, 2], self.goals.rho_, lam_home, lam_away)
        unmatched = joint["residual"] > 1e-6
        if unmatched.any():
            log.warning(
                "%d of %d 1X2 forecasts out of the score grid's reach: "
                "published as the nearest grid, up to %.6f away",
                int(unmatched.sum()),
                len(out),
                float(joint["residual"].max()),
            )
        for column in OUTPUT_COLUMNS:
            out[column] = joint[column]
        out["correct_score"] = [
            json.dumps(dict(zip(CORRECT_SCORE_LABELS, row.tolist(), strict=True)))
            for row in joint["correct_score"]
        ]
        return out

    def explain(self, frame: pd.DataFrame | pl.DataFrame, top: int = 8) -> list[dict[str, Any]]:
        """Why each match's 1X2 forecast differs from its baseline (the pre-closing market).

        Per input row: ``baseline`` (the probabilities the model started from:
        the market's margin-free ones, else Dixon-Coles or the frequencies),
        ``drivers`` (the ``top`` features by their largest move, each
        ``{"feature", "value", "contribution": {"home", "draw", "away"}}``, the
        move of the centred log-probabilities), and ``rest`` (what no feature
        carries: the forest, biases, the blend's intercepts).  Baseline log-odds
        plus every feature's contribution plus ``rest`` give the forecast's.
        Raises ``TypeError`` for an outcome model without per-match contributions.
        """
        X = self.matrix(frame)
        contributions = getattr(self.outcome, "contributions", None)
        if contributions is None:
            raise TypeError(f"{type(self.outcome).__name__} gives no per-match contributions")
        baseline, per, rest = contributions(X)
        size = np.abs(per).max(axis=2)
        order = np.argsort(-size, axis=1, kind="stable")[:, :top]
        values = X.to_numpy(dtype=np.float64)
        sides = ("home", "draw", "away")
        out = []
        for i in range(len(X)):
            drivers = [
                {
                    "feature": self.features[j],
                    "value": None if np.isnan(values[i, j]) else float(values[i, j]),
                    "contribution": {s: float(per[i, j, k]) for k, s in enumerate(sides)},
                }
                for j in order[i]
            ]
            out.append(
                {
                    "baseline": {f"p_{s}": float(baseline[i, k]) for k, s in enumerate(sides)},
                    "drivers": drivers,
                    "rest": {s: float(rest[i, k]) for k, s in enumerate(sides)},
                }
            )
        return out

    def with_outcome(
        self,
        outcome: OutcomeModel,
        trained_until: dt.date | None = None,
        trained_at: dt.datetime | None = None,
        **description: Any,
    ) -> ModelBundle:
        """A copy with another outcome model, refitted on data up to ``trained_until``."""
        return replace(
            self,
            outcome=outcome,
            trained_until=max(self.trained_until, trained_until or self.trained_until),
            trained_at=trained_at or self.trained_at,
            description={**self.description, **description},
        )

    def save(self, path: Path) -> Path:
        """Write the bundle with joblib."""
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path, compress=3)
        return path

    @staticmethod
    def load(path: Path) -> ModelBundle:
        """Read a bundle written by :meth:`save`."""
        bundle = joblib.load(path)
        if not isinstance(bundle, ModelBundle):
            raise ValueError(f"{path} does not hold a Sabiscore model bundle")
        return bundle
