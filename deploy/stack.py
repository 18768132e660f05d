#!/usr/bin/env python3
"""The services of ``docker-compose.airflow.yml`` as local processes, without Docker.

``make stack`` (``deploy/stack.py up``) starts, on the PostgreSQL and Redis of this
machine:

* an MLflow tracking server (PostgreSQL backend store, artifacts under the state dir);
* ``airflow db migrate`` and ``sabiscore init`` (compose's ``airflow-init``);
* Airflow 3's api-server, scheduler, dag-processor and triggerer, and a Celery worker
  (Redis broker, PostgreSQL metadata database and Celery result backend);
* the serving API (``uvicorn serving.main:app``);

each with the environment of its compose service: ``deploy/stack.env``, which compose
reads through ``env_file:``, with the values naming a compose host, port or container
path replaced (:data:`LOCAL_VALUES`), and the settings that compose interpolates from
its secrets (:data:`SECRET_KEYS`) made here: URLs of the stack's own databases
(``<name>_airflow``, ``<name>_mlflow``, ``<name>_warehouse``, trust auth) and keys
generated once into the state dir.  ``tests/test_stack.py`` checks that the two files
agree.

Everything the stack writes is under its state dir (``.stack/`` by default, git-ignored):
``stack.json`` (its settings), ``secrets.json``, ``pids/<service>.pid``,
``logs/<service>.log``, ``airflow/`` (``AIRFLOW_HOME``), ``sabiscore/``
(``SABISCORE_HOME``), ``raw/`` and ``mlflow-artifacts/``.  Its Redis keys carry its
own prefixes (the Celery broker's ``global_keyprefix`` and ``SABISCORE_REDIS_PREFIX``).
``up`` waits until every service answers its health check, then prints the URLs and
the Airflow admin's password; ``down`` stops exactly the processes whose pid files it
wrote (checked against each process's start time), and ``down --drop`` also drops the
databases, deletes the Redis keys and removes the state dir.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
ENV_FILE = REPO / "deploy" / "stack.env"
BIN = Path(sys.executable).parent
DEFAULT_STATE_DIR = REPO / ".stack"
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

# Ports clear of `make airflow` (8080, log servers 8793/8794, scheduler health 8974),
# `make serve` (8000), MLflow's default (5000) and the ephemeral range the tests'
# free ports come from.
DEFAULT_PORTS = {
    "api": 18080,
    "mlflow": 15000,
    "serving": 18000,
    "scheduler_health": 18974,
    "worker_log": 18793,
    "trigger_log": 18794,
}

# The compose settings that hold a secret (interpolated there from deploy/.env), per
# compose service: the stack sets them itself (see Stack.secret_values).
AIRFLOW_SECRET_KEYS = (
    "SABISCORE_DATABASE_URL",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
)
SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "airflow-init": AIRFLOW_SECRET_KEYS,
    "airflow-apiserver": AIRFLOW_SECRET_KEYS,
    "airflow-scheduler": AIRFLOW_SECRET_KEYS,
    "airflow-dag-processor": AIRFLOW_SECRET_KEYS,
    "airflow-triggerer": AIRFLOW_SECRET_KEYS,
    "airflow-worker": AIRFLOW_SECRET_KEYS,
    "mlflow": ("MLFLOW_BACKEND_STORE_URI",),
    "serving": ("SABISCORE_DATABASE_URL",),
}
# Container plumbing with no meaning for a local process.
CONTAINER_ONLY_KEYS = {"DUMB_INIT_SETSID"}

# The keys of deploy/stack.env whose values name a compose host, port or container
# path: the only ones the stack replaces (tests/test_stack.py holds it to that).
LOCAL_VALUES = (
    "SABISCORE_REDIS_URL",
    "MLFLOW_TRACKING_URI",
    "SABISCORE_HOME",
    "SABISCORE_RAW_DIR",
    "AIRFLOW_HOME",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
)

ADMIN = "admin"
ROLES = ("airflow", "mlflow", "warehouse")  # the stack's databases: <name>_<role>
START_TIMEOUT = 420.0
STOP_TIMEOUT = 60.0


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=VALUE`` lines (no quoting, no interpolation: the file uses neither)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key.strip()):
            raise ValueError(f"{path.name}:{number}: not KEY=VALUE: {raw!r}")
        values[key.strip()] = value.strip()
    return values


@dataclass
class Stack:
    """One local stack: where it keeps its state and what it named its resources."""

    state_dir: Path
    name: str = "sabiscore_stack"
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ files

    @property
    def config_file(self) -> Path:
        """``stack.json`` in the state dir."""
        return self.state_dir / "stack.json"

    def path(self, *parts: str) -> Path:
        """A path under the state dir."""
        return self.state_dir.joinpath(*parts)

    def save(self) -> None:
        """Write ``stack.json``."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        self.config_file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> Stack:
        """The stack whose ``stack.json`` is in ``state_dir``."""
        data = json.loads((state_dir / "stack.json").read_text())
        data["state_dir"] = Path(data["state_dir"])
        return cls(**data)

    # ------------------------------------------------------------------ names

    def database(self, role: str) -> str:
        """``<name>_airflow``, ``<name>_mlflow``, ``<name>_warehouse``."""
        return f"{self.name}_{role}"

    def database_url(self, role: str, driver: str = "postgresql+psycopg2") -> str:
        """The URL of one of the stack's databases, as the admin URL's user (trust auth)."""
        admin = urlsplit(self.pg_admin_url.replace("+psycopg2", ""))
        user = admin.username or "postgres"
        host = admin.hostname or "127.0.0.1"
        return f"{driver}://{user}@{host}:{admin.port or 5432}/{self.database(role)}"

    @property
    def redis_prefix(self) -> str:
        """``SABISCORE_REDIS_PREFIX`` of the stack."""
        return self.name

    @property
    def celery_prefix(self) -> str:
        """The Celery broker's ``global_keyprefix``."""
        return f"{self.name}:celery:"

    def redis_url(self, db: int) -> str:
        """The local Redis, database ``db``."""
        return f"redis://{self.redis_host}:{self.redis_port}/{db}"

    def url(self, service: str) -> str:
        """``http://127.0.0.1:<port>`` of ``service``."""
        return f"http://127.0.0.1:{self.ports[service]}"

    # ------------------------------------------------------------------ environment

    def secrets(self) -> dict[str, str]:
        """Keys generated on the first ``up`` and kept in ``secrets.json``."""
        path = self.path("secrets.json")
        if path.exists():
            return dict(json.loads(path.read_text()))
        from cryptography.fernet import Fernet

        values = {
            "fernet_key": Fernet.generate_key().decode(),
            "jwt_secret": secrets.token_urlsafe(48),
            "api_secret_key": secrets.token_urlsafe(48),
            "admin_password": secrets.token_urlsafe(12),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(values, indent=2) + "\n")
        return values

    def local_values(self) -> dict[str, str]:
        """The stack's values of :data:`LOCAL_VALUES` (hosts, ports, paths)."""
        return {
            "SABISCORE_REDIS_URL": self.redis_url(1),
            "MLFLOW_TRACKING_URI": self.url("mlflow"),
            "SABISCORE_HOME": str(self.path("sabiscore")),
            "SABISCORE_RAW_DIR": str(self.path("raw")),
            "AIRFLOW_HOME": str(self.path("airflow")),
            "AIRFLOW__CELERY__BROKER_URL": self.redis_url(0),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": self.url("api") + "/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                self.path("sabiscore", "simple_auth_manager_passwords.json.generated")
            ),
        }

    def secret_values(self) -> dict[str, str]:
        """The stack's values of every key in :data:`SECRET_KEYS`."""
        keys = self.secrets()
        airflow_db = self.database_url("airflow")
        return {
            "SABISCORE_DATABASE_URL": self.database_url("warehouse"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_db,
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "MLFLOW_BACKEND_STORE_URI": self.database_url("mlflow"),
        }

    def process_values(self) -> dict[str, str]:
        """What separate containers get for free: their own ports, and the stack's prefixes."""
        return {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.ports["api"]),
            "AIRFLOW__API__BASE_URL": self.url("api"),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(
                self.ports["scheduler_health"]
            ),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports["worker_log"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["trigger_log"]),
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.celery_prefix,
            "SABISCORE_REDIS_PREFIX": self.redis_prefix,
        }

    def environment(self, compose_service: str) -> dict[str, str]:
        """The environment of the process standing for ``compose_service``."""
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "SABISCORE_", "MLFLOW_", "JOBLIB_", "OMP_"))
        }
        base["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        base["PYTHONDONTWRITEBYTECODE"] = "1"
        if compose_service == "mlflow":
            env = {}  # compose gives the tracking server no env file
        else:
            env = read_env_file()
            env.update({k: v for k, v in self.local_values().items() if k in env})
        secret = self.secret_values()
        env.update({key: secret[key] for key in SECRET_KEYS[compose_service]})
        env.update(self.process_values())
        env.update(self.extra_env)
        return {**base, **env}


# ---------------------------------------------------------------------- services


@dataclass(frozen=True)
class Service:
    """A long-running process of the stack and the compose service it stands for."""

    name: str
    compose_service: str
    argv: tuple[str, ...]


def services(stack: Stack) -> list[Service]:
    """The long-running services, in the order they start (compose's ``depends_on``)."""
    mlflow_hosts = "127.0.0.1,127.0.0.1:*,localhost,localhost:*"
    return [
        Service(
            "mlflow",
            "mlflow",
            (
                str(BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(stack.ports["mlflow"]),
                "--artifacts-destination",
                str(stack.path("mlflow-artifacts")),
                "--serve-artifacts",
                "--allowed-hosts",
                mlflow_hosts,
            ),
        ),
        Service("api-server", "airflow-apiserver", (str(BIN / "airflow"), "api-server")),
        Service("scheduler", "airflow-scheduler", (str(BIN / "airflow"), "scheduler")),
        Service("dag-processor", "airflow-dag-processor", (str(BIN / "airflow"), "dag-processor")),
        Service("triggerer", "airflow-triggerer", (str(BIN / "airflow"), "triggerer")),
        Service("worker", "airflow-worker", (str(BIN / "airflow"), "celery", "worker")),
        Service(
            "serving",
            "serving",
            (
                str(BIN / "uvicorn"),
                "serving.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(stack.ports["serving"]),
                "--no-proxy-headers",
                "--timeout-graceful-shutdown",
                "10",
            ),
        ),
    ]


def init_commands() -> list[tuple[str, ...]]:
    """Compose's ``airflow-init``: migrate Airflow's database, initialise Sabiscore."""
    return [
        (str(BIN / "airflow"), "db", "migrate"),
        (str(BIN / "sabiscore"), "init"),
    ]


# ---------------------------------------------------------------------- processes


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, started: str) -> bool:
    return _start_time(pid) == started


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (zombies do not count)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _running(stack: Stack, name: str) -> bool:
    """Whether the pid file of ``name`` names a live process of ours."""
    pid_file = stack.path("pids", f"{name}.pid")
    if not pid_file.exists():
        return False
    pid, started = pid_file.read_text().split()
    return _alive(int(pid), started)


def _service_names(stack: Stack) -> list[str]:
    return [service.name for service in services(stack)]


def start(stack: Stack, service: Service) -> int:
    """Start ``service`` in its own session (pid = process group id); write its pid file."""
    pid_file = stack.path("pids", f"{service.name}.pid")
    if _running(stack, service.name):
        raise SystemExit(f"{service.name} is already running: stack.py down first")
    log = stack.path("logs", f"{service.name}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            service.argv,
            cwd=REPO,
            env=stack.environment(service.compose_service),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = _start_time(process.pid)
    pid_file.write_text(f"{process.pid} {started}\n")
    return process.pid


def run_init(stack: Stack) -> None:
    """Run :func:`init_commands` in order, logged to ``logs/airflow-init.log``."""
    log = stack.path("logs", "airflow-init.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    for argv in init_commands():
        with open(log, "ab") as out:
            out.write(f"$ {' '.join(argv)}\n".encode())
            out.flush()
            done = subprocess.run(
                argv,
                cwd=REPO,
                env=stack.environment("airflow-init"),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=900,
                check=False,
            )
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv[-2:])} failed; see {log}:\n{tail(log)}")


def _signal(stack: Stack, name: str) -> int | None:
    """SIGTERM the group of ``name`` if its pid file names a process of ours; its pgid."""
    pid_file = stack.path("pids", f"{name}.pid")
    if not pid_file.exists():
        return None
    pid_text, started = pid_file.read_text().split()
    pid = int(pid_text)
    current = _start_time(pid)
    if (current is not None and current != started) or (current is None and not _group_alive(pid)):
        pid_file.unlink()  # gone, or the pid is another process's now: not ours to signal
        return None
    # our process, or what is left of its group (a pgid is not reused while it has members)
    os.killpg(pid, signal.SIGTERM)
    return pid


def stop_all(stack: Stack, names: list[str]) -> dict[str, str]:
    """Stop the services ``names`` together: SIGTERM, then SIGKILL after STOP_TIMEOUT."""
    outcomes = {}
    groups = {}
    for name in names:
        if not stack.path("pids", f"{name}.pid").exists():
            outcomes[name] = "not started"
            continue
        pgid = _signal(stack, name)
        if pgid is None:
            outcomes[name] = "not running"
        else:
            groups[name] = pgid
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(_group_alive(g) for g in groups.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    for name, pgid in groups.items():
        outcomes[name] = "stopped"
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
            outcomes[name] = "killed"
        stack.path("pids", f"{name}.pid").unlink(missing_ok=True)
    return outcomes


def stop(stack: Stack, name: str) -> str:
    """Stop one service: ``stopped``, ``killed``, ``not running`` or ``not started``."""
    return stop_all(stack, [name])[name]


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} missing)"


