"""Task logs whose levels mean what they say: MLflow's INFO lines are INFO, no progress bars.

An Airflow 3 task runs in a subprocess whose stderr its supervisor reads line by
line and logs at ERROR (``task.stderr``), while log records reach the task log
through the root logger at their own level.  The test runs what a training task
does with MLflow (open the embedded store, log a run's evaluation, read it back as
the promote step does, register a model) in a fresh interpreter set up that way: a handler on the
root logger keeps every record, stderr is a pipe.  Whatever lands on stderr would
be an ERROR in the task log.  Airflow is not imported into the pytest process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO

TASK = textwrap.dedent(
    """
    import json, logging, sys

    records = []

    class TaskLog(logging.Handler):  # the task log: records with their levels
        def emit(self, record):
            records.append([record.name, record.levelname, record.getMessage()])

    logging.basicConfig(level=logging.INFO, handlers=[TaskLog()])

    import mlflow
    import polars as pl

    from sabiscore_ml.models import registry

    registry.client()  # a new embedded store: MLflow creates its tables, and says so
    frame = pl.DataFrame({"match_id": list(range(50_000)), "p_home": [0.5] * 50_000})
    with mlflow.start_run(experiment_id=registry.experiment("1x2")) as run:
        mlflow.log_artifact(str(registry.write_predictions(frame)), "evaluation")
    assert registry.evaluation_predictions(run.info.run_id).height == 50_000
    # registering: MLflow prints its notice ("Successfully registered model ...") once the
    # name exists; the version then fails (an evaluation is no model), which is no matter here
    try:
        mlflow.register_model(f"runs:/{run.info.run_id}/evaluation", "sabiscore-test")
    except mlflow.exceptions.MlflowException:
        pass
    print(json.dumps(records))
    """
)


def test_mlflow_logs_at_their_level_and_draws_no_progress_bar_in_a_task(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SABISCORE_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, "-c", TASK],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # nothing the supervisor would log at ERROR: no MLflow line, no progress bar
    assert result.stderr == ""
    records = json.loads(result.stdout.splitlines()[-1])
    created = [r for r in records if r[0] == "mlflow.store.db.utils"]
    assert [
        "mlflow.store.db.utils",
        "INFO",
        "Creating initial MLflow database tables...",
    ] in created
    notices = [r for r in records if r[0] == "mlflow" and "sabiscore-test" in r[2]]
    assert ["mlflow", "INFO", "Successfully registered model 'sabiscore-test'."] in notices
    assert all(level in ("DEBUG", "INFO", "WARNING") for _, level, _ in records), records
    assert not (tmp_path / "mlruns").exists()


def test_the_supervisor_logs_a_task_s_stderr_at_error() -> None:
    """Why stderr matters: the installed Airflow's supervisor forwards it at ERROR."""
    script = (
        "import inspect\n"
        "from airflow.sdk.execution_time.supervisor import WatchedSubprocess as W\n"
        "print(inspect.getsource(W._register_pipe_readers))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    source = " ".join(result.stdout.split())
    assert '"task.stderr", data=data.get(stderr, b""), log_level=logging.ERROR' in source
