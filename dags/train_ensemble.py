"""Train, evaluate, register and (maybe) promote the 1X2 ensemble.

This file is configuration: every task imports :mod:`sabiscore_ml` when it
runs and calls one step of :mod:`sabiscore_ml.jobs.training`; XCom carries run
ids, file paths and figures only, never frames.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, Param, dag, task
from sabiscore_airflow.common import START_DATE, date_param, default_args, list_param

FEATURES_OFFLINE = Asset("sabiscore://features/offline")
MODEL_CHAMPION = Asset("sabiscore://models/sabiscore-1x2/champion")

DOC_MD = """
### Train the ensemble

Weekly (Monday 04:00 UTC), or triggered from the UI with the Params below.

1. **snapshot** freezes the training frame from the offline feature store to
   Parquet, opens the MLflow run (experiment `sabiscore-1x2`) and records the
   data hash of the partitions it read.
2. **tune** runs `n_trials` Optuna trials (TPE, median pruner, study stored in
   `SABISCORE_MODEL_OPTUNA_STORAGE`), each a nested MLflow run scored by
   walk-forward RPS on the validation seasons; 0 trials keeps the defaults.
3. **fit** fits the final model on every snapshot row.
4. **evaluate** walks forward over the evaluation seasons (each predicted by a
   model fitted only on earlier matches) and pairs the RPS with Pinnacle's
   closing and pre-closing prices and the market average.
5. **register** logs parameters, metrics, plots, the model card and the pyfunc
   model, and registers a new version of `sabiscore-1x2` as `challenger`.
6. **should_promote** branches: when `promote` is off, the run ends with the
   challenger; otherwise **promote** moves `champion` to the new version if
   its paired RPS on the latest evaluation season is no worse than the
   champion's (300 matches or more), its calibration error not worse and the
   closing-line value of its value bets not worse by more than two standard
   errors (with 30 bets or more with closing prices on each side). The
   decision and its evidence are tags on the version. A promotion updates the
   `sabiscore://models/sabiscore-1x2/champion` asset; when the challenger is
   kept, the task ends skipped and no asset event is sent.

#### Params

An empty Param is null (the trigger form's empty field) or, for a list, `[]`.

- `leagues`: league codes to train on (empty: `SABISCORE_MODEL_LEAGUES`).
- `seasons`: seasons to train on (empty: all from `SABISCORE_MODEL_HISTORY_FROM`).
- `n_trials`: Optuna trials (0: no tuning).
- `promote`: allow the promotion step.
- `weights`: `stacking` (learned blend) or `design` (40/35/25).
- `evaluation_seasons`: how many of the latest seasons to walk forward.
- `as_of`: train on the matches before this date (`YYYY-MM-DD`) only (to replay a
  past matchday); empty: every match.
"""


@dag(
    dag_id="train_ensemble",
    description="Snapshot, tune, fit, evaluate, register and promote the 1X2 ensemble",
    doc_md=DOC_MD,
    start_date=START_DATE,
    schedule="0 4 * * 1",
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=6),
    default_args=default_args(
        retries=1, retry_delay=dt.timedelta(minutes=5), execution_timeout=dt.timedelta(hours=4)
    ),
    params={
        "leagues": list_param(
            "Leagues", "League codes (E0...), one a line; empty: SABISCORE_MODEL_LEAGUES."
        ),
        "seasons": list_param("Seasons", "Seasons YYYY-YYYY to train on, one a line; empty: all."),
        "n_trials": Param(
            0,
            type="integer",
            minimum=0,
            maximum=500,
            title="Optuna trials",
            description="0 keeps the default hyperparameters.",
        ),
        "promote": Param(
            True,
            type="boolean",
            title="Promote",
            description="Move the champion alias when the new version is no worse.",
        ),
        "weights": Param(
            "stacking",
            type="string",
            enum=["stacking", "design"],
            title="Blend",
            description="stacking: learned; design: 40% RF, 35% XGB, 25% LGBM.",
        ),
        "as_of": date_param(
            "As of", "Train on the matches before this date only (replays); empty: all."
        ),
        "evaluation_seasons": Param(
            1,
            type="integer",
            minimum=1,
            maximum=10,
            title="Evaluation seasons",
            description="Latest seasons walked forward.",
        ),
    },
    tags=["sabiscore", "models"],
)
def train_ensemble() -> None:
    """Snapshot -> tune -> fit -> evaluate -> register -> (promote)."""

    @task
    def snapshot(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Freeze the training frame; open the MLflow run."""
        from sabiscore_ml.jobs.training import TrainRequest
        from sabiscore_ml.jobs.training import snapshot as run

        return run(TrainRequest.from_dict(dict(params or {})))

    @task
    def tune(state: dict[str, Any]) -> dict[str, Any]:
        """Optuna trials, or the defaults."""
        from sabiscore_ml.jobs.training import tune as run

        return run(state)

    @task
    def fit(state: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
        """The final model on every snapshot row."""
        from sabiscore_ml.jobs.training import fit as run

        return run(state, tuned)

    @task
    def evaluate(state: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
        """Walk-forward scores paired against the market."""
        from sabiscore_ml.jobs.training import evaluate as run

        return run(state, tuned)

    @task
    def register(
        state: dict[str, Any],
        tuned: dict[str, Any],
        fitted: dict[str, Any],
        evaluated: dict[str, Any],
    ) -> dict[str, Any]:
        """Log to MLflow; register the challenger."""
        from sabiscore_ml.jobs.training import register as run

        return run(state, tuned, fitted, evaluated)

    @task.branch
    def should_promote(state: dict[str, Any]) -> str | None:
        """Promote only when the run allows it."""
        from sabiscore_ml.jobs.training import decide_branch

        return "promote" if decide_branch(state) else None

    @task(outlets=[MODEL_CHAMPION])
    def promote(
        state: dict[str, Any], registered: dict[str, Any], evaluated: dict[str, Any]
    ) -> dict[str, Any]:
        """Champion when no worse on the latest evaluation season (skipped, no event, if not)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from sabiscore_ml.jobs.training import promote as run

        outcome = run(state, registered, evaluated)
        if not outcome["promoted"]:
            raise AirflowSkipException(outcome["reason"])  # it ends "kept as challenger"
        context = get_current_context()
        context["outlet_events"][MODEL_CHAMPION].extra = {
            "version": outcome["version"],
            "promoted": outcome["promoted"],
        }
        return outcome

    state = snapshot()
    tuned = tune(state)
    fitted = fit(state, tuned)
    evaluated = evaluate(state, tuned)
    registered = register(state, tuned, fitted, evaluated)
    branch = should_promote(state)
    registered >> branch
    branch >> promote(state, registered, evaluated)


train_ensemble()
