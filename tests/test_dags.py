"""The Airflow DAGs in dags/: integrity of every file, and real runs of every ingest DAG.

Airflow is never imported into the pytest process.  Every Airflow step runs in a
subprocess whose ``AIRFLOW_HOME`` (config, SQLite metadata database, logs) lives
under pytest's tmp_path, so nothing is written into the repository or into
``~/airflow``, and the tests do not depend on the order in which modules import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sabiscore_ml.settings import clear_settings_cache, get_warehouse_settings

REPO = Path(__file__).resolve().parents[1]
DAGS_DIR = REPO / "dags"
PLUGINS_DIR = REPO / "plugins"
SAMPLE_DIR = REPO / "samples" / "football-data"
SAMPLES = REPO / "samples"
# Files starting with "_" are helpers, not DAG files.
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
INGEST_DAG = DAGS_DIR / "ingest_football_data.py"
# The DAGs of the other sources: source -> schedule.
SOURCE_DAGS = {"understat": "@daily", "fbref": "@weekly", "transfermarkt": "@weekly"}

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
                "pool": t.pool,
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

# Calls the `plan` task's function of one DAG (default ingest_football_data) with several Params.
PLAN_CASES = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
dag_id = sys.argv[3] if len(sys.argv) > 3 else "ingest_football_data"
plan = bag.dags[dag_id].get_task("plan").python_callable
results = []
for params in json.loads(sys.argv[2]):
    try:
        results.append({"items": plan(params=params)})
    except ValueError as exc:
        results.append({"error": str(exc)})
print("@@RESULT@@" + json.dumps(results))
"""

# Calls the `summarize` task's function of every source DAG with only skipped files.
SUMMARIZE_ALL_SKIPPED = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowSkipException

bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
results = {}
for dag_id in json.loads(sys.argv[2]):
    summarize = bag.dags[dag_id].get_task("summarize").python_callable
    skipped = {"uri": "a.csv", "status": "skipped", "league": "E0", "season": "2019-2020"}
    try:
        results[dag_id] = {"returned": summarize([skipped, skipped])}
    except AirflowSkipException as exc:
        results[dag_id] = {"skipped": str(exc)}
print("@@RESULT@@" + json.dumps(results))
"""

# Runs one DAG with dag.test() against the metadata DB of AIRFLOW_HOME, after
# creating the pools given as an optional JSON {name: slots}.
RUN_DAG = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

dag_file, dag_id, conf = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
pools = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
if pools:
    from airflow.models.pool import Pool

    for name, slots in pools.items():
        Pool.create_or_update_pool(name, slots, f"{name} (test)", include_deferred=False)
bag = DagBag(dag_folder=dag_file, safe_mode=False)
assert not bag.import_errors, bag.import_errors
run = bag.dags[dag_id].test(run_conf=conf)
tis = {
    f"{ti.task_id}[{ti.map_index}]": {
        "state": None if ti.state is None else str(ti.state),
        "try_number": ti.try_number,
        "rendered_map_index": ti.rendered_map_index,
        "pool": ti.pool,
    }
    for ti in run.get_task_instances()
}
print("@@RESULT@@" + json.dumps({"state": str(run.state), "run_id": run.run_id, "tis": tis}))
"""


# Validates each DAG's Params as the API server does before it creates a run (the
# DAG serialized and read back, its Params merged with a conf, then validated):
# the defaults, and the confs given as JSON {dag_id: [conf, ...]}.
PARAMS_REPORT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization

def error(check):
    try:
        check()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None

bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
confs = json.loads(sys.argv[2])
report = {}
for dag_id, dag in bag.dags.items():
    served = DagSerialization.from_dict(DagSerialization.to_dict(dag)).params
    report[dag_id] = {
        "params": {
            name: {
                "schema": served.get_param(name).schema,
                "default": served.get_param(name).value,
                "description": served.get_param(name).description,
            }
            for name in served
        },
        "sdk_defaults": error(dag.params.validate),
        "defaults": error(lambda: served.deep_merge(None).validate()),
        "confs": [
            error(lambda c=c: served.deep_merge(c).validate()) for c in confs.get(dag_id, [])
        ],
    }
print("@@RESULT@@" + json.dumps(report))
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


# --------------------------------------------------------------------------- Params


def form_requires(schema: dict) -> bool:
    """Whether the trigger form marks the Param required: it has a type, and null is not one."""
    kind = schema.get("type")
    return bool(kind) and not (isinstance(kind, list) and "null" in kind)