# ---------------------------------------------------------------------- health


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError):
        return 0, b""


def _http_ok(url: str) -> bool:
    return _get(url)[0] == 200


def _airflow_components(stack: Stack) -> dict[str, str]:
    status, body = _get(stack.url("api") + "/api/v2/monitor/health")
    if status != 200:
        return {}
    health = json.loads(body)
    return {name: (part or {}).get("status") or "unknown" for name, part in health.items()}


def _worker_ready(stack: Stack) -> bool:
    log = stack.path("logs", "worker.log")
    return log.exists() and re.search(rb"celery@\S+ ready\.", log.read_bytes()) is not None


def health_checks(stack: Stack) -> dict[str, Any]:
    """Service name -> a check, as compose's healthchecks (the worker: Celery's ready line)."""
    return {
        "mlflow": lambda: _http_ok(stack.url("mlflow") + "/health"),
        "api-server": lambda: _http_ok(stack.url("api") + "/api/v2/monitor/health"),
        "scheduler": lambda: _http_ok(f"http://127.0.0.1:{stack.ports['scheduler_health']}/health"),
        "dag-processor": lambda: _airflow_components(stack).get("dag_processor") == "healthy",
        "triggerer": lambda: _airflow_components(stack).get("triggerer") == "healthy",
        "worker": lambda: _worker_ready(stack),
        "serving": lambda: _http_ok(stack.url("serving") + "/health"),
    }


