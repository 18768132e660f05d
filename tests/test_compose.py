"""Static checks of the production deployment files (no Docker needed).

Covers ``docker-compose.airflow.yml``, ``Dockerfile``, ``.dockerignore``,
``deploy/.env.example`` and ``deploy/postgres/init-databases.sh``: the compose
file is internally consistent (services, volumes, dependencies, secrets), every
command a container runs exists in the image that runs it, and no secret has a
working default.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.airflow.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "init-databases.sh"
LOCK_FILE = ROOT / "requirements.lock"
SETUP_CFG = ROOT / "setup.cfg"

PROJECT_IMAGE = "sabiscore:latest"

EXPECTED_SERVICES = {
    "postgres",
    "redis",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "mlflow",
    "serving",
}
# Services that run the project image.
PROJECT_SERVICES = EXPECTED_SERVICES - {"postgres", "redis"}
AIRFLOW_SERVICES = {name for name in EXPECTED_SERVICES if name.startswith("airflow-")}
EXPECTED_VOLUMES = {
    "postgres-data",
    "raw-archive",
    "mlflow-artifacts",
    "sabiscore-state",
    "airflow-logs",
}
EXPECTED_DATABASES = {"airflow", "warehouse", "mlflow"}

# Compose interpolation: ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:?x}, ${VAR?x}, ${VAR:+x}, ${VAR+x}.
# "$$" is Compose's escape for a literal "$" and is not interpolated.
INTERPOLATION = re.compile(
    r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}"
)
BARE_INTERPOLATION = re.compile(r"(?<!\$)\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
# scheme://user:password@host, where the password may be a ${...} interpolation with spaces.
CREDENTIAL_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<user>[^\s:/@'\"]*):"
    r"(?P<password>\$\{[^}]*\}|[^\s@'\"/]*)@"
)
REQUIRED_SECRET = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$")

# What a container command may start with, besides the checks below: tools that
# live in the third-party images (postgres, redis).
THIRD_PARTY_TOOLS = {
    "postgres": {"pg_isready"},
    "redis": {"redis-cli"},
    "prometheus": {"wget"},  # busybox's, in the image
    "grafana": {"wget"},
}
SHELL_BUILTINS = {"set", "echo", "export", "true", ":"}


# --------------------------------------------------------------------------- helpers


@cache
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@cache
def compose_body() -> str:
    """The compose file without comment lines (Compose does not interpolate those)."""
    return "\n".join(
        line for line in compose_text().splitlines() if not line.lstrip().startswith("#")
    )


@cache
def compose() -> dict:
    data = yaml.safe_load(compose_text())
    assert isinstance(data, dict), "compose file must be a mapping"
    return data


def services() -> dict[str, dict]:
    return compose()["services"]


def placeholder(value: str) -> str:
    """``value`` with every ${...} interpolation replaced by a URL-safe token."""
    return INTERPOLATION.sub(lambda m: f"interpolated-{m['name'].lower()}", value)


def url(value: str):
    return urlsplit(placeholder(value))


def env_files_of(name: str) -> list[Path]:
    """The service's ``env_file:`` entries, relative to the compose file."""
    files = services()[name].get("env_file") or []
    if isinstance(files, (str, dict)):
        files = [files]
    paths = [entry["path"] if isinstance(entry, dict) else entry for entry in files]
    return [COMPOSE_FILE.parent / str(path) for path in paths]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped; no quoting used)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"malformed line in {path.name}: {line!r}"
        values[key.strip()] = value.strip()
    return values


def env_of(name: str) -> dict[str, str]:
    """The container environment: its env files, then ``environment:`` (which wins)."""
    merged: dict[str, str] = {}
    for path in env_files_of(name):
        merged.update(read_env_file(path))
    env = services()[name].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    merged.update({str(k): str(v) for k, v in env.items()})
    return merged