# The confs the runs below pass (dag.test() validates them as a triggered run would), the
# confs of a trigger form left empty (null), and confs the form or a REST call might send.
ACCEPTED_CONFS: dict[str, list[dict]] = {
    "ingest_football_data": [
        {"source": "bundled_sample", "leagues": ["E0"], "seasons": ["2022-2023"]},
        {"source": "directory", "directory": "/data", "leagues": ["E0"], "seasons": []},
        {"source": "download", "leagues": ["E0"], "seasons": ["2023-2024"], "refresh": True},
        {"leagues": None, "seasons": None, "directory": None},
        {"leagues": [], "seasons": [], "directory": ""},
    ],
    **{
        f"ingest_{source}": [
            {},
            {"source_dir": "/data", "seasons": ["2019-2020"]},
            {"mode": "live", "leagues": ["SP1"], "seasons": ["2023-2024"]},
            {"source_dir": None, "leagues": None, "seasons": None},
            {"source_dir": "", "leagues": [], "seasons": []},
        ]
        for source in SOURCE_DAGS
    },
    "build_features": [
        {},
        {"as_of": "2024-05-11"},
        {"leagues": ["E0"], "seasons": ["2023-2024"], "full": True},
        {"leagues": None, "seasons": None, "as_of": None},
        {"leagues": [], "seasons": []},
    ],
    "train_ensemble": [
        {"leagues": ["E0"], "n_trials": 2, "as_of": "2024-05-11"},
        {"leagues": ["E0"], "promote": False, "as_of": "2024-05-11"},
        {"leagues": None, "seasons": None, "as_of": None},
        {"leagues": [], "seasons": []},
        {"leagues": ["E0", "E1"], "seasons": ["2022-2023", "2023-2024"], "weights": "design"},
    ],
    "predict_and_publish": [
        {"as_of": "2024-05-16"},
        {"as_of": None, "leagues": None},
        {"leagues": [], "price": "pinnacle"},
    ],
    "recalibrate": [{}, {"method": None}, {"method": "isotonic"}],
    "monitor": [
        {},
        {"leagues": None, "model_version": None, "window_days": None},
        {"leagues": [], "model_version": ""},
        {"leagues": ["E0"], "model_version": "3", "window_days": 14, "fail_on_breach": False},
    ],
}
# Refused, and the error names the Param.
REFUSED_CONFS: dict[str, list[tuple[str, dict]]] = {
    "train_ensemble": [
        ("as_of", {"as_of": "11/05/2024"}),
        ("as_of", {"as_of": "2024-13-01"}),
        ("leagues", {"leagues": "E0"}),
        ("n_trials", {"n_trials": None}),
    ],
    "build_features": [("as_of", {"as_of": "yesterday"})],
    "predict_and_publish": [("as_of", {"as_of": "2024-5-16"})],
    "recalibrate": [("method", {"method": "platt"})],
    "monitor": [("window_days", {"window_days": 0}), ("leagues", {"leagues": "E0"})],
    "ingest_football_data": [("source", {"source": None})],
}


@pytest.fixture(scope="module")
def params_report(parse_home: Path) -> dict:
    """Each DAG's Params as the API server holds them, and which confs they accept."""
    confs = {
        dag_id: ACCEPTED_CONFS.get(dag_id, []) + [c for _, c in REFUSED_CONFS.get(dag_id, [])]
        for dag_id in {*ACCEPTED_CONFS, *REFUSED_CONFS}
    }
    report, _ = run_python(
        PARAMS_REPORT, str(DAGS_DIR), json.dumps(confs), env=airflow_env(parse_home), cwd=parse_home
    )
    return report


def test_params_report_covers_every_dag(params_report: dict) -> None:
    assert sorted(params_report) == sorted(p.stem for p in DAG_FILES)
    assert sorted(ACCEPTED_CONFS) == sorted(params_report)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_default_params_validate_and_suit_the_trigger_form(
    params_report: dict, dag_file: Path
) -> None:
    report = params_report[dag_file.stem]
    assert report["sdk_defaults"] is None, report["sdk_defaults"]
    assert report["defaults"] is None, report["defaults"]
    for name, param in report["params"].items():
        schema, default = param["schema"], param["default"]
        assert schema.get("title") and param["description"], f"{name}: no title or description"
        if form_requires(schema):
            # the form refuses an empty value for a required field: "", [] or nothing
            assert default not in (None, "", []), (
                f"{dag_file.stem}.{name}: required in the form but defaults to {default!r}; "
                'make it nullable (a type list with "null") with a null default'
            )
        else:
            assert "null" in schema["type"]
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "array" in kinds:
            assert "null" in kinds, f"{dag_file.stem}.{name}: a list may be empty: make it nullable"
        if name == "as_of" or "date" in (schema.get("title") or "").lower():
            assert kinds == ["null", "string"] and schema.get("format") == "date", (name, schema)
            assert default is None


@pytest.mark.parametrize("dag_id", sorted(ACCEPTED_CONFS))
def test_confs_of_the_form_and_of_existing_callers_validate(
    params_report: dict, dag_id: str
) -> None:
    accepted = ACCEPTED_CONFS[dag_id]
    errors = params_report[dag_id]["confs"][: len(accepted)]
    assert dict(zip(map(json.dumps, accepted), errors, strict=True)) == dict.fromkeys(
        map(json.dumps, accepted)
    )


