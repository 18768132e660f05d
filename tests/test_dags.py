"""The Airflow DAGs in dags/: integrity of every file, and real runs of ingest_football_data.

Airflow is never imported into the pytest process.  Every Airflow step runs in a
subprocess whose ``AIRFLOW_HOME`` (config, SQLite metadata database, logs) lives
under pytest's tmp_path, so nothing is written into the repository or into
``~/airflow``, and the tests do not depend on the order in which modules import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sabiscore_ml.settings import clear_settings_cache, get_warehouse_settings

REPO = Path(__file__).resolve().parents[1]
DAGS_DIR = REPO / "dags"
PLUGINS_DIR = REPO / "plugins"
SAMPLE_DIR = REPO / "samples" / "football-data"
# Files starting with "_" are helpers, not DAG files.
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
INGEST_DAG = DAGS_DIR / "ingest_football_data.py"

IMPORT_BUDGET_SECONDS = 2.0
# Libraries a DAG file must not import at parse time (task bodies import them).
HEAVY_MODULES = (
    "sabiscore_ml",
    "feature_store",
    "serving",
    "pandas",
    "polars",
    "numpy",
    "sklearn",
    "xgboost",
    "lightgbm",
    "optuna",
    "mlflow",
    "great_expectations",
    "alembic",
)
RESULT_MARKER = "@@RESULT@@"
SUBPROCESS_TIMEOUT = 600

# Loads a folder or file with Airflow's DagBag and describes what it found.
DAGBAG_REPORT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "fileloc": dag.fileloc,
        "tags": sorted(dag.tags or []),
        "default_args": {k: str(v) for k, v in (dag.default_args or {}).items()},
        "retries": (dag.default_args or {}).get("retries"),
        "doc_md": dag.doc_md or "",
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "schedule": None if dag.schedule is None else str(dag.schedule),
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "params": {k: dag.params.get_param(k).schema for k in dag.params},
        "param_defaults": dag.params.dump(),
        "tasks": {
            t.task_id: {
                "mapped": bool(getattr(t, "is_mapped", False)),
                "trigger_rule": getattr(t.trigger_rule, "value", str(t.trigger_rule)),
                "retries": t.retries,
                "outlets": [getattr(o, "uri", str(o)) for o in t.outlets],
                "upstream": sorted(t.upstream_task_ids),
            }
            for t in dag.tasks
        },
    }
print("@@RESULT@@" + json.dumps({"import_errors": bag.import_errors, "dags": dags}))
"""

# Imports one DAG file and times only that (airflow.sdk is imported first).
IMPORT_TIMER = r"""
import json, runpy, sys, time
import airflow.sdk  # noqa: F401  the framework's own start-up is not the DAG file's cost

before = set(sys.modules)
start = time.perf_counter()
runpy.run_path(sys.argv[1], run_name="dag_import_check")
seconds = time.perf_counter() - start
new = sorted(set(sys.modules) - before)
print("@@RESULT@@" + json.dumps({"seconds": seconds, "new_modules": new}))
"""

# Calls the `plan` task's function directly with several Params.
PLAN_CASES = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
plan = bag.dags["ingest_football_data"].get_task("plan").python_callable
results = []
for params in json.loads(sys.argv[2]):
    try:
        results.append({"items": plan(params=params)})
    except ValueError as exc:
        results.append({"error": str(exc)})
print("@@RESULT@@" + json.dumps(results))
"""

# Runs one DAG with dag.test() against the metadata DB of AIRFLOW_HOME.
RUN_DAG = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

dag_file, dag_id, conf = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
bag = DagBag(dag_folder=dag_file, safe_mode=False)
assert not bag.import_errors, bag.import_errors
run = bag.dags[dag_id].test(run_conf=conf)
tis = {
    f"{ti.task_id}[{ti.map_index}]": {
        "state": None if ti.state is None else str(ti.state),
        "try_number": ti.try_number,
        "rendered_map_index": ti.rendered_map_index,
    }
    for ti in run.get_task_instances()
}
print("@@RESULT@@" + json.dumps({"state": str(run.state), "run_id": run.run_id, "tis": tis}))
"""


def airflow_env(airflow_home: Path) -> dict[str, str]:
    """The current environment minus any AIRFLOW* variable, plus an isolated AIRFLOW_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{airflow_home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(PLUGINS_DIR),
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(airflow_home / "logs"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_python(code: str, *args: str, env: dict[str, str], cwd: Path) -> tuple[object, float]:
    """Run ``code`` in a fresh interpreter; return its JSON result and the wall time."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    assert proc.returncode == 0 and lines, (
        f"subprocess failed (exit {proc.returncode})\n"
        f"--- stdout (tail) ---\n{proc.stdout[-4000:]}\n"
        f"--- stderr (tail) ---\n{proc.stderr[-8000:]}"
    )
    return json.loads(lines[-1][len(RESULT_MARKER) :]), wall


# --------------------------------------------------------------------------- integrity