def depends_on(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def completion_dependencies() -> set[str]:
    """Services that others wait on to *finish*: one-shot jobs."""
    return {
        target
        for service in services().values()
        for target, spec in depends_on(service).items()
        if spec.get("condition") == "service_completed_successfully"
    }


def long_running_services() -> set[str]:
    return set(services()) - completion_dependencies()


def uses_project_image(service: dict) -> bool:
    return "build" in service or service.get("image") == PROJECT_IMAGE


def split_shell(script: str) -> list[list[str]]:
    """Simple commands of a shell snippet (one per line, split on && || ;)."""
    commands = []
    for line in script.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||;", line):
            words = shlex.split(part)
            if words and words[0] == "exec":
                words = words[1:]
            if words and words[0] not in SHELL_BUILTINS:
                commands.append(words)
    return commands


def as_argv(value) -> list[str]:
    return list(map(str, value)) if isinstance(value, list) else shlex.split(str(value))


def invocations(service: dict) -> list[list[str]]:
    """Every argv a service runs: entrypoint/command and healthcheck."""
    runs: list[list[str]] = []
    argv = as_argv(service.get("entrypoint") or []) + as_argv(service.get("command") or [])
    if argv[:2] in (["bash", "-c"], ["sh", "-c"], ["/bin/bash", "-c"], ["/bin/sh", "-c"]):
        runs.extend(split_shell(argv[2]))
    elif argv:
        runs.append(argv)
    test = (service.get("healthcheck") or {}).get("test")
    if isinstance(test, list) and test and test[0] == "CMD":
        runs.append([str(word) for word in test[1:]])
    elif isinstance(test, list) and test and test[0] == "CMD-SHELL":
        runs.extend(split_shell(" ".join(map(str, test[1:]))))
    elif isinstance(test, str):
        runs.extend(split_shell(test))
    return runs


def named_volumes_used() -> dict[str, set[str]]:
    """Named volume -> services mounting it (bind mounts excluded)."""
    used: dict[str, set[str]] = {}
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict):
                if volume.get("type", "volume") != "volume" or not volume.get("source"):
                    continue
                source = volume["source"]
            else:
                source = str(volume).split(":", 1)[0]
                if ":" not in str(volume) or source.startswith((".", "/", "~", "$")):
                    continue
            used.setdefault(source, set()).add(name)
    return used


def mounts(name: str) -> dict[str, str]:
    """Container path -> source for the service's short-syntax volumes."""
    result = {}
    for volume in services()[name].get("volumes") or []:
        parts = str(volume).split(":")
        if len(parts) >= 2:
            result[parts[1]] = parts[0]
    return result


@cache
def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"malformed line in {ENV_EXAMPLE.name}: {line!r}"
        values[key.strip()] = value.strip()
    return values


def normalize(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


@cache
def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK_FILE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


@cache
def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG, encoding="utf-8")
    return parser


@cache
def console_scripts() -> dict[str, str]:
    raw = setup_cfg().get("options.entry_points", "console_scripts", fallback="")
    scripts = {}
    for line in raw.strip().splitlines():
        name, _, target = line.partition("=")
        scripts[name.strip()] = target.strip()
    return scripts


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined."""
    instructions, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def dockerfile_copies() -> list[tuple[list[str], str]]:
    copies = []
    for keyword, args in dockerfile():
        if keyword in ("COPY", "ADD"):
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            copies.append((words[:-1], words[-1]))
    return copies


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, args in dockerfile():
        if keyword == "ENV":
            for word in shlex.split(args):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def dockerfile_workdir() -> str:
    workdirs = [args for keyword, args in dockerfile() if keyword == "WORKDIR"]
    assert workdirs, "Dockerfile sets no WORKDIR"
    return workdirs[-1]


def dockerignore_excludes(path: str) -> bool:
    """Whether the build context drops ``path`` (last matching rule wins)."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def cli_surface() -> dict:
    surface = _cli_surface()
    if "error" in surface:
        pytest.skip(f"cannot introspect the installed CLIs: {surface['error']}")
    return surface


