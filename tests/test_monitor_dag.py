"""The ``monitor`` DAG: its shape, its Params, and a breach failing its task without retry.

Airflow runs in subprocesses, as in ``tests/test_dags.py`` (whose helpers these are);
the Params' defaults and accepted confs are checked there with every other DAG's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_dags import DAGBAG_REPORT, DAGS_DIR, RESULT_MARKER, airflow_env, run_python

# Calls the task's function with Params, as a task instance would, and says how it ended.
RUN_TASK = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException

bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
task = bag.dags["monitor"].get_task("monitor_published")
try:
    task.python_callable(params=json.loads(sys.argv[2]))
    outcome = {"returned": True}
except AirflowFailException as exc:
    outcome = {"failed": str(exc)}
print("@@RESULT@@" + json.dumps(outcome))
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("airflow-parse")
    found, _ = run_python(DAGBAG_REPORT, str(DAGS_DIR), env=airflow_env(home), cwd=home)
    assert isinstance(found, dict)
    return found


def test_monitor_dag_shape(report: dict) -> None:
    assert report["import_errors"] == {}
    info = report["dags"]["monitor"]
    assert info["schedule"] is not None and "sabiscore://warehouse/matches" in info["schedule"]
    assert set(info["tags"]) == {"sabiscore", "models", "monitoring"}
    assert info["param_defaults"] == {
        "leagues": None,
        "model_version": None,
        "window_days": None,
        "fail_on_breach": True,
        "log_mlflow": True,
    }
    assert set(info["tasks"]) == {"monitor_published"}
    assert info["tasks"]["monitor_published"]["outlets"] == ["sabiscore://monitor/figures"]
    assert info["retries"] >= 1  # a lost database is retried; a breach is not (below)
    # the ingest DAG that loads results and closing prices updates the asset it waits for
    ingest = report["dags"]["ingest_football_data"]["tasks"]["summarize"]["outlets"]
    assert ingest == ["sabiscore://warehouse/matches"]


def test_a_breach_fails_the_task_naming_league_figure_and_threshold(
    warehouse: Engine, sabiscore_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if warehouse.dialect.name != "sqlite":
        pytest.skip("one database is enough: the job's own tests run on both")
    from test_monitor import settle
    from test_publishing import add_fixtures, scored_run

    from sabiscore_ml.publish import publish

    fixtures = add_fixtures(warehouse, per_league=4)
    publish(scored_run("run-a", fixtures), engine=warehouse)
    settle(warehouse, fixtures)
    env = airflow_env(tmp_path / "airflow") | {
        "SABISCORE_HOME": str(sabiscore_home),
        "SABISCORE_DATABASE_URL": warehouse.url.render_as_string(hide_password=False),
        "SABISCORE_MONITOR_MIN_MATCHES": "4",
        "SABISCORE_MONITOR_MAX_ECE": "0.001",
    }
    env.pop("SABISCORE_REDIS_URL", None)
    params = {"leagues": ["E0"], "log_mlflow": False, "fail_on_breach": True}
    outcome, _ = run_python(RUN_TASK, str(DAGS_DIR), json.dumps(params), env=env, cwd=tmp_path)
    assert isinstance(outcome, dict) and "failed" in outcome, outcome
    assert "league E0, window all, model v7: ece" in outcome["failed"]
    assert "above its maximum 0.0010" in outcome["failed"]
    assert RESULT_MARKER not in outcome["failed"]