@pytest.fixture(scope="module")
def parse_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty AIRFLOW_HOME for parsing (DagBag needs no metadata database)."""
    return tmp_path_factory.mktemp("airflow-parse")


@pytest.fixture(scope="module")
def dagbag_report(parse_home: Path) -> dict:
    """What Airflow's DagBag finds in dags/."""
    report, _ = run_python(
        DAGBAG_REPORT, str(DAGS_DIR), env=airflow_env(parse_home), cwd=parse_home
    )
    return report


def _dags_of(report: dict, dag_file: Path) -> dict[str, dict]:
    return {
        dag_id: info
        for dag_id, info in report["dags"].items()
        if Path(info["fileloc"]).resolve() == dag_file.resolve()
    }


def test_dags_folder_holds_the_ingest_dag() -> None:
    assert INGEST_DAG in DAG_FILES


def test_dagbag_has_no_import_errors(dagbag_report: dict) -> None:
    assert dagbag_report["import_errors"] == {}
    assert dagbag_report["dags"], "DagBag found no DAG in dags/"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_each_file_defines_one_dag_named_after_it(dagbag_report: dict, dag_file: Path) -> None:
    assert list(_dags_of(dagbag_report, dag_file)) == [dag_file.stem]


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_follows_the_conventions(dagbag_report: dict, dag_file: Path) -> None:
    for dag_id, info in _dags_of(dagbag_report, dag_file).items():
        assert info["tags"], f"{dag_id}: no tags"
        assert isinstance(info["retries"], int) and info["retries"] >= 1, (
            f"{dag_id}: default_args must set retries >= 1, got {info['retries']!r}"
        )
        assert len(info["doc_md"].strip()) >= 80, f"{dag_id}: doc_md missing or too short"
        assert info["start_date"], f"{dag_id}: no start_date"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_fast_without_heavy_libraries(parse_home: Path, dag_file: Path) -> None:
    # The wall time of a fresh interpreter includes Python start-up and
    # `import airflow.sdk`, which alone take 3-7 s on a small machine; what the
    # DAG processor pays per file on every parse is the file's own import, so
    # the subprocess imports airflow.sdk first and times only the DAG file.
    result, wall = run_python(
        IMPORT_TIMER, str(dag_file), env=airflow_env(parse_home), cwd=parse_home
    )
    heavy = [m for m in result["new_modules"] if m.split(".")[0] in HEAVY_MODULES]
    assert heavy == [], f"{dag_file.name} imports heavy modules at parse time: {heavy[:10]}"
    assert result["seconds"] < IMPORT_BUDGET_SECONDS, (
        f"{dag_file.name} took {result['seconds']:.2f} s to import "
        f"(subprocess wall time {wall:.1f} s)"
    )


def test_ingest_dag_shape(dagbag_report: dict) -> None:
    info = dagbag_report["dags"]["ingest_football_data"]
    assert set(info["tags"]) == {"sabiscore", "ingest", "football-data"}
    assert info["retries"] == 2 and "retry_delay" in info["default_args"]
    assert info["catchup"] is False
    assert info["max_active_runs"] == 1
    assert info["start_date"].startswith("2024-01-01T00:00:00")
    assert info["param_defaults"] == {
        "leagues": ["E0", "E1"],
        "seasons": [],
        "source": "bundled_sample",
        "directory": "",
    }
    assert info["params"]["source"]["enum"] == ["bundled_sample", "directory", "download"]
    assert info["params"]["leagues"]["type"] == "array"
    assert info["params"]["seasons"]["items"] == {"type": "string"}

    tasks = info["tasks"]
    assert set(tasks) == {"migrate_warehouse", "plan", "ingest", "summarize"}
    assert tasks["ingest"]["mapped"] is True
    assert tasks["ingest"]["upstream"] == ["migrate_warehouse", "plan"]
    assert tasks["summarize"]["upstream"] == ["ingest"]
    assert tasks["summarize"]["trigger_rule"] == "all_success"
    assert tasks["summarize"]["outlets"] == ["sabiscore://warehouse/matches"]


