"""Score what was published once results come in: figures, thresholds, alerts.

This file is configuration: the task calls :func:`sabiscore_ml.jobs.monitor.monitor`
when it runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, Param, dag, task
from sabiscore_airflow.common import START_DATE, default_args, list_param

MATCHES = Asset("sabiscore://warehouse/matches")  # results and closing prices (football-data)
MONITOR = Asset("sabiscore://monitor/figures")

DOC_MD = """
### Monitor

Runs whenever football-data results load (`sabiscore://warehouse/matches`, updated by
`ingest_football_data`: results, and bookmakers' closing prices with Pinnacle's), or on
demand. Updates `sabiscore://monitor/figures`.

1. **monitor_published** scores every published prediction and value bet whose match
   is now settled, per model version, league (and `all`) and window (every settled
   match, and the last `window_days` days of them):
   - the model's realised RPS, log loss and ECE, and Pinnacle's margin-free
     pre-closing and closing RPS on the same matches, with the paired difference and
     its standard error;
   - the value bets' closing-line value (price at publication / margin-free closing
     price - 1), flat-stake and staked profit;
   - the population stability index of the model's most important inputs against the
     offline feature rows before the version's first published run.

   The figures go to the warehouse (`monitor_figures`), to MLflow (experiment
   `sabiscore-monitor`, tagged with the model version) and, through the API's
   `/metrics`, to Prometheus; `GET /v1/models/current/performance` serves them.
   A figure crossing its threshold (`SABISCORE_MONITOR_*`: RPS minus Pinnacle, ECE,
   CLV, PSI; checked only on enough matches or bets) adds an entry to the Redis
   alert stream (`kind` `monitor_breach`) and fails the task, without retrying, with
   a message naming the league, window, figure and threshold. The figures are stored
   first.

#### Params

An empty Param is null (the trigger form's empty field) or, for a list, `[]`.

- `leagues`: the leagues to score (empty: every league published).
- `model_version`: one version (empty: every version published).
- `window_days`: the rolling window (empty: `SABISCORE_MONITOR_WINDOW_DAYS`, 28).
- `fail_on_breach`: fail the task when a threshold is crossed (default true).
- `log_mlflow`: log the figures to MLflow (default true).
"""


@dag(
    dag_id="monitor",
    description="Score the published predictions and value bets once results are in",
    doc_md=DOC_MD,
    start_date=START_DATE,
    schedule=MATCHES,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(
        retries=1, retry_delay=dt.timedelta(minutes=5), execution_timeout=dt.timedelta(minutes=30)
    ),
    params={
        "leagues": list_param(
            "Leagues", "League codes, one a line; empty: every league published."
        ),
        "model_version": Param(
            None,
            type=["null", "string"],
            title="Model version",
            description="One registered version; empty: every version published.",
        ),
        "window_days": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Rolling window (days)",
            description="The rolling window; empty: SABISCORE_MONITOR_WINDOW_DAYS.",
        ),
        "fail_on_breach": Param(
            True,
            type="boolean",
            title="Fail on a breach",
            description="Fail the task when a figure crosses its threshold.",
        ),
        "log_mlflow": Param(
            True,
            type="boolean",
            title="Log to MLflow",
            description="Log the figures to MLflow beside the model version.",
        ),
    },
    tags=["sabiscore", "models", "monitoring"],
)
def monitor() -> None:
    """One task: score, store, log, alert; fail on a breach."""

    @task(outlets=[MONITOR])
    def monitor_published(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Score what was published; a breach fails without retrying (it would fail again)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from sabiscore_ml.jobs.monitor import MonitorBreach, MonitorRequest
        from sabiscore_ml.jobs.monitor import monitor as run

        try:
            report = run(MonitorRequest.from_dict(dict(params or {})))
        except MonitorBreach as breach:
            raise AirflowFailException(str(breach)) from breach
        summary = report.summary()
        get_current_context()["outlet_events"][MONITOR].extra = {
            "computed_at": summary["computed_at"],
            "figures": summary["figures"],
        }
        return summary

    monitor_published()


monitor()
