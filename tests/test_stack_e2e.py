"""The local stack end to end: four DAGs on the Celery worker, the run read back from Redis.

``deploy/stack.py up`` starts the compose topology as local processes (its own databases,
Redis prefixes, free ports and a state dir under pytest's tmp dir).  Through Airflow 3's
REST API (``/api/v2``, a JWT from ``/auth/token``) the test unpauses, triggers and
re-pauses, one after the other: ingest of three bundled E0 seasons, ``build_features``,
``train_ensemble`` (no tuning, the design blend, one evaluation season) and
``predict_and_publish`` (a replay of 16 May 2024).  Every task must succeed on the
Celery worker: the worker's log names each task instance it executed, and the task
instances carry Celery's queue and the worker's host.  The training logs must hold no
joblib warning that the forest dropped to one job.  Then the serving API answers the
published run, from Redis.  The stack is stopped and its data dropped at the end; on a
failure the tails of the service logs are printed.  Each DAG's wall time is printed.

Only the DAG being run is unpaused, so no asset event queues a run of another, and the
scheduler creates no cron run (``AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False``, set for
this test only, as in ``tests/test_airflow_ui.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[1]
STACK = REPO / "deploy" / "stack.py"
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get(
    "SABISCORE_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
SEASONS = ["2021-2022", "2022-2023", "2023-2024"]
RUN_TIMEOUT = 900
LOKY_WARNING = "cannot be called in a multiprocessing"

DAG_RUNS = [
    (
        "ingest_football_data",
        {"source": "bundled_sample", "leagues": ["E0"], "seasons": SEASONS},
    ),
    ("build_features", {"leagues": ["E0"]}),
    (
        "train_ensemble",
        {
            "leagues": ["E0"],
            "n_trials": 0,
            "weights": "design",
            "evaluation_seasons": 1,
            "promote": True,
            "as_of": "2024-05-11",
        },
    ),
    ("predict_and_publish", {"as_of": "2024-05-16", "leagues": ["E0"]}),
]


class Airflow:
    """The stack's api-server, as its admin."""

    def __init__(self, url: str, password: str) -> None:
        self.url, self.password = url, password
        self._token: str | None = None

    def call(self, method: str, path: str, body: object | None = None) -> dict:
        if self._token is None:
            self._token = self._request(
                "POST", "/auth/token", {"username": "admin", "password": self.password}, token=None
            )["access_token"]
        return self._request(method, path, body, token=self._token)

    def _request(self, method: str, path: str, body: object | None, token: str | None) -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
            method=method,
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)

    def run_dag(self, dag_id: str, conf: dict) -> tuple[dict, list[dict]]:
        """Unpause, trigger, wait, pause: the finished run and its task instances."""
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        try:
            run = self.call(
                "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}
            )
            path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"
            deadline = time.monotonic() + RUN_TIMEOUT
            while run["state"] not in ("success", "failed"):
                assert time.monotonic() < deadline, f"{dag_id} still {run['state']}"
                time.sleep(3)
                run = self.call("GET", path)
        finally:
            self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        tis = self.call("GET", path + "/taskInstances?limit=100")["task_instances"]
        return run, tis


def _stack_cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(STACK), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _log_tails(state: Path, lines: int = 30) -> str:
    parts = []
    for log in sorted((state / "logs").glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"----- {log.name}\n" + "\n".join(text))
    return "\n".join(parts)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Path, dict]]:
    state = tmp_path / "stack"
    ports = {name: free_port() for name in ("api", "mlflow", "serving")}
    ports |= {name: free_port() for name in ("scheduler-health", "worker-log", "trigger-log")}
    name = f"sabiscore_stack_test_{secrets.token_hex(4)}"
    argv = ["up", "--state-dir", str(state), "--name", name, "--pg-admin-url", PG_ADMIN_URL]
    for port, number in ports.items():
        argv += [f"--{port}-port", str(number)]
    argv += [
        "--set",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False",
        "--set",
        "SABISCORE_MODEL_THREADS=2",
    ]
    t0 = time.monotonic()
    try:
        started = _stack_cli(*argv, timeout=900)
        print(f"stack up in {time.monotonic() - t0:.0f} s\n{started.stdout}")
        assert started.returncode == 0, (
            f"stack.py up failed:\n{started.stdout[-4000:]}\n{started.stderr[-4000:]}\n"
            f"{_log_tails(state)}"
        )
        yield state, ports
    finally:
        stopped = _stack_cli("down", "--state-dir", str(state), "--drop", timeout=300)
        print(stopped.stdout, stopped.stderr)