def test_plan_turns_params_into_work_items(parse_home: Path, tmp_path: Path) -> None:
    def sample(league: str, season: str) -> str:
        return str(SAMPLE_DIR / league / f"{season}.csv")

    cases = [
        {"source": "bundled_sample", "leagues": ["E0"], "seasons": ["2022-2023", "2023-2024"]},
        {"source": "bundled_sample", "leagues": ["E0", "E1"], "seasons": []},
        {"source": "download", "leagues": ["E0", "E1"], "seasons": ["2023-2024"]},
        {"source": "download", "leagues": ["E0"], "seasons": []},
        {"source": "directory", "leagues": ["E0"], "seasons": [], "directory": ""},
        {"source": "directory", "leagues": [], "seasons": [], "directory": str(tmp_path / "no")},
        {"source": "bundled_sample", "leagues": ["E0"], "seasons": ["1999-2000"]},
    ]
    results, _ = run_python(
        PLAN_CASES, str(INGEST_DAG), json.dumps(cases), env=airflow_env(parse_home), cwd=parse_home
    )
    two_seasons, all_bundled, download, no_seasons, no_dir, missing_dir, nothing = results

    assert two_seasons == {
        "items": [
            {"kind": "file", "path": sample("E0", "2022-2023")},
            {"kind": "file", "path": sample("E0", "2023-2024")},
        ]
    }
    bundled = sorted(str(p) for p in SAMPLE_DIR.glob("E[01]/*.csv"))
    assert sorted(item["path"] for item in all_bundled["items"]) == bundled
    assert download == {
        "items": [
            {"kind": "remote", "league": "E0", "season": "2023-2024"},
            {"kind": "remote", "league": "E1", "season": "2023-2024"},
        ]
    }
    assert "seasons" in no_seasons["error"]
    assert "directory" in no_dir["error"]
    assert "does not exist" in missing_dir["error"]
    assert "nothing to ingest" in nothing["error"]


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME with a migrated SQLite metadata database."""
    home = tmp_path_factory.mktemp("airflow-home")
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=airflow_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return home


@pytest.fixture
def warehouse_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SABISCORE_HOME (embedded SQLite warehouse) for one test."""
    for name in ("SABISCORE_DATABASE_URL", "SABISCORE_ENV", "SABISCORE_RAW_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SABISCORE_HOME", str(tmp_path / "sabiscore"))
    clear_settings_cache()
    url = get_warehouse_settings().url
    assert str(tmp_path) in url
    yield url
    clear_settings_cache()


def run_ingest(airflow_home: Path, conf: dict) -> dict:
    """Run ingest_football_data once with ``conf`` and return the run's states."""
    result, _ = run_python(
        RUN_DAG,
        str(INGEST_DAG),
        "ingest_football_data",
        json.dumps(conf),
        env=airflow_env(airflow_home),  # built from os.environ, so SABISCORE_HOME follows
        cwd=airflow_home,
    )
    return result


def query(url: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_ingest_dag_loads_the_bundled_sample(airflow_home: Path, warehouse_url: str) -> None:
    seasons = ["2022-2023", "2023-2024"]
    run = run_ingest(
        airflow_home, {"source": "bundled_sample", "leagues": ["E0"], "seasons": seasons}
    )

    assert run["state"] == "success", run
    states = {key: ti["state"] for key, ti in run["tis"].items()}
    assert states == {
        "migrate_warehouse[-1]": "success",
        "plan[-1]": "success",
        "ingest[0]": "success",
        "ingest[1]": "success",
        "summarize[-1]": "success",
    }
    assert run["tis"]["ingest[0]"]["rendered_map_index"] == "E0/2022-2023.csv"

    per_season = query(
        warehouse_url,
        "SELECT league_code, season_code, COUNT(*) FROM matches "
        "GROUP BY league_code, season_code ORDER BY season_code",
    )
    assert per_season == [("E0", "2022-2023", 380), ("E0", "2023-2024", 380)]
    assert query(warehouse_url, "SELECT COUNT(*) FROM matches")[0][0] == 760
    assert query(warehouse_url, "SELECT COUNT(*) FROM odds")[0][0] > 0
    runs = query(
        warehouse_url,
        "SELECT status, league_code, season_code, matches_loaded FROM ingestion_runs "
        "ORDER BY season_code",
    )
    assert runs == [("loaded", "E0", s, 380) for s in seasons]

    # summarize published the asset event with the totals.
    events = query(
        f"sqlite:///{airflow_home / 'airflow.db'}",
        "SELECT ae.extra FROM asset_event ae JOIN asset a ON a.id = ae.asset_id "
        "WHERE a.uri = :uri AND ae.source_run_id = :run_id",
        uri="sabiscore://warehouse/matches",
        run_id=run["run_id"],
    )
    assert len(events) == 1
    extra = json.loads(events[0][0])
    assert extra["matches"] == 760 and extra["files"] == 2 and extra["odds"] > 0


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_rejected_file_fails_its_mapped_task(
    airflow_home: Path, warehouse_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "football-data"
    (source / "E0").mkdir(parents=True)
    good = source / "E0" / "2023-2024.csv"
    good.write_bytes((SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes())
    bad = source / "E0" / "bad.csv"
    bad.write_text("<html><body>Just a moment...</body></html>\n")

    run = run_ingest(
        airflow_home,
        {"source": "directory", "directory": str(source), "leagues": ["E0"], "seasons": []},
    )

    assert run["state"] == "failed", run
    tis = run["tis"]
    by_label = {
        ti["rendered_map_index"]: ti for key, ti in tis.items() if key.startswith("ingest[")
    }
    assert by_label["E0/2023-2024.csv"]["state"] == "success"
    assert by_label["E0/bad.csv"]["state"] == "failed"
    assert by_label["E0/bad.csv"]["try_number"] == 1, "a rejected file must not be retried"
    assert tis["summarize[-1]"]["state"] == "upstream_failed"

    runs = query(warehouse_url, "SELECT uri, status, check_failed FROM ingestion_runs ORDER BY uri")
    assert runs == [(str(good), "loaded", None), (str(bad), "rejected", "not_csv")]
    assert query(
        warehouse_url, "SELECT league_code, season_code, COUNT(*) FROM matches GROUP BY 1, 2"
    ) == [("E0", "2023-2024", 380)]