@cache
def _cli_surface() -> dict:
    """Commands and options of the installed airflow, mlflow and uvicorn CLIs.

    Collected in a child process with a throwaway ``AIRFLOW_HOME`` because
    importing Airflow writes to it.
    """
    probe = r"""
import json, sys
out = {}
from airflow.cli import cli_config
def describe(command):
    entry = {"flags": [], "choices": {}, "sub": {}}
    for arg in getattr(command, "args", ()) or ():
        entry["flags"].extend(f for f in arg.flags if f.startswith("-"))
        choices = (arg.kwargs or {}).get("choices")
        if choices:
            for f in arg.flags:
                entry["choices"][f] = list(choices)
    for sub in getattr(command, "subcommands", ()) or ():
        entry["sub"][sub.name] = describe(sub)
    return entry
out["airflow"] = {c.name: describe(c) for c in cli_config.core_commands}
import importlib.util
out["auth_manager_module"] = importlib.util.find_spec(
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager") is not None
from mlflow.cli import cli as mlflow_cli
server = mlflow_cli.commands["server"]
out["mlflow_server"] = {
    "flags": [o for p in server.params for o in p.opts],
    "envvars": {o: p.envvar for p in server.params for o in p.opts if p.envvar},
}
import importlib
uvicorn_cli = importlib.import_module("uvicorn.main").main
out["uvicorn"] = [o for p in uvicorn_cli.params for o in [*p.opts, *p.secondary_opts]]
json.dump(out, sys.stdout)
"""
    home = Path(tempfile.mkdtemp(prefix="sabiscore-cli-probe-"))
    try:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=300,
            env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(home), "HOME": str(home)},
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if result.returncode != 0:
        return {"error": result.stderr.strip()[-500:]}
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- compose file


def test_compose_file_parses_as_compose_spec():
    data = compose()
    assert "version" not in data, "Compose spec files have no top-level 'version'"
    assert isinstance(data.get("services"), dict) and data["services"]
    assert isinstance(data.get("volumes"), dict)
    unknown = set(data) - {"services", "volumes", "networks", "secrets", "configs", "name"}
    assert all(key.startswith("x-") for key in unknown), f"unknown top-level keys: {unknown}"


def test_expected_services_exist():
    missing = EXPECTED_SERVICES - set(services())
    assert not missing, f"services missing from the compose file: {sorted(missing)}"


def test_project_services_build_the_repository_dockerfile():
    for name in PROJECT_SERVICES:
        service = services()[name]
        assert uses_project_image(service), f"{name} does not run the project image"
        assert service.get("image") == PROJECT_IMAGE, f"{name}: image must be {PROJECT_IMAGE}"
        build = service.get("build")
        assert build is not None, f"{name}: no build section"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile_name = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (COMPOSE_FILE.parent / context).resolve() == ROOT, (
            f"{name}: build context is not the repo"
        )
        assert (ROOT / context / dockerfile_name).is_file(), f"{name}: {dockerfile_name} missing"


def test_third_party_images_are_pinned():
    for name, service in services().items():
        if uses_project_image(service):
            continue
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image!r}"


def test_airflow_runs_the_celery_executor_without_examples():
    for name in AIRFLOW_SERVICES:
        env = env_of(name)
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", name
        assert env.get("AIRFLOW__CORE__LOAD_EXAMPLES") == "false", name
        assert env.get("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION") == "true", name
        assert env.get("AIRFLOW__CELERY__BROKER_URL", "").startswith("redis://"), name
        assert env.get("AIRFLOW__CELERY__RESULT_BACKEND", "").startswith("db+postgresql"), name
        assert env.get("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK") == "true", name