@pytest.mark.parametrize("dag_id", sorted(REFUSED_CONFS))
def test_bad_confs_are_refused_naming_the_param(params_report: dict, dag_id: str) -> None:
    errors = params_report[dag_id]["confs"][len(ACCEPTED_CONFS[dag_id]) :]
    for (name, conf), error in zip(REFUSED_CONFS[dag_id], errors, strict=True):
        assert error is not None, f"{conf} was accepted"
        assert f"Invalid input for param {name}:" in error, error


def test_plans_read_null_params_as_empty(parse_home: Path) -> None:
    # The trigger form sends null for a list or folder left empty: the same plan as [] / "".
    football = [
        {"source": "bundled_sample", "leagues": ["E0"], "seasons": None, "directory": None},
        {"source": "bundled_sample", "leagues": ["E0"], "seasons": [], "directory": ""},
        {"source": "bundled_sample", "leagues": None, "seasons": None},
        {"source": "bundled_sample", "leagues": [], "seasons": []},
        {"source": "directory", "directory": None},
        {"source": "download", "leagues": ["E0"], "seasons": None},
    ]
    results, _ = run_python(
        PLAN_CASES,
        str(INGEST_DAG),
        json.dumps(football),
        env=airflow_env(parse_home),
        cwd=parse_home,
    )
    null_seasons, empty_seasons, null_all, empty_all, null_dir, null_download = results
    assert null_seasons == empty_seasons and len(null_seasons["items"]) > 1
    assert null_all == empty_all and len(null_all["items"]) > len(null_seasons["items"])
    assert "directory" in null_dir["error"]
    assert "seasons" in null_download["error"]

    understat = [
        {"mode": "files", "source_dir": None, "leagues": None, "seasons": None},
        {"mode": "files", "source_dir": "", "leagues": [], "seasons": []},
        {"mode": "live", "source_dir": None, "leagues": None, "seasons": None},
    ]
    results, _ = run_python(
        PLAN_CASES,
        str(DAGS_DIR / "ingest_understat.py"),
        json.dumps(understat),
        "ingest_understat",
        env=airflow_env(parse_home),
        cwd=parse_home,
    )
    null_files, empty_files, null_live = results
    assert null_files == empty_files and len(null_files["items"]) == 3
    assert "mode=live needs 'leagues'" in null_live["error"]


def test_model_requests_read_null_params_as_empty() -> None:
    from sabiscore_ml.jobs.predict import PredictRequest
    from sabiscore_ml.jobs.training import TrainRequest

    form = {"leagues": None, "seasons": None, "as_of": None, "n_trials": 0, "promote": True}
    assert TrainRequest.from_dict(form) == TrainRequest.from_dict({"leagues": [], "seasons": []})
    assert TrainRequest.from_dict(form) == TrainRequest()
    assert PredictRequest.from_dict({"as_of": None, "leagues": None}) == PredictRequest()
    assert PredictRequest.from_dict({"as_of": None}).mode == "live"


def test_ingest_dag_shape(dagbag_report: dict) -> None:
    info = dagbag_report["dags"]["ingest_football_data"]
    assert set(info["tags"]) == {"sabiscore", "ingest", "football-data"}
    assert info["retries"] == 2 and "retry_delay" in info["default_args"]
    assert info["catchup"] is False
    assert info["max_active_runs"] == 1
    assert info["start_date"].startswith("2024-01-01T00:00:00")
    assert info["param_defaults"] == {
        "leagues": ["E0", "E1"],
        "seasons": None,
        "source": "bundled_sample",
        "directory": None,
        "refresh": False,
    }
    assert info["params"]["source"]["enum"] == ["bundled_sample", "directory", "download"]
    assert info["params"]["leagues"]["type"] == ["null", "array"]
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


