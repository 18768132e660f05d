"""A model configuration: what to build, as plain data (MLflow params, Optuna, DAG Params)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sabiscore_ml.models.estimators import (
    AnchoredEnsemble,
    CalibratedModel,
    GoalsModel,
    TreeEnsemble,
)


@dataclass(frozen=True)
class ModelConfig:
    """The 1X2 model: tree ensemble, blend and calibration; plus the goals model.

    ``anchor="market"`` (the default) builds the :class:`AnchoredEnsemble`: the
    members learn the pre-closing market's error from its log-probabilities
    (smaller trees, ``ANCHORED_DEFAULTS``, overridden by the member dicts), and
    the stacking pool blends them with the market.  ``anchor=None`` is the
    unanchored ensemble (``weights="design"`` implies it).
    """

    members: tuple[str, ...] = ("rf", "xgb", "lgbm")
    weights: str = "stacking"  # or "design" (40/35/25 over rf, xgb, lgbm)
    calibration: str | None = "temperature"  # isotonic, sigmoid, or None
    calibration_fraction: float = 0.15
    n_folds: int | None = None  # stacking folds; None: the ensemble's own (2, anchored 1)
    oof_fraction: float | None = None  # rows predicted out of fold; None: 0.4, anchored 0.3
    meta_c: float = 1.0
    rf_params: dict[str, Any] = field(default_factory=dict)
    xgb_params: dict[str, Any] = field(default_factory=dict)
    lgbm_params: dict[str, Any] = field(default_factory=dict)
    goals: bool = True
    random_state: int = 0
    anchor: str | None = "market"  # learn the pre-closing market's error; None: unanchored

    def __post_init__(self) -> None:
        if self.weights not in ("stacking", "design"):
            raise ValueError(f"weights must be stacking or design, not {self.weights!r}")
        if self.anchor not in (None, "market"):
            raise ValueError(f"anchor must be market or None, not {self.anchor!r}")
        if self.weights == "design":  # the design's fixed blend of the unanchored trees
            object.__setattr__(self, "members", ("rf", "xgb", "lgbm"))
            object.__setattr__(self, "anchor", None)

    def outcome_model(self) -> CalibratedModel:
        """An unfitted 1X2 estimator."""
        ensemble: TreeEnsemble | AnchoredEnsemble
        if self.anchor == "market":
            ensemble = AnchoredEnsemble(
                members=tuple(m for m in self.members if m != "market"),
                n_folds=1 if self.n_folds is None else self.n_folds,
                oof_fraction=0.3 if self.oof_fraction is None else self.oof_fraction,
                meta_c=self.meta_c,
                rf_params=dict(self.rf_params),
                xgb_params=dict(self.xgb_params),
                lgbm_params=dict(self.lgbm_params),
                random_state=self.random_state,
            )
            return CalibratedModel(ensemble, self.calibration, self.calibration_fraction)
        ensemble = TreeEnsemble(
            members=self.members,
            weights=self.weights,
            n_folds=2 if self.n_folds is None else self.n_folds,
            oof_fraction=0.4 if self.oof_fraction is None else self.oof_fraction,
            meta_c=self.meta_c,
            rf_params=dict(self.rf_params),
            xgb_params=dict(self.xgb_params),
            lgbm_params=dict(self.lgbm_params),
            random_state=self.random_state,
        )
        return CalibratedModel(ensemble, self.calibration, self.calibration_fraction)

    def goals_model(self) -> GoalsModel | None:
        """An unfitted goals model, if configured."""
        return GoalsModel(random_state=self.random_state) if self.goals else None

    def with_params(self, params: Mapping[str, Any]) -> ModelConfig:
        """A copy with tuned values (``rf.min_samples_leaf``-style keys go to the member dicts)."""
        members = {
            "rf": dict(self.rf_params),
            "xgb": dict(self.xgb_params),
            "lgbm": dict(self.lgbm_params),
        }
        top: dict[str, Any] = {}
        for key, value in params.items():
            head, _, rest = key.partition(".")
            if rest and head in members:
                members[head][rest] = value
            else:
                top[key] = value
        return replace(
            self,
            **top,
            rf_params=members["rf"],
            xgb_params=members["xgb"],
            lgbm_params=members["lgbm"],
        )

    def as_params(self) -> dict[str, str]:
        """Flat string parameters for MLflow."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if isinstance(value, dict):
                out |= {f"{key.removesuffix('_params')}.{k}": str(v) for k, v in value.items()}
            else:
                out[key] = json.dumps(value) if isinstance(value, tuple | list) else str(value)
        return out
