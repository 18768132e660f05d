"""The local stack (``deploy/stack.py``, ``make stack``) and the compose file agree.

``deploy/stack.env`` is the one environment both read: compose through ``env_file:``,
the stack directly.  These tests hold the stack to replacing only the values that name
a compose host, port or container path, to setting exactly the keys compose
interpolates from its secrets, and to running the commands the compose services run.
They also check what the stack's settings are for: joblib keeps its threads in a
daemonic process (a Celery pool process), and ``down`` stops only what ``up`` started.
The stack itself is started in ``tests/test_stack_e2e.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.airflow.yml"
STACK_ENV = ROOT / "deploy" / "stack.env"
SECRET_NAME = re.compile(r"PASSWORD(?!S_FILE)|SECRET|FERNET|TOKEN|_KEY$")


def load_stack_module():
    spec = importlib.util.spec_from_file_location("sabiscore_stack", ROOT / "deploy" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


stack_module = load_stack_module()


def compose_services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]


def compose_environment(name: str) -> dict[str, str]:
    env = compose_services()[name].get("environment") or {}
    return {str(k): str(v) for k, v in env.items()}


def compose_env_files(name: str) -> list[Path]:
    files = compose_services()[name].get("env_file") or []
    files = [files] if isinstance(files, (str, dict)) else files
    return [
        (COMPOSE_FILE.parent / (f["path"] if isinstance(f, dict) else f)).resolve() for f in files
    ]


def names_a_compose_location(value: str) -> bool:
    """A compose host name in a URL, or a path inside a container."""
    if value.startswith(("/opt/", "/mlflow")):
        return True
    host = urlsplit(value).hostname if "://" in value else None
    return host in compose_services()


@pytest.fixture
def stack(tmp_path: Path):
    return stack_module.Stack(tmp_path / "state", name="sabiscore_stack_unit")


# --------------------------------------------------------------------------- one environment


def test_every_service_the_stack_stands_for_exists_in_compose():
    assert set(stack_module.SECRET_KEYS) <= set(compose_services())
    standing_for = {s.compose_service for s in stack_module.services(stack_module.Stack(ROOT))}
    assert standing_for | {"airflow-init"} == set(stack_module.SECRET_KEYS)


def test_compose_services_read_the_stack_env_file():
    for name in stack_module.SECRET_KEYS:
        expected = [] if name == "mlflow" else [STACK_ENV.resolve()]
        assert compose_env_files(name) == expected, name


def test_compose_environment_holds_only_the_secret_settings():
    """What compose sets besides the env file is what the stack makes itself."""
    for name, keys in stack_module.SECRET_KEYS.items():
        env = compose_environment(name)
        assert set(env) - stack_module.CONTAINER_ONLY_KEYS == set(keys), name
        for key in keys:
            assert "${" in env[key], f"{name}: {key} holds no interpolated secret"
        assert not set(env) & set(stack_module.read_env_file()), f"{name}: shadows the env file"


def test_the_env_file_holds_no_secret():
    for key, value in stack_module.read_env_file().items():
        assert not SECRET_NAME.search(key), key
        assert "${" not in value, key
        assert not re.search(r"://[^/@\s]*:[^/@\s]*@", value), f"{key}: a password in a URL"


def test_the_stack_replaces_exactly_the_compose_hosts_ports_and_paths():
    shared = stack_module.read_env_file()
    located = {key for key, value in shared.items() if names_a_compose_location(value)}
    assert located == set(stack_module.LOCAL_VALUES)


def test_each_process_gets_its_compose_environment(stack):
    shared = stack_module.read_env_file()
    local = stack.local_values()
    for service in [*stack_module.SECRET_KEYS]:
        env = stack.environment(service)
        compose_keys = set(compose_environment(service)) - stack_module.CONTAINER_ONLY_KEYS
        if service != "mlflow":
            compose_keys |= set(shared)
            for key, value in shared.items():
                expected = local[key] if key in stack_module.LOCAL_VALUES else value
                assert env[key] == expected, f"{service}: {key}"
        assert compose_keys <= set(env), f"{service}: missing {compose_keys - set(env)}"
    # the replaced values point at this machine and the stack's own state dir
    for key in stack_module.LOCAL_VALUES:
        value = local[key]
        if "://" in value:
            assert urlsplit(value).hostname == "127.0.0.1", key
        else:
            assert Path(value).is_relative_to(stack.state_dir) or Path(value).is_relative_to(
                ROOT
            ), key


def test_the_stack_uses_its_own_databases_and_redis_prefixes(stack):
    env = stack.environment("airflow-worker")
    assert env["SABISCORE_DATABASE_URL"].endswith("/sabiscore_stack_unit_warehouse")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/sabiscore_stack_unit_airflow")
    assert stack.environment("mlflow")["MLFLOW_BACKEND_STORE_URI"].endswith(
        "/sabiscore_stack_unit_mlflow"
    )
    assert (
        env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    )
    assert env["SABISCORE_REDIS_PREFIX"] == "sabiscore_stack_unit"
    assert env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"].startswith(
        "sabiscore_stack_unit:"
    )


def test_the_result_backend_names_an_installed_driver():
    """``db+postgresql://`` alone is psycopg 3 under SQLAlchemy 2.1; compose names its driver."""
    from sqlalchemy.engine import make_url

    backend = compose_environment("airflow-worker")["AIRFLOW__CELERY__RESULT_BACKEND"]
    scheme = backend.removeprefix("db+").split("://", 1)[0]
    assert scheme == "postgresql+psycopg2"
    make_url(f"{scheme}://u@h/d").get_dialect().import_dbapi()
    # the metadata database's async engine (Airflow 3) is asyncpg's
    import asyncpg  # noqa: F401