@pytest.mark.parametrize("source", SOURCE_DAGS)
def test_source_dag_shape(dagbag_report: dict, source: str) -> None:
    assert DAGS_DIR / f"ingest_{source}.py" in DAG_FILES
    info = dagbag_report["dags"][f"ingest_{source}"]
    assert set(info["tags"]) == {"sabiscore", "ingest", source}
    assert info["schedule"] == SOURCE_DAGS[source]
    assert info["catchup"] is False
    assert info["max_active_runs"] == 1
    assert info["retries"] == 2 and "retry_delay" in info["default_args"]
    assert info["param_defaults"] == {
        "mode": "files",
        "source_dir": None,
        "leagues": None,
        "seasons": None,
        "refresh": False,
    }
    assert info["params"]["mode"]["enum"] == ["files", "live"]
    assert info["params"]["refresh"]["type"] == "boolean"
    assert info["params"]["source_dir"]["type"] == ["null", "string"]
    for name in ("leagues", "seasons"):
        assert info["params"][name]["type"] == ["null", "array"]
        assert info["params"][name]["items"] == {"type": "string"}

    tasks = info["tasks"]
    assert set(tasks) == {"migrate_warehouse", "plan", "ingest", "summarize"}
    assert tasks["ingest"]["mapped"] is True
    assert tasks["ingest"]["upstream"] == ["migrate_warehouse", "plan"]
    assert tasks["summarize"]["upstream"] == ["ingest"]
    assert tasks["summarize"]["trigger_rule"] == "all_success"
    assert tasks["summarize"]["outlets"] == [f"sabiscore://warehouse/{source}"]
    # FBref is sent one request at a time: its ingest tasks share a one-slot pool.
    assert tasks["ingest"]["pool"] == ("fbref" if source == "fbref" else "default_pool")
    if source == "fbref":
        assert 'airflow pools set fbref 1 "FBref: one request at a time"' in info["doc_md"]


def test_source_plan_turns_params_into_work_items(parse_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        {"source_dir": "", "leagues": [], "seasons": []},
        {"source_dir": str(SAMPLES / "understat"), "leagues": ["E0"], "seasons": ["2020/21"]},
        {"source_dir": str(tmp_path / "no"), "leagues": [], "seasons": []},
        {"source_dir": str(empty), "leagues": [], "seasons": []},
        {"source_dir": "", "leagues": ["E0", "E1"], "seasons": []},
        {"source_dir": "", "leagues": [], "seasons": ["last year"]},
        {"mode": "live", "leagues": ["E0", "SP1"], "seasons": ["2020-2021"], "refresh": True},
        {"mode": "live", "leagues": [], "seasons": []},
    ]
    results, _ = run_python(
        PLAN_CASES,
        str(DAGS_DIR / "ingest_understat.py"),
        json.dumps(cases),
        "ingest_understat",
        env=airflow_env(parse_home),
        cwd=parse_home,
    )
    bundled, filtered, missing_dir, nothing, two_leagues, bad_season, live, no_league = results

    folder = SAMPLES / "understat"
    shots_csv = str(next(folder.glob("E0/shots_*.csv")))
    assert bundled == {
        "items": [
            # the E0/ folder names the league of the file under it
            {"kind": "file", "source": "understat", "league": "E0", "path": shots_csv},
            {"kind": "file", "source": "understat", "path": str(folder / "league_epl.html")},
            {"kind": "file", "source": "understat", "path": str(folder / "match.html")},
        ]
    }
    assert {item["league"] for item in filtered["items"]} == {"E0"}
    assert {item["seasons"] for item in filtered["items"]} == {"2020-2021"}
    assert len(filtered["items"]) == 3
    assert "does not exist" in missing_dir["error"]
    assert "nothing to ingest" in nothing["error"]
    assert "at most one league" in two_leagues["error"]
    assert "last year" in bad_season["error"]
    assert live == {
        "items": [
            {"kind": "live", "source": "understat", "league": league, "season": "2020-2021"}
            | {"refresh": "1"}
            for league in ("E0", "SP1")
        ]
    }
    assert "mode=live needs 'leagues'" in no_league["error"]


def test_source_summarize_is_skipped_when_every_file_was(parse_home: Path) -> None:
    # A skipped summarize publishes no asset event: nothing downstream reruns for nothing.
    dag_ids = [f"ingest_{source}" for source in SOURCE_DAGS]
    results, _ = run_python(
        SUMMARIZE_ALL_SKIPPED,
        str(DAGS_DIR),
        json.dumps(dag_ids),
        env=airflow_env(parse_home),
        cwd=parse_home,
    )
    assert results == {
        dag_id: {"skipped": "all 2 file(s) skipped: nothing loaded"} for dag_id in dag_ids
    }


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


# ------------------------------------------------------ end to end: the other sources

# The football-data league-seasons the bundled Understat, FBref and Transfermarkt
# samples reconcile against (E1 2018-2019 holds Ipswich, in Transfermarkt's
# 2024-2025 table, a season football-data's sample does not cover).
FOOTBALL_DATA_FOR_SOURCES = [
    ("E0", "2020-2021"),
    ("E0", "2021-2022"),
    ("E0", "2022-2023"),
    ("E0", "2023-2024"),
    ("E1", "2017-2018"),  # Sunderland, of Transfermarkt's 2025-26 Premier League table
    ("E1", "2018-2019"),
    ("F1", "2020-2021"),
    ("I1", "2020-2021"),
    ("SP1", "2023-2024"),
]

