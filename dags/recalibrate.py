"""Refit the champion's calibration layer on the latest finished matches.

This file is configuration: the task calls
:func:`sabiscore_ml.jobs.recalibration.recalibrate` when it runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, Param, dag, task
from sabiscore_airflow.common import START_DATE, default_args

FEATURES_OFFLINE = Asset("sabiscore://features/offline")
MODEL_CHAMPION = Asset("sabiscore://models/sabiscore-1x2/champion")

DOC_MD = """
### Recalibrate

The live calibration loop, in batch form. Runs after each feature build (that is
after each matchday's results are loaded), or on demand.

1. **recalibrate** loads `models:/sabiscore-1x2@champion`, takes the most recent
   played matches its trees never saw (up to `SABISCORE_MODEL_RECALIBRATION_MATCHES`),
   fits a new calibrator on the earlier half and compares log loss on the later
   half. Without a gain nothing is registered. With one, a new version (same
   trees, new calibrator, tagged `recalibrated_from`) is registered as
   `challenger`, and becomes `champion` if its paired RPS and calibration error on
   the hold-out are no worse; the decision is tagged on the version.

#### Params

- `method`: `isotonic`, `sigmoid` or `temperature`; empty (null) keeps the
  champion's.
"""


@dag(
    dag_id="recalibrate",
    description="Refit the champion's calibration on recent matches; register if log loss improves",
    doc_md=DOC_MD,
    start_date=START_DATE,
    schedule=FEATURES_OFFLINE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(
        retries=1, retry_delay=dt.timedelta(minutes=5), execution_timeout=dt.timedelta(minutes=30)
    ),
    params={
        "method": Param(
            None,
            type=["null", "string"],
            enum=[None, "isotonic", "sigmoid", "temperature"],
            values_display={"null": "the champion's method"},
            title="Calibration method",
            description="Empty keeps the champion's method.",
        ),
    },
    tags=["sabiscore", "models"],
)
def recalibrate() -> None:
    """One task: recalibrate, register and promote when it helps."""

    @task(outlets=[MODEL_CHAMPION])
    def recalibrate_champion(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Try a new calibrator; skipped (no asset event) unless a new champion results."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from sabiscore_ml.jobs.recalibration import recalibrate as run

        result = run(method=(params or {}).get("method") or None)
        if not result.get("promoted"):
            raise AirflowSkipException(f"{result['status']}: {result.get('reason', '')}")
        get_current_context()["outlet_events"][MODEL_CHAMPION].extra = {
            "version": result["version"],
            "recalibrated_from": result["champion_version"],
        }
        return result

    recalibrate_champion()


recalibrate()
