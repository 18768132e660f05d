"""Hyperparameter search with Optuna: TPE, a median pruner, an RDB study, MLflow trial runs.

The objective is the mean walk-forward RPS over the validation seasons: each
season is predicted by a model fitted on everything before it, and the running
mean is reported after each season so that the pruner can stop a hopeless
trial early.  The study lives in a database (SQLite under ``SABISCORE_HOME`` by
default, ``SABISCORE_MODEL_OPTUNA_STORAGE`` for PostgreSQL), so it survives
restarts, resumes where it stopped and can be inspected with ``optuna-dashboard``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sabiscore_ml.models.config import ModelConfig
from sabiscore_ml.models.data import TrainingSet
from sabiscore_ml.models.metrics import outcome_index, rps_per_match
from sabiscore_ml.models.walkforward import PREDICTION_COLUMNS, walk_forward
from sabiscore_ml.settings import get_core_settings, get_model_settings

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class TuningResult:
    """The best configuration found and the study it came from."""

    config: ModelConfig
    best_rps: float
    best_params: dict[str, Any]
    study_name: str
    trials: int
    pruned: int


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The search space: tree sizes and regularisation, the blend, the calibration."""
    return {
        "rf.min_samples_leaf": trial.suggest_int("rf.min_samples_leaf", 10, 200, log=True),
        "rf.max_features": trial.suggest_float("rf.max_features", 0.05, 0.5),
        "xgb.max_depth": trial.suggest_int("xgb.max_depth", 2, 6),
        "xgb.learning_rate": trial.suggest_float("xgb.learning_rate", 0.01, 0.1, log=True),
        "xgb.n_estimators": trial.suggest_int("xgb.n_estimators", 100, 600, step=50),
        "xgb.min_child_weight": trial.suggest_float("xgb.min_child_weight", 1.0, 100.0, log=True),
        "lgbm.num_leaves": trial.suggest_int("lgbm.num_leaves", 4, 63, log=True),
        "lgbm.learning_rate": trial.suggest_float("lgbm.learning_rate", 0.01, 0.1, log=True),
        "lgbm.n_estimators": trial.suggest_int("lgbm.n_estimators", 100, 600, step=50),
        "lgbm.min_child_samples": trial.suggest_int("lgbm.min_child_samples", 20, 400, log=True),
        "meta_c": trial.suggest_float("meta_c", 0.01, 10.0, log=True),
        "calibration": trial.suggest_categorical(
            "calibration", ["isotonic", "sigmoid", "temperature"]
        ),
    }


def study_storage() -> str:
    """The Optuna storage URL."""
    return get_model_settings().optuna_url(get_core_settings())


def tune(
    training: TrainingSet,
    base: ModelConfig,
    *,
    leagues: Sequence[str],
    validation_seasons: Sequence[str],
    n_trials: int,
    study_name: str,
    seed: int = 0,
    log_trial: Callable[[int, dict[str, Any], float, str], None] | None = None,
) -> TuningResult:
    """Run ``n_trials`` more trials of ``study_name``; return the best configuration so far.

    ``log_trial(number, params, rps, state)`` is called after every trial (the
    training job logs each one as a nested MLflow run).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not validation_seasons:
        raise ValueError("tuning needs at least one validation season")
    study = optuna.create_study(
        study_name=study_name,
        storage=study_storage(),
        direction="minimize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )
    study.set_user_attr("leagues", list(leagues))
    study.set_user_attr("validation_seasons", list(validation_seasons))

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial)
        config = base.with_params(params)
        scores: list[np.ndarray] = []
        for step, season in enumerate(validation_seasons):
            preds = walk_forward(training, config.outcome_model, leagues=leagues, seasons=[season])
            probs = preds.select(PREDICTION_COLUMNS).to_numpy()
            scores.append(rps_per_match(probs, outcome_index(preds["result"].to_list())))
            running = float(np.concatenate(scores).mean())
            trial.report(running, step)
            if trial.should_prune():
                if log_trial:
                    log_trial(trial.number, params, running, "pruned")
                raise optuna.TrialPruned()
        if log_trial:
            log_trial(trial.number, params, running, "complete")
        return running

    study.optimize(objective, n_trials=n_trials, gc_after_trial=True)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise RuntimeError(f"study {study_name}: no trial completed")
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return TuningResult(
        config=base.with_params(study.best_params),
        best_rps=float(study.best_value),
        best_params=dict(study.best_params),
        study_name=study_name,
        trials=len(study.trials),
        pruned=pruned,
    )