def test_airflow_components_share_one_configuration():
    """Keys, database and execution API must agree across every component."""
    reference = env_of("airflow-scheduler")
    for name in AIRFLOW_SERVICES:
        env = env_of(name)
        for key, value in reference.items():
            if key.startswith(("AIRFLOW__", "SABISCORE_", "MLFLOW_")):
                assert env.get(key) == value, f"{name}: {key} differs from airflow-scheduler"
    for key in (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
    ):
        assert REQUIRED_SECRET.match(reference.get(key, "")), f"{key} must be ${{VAR:?message}}"
    execution_api = url(reference["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution_api.hostname == "airflow-apiserver"
    assert execution_api.path.rstrip("/") == "/execution"


def test_airflow_settings_are_real_config_options():
    """Every AIRFLOW__SECTION__KEY names an option of the pinned Airflow (catches typos)."""
    import importlib.util

    spec = importlib.util.find_spec("airflow")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("apache-airflow is not installed")
    config_yml = Path(list(spec.submodule_search_locations)[0]) / "config_templates" / "config.yml"
    options = {
        section: set((body or {}).get("options", {}))
        for section, body in yaml.safe_load(config_yml.read_text(encoding="utf-8")).items()
    }
    provider_sections = {"celery"}  # documented by apache-airflow-providers-celery
    for name in AIRFLOW_SERVICES:
        for key in env_of(name):
            if not key.startswith("AIRFLOW__"):
                continue
            _, section, option = key.split("__", 2)
            section, option = section.lower(), option.lower()
            if section in provider_sections:
                continue
            assert section in options, f"{name}: unknown Airflow config section in {key}"
            assert option in options[section], f"{name}: unknown Airflow option {key}"


def test_auth_manager_is_installed():
    manager = env_of("airflow-apiserver")["AIRFLOW__CORE__AUTH_MANAGER"]
    if manager.startswith("airflow.providers.fab."):
        assert "apache-airflow-providers-fab" in locked(), "FAB auth manager needs the fab provider"
    else:
        assert manager == (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        )
        assert cli_surface()["auth_manager_module"], "SimpleAuthManager module not found"


def test_long_running_services_have_healthchecks_and_restart():
    assert long_running_services() >= EXPECTED_SERVICES - {"airflow-init"}
    for name in long_running_services():
        service = services()[name]
        healthcheck = service.get("healthcheck") or {}
        assert not healthcheck.get("disable"), f"{name}: healthcheck disabled"
        test = healthcheck.get("test")
        assert test, f"{name}: no healthcheck test"
        if isinstance(test, list):
            assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: bad test {test}"
        assert service.get("restart") == "always", f"{name}: restart must be 'always'"


def test_init_job_migrates_and_runs_once():
    assert completion_dependencies() == {"airflow-init"}
    init = services()["airflow-init"]
    assert init.get("restart", "no") == "no"
    runs = invocations(init)
    assert ["airflow", "db", "migrate"] in [argv[:3] for argv in runs]
    assert ["sabiscore", "init"] in [argv[:2] for argv in runs]
    for name in (AIRFLOW_SERVICES - {"airflow-init"}) | {"serving"}:
        condition = depends_on(services()[name]).get("airflow-init", {}).get("condition")
        assert condition == "service_completed_successfully", (
            f"{name} does not wait for airflow-init"
        )


def test_init_job_waits_for_every_service_it_talks_to():
    """A one-shot job is not restarted: whatever it connects to must be healthy first."""
    for name in completion_dependencies():
        deps = depends_on(services()[name])
        for key, value in env_of(name).items():
            if "://" not in value or key == "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                continue
            host = url(value.replace("db+", "", 1)).hostname
            assert deps.get(host, {}).get("condition") == "service_healthy", (
                f"{name} uses {host} ({key}) without waiting for it to be healthy"
            )


def test_depends_on_targets_are_defined_and_ready():
    defined = set(services())
    for name, service in services().items():
        for target, spec in depends_on(service).items():
            assert target in defined, f"{name} depends on undefined service {target!r}"
            assert target != name, f"{name} depends on itself"
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert services()[target].get("healthcheck"), f"{target} has no healthcheck"
            if target in ("postgres", "redis"):
                assert condition == "service_healthy", f"{name} -> {target} must wait for healthy"


def test_services_that_need_backing_stores_wait_for_them():
    for name in AIRFLOW_SERVICES | {"serving"}:
        deps = depends_on(services()[name])
        assert {"postgres", "redis"} <= set(deps), f"{name} must depend on postgres and redis"
    assert "postgres" in depends_on(services()["mlflow"])
    assert (
        depends_on(services()["airflow-worker"]).get("airflow-apiserver", {}).get("condition")
        == "service_healthy"
    ), "the worker needs the Execution API"


def test_named_volumes_are_declared_and_used():
    declared = set(compose().get("volumes") or {})
    used = set(named_volumes_used())
    assert declared == EXPECTED_VOLUMES
    assert used - declared == set(), f"volumes used but not declared: {sorted(used - declared)}"
    assert declared - used == set(), f"volumes declared but unused: {sorted(declared - used)}"


def test_bind_mounts_point_at_repository_files():
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: {source} does not exist"


def test_sabiscore_paths_live_on_volumes():
    for name in AIRFLOW_SERVICES:
        env, mounted = env_of(name), mounts(name)
        assert env["SABISCORE_ENV"] == "production"
        assert mounted.get(env["SABISCORE_HOME"]) == "sabiscore-state", name
        assert mounted.get(env["SABISCORE_RAW_DIR"]) == "raw-archive", name
        assert mounted.get("/opt/airflow/logs") == "airflow-logs", name
    artifacts = as_argv(services()["mlflow"]["command"])
    destination = artifacts[artifacts.index("--artifacts-destination") + 1]
    assert mounts("mlflow").get(destination) == "mlflow-artifacts"
    assert mounts("postgres").get("/var/lib/postgresql/data") == "postgres-data"


def test_dags_and_plugins_folders_are_in_the_image():
    workdir = dockerfile_workdir().rstrip("/")
    copied = {dest.rstrip("/").removeprefix("./") for _, dest in dockerfile_copies()}
    for name in AIRFLOW_SERVICES:
        env = env_of(name)
        for key, folder in (
            ("AIRFLOW__CORE__DAGS_FOLDER", "dags"),
            ("AIRFLOW__CORE__PLUGINS_FOLDER", "plugins"),
        ):
            assert env[key] == f"{workdir}/{folder}", f"{name}: {key}"
            assert folder in copied, f"Dockerfile does not copy {folder}/"
            assert (ROOT / folder).is_dir()


def test_service_urls_point_at_defined_services():
    defined = set(services())
    seen = 0
    for name in services():
        for key, value in env_of(name).items():
            if "://" not in value:
                continue
            host = url(value.replace("db+", "", 1)).hostname
            seen += 1
            assert host in defined or host == "localhost", f"{name}: {key} points at {host!r}"
    assert seen >= 8


def test_sabiscore_runtime_settings():
    for name in AIRFLOW_SERVICES | {"serving"}:
        env = env_of(name)
        assert env["SABISCORE_ENV"] == "production"
        database = url(env["SABISCORE_DATABASE_URL"])
        assert database.scheme.startswith("postgresql") and database.path == "/warehouse"
        cache_db = url(env["SABISCORE_REDIS_URL"]).path
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        if name in AIRFLOW_SERVICES:
            broker_db = url(env["AIRFLOW__CELERY__BROKER_URL"]).path
            assert cache_db != broker_db, (
                "the Sabiscore cache must not share the Celery broker's Redis DB"
            )


def test_mlflow_accepts_the_host_name_clients_use():
    """MLflow 3 rejects unknown Host headers; the tracking URI's host must be allowed."""
    argv = as_argv(services()["mlflow"]["command"])
    assert "--allowed-hosts" in argv, "mlflow only allows localhost/IP hosts by default"
    allowed = argv[argv.index("--allowed-hosts") + 1].split(",")
    netloc = url(env_of("serving")["MLFLOW_TRACKING_URI"]).netloc
    assert any(fnmatch.fnmatch(netloc, pattern) for pattern in allowed), netloc
    env = env_of("mlflow")
    assert "--backend-store-uri" in argv or "MLFLOW_BACKEND_STORE_URI" in env
    backend = env.get("MLFLOW_BACKEND_STORE_URI") or argv[argv.index("--backend-store-uri") + 1]
    assert url(backend).path == "/mlflow" and url(backend).hostname == "postgres"


def test_healthchecks_probe_the_port_the_service_listens_on():
    for name in long_running_services():
        service = services()[name]
        argv = as_argv(service.get("command") or [])
        listening = {str(p).split(":")[-1] for p in service.get("ports") or []}
        if "--port" in argv:
            listening.add(argv[argv.index("--port") + 1])
        if env_of(name).get("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK") == "true" and argv[1:2] == [
            "scheduler"
        ]:
            listening.add("8974")
        for run in invocations(service):
            if run[0] != "curl":
                continue
            probe = urlsplit(next(word for word in run if "://" in word))
            assert probe.hostname == "localhost", f"{name}: healthcheck must probe itself"
            assert str(probe.port) in listening, f"{name}: healthcheck port {probe.port} not served"


# --------------------------------------------------------------------------- secrets


def test_compose_has_no_unescaped_bare_variables():
    """Only ${VAR} is interpolated on purpose; shell variables must be written $$VAR."""
    bare = [m.group(0) for m in BARE_INTERPOLATION.finditer(compose_body())]
    assert not bare, f"unescaped $VAR in compose file (use $$VAR for the shell): {bare}"


def test_required_variables_are_documented_in_env_example():
    required = {m["name"] for m in INTERPOLATION.finditer(compose_body()) if m["op"] in (":?", "?")}
    assert required, "the compose file requires no variables at all"
    documented = set(env_example())
    assert required - documented == set(), (
        f"missing from .env.example: {sorted(required - documented)}"
    )
    referenced = {m["name"] for m in INTERPOLATION.finditer(compose_body())}
    assert documented - referenced == set(), f"unused in compose: {sorted(documented - referenced)}"
    # Anything else is interpolated from the operator's shell, e.g. ${HOSTNAME} meant for a
    # container shell (write $${HOSTNAME}).
    undocumented = referenced - documented
    assert not undocumented, f"interpolated but not in .env.example: {sorted(undocumented)}"


def test_env_example_holds_only_placeholders():
    for key, value in env_example().items():
        assert value.startswith("change-me"), f"{key} has a value that could work: {value!r}"


def test_secrets_have_no_working_default():
    for match in INTERPOLATION.finditer(compose_body()):
        if SECRET_NAME.search(match["name"]):
            assert match["op"] in (":?", "?") and match["arg"].strip(), (
                f"{match.group(0)} must be required (${{{match['name']}:?message}})"
            )


def test_no_literal_passwords_in_urls():
    found = list(CREDENTIAL_URL.finditer(compose_body()))
    assert len(found) >= 4, "expected the database URLs to carry credentials"
    for match in found:
        assert REQUIRED_SECRET.match(match["password"]), (
            f"literal password in {match.group(0)!r}: use ${{VAR:?message}}"
        )


def test_postgres_receives_every_password_it_needs():
    env = env_of("postgres")
    for key in (
        "POSTGRES_PASSWORD",
        "AIRFLOW_DB_PASSWORD",
        "SABISCORE_DB_PASSWORD",
        "MLFLOW_DB_PASSWORD",
    ):
        assert REQUIRED_SECRET.match(env.get(key, "")), (
            f"postgres: {key} must be a required variable"
        )


# --------------------------------------------------------------------------- postgres init


def init_script_databases() -> dict[str, tuple[str, str]]:
    """database -> (role, password variable), from the init script's calls."""
    text = INIT_SCRIPT.read_text(encoding="utf-8")
    calls = re.findall(r'^create_database\s+(\w+)\s+(\w+)\s+"\$\{(\w+)\}"', text, flags=re.M)
    return {database: (role, variable) for database, role, variable in calls}


def test_init_script_is_mounted_into_the_postgres_entrypoint():
    targets = [
        str(volume).split(":")[1]
        for volume in services()["postgres"].get("volumes") or []
        if str(volume).split(":")[0].endswith("init-databases.sh")
    ]
    assert targets and targets[0].startswith("/docker-entrypoint-initdb.d/")
    assert targets[0].endswith(".sh")


def test_init_script_creates_the_three_databases():
    text = INIT_SCRIPT.read_text(encoding="utf-8")
    assert "CREATE DATABASE" in text and "CREATE ROLE" in text
    assert set(init_script_databases()) == EXPECTED_DATABASES


def test_init_script_matches_the_connection_urls():
    """Each database URL in the compose file uses the role and password the script creates."""
    created = init_script_databases()
    passed_to_postgres = set(env_of("postgres"))
    urls = [
        m
        for m in CREDENTIAL_URL.finditer(compose_body())
        if m["scheme"].endswith("postgresql+psycopg2") or m["scheme"].endswith("postgresql")
    ]
    assert urls
    for match in urls:
        tail = compose_body()[match.end() :].split()[0]
        database = urlsplit("x://" + tail).path.strip("/")
        assert database in created, (
            f"{match.group(0)}... uses a database the script does not create"
        )
        role, variable = created[database]
        assert match["user"] == role, (
            f"{database}: URL user {match['user']!r}, script role {role!r}"
        )
        assert INTERPOLATION.match(match["password"])["name"] == variable, database
        assert variable in passed_to_postgres, f"postgres container does not receive {variable}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not available")
def test_init_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(INIT_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_base_image_matches_python_requires():
    froms = [args for keyword, args in dockerfile() if keyword == "FROM"]
    assert froms and froms[0].split()[0] == "python:3.11-slim-bookworm"
    python_requires = setup_cfg().get("options", "python_requires")
    assert ">=3.11" in python_requires and "<3.12" in python_requires


def test_dockerfile_installs_the_lock_then_the_project():
    steps = [(keyword, args) for keyword, args in dockerfile() if keyword in ("COPY", "RUN")]

    def index(predicate, what):
        for position, step in enumerate(steps):
            if predicate(*step):
                return position
        raise AssertionError(f"Dockerfile does not {what}")

    copy_lock = index(
        lambda k, a: k == "COPY" and "requirements.lock" in a.split(), "COPY the lock"
    )
    install_lock = index(
        lambda k, a: k == "RUN" and re.search(r"pip install .*-r requirements\.lock", a),
        "pip install -r requirements.lock",
    )
    copy_code = index(
        lambda k, a: k == "COPY" and "sabiscore_ml/" in a.split(), "COPY sabiscore_ml/"
    )
    install_project = index(
        lambda k, a: k == "RUN" and re.search(r"pip install .*--no-deps \.(\s|$)", a),
        "pip install --no-deps .",
    )
    assert copy_lock < install_lock < copy_code < install_project
    for keyword, args in steps:
        if keyword == "RUN" and "pip install" in args:
            assert "--no-cache-dir" in args, args


def test_dockerfile_copies_existing_files_and_every_package():
    copied = set()
    for sources, _ in dockerfile_copies():
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
            assert not dockerignore_excludes(source.rstrip("/")), f".dockerignore drops {source}"
            copied.add(source.rstrip("/"))
    include = setup_cfg().get("options.packages.find", "include").split()
    top_level = {package.split(".")[0] for package in include}
    assert top_level <= copied, f"packages not copied: {sorted(top_level - copied)}"
    long_description = setup_cfg().get("metadata", "long_description", fallback="")
    if long_description.startswith("file:"):
        assert long_description.removeprefix("file:").strip() in copied


def test_dockerfile_runs_as_the_airflow_convention_user():
    users = [args for keyword, args in dockerfile() if keyword == "USER"]
    assert users, "Dockerfile never drops root"
    assert users[-1].split(":")[0] in ("50000", "sabiscore")
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(
        r"useradd[^\n]*--uid 50000[^\n]*--gid 0[^\n]*sabiscore", " ".join(text.split("\\\n"))
    )
    assert dockerfile_workdir() == "/opt/sabiscore"
    env = dockerfile_env()
    assert env.get("AIRFLOW_HOME") == "/opt/airflow"
    assert env.get("PYTHONUNBUFFERED") == "1"


def test_dockerfile_installs_healthcheck_tools():
    runs = " ".join(args for keyword, args in dockerfile() if keyword == "RUN")
    needed = {
        run[0]
        for name in PROJECT_SERVICES
        for run in invocations(services()[name])
        if run[0] in ("curl", "wget")
    }
    assert needed, "no HTTP healthchecks found"
    for tool in needed:
        assert re.search(rf"apt-get install[^&]*\b{tool}\b", runs), f"{tool} is not installed"
    assert "rm -rf /var/lib/apt/lists/*" in runs


def test_dockerignore_keeps_local_state_out_but_not_the_code():
    for path in (".venv", ".git", ".sabiscore", ".pytest_cache", "sabiscore_ml/__pycache__"):
        assert dockerignore_excludes(path), f".dockerignore does not exclude {path}"
    for package in ("sabiscore_ml", "feature_store", "serving", "dags", "plugins"):
        base = ROOT / package
        for path in base.rglob("*") if base.is_dir() else []:
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and "__pycache__" not in relative and not relative.endswith(".pyc"):
                assert not dockerignore_excludes(relative), f".dockerignore drops {relative}"


# --------------------------------------------------------------------------- commands


def test_lock_pins_what_the_stack_needs():
    needed = {
        "apache-airflow-core": "airflow CLI",
        "apache-airflow-providers-celery": "CeleryExecutor, `airflow celery worker`",
        "celery": "worker healthcheck",
        "redis": "Celery broker client",
        "psycopg2-binary": "postgresql+psycopg2 URLs",
        "mlflow": "mlflow server",
        "uvicorn": "prediction service",
    }
    missing = {dist: why for dist, why in needed.items() if dist not in locked()}
    assert not missing, f"requirements.lock lacks: {missing}"


def test_every_command_exists_in_its_image():
    scripts = console_scripts()
    for name, service in services().items():
        for argv in invocations(service):
            program = argv[0]
            if not uses_project_image(service):
                assert program in THIRD_PARTY_TOOLS.get(name, set()), f"{name}: unknown {program}"
            elif program == "airflow":
                assert "apache-airflow-core" in locked()
            elif program == "celery":
                assert "celery" in locked(), f"{name}: celery is not in requirements.lock"
                app = argv[argv.index("--app") + 1]
                if app.startswith("airflow.providers.celery."):
                    assert "apache-airflow-providers-celery" in locked(), (
                        f"{name}: {app} needs apache-airflow-providers-celery in requirements.lock"
                    )
            elif program in ("mlflow", "uvicorn"):
                assert program in locked(), name
            elif program in scripts:
                module = scripts[program].split(":")[0]
                path = ROOT / Path(*module.split("."))
                assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), (
                    f"console script {program} -> {module}, which does not exist"
                )
            elif program != "curl":
                raise AssertionError(f"{name}: {program!r} is neither a console script nor locked")


def test_sabiscore_console_script_is_declared():
    scripts = console_scripts()
    assert "sabiscore" in scripts, "setup.cfg declares no `sabiscore` console script"
    module, _, function = scripts["sabiscore"].partition(":")
    path = ROOT / Path(*module.split("."))
    source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
    assert source.is_file(), f"{module} (the `sabiscore` entry point) does not exist"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    bound = (
        {
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        | {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        | {  # a package re-exporting the function from one of its modules
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
    )
    assert function in bound, f"{module} defines no {function}"


def test_sabiscore_init_subcommand_exists():
    module = console_scripts().get("sabiscore", "").split(":")[0]
    path = ROOT / Path(*module.split("."))
    if not module or not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
        pytest.skip(
            "the sabiscore CLI module does not exist "
            "(see test_sabiscore_console_script_is_declared)"
        )
    entry = console_scripts()["sabiscore"]
    module, function = entry.split(":")
    code = (
        "import sys; sys.argv = ['sabiscore', 'init', '--help'];"
        f"from {module} import {function} as main; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        f"`sabiscore init --help` failed:\n{result.stdout}{result.stderr}"
    )


def test_serving_app_exists_and_serves_health():
    argv = as_argv(services()["serving"]["command"])
    assert argv[0] == "uvicorn"
    module, _, attribute = argv[1].partition(":")
    path = (ROOT / Path(*module.split("."))).with_suffix(".py")
    assert path.is_file(), f"uvicorn target {argv[1]}: {path.relative_to(ROOT)} does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound = {
        target.id
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert attribute in bound, f"{path.name} defines no {attribute!r}"
    health_path = urlsplit(
        next(w for run in invocations(services()["serving"]) for w in run if w.startswith("http"))
    ).path
    package = ROOT / module.split(".")[0]
    assert any(
        f'"{health_path}"' in py.read_text(encoding="utf-8")
        or f"'{health_path}'" in py.read_text(encoding="utf-8")
        for py in package.rglob("*.py")
    ), f"no route {health_path} in the {package.name} package"


def test_airflow_commands_exist_in_the_pinned_airflow():
    surface = cli_surface()["airflow"]
    checked = 0
    for name, service in services().items():
        for argv in invocations(service):
            if argv[0] != "airflow":
                continue
            checked += 1
            command, rest = argv[1], argv[2:]
            if command == "celery":
                # Provided by apache-airflow-providers-celery: test_lock_pins_what_the_stack_needs.
                continue
            assert command in surface, f"{name}: `airflow {command}` does not exist in Airflow 3"
            entry = surface[command]
            if entry["sub"]:
                assert rest and rest[0] in entry["sub"], f"{name}: airflow {command} {rest[:1]}"
                entry, rest = entry["sub"][rest[0]], rest[1:]
            for position, word in enumerate(rest):
                if word.startswith("-"):
                    assert word in entry["flags"], f"{name}: unknown option {word} in {argv}"
                    if word in entry["choices"]:
                        assert rest[position + 1] in entry["choices"][word], f"{name}: {argv}"
    assert checked >= 7


def test_mlflow_and_uvicorn_options_exist():
    surface = cli_surface()
    argv = as_argv(services()["mlflow"]["command"])
    assert argv[:2] == ["mlflow", "server"]
    for word in argv[2:]:
        if word.startswith("--"):
            assert word in surface["mlflow_server"]["flags"], f"mlflow server has no {word}"
    for key in env_of("mlflow"):
        if key.startswith("MLFLOW_") and key != "MLFLOW_TRACKING_URI":
            assert key in surface["mlflow_server"]["envvars"].values(), (
                f"mlflow server ignores {key}"
            )
    argv = as_argv(services()["serving"]["command"])
    for word in argv[1:]:
        if word.startswith("--"):
            assert word in surface["uvicorn"], f"uvicorn has no {word}"