# Migrates the warehouse of SABISCORE_HOME and loads football-data league-seasons into it.
LOAD_FOOTBALL_DATA = r"""
import json, sys
from sabiscore_ml.jobs.football_data import plan_football_data, run_item
from sabiscore_ml.settings import get_warehouse_settings
from sabiscore_ml.warehouse.engine import migrate

migrate()
loaded = []
for league, season in json.loads(sys.argv[2]):
    items = plan_football_data(from_dir=sys.argv[1], leagues=[league], seasons=[season])
    assert len(items) == 1, (league, season, items)
    outcome = run_item(items[0])
    assert outcome.ok, outcome
    loaded.append([league, season, outcome.matches])
print("@@RESULT@@" + json.dumps({"url": get_warehouse_settings().url, "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def football_data_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite warehouse file holding the football-data the other sources reconcile with.

    Loaded once per module (the first football-data file pays the validation
    start-up); each test copies the file into its own SABISCORE_HOME.
    """
    home = tmp_path_factory.mktemp("sabiscore-football-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SABISCORE_"))}
    env.update(SABISCORE_HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    result, _ = run_python(
        LOAD_FOOTBALL_DATA,
        str(SAMPLE_DIR),
        json.dumps(FOOTBALL_DATA_FOR_SOURCES),
        env=env,
        cwd=home,
    )
    assert [tuple(row[:2]) for row in result["loaded"]] == FOOTBALL_DATA_FOR_SOURCES
    database = Path(make_url(result["url"]).database or "")
    assert database.is_file() and home in database.parents, result["url"]
    return database


@pytest.fixture
def source_warehouse(warehouse_url: str, football_data_warehouse: Path) -> str:
    """This test's warehouse, starting with the football-data league-seasons loaded."""
    database = Path(make_url(warehouse_url).database or "")
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(football_data_warehouse, database)
    return warehouse_url


def run_source_dag(
    airflow_home: Path, source: str, conf: dict, pools: dict[str, int] | None = None
) -> dict:
    """Run ingest_<source> once with ``conf`` (creating ``pools`` first); return its states."""
    result, _ = run_python(
        RUN_DAG,
        str(DAGS_DIR / f"ingest_{source}.py"),
        f"ingest_{source}",
        json.dumps(conf),
        json.dumps(pools or {}),
        env=airflow_env(airflow_home),  # built from os.environ, so SABISCORE_HOME follows
        cwd=airflow_home,
    )
    return result


def asset_extras(airflow_home: Path, uri: str, run_id: str) -> list[dict]:
    """The extras of the asset events ``run_id`` published for ``uri``."""
    rows = query(
        f"sqlite:///{airflow_home / 'airflow.db'}",
        "SELECT ae.extra FROM asset_event ae JOIN asset a ON a.id = ae.asset_id "
        "WHERE a.uri = :uri AND ae.source_run_id = :run_id",
        uri=uri,
        run_id=run_id,
    )
    return [json.loads(row[0]) for row in rows]


def ingest_states(run: dict) -> dict[str, str]:
    """Rendered map index (file name) -> state of every mapped ingest task."""
    return {
        ti["rendered_map_index"]: ti["state"]
        for key, ti in run["tis"].items()
        if key.startswith("ingest[")
    }


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_understat_dag_skips_other_seasons_and_fails_rejected_files(
    airflow_home: Path, source_warehouse: str, tmp_path: Path
) -> None:
    folder = tmp_path / "understat"
    folder.mkdir()
    (folder / "match.html").write_bytes((SAMPLES / "understat" / "match.html").read_bytes())
    (folder / "bad.html").write_text("<html><body>Just a moment...</body></html>\n")

    run = run_source_dag(
        airflow_home, "understat", {"source_dir": str(folder), "seasons": ["2019-2020"]}
    )

    assert run["state"] == "failed", run
    assert ingest_states(run) == {"bad.html": "failed", "match.html": "success"}
    bad = next(ti for ti in run["tis"].values() if ti["rendered_map_index"] == "bad.html")
    assert bad["try_number"] == 1, "a rejected file must not be retried"
    assert run["tis"]["summarize[-1]"]["state"] == "upstream_failed"
    # the skipped file left no trace; the rejected one is logged with its check
    runs = query(
        source_warehouse,
        "SELECT uri, status, check_failed FROM ingestion_runs WHERE source = 'understat'",
    )
    assert [(uri, status) for uri, status, _ in runs] == [(str(folder / "bad.html"), "rejected")]
    assert runs[0][2]
    assert query(source_warehouse, "SELECT COUNT(*) FROM source_matches")[0][0] == 0


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_understat_dag_loads_the_bundled_sample(airflow_home: Path, source_warehouse: str) -> None:
    run = run_source_dag(airflow_home, "understat", {})

    assert run["state"] == "success", run
    assert ingest_states(run) == {
        "shots_epl_20-21_matches_14086_14717.csv": "success",
        "league_epl.html": "success",
        "match.html": "success",
    }
    assert run["tis"]["summarize[-1]"]["state"] == "success"
    # the league page holds every fixture; the match page and shot CSV add shots
    assert query(
        source_warehouse,
        "SELECT league_code, season_code, COUNT(*), COUNT(match_id) FROM source_matches "
        "WHERE source = 'understat' GROUP BY 1, 2",
    ) == [("E0", "2020-2021", 380, 327)]
    assert query(source_warehouse, "SELECT COUNT(*) FROM shots WHERE source = 'understat'") == [
        (37,)
    ]
    assert query(
        source_warehouse,
        "SELECT status, COUNT(*) FROM ingestion_runs WHERE source = 'understat' GROUP BY 1",
    ) == [("loaded", 3)]
    extras = asset_extras(airflow_home, "sabiscore://warehouse/understat", run["run_id"])
    assert extras == [{"league_seasons": ["E0 2020-2021"], "skipped": 0, "files": 3, "rows": 383}]


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_fbref_dag_loads_the_bundled_sample_in_its_pool(
    airflow_home: Path, source_warehouse: str
) -> None:
    run = run_source_dag(airflow_home, "fbref", {}, pools={"fbref": 1})

    assert run["state"] == "success", run
    ingest = {key: ti for key, ti in run["tis"].items() if key.startswith("ingest[")}
    assert len(ingest) == 5
    assert {ti["state"] for ti in ingest.values()} == {"success"}
    assert {ti["pool"] for ti in ingest.values()} == {"fbref"}
    assert run["tis"]["plan[-1]"]["pool"] == "default_pool"
    pool = query(
        f"sqlite:///{airflow_home / 'airflow.db'}",
        "SELECT slots FROM slot_pool WHERE pool = 'fbref'",
    )
    assert pool == [(1,)]

    assert query(
        source_warehouse,
        "SELECT league_code, season_code, COUNT(*), COUNT(match_id) FROM source_matches "
        "WHERE source = 'fbref' GROUP BY 1, 2 ORDER BY 1, 2",
    ) == [("F1", "2020-2021", 380, 380), ("I1", "2020-2021", 1, 1), ("SP1", "2023-2024", 380, 380)]
    assert query(source_warehouse, "SELECT COUNT(*) FROM team_season_stats") == [(480,)]
    assert query(source_warehouse, "SELECT COUNT(*) FROM team_match_logs") == [(42,)]
    assert query(source_warehouse, "SELECT COUNT(*) FROM shots WHERE source = 'fbref'") == [(21,)]
    extras = asset_extras(airflow_home, "sabiscore://warehouse/fbref", run["run_id"])
    assert len(extras) == 1
    assert extras[0]["files"] == 5 and extras[0]["rows"] == 1283 and extras[0]["skipped"] == 0


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_transfermarkt_dag_loads_the_bundled_sample(
    airflow_home: Path, source_warehouse: str
) -> None:
    run = run_source_dag(airflow_home, "transfermarkt", {})

    assert run["state"] == "success", run
    bundled = [
        "premier_league_squad_values_2020_2024.csv",
        "tm_market_values_clubs_2025_26.csv",
        "tm_market_values_players_2025_26.csv",
        *(f"{table}.csv" for table in ("clubs", "competitions", "games")),
        *(f"{table}.csv" for table in ("player_valuations", "players")),
    ]
    assert ingest_states(run) == dict.fromkeys(bundled, "success")
    assert query(
        source_warehouse,
        "SELECT season_code, COUNT(*) FROM squad_values WHERE source = 'transfermarkt' "
        "GROUP BY 1 ORDER BY 1",
    ) == [(f"{y}-{y + 1}", 20) for y in range(2020, 2026)]
    extras = asset_extras(airflow_home, "sabiscore://warehouse/transfermarkt", run["run_id"])
    # the dataset tables span several leagues and seasons: they name none
    assert extras == [
        {
            "league_seasons": ["E0 2020-2021", "E0 2025-2026", "all leagues and seasons"],
            "skipped": 0,
            "files": 8,
            "rows": 100 + 20 + 96 + 451 + 49 + 100 + 1000 + 29,
        }
    ]


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_fbref_dag_live_mode_fetches_league_seasons_in_its_pool(
    airflow_home: Path, source_warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One run: what a second one does (the finished season served from the archive, the
    # item skipped) is the library's, tested in test_live_ingest.py without Airflow.
    import gzip

    from http_server import ScriptedServer

    page = gzip.decompress((SAMPLES / "fbref" / "schedule_ESP-La_Liga_2324.html.gz").read_bytes())
    path = "/en/comps/12/2023-2024/schedule/2023-2024-La-Liga-Scores-and-Fixtures"
    conf = {"mode": "live", "leagues": ["SP1"], "seasons": ["2023-2024"]}
    with ScriptedServer() as server:
        server.add(path, 200, page, "text/html; charset=utf-8", headers={"ETag": '"v1"'})
        monkeypatch.setenv("SABISCORE_FBREF_BASE_URL", server.url)
        monkeypatch.setenv("SABISCORE_FETCH_FBREF_MIN_INTERVAL_SECONDS", "0")
        run = run_source_dag(airflow_home, "fbref", conf, pools={"fbref": 1})

    assert run["state"] == "success", run
    assert ingest_states(run) == {"SP1 2023-2024": "success"}
    assert {ti["pool"] for k, ti in run["tis"].items() if k.startswith("ingest[")} == {"fbref"}
    assert asset_extras(airflow_home, "sabiscore://warehouse/fbref", run["run_id"]) == [
        {"league_seasons": ["SP1 2023-2024"], "skipped": 0, "files": 1, "rows": 380}
    ]
    assert [p for p, _ in server.requests] == [path]
    assert query(
        source_warehouse,
        "SELECT uri, status FROM ingestion_runs WHERE source = 'fbref' ORDER BY id",
    ) == [(f"{server.url}{path}", "loaded")]


# --------------------------------------------------------------------------- features


def test_build_features_dag_shape(dagbag_report: dict) -> None:
    info = dagbag_report["dags"]["build_features"]
    assert set(info["tags"]) == {"sabiscore", "features"}
    assert info["param_defaults"] == {
        "leagues": None,
        "seasons": None,
        "full": False,
        "as_of": None,
    }
    tasks = info["tasks"]
    assert set(tasks) == {"migrate_warehouse", "plan", "build", "refresh_online"}
    assert tasks["build"]["mapped"] is True
    assert tasks["build"]["outlets"] == ["sabiscore://features/offline"]
    assert tasks["refresh_online"]["outlets"] == ["sabiscore://features/online"]
    assert tasks["refresh_online"]["trigger_rule"] == "none_failed"


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_build_features_dag_builds_then_finds_nothing_stale(
    airflow_home: Path, source_warehouse: str
) -> None:
    def run(conf: dict) -> dict:
        result, _ = run_python(
            RUN_DAG,
            str(DAGS_DIR / "build_features.py"),
            "build_features",
            json.dumps(conf),
            env=airflow_env(airflow_home),
            cwd=airflow_home,
        )
        return result

    first = run({"as_of": "2024-05-11"})
    assert first["state"] == "success", first
    built = {ti["rendered_map_index"] for k, ti in first["tis"].items() if k.startswith("build[")}
    assert built == {"England", "France", "Italy", "Spain"}
    partitions = query(
        source_warehouse,
        "SELECT league_code, season_code, rows FROM feature_partitions ORDER BY 1, 2",
    )
    assert partitions == [
        ("E0", "2020-2021", 380),
        ("E0", "2021-2022", 380),
        ("E0", "2022-2023", 380),
        ("E0", "2023-2024", 380),
        ("E1", "2017-2018", 552),
        ("E1", "2018-2019", 552),
        ("F1", "2020-2021", 380),
        ("I1", "2020-2021", 380),
        ("SP1", "2023-2024", 380),
    ]
    for league, season, _ in partitions:
        assert (
            Path(os.environ["SABISCORE_HOME"])
            / "features"
            / "offline"
            / f"league={league}"
            / f"season={season}"
            / "features.parquet"
        ).is_file()
    # the fixtures of the 14-day horizon: E0's and LaLiga's last matchdays
    (upcoming,) = query(
        source_warehouse,
        "SELECT COUNT(*) FROM matches WHERE match_date >= '2024-05-11' "
        "AND match_date < '2024-05-25'",
    )[0]
    assert upcoming > 20
    assert query(source_warehouse, "SELECT COUNT(*) FROM online_features") == [(upcoming,)]
    online = asset_extras(airflow_home, "sabiscore://features/online", first["run_id"])
    assert online[0]["matches"] == upcoming and online[0]["backend"] == "warehouse"

    second = run({"as_of": "2024-05-11"})
    assert second["state"] == "success", second
    states = {k: ti["state"] for k, ti in second["tis"].items()}
    assert not [k for k in states if k.startswith("build[") and states[k] == "success"]
    assert states["refresh_online[-1]"] == "success"


# --------------------------------------------------------------------------- models


def test_train_ensemble_dag_shape(dagbag_report: dict) -> None:
    info = dagbag_report["dags"]["train_ensemble"]
    assert set(info["tags"]) == {"sabiscore", "models"}
    assert info["param_defaults"] == {
        "leagues": None,
        "seasons": None,
        "n_trials": 0,
        "promote": True,
        "weights": "stacking",
        "as_of": None,
        "evaluation_seasons": 1,
    }
    tasks = info["tasks"]
    assert set(tasks) == {
        "snapshot",
        "tune",
        "fit",
        "evaluate",
        "register",
        "should_promote",
        "promote",
    }
    assert tasks["promote"]["outlets"] == ["sabiscore://models/sabiscore-1x2/champion"]


def test_recalibrate_dag_shape(dagbag_report: dict) -> None:
    info = dagbag_report["dags"]["recalibrate"]
    assert set(info["tags"]) == {"sabiscore", "models"}
    assert info["param_defaults"] == {"method": None}
    assert info["params"]["method"]["enum"] == [None, "isotonic", "sigmoid", "temperature"]
    assert set(info["tasks"]) == {"recalibrate_champion"}
    assert info["tasks"]["recalibrate_champion"]["outlets"] == [
        "sabiscore://models/sabiscore-1x2/champion"
    ]


def test_predict_and_publish_dag_shape(dagbag_report: dict) -> None:
    info = dagbag_report["dags"]["predict_and_publish"]
    assert set(info["tags"]) == {"sabiscore", "predictions"}
    assert info["param_defaults"] == {
        "as_of": None,
        "leagues": None,
        "days": 4,
        "edge": 0.042,
        "kelly": 0.125,
        "price": "best",
        "portfolio": "default",
    }
    tasks = info["tasks"]
    assert set(tasks) == {"refresh_fixtures", "score", "publish"}
    assert tasks["refresh_fixtures"]["upstream"] == []
    # a failed refresh does not stop the scoring of the fixtures already known
    assert tasks["score"]["upstream"] == ["refresh_fixtures"]
    assert tasks["score"]["trigger_rule"] == "all_done"
    assert tasks["publish"]["upstream"] == ["score"]
    assert tasks["publish"]["trigger_rule"] == "all_success"
    assert tasks["publish"]["outlets"] == ["sabiscore://predictions/current"]
    assert "refresh_fixtures" in info["doc_md"] and "all_done" in info["doc_md"]


@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_model_dags_train_promote_predict_and_publish(
    airflow_home: Path, warehouse_url: str
) -> None:
    from typer.testing import CliRunner

    from sabiscore_ml.cli import app
    from sabiscore_ml.warehouse.engine import get_engine

    get_engine.cache_clear()
    loaded = CliRunner().invoke(
        app, ["ingest", "football-data", "--from-dir", str(SAMPLE_DIR), "--league", "E0"]
    )
    assert loaded.exit_code == 0, loaded.output
    get_engine.cache_clear()

    def run(dag: str, conf: dict) -> dict:
        result, _ = run_python(
            RUN_DAG,
            str(DAGS_DIR / f"{dag}.py"),
            dag,
            json.dumps(conf),
            env=airflow_env(airflow_home),
            cwd=airflow_home,
        )
        assert result["state"] == "success", result
        return result

    run("build_features", {})
    trained = run("train_ensemble", {"leagues": ["E0"], "n_trials": 2, "as_of": "2024-05-11"})
    states = {k.split("[")[0]: ti["state"] for k, ti in trained["tis"].items()}
    assert states == {
        "snapshot": "success",
        "tune": "success",
        "fit": "success",
        "evaluate": "success",
        "register": "success",
        "should_promote": "success",
        "promote": "success",
    }
    champion = asset_extras(
        airflow_home, "sabiscore://models/sabiscore-1x2/champion", trained["run_id"]
    )
    assert champion == [{"version": "1", "promoted": True}]
    assert query(warehouse_url, "SELECT version, alias FROM model_versions") == [("1", "champion")]
    # the Optuna study survived in its database, with both trials
    import optuna

    storage = f"sqlite:///{Path(os.environ['SABISCORE_HOME']) / 'optuna.db'}"
    (study,) = optuna.get_all_study_summaries(storage)
    assert study.n_trials == 2

    published = run("predict_and_publish", {"as_of": "2024-05-16"})
    assert published["tis"]["publish[-1]"]["state"] == "success"
    assert published["tis"]["refresh_fixtures[-1]"]["state"] == "success"  # a replay: no request
    rows = query(
        warehouse_url,
        "SELECT r.mode, r.model_version, COUNT(p.match_id), MIN(m.match_date) "
        "FROM prediction_runs r JOIN run_predictions p ON p.run_id = r.run_id "
        "JOIN matches m ON m.id = p.match_id GROUP BY r.mode, r.model_version",
    )
    assert rows == [("replay", "1", 10, "2024-05-19")]

    # without promotion the new version stays the challenger and no asset event is sent
    again = run("train_ensemble", {"leagues": ["E0"], "promote": False, "as_of": "2024-05-11"})
    assert again["tis"]["promote[-1]"]["state"] == "skipped"
    assert query(warehouse_url, "SELECT version, alias FROM model_versions ORDER BY version") == [
        ("1", "champion"),
        ("2", "challenger"),
    ]