def wait_healthy(stack: Stack, names: list[str], timeout: float = START_TIMEOUT) -> None:
    """Wait until every service in ``names`` passes its check; exit if one dies."""
    checks = health_checks(stack)
    pending = list(names)
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    while pending:
        for name in list(pending):
            pid_text, started = stack.path("pids", f"{name}.pid").read_text().split()
            if not _alive(int(pid_text), started):
                log = stack.path("logs", f"{name}.log")
                raise SystemExit(f"{name} exited; the end of {log}:\n{tail(log)}")
            if checks[name]():
                print(f">> {name} healthy ({time.monotonic() - t0:.0f} s)", flush=True)
                pending.remove(name)
        if pending and time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{tail(stack.path('logs', f'{n}.log'))}" for n in pending)
            raise SystemExit(f"not healthy within {timeout:.0f} s: {pending}\n{logs}")
        time.sleep(1)


# ---------------------------------------------------------------------- databases


def _admin_connection(stack: Stack) -> Any:
    import psycopg2

    url = urlsplit(stack.pg_admin_url.replace("+psycopg2", ""))
    connection = psycopg2.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.path.lstrip("/") or "postgres",
    )
    connection.autocommit = True
    return connection


def create_databases(stack: Stack) -> list[str]:
    """Create the stack's databases that do not exist yet; the names created."""
    created = []
    connection = _admin_connection(stack)
    try:
        with connection.cursor() as cursor:
            for role in ROLES:
                name = stack.database(role)
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8'")
                    created.append(name)
    finally:
        connection.close()
    return created