# --------------------------------------------------------------------------- commands, ports


def _shape(argv: list[str]) -> tuple[str, tuple[str, ...], frozenset[str]]:
    """Program name, its subcommands (words before the first option) and its option names."""
    words = [str(w) for w in argv]
    head = []
    for word in words[1:]:
        if word.startswith("-"):
            break
        head.append(word)
    return Path(words[0]).name, tuple(head), frozenset(w for w in words if w.startswith("--"))


def test_the_stack_runs_the_compose_commands():
    services = compose_services()
    for service in stack_module.services(stack_module.Stack(ROOT)):
        compose_argv = services[service.compose_service]["command"]
        assert _shape(list(service.argv)) == _shape(compose_argv), service.name
    init_script = services["airflow-init"]["command"][2]
    for argv in stack_module.init_commands():
        assert f"{Path(argv[0]).name} {' '.join(argv[1:])}" in init_script


def test_default_ports_collide_with_no_other_target():
    ports = list(stack_module.DEFAULT_PORTS.values())
    assert len(set(ports)) == len(ports)
    # make airflow (8080, its log servers, scheduler health), make serve (8000), MLflow's 5000
    assert not set(ports) & {8080, 8793, 8794, 8974, 8000, 5000}
    low, _ = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert max(ports) < low, "the tests' free ports come from the ephemeral range"


# --------------------------------------------------------------------------- joblib in a worker

PROBE = textwrap.dedent(
    """
    import json, multiprocessing as mp, warnings

    def fit(queue):
        import numpy as np
        import pandas as pd
        import sklearn.ensemble._forest as forest
        from sabiscore_ml.models import estimators

        jobs = []  # the jobs the forest's predictions are split into
        partition = forest._partition_estimators

        def spy(n_estimators, n_jobs):
            found = partition(n_estimators, n_jobs)
            jobs.append(found[0])
            return found

        forest._partition_estimators = spy
        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.random((300, 4)), columns=list('abcd'))
        outcome = rng.integers(0, 3, 300)
        result = {}
        for way in ("library", "bare"):
            jobs.clear()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = estimators.make_member("rf", {"n_estimators": 8, "min_samples_leaf": 5})
                if way == "library":
                    model = estimators._fit_member(model, X, outcome)
                    estimators._member_probs(model, X)
                else:
                    model.fit(X.to_numpy(), outcome).predict_proba(X.to_numpy())
            result[way] = {
                "n_jobs": model.n_jobs,
                "prediction_jobs": jobs[:],
                "warnings": [str(w.message) for w in caught],
            }
        queue.put(result)

    def guarded(queue):
        try:
            fit(queue)
        except BaseException:
            import traceback

            queue.put({"error": traceback.format_exc()})

    if __name__ == "__main__":
        mp.set_start_method("fork")
        queue = mp.Queue()
        child = mp.Process(target=guarded, args=(queue,), daemon=True)  # a Celery pool process
        child.start()
        print(json.dumps(queue.get(timeout=120)))
        child.join()
    """
)


def test_the_forest_keeps_its_threads_in_a_daemonic_process(tmp_path: Path):
    """A Celery pool process is daemonic: the ensemble's forest still predicts on its threads."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = {**os.environ, "SABISCORE_MODEL_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in result, result.get("error")
    assert result["library"] == {"n_jobs": 2, "prediction_jobs": [2], "warnings": []}
    # the same forest outside the ensemble's helpers: one job, and joblib's warning
    bare = result["bare"]
    assert bare["n_jobs"] == 2 and bare["prediction_jobs"] == [1]
    assert any("cannot be called in a multiprocessing" in w for w in bare["warnings"])


# --------------------------------------------------------------------------- processes


def test_down_stops_exactly_what_up_started(stack):
    sleeper = stack_module.Service("sleeper", "serving", ("/bin/sleep", "300"))
    pid = stack_module.start(stack, sleeper)
    pid_file = stack.path("pids", "sleeper.pid")
    recorded = pid_file.read_text()
    try:
        # a pid file whose start time is not the process's names someone else's process
        pid_file.write_text(f"{pid} 1\n")
        os.kill(pid, 0)
        assert stack_module._alive(pid, "1") is False
        pid_file.write_text(recorded)
        assert stack_module.stop(stack, "sleeper") == "stopped"
        assert not stack_module._group_alive(pid)  # at most a zombie: this test is its parent
        assert not pid_file.exists()
        assert stack_module.stop(stack, "sleeper") == "not started"
    finally:
        try:
            os.killpg(pid, 9)
        except ProcessLookupError:
            pass


def test_a_foreign_pid_file_is_left_alone(stack):
    """A recycled pid (start time differs) is not signalled."""
    other = subprocess.Popen(["/bin/sleep", "300"], start_new_session=True)
    try:
        pid_file = stack.path("pids", "worker.pid")
        pid_file.parent.mkdir(parents=True)
        pid_file.write_text(f"{other.pid} 1\n")
        assert stack_module.stop(stack, "worker") == "not running"
        assert other.poll() is None
        assert not pid_file.exists()
    finally:
        other.kill()
        other.wait()


def test_up_leaves_a_running_stack_alone(stack, capsys):
    """A second ``up`` on a running state dir neither starts nor stops anything."""
    stack.save()
    sleeper = stack_module.Service("worker", "airflow-worker", ("/bin/sleep", "300"))
    pid = stack_module.start(stack, sleeper)
    try:
        assert stack_module.main(["up", "--state-dir", str(stack.state_dir)]) == 1
        assert "already running" in capsys.readouterr().out
        assert stack_module._running(stack, "worker")
        assert not stack.path("logs", "mlflow.log").exists()
    finally:
        assert stack_module.stop(stack, "worker") == "stopped"
        os.waitpid(pid, 0)