def _seconds(run: dict) -> float:
    start, end = (dt.datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def _executed_by_the_worker(state: Path) -> set[str]:
    """Task instance ids the Celery worker's log says it executed."""
    text = (state / "logs" / "worker.log").read_text(errors="replace")
    return set(
        re.findall(r"Executing workload in Celery: .*?ti=TaskInstanceDTO\(id=UUID\('([^']+)'", text)
    )


def _worker_host(state: Path) -> str:
    """The host in the Celery worker's node name (``celery@<host> ready.``)."""
    text = (state / "logs" / "worker.log").read_text(errors="replace")
    found = re.search(r"celery@(\S+) ready\.", text)
    assert found, "the Celery worker never became ready"
    return found.group(1)


def _store_reads(metrics: str) -> dict[tuple[str, str], float]:
    """``sabiscore_api_store_reads_total`` by (store, result), from the metrics text."""
    reads = {}
    for labels, value in re.findall(
        r"^sabiscore_api_store_reads_total\{([^}]*)\} (\S+)$", metrics, re.M
    ):
        named = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        reads[(named["store"], named["result"])] = float(value)
    return reads


def _serving_get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_stack_runs_every_dag_on_the_celery_worker_and_serves_the_run(stack) -> None:
    state, ports = stack
    secrets_file = json.loads((state / "secrets.json").read_text())
    airflow = Airflow(f"http://127.0.0.1:{ports['api']}", secrets_file["admin_password"])
    config = json.loads((state / "stack.json").read_text())
    try:
        walls = {}
        runs = {}
        for dag_id, conf in DAG_RUNS:
            run, tis = airflow.run_dag(dag_id, conf)
            walls[dag_id] = _seconds(run)
            runs[dag_id] = run
            print(f"{dag_id}: {run['state']} in {walls[dag_id]:.0f} s ({len(tis)} tasks)")
            states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in tis}
            assert run["state"] == "success", states
            assert set(states.values()) == {"success"}, states
            executed = _executed_by_the_worker(state)
            worker_host = _worker_host(state)
            for ti in tis:
                where = f"{dag_id}.{ti['task_id']}[{ti['map_index']}]"
                assert ti["id"] in executed, f"{where} was not executed by the Celery worker"
                assert ti["queue"] == "default", where  # Celery's queue ([operators] default_queue)
                assert ti["hostname"] == worker_host, where  # the task ran on the worker's host
                assert ti["executor"] in (None, "CeleryExecutor"), where
        print("wall times through the Celery worker:", json.dumps(walls))

        # the forest kept its threads: no joblib warning in any training task's log
        logs = list((state / "airflow" / "logs" / "dag_id=train_ensemble").rglob("attempt=*.log"))
        assert {log.parent.name for log in logs} >= {"task_id=fit", "task_id=evaluate"}
        for log in logs:
            assert LOKY_WARNING not in log.read_text(errors="replace"), log

        # the published run, from Redis, through the serving API
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, db=1)
        prefix = config["name"]
        current = client.get(f"{prefix}:pub:current")
        assert current is not None, "no current run in Redis"
        run_id = current.decode()
        key = subprocess.run(
            [
                str(BIN / "sabiscore"),
                "keys",
                "create",
                "--owner",
                "stack-e2e",
                "--tier",
                "pro",
                "--quiet",
            ],
            env=_serving_environment(state),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.strip()
        serving = f"http://127.0.0.1:{ports['serving']}"
        status, body = _serving_get(f"{serving}/v1/matches/upcoming?league=E0", key)
        assert status == 200, body[:500]
        matches = json.loads(body)
        assert len(matches) == 10 and {m["match_date"] for m in matches} == {"2024-05-19"}
        assert {m["run_id"] for m in matches} == {run_id}
        assert body == client.get(f"{prefix}:pub:{run_id}:upcoming:E0")
        _, metrics = _serving_get(f"{serving}/metrics")
        reads = _store_reads(metrics.decode())
        assert reads.get(("redis", "found"), 0) >= 1, reads
        assert reads.get(("warehouse", "found"), 0) == 0, reads
        client.close()
    except BaseException:
        print(_log_tails(state))
        raise


def _serving_environment(state: Path) -> dict[str, str]:
    """The serving process's environment, from the stack's own module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sabiscore_stack_e2e", STACK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Stack.load(state).environment("serving")