def drop_databases(stack: Stack) -> list[str]:
    """Drop the stack's databases (connections closed by force); the names dropped."""
    dropped = []
    connection = _admin_connection(stack)
    try:
        with connection.cursor() as cursor:
            for role in ROLES:
                name = stack.database(role)
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is not None:
                    cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                    dropped.append(name)
    finally:
        connection.close()
    return dropped


def delete_redis_keys(stack: Stack) -> int:
    """Delete the keys under the stack's prefixes; how many."""
    import redis

    deleted = 0
    for db, pattern in ((0, stack.celery_prefix + "*"), (1, stack.redis_prefix + ":*")):
        client = redis.Redis(host=stack.redis_host, port=stack.redis_port, db=db)
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start_at in range(0, len(keys), 500):
            deleted += int(client.delete(*keys[start_at : start_at + 500]))
        client.close()
    return deleted


# ---------------------------------------------------------------------- commands


def up(stack: Stack) -> None:
    """Create the databases, start every service in compose's order, wait until healthy."""
    t0 = time.monotonic()
    for sub in ("airflow", "sabiscore", "raw", "mlflow-artifacts", "logs", "pids"):
        stack.path(sub).mkdir(parents=True, exist_ok=True)
    stack.save()
    keys = stack.secrets()
    passwords = Path(stack.local_values()["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    if not passwords.exists():
        passwords.write_text(json.dumps({ADMIN: keys["admin_password"]}))
    created = create_databases(stack)
    print(f">> databases: {', '.join(created) or 'already there'}", flush=True)
    by_name = {service.name: service for service in services(stack)}

    start(stack, by_name["mlflow"])
    wait_healthy(stack, ["mlflow"])
    # `sabiscore init` creates the experiment on the tracking server (compose's depends_on)
    run_init(stack)
    print(">> airflow db migrate, sabiscore init: done", flush=True)
    for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
        start(stack, by_name[name])
    start(stack, by_name["serving"])
    wait_healthy(stack, ["api-server"])
    # the worker's tasks report to the Execution API of the api-server (compose's depends_on)
    start(stack, by_name["worker"])
    wait_healthy(stack, ["scheduler", "dag-processor", "triggerer", "worker", "serving"])
    print(
        f"\nSabiscore stack up in {time.monotonic() - t0:.0f} s (state: {stack.state_dir})\n"
        f"  Airflow UI / REST API  {stack.url('api')}  (user {ADMIN}, password "
        f"{json.loads(passwords.read_text())[ADMIN]})\n"
        f"  MLflow                 {stack.url('mlflow')}\n"
        f"  prediction API         {stack.url('serving')}/docs\n"
        f"  logs                   {stack.path('logs')}/\n"
        f"  databases              {', '.join(stack.database(r) for r in ROLES)}\n"
        f"  Redis                  {stack.redis_url(0)} (Celery, prefix {stack.celery_prefix}), "
        f"{stack.redis_url(1)} (prefix {stack.redis_prefix})\n"
        "Stop it with `make stack-down` (`make stack-down DROP=1` also drops its data).",
        flush=True,
    )


def down(stack: Stack, drop: bool) -> None:
    """Stop the services; with ``drop``, drop databases and keys and remove the state."""
    # the worker first (a warm shutdown of its running tasks), then the others at once
    names = [service.name for service in services(stack)]
    outcomes = {"worker": stop(stack, "worker")}
    outcomes.update(stop_all(stack, [n for n in names if n != "worker"]))
    for name in names:
        if outcomes[name] != "not started":
            print(f">> {name}: {outcomes[name]}", flush=True)
    if drop:
        dropped = drop_databases(stack)
        print(f">> dropped: {', '.join(dropped) or 'no database'}", flush=True)
        print(f">> Redis keys deleted: {delete_redis_keys(stack)}", flush=True)
        shutil.rmtree(stack.state_dir, ignore_errors=True)
        print(f">> removed {stack.state_dir}", flush=True)


def status(stack: Stack) -> int:
    """Print each service's state; 0 when every one is running and healthy."""
    checks = health_checks(stack)
    down_count = 0
    for service in services(stack):
        pid_file = stack.path("pids", f"{service.name}.pid")
        state = "not started"
        if pid_file.exists():
            pid, started = pid_file.read_text().split()
            if _alive(int(pid), started):
                state = f"pid {pid}, " + ("healthy" if checks[service.name]() else "unhealthy")
            else:
                state = "exited"
        down_count += not state.endswith(" healthy")
        print(f"  {service.name:<14} {state}")
    return 1 if down_count else 0


def _parse_set(values: list[str]) -> dict[str, str]:
    extra = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set wants KEY=VALUE, not {item!r}")
        extra[key] = value
    return extra


def main(argv: list[str] | None = None) -> int:
    """``up``, ``down`` or ``status``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--state-dir", type=Path, default=Path(os.environ.get("STACK_DIR", DEFAULT_STATE_DIR))
    )
    parser.add_argument("--name", default=None, help="prefix of databases and Redis keys")
    parser.add_argument(
        "--pg-admin-url",
        default=None,
        help=f"a URL allowed to create databases (default {DEFAULT_PG_ADMIN_URL})",
    )
    for port, default in DEFAULT_PORTS.items():
        parser.add_argument(
            f"--{port.replace('_', '-')}-port", type=int, default=None, help=f"default {default}"
        )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more setting for every process (after deploy/stack.env)",
    )
    parser.add_argument("--drop", action="store_true", help="down: drop databases, keys, state")
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()

    if args.command == "up":
        if (state_dir / "stack.json").exists():
            stack = Stack.load(state_dir)
        else:
            stack = Stack(state_dir)
        if args.name:
            stack.name = args.name
        if args.pg_admin_url:
            stack.pg_admin_url = args.pg_admin_url
        for port in DEFAULT_PORTS:
            value = getattr(args, f"{port}_port")
            if value is not None:
                stack.ports[port] = value
        stack.extra_env.update(_parse_set(args.set))
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", stack.name):
            raise SystemExit(f"--name must be a lower-case identifier: {stack.name!r}")
        running = [name for name in _service_names(stack) if _running(stack, name)]
        if running:
            print(f"already running in {state_dir}: {', '.join(running)} (stack.py down first)")
            return 1
        try:
            up(stack)
        except BaseException:
            print(">> start failed: stopping what was started", file=sys.stderr, flush=True)
            down(stack, drop=False)
            raise
        return 0
    if not (state_dir / "stack.json").exists():
        print(f"no stack in {state_dir}")
        return 0 if args.command == "down" else 1
    stack = Stack.load(state_dir)
    if args.command == "down":
        down(stack, drop=args.drop)
        return 0
    return status(stack)


if __name__ == "__main__":
    sys.exit(main())
