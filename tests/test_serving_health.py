"""Liveness and readiness against the real warehouse and Redis; what the app imports."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO
from fastapi.testclient import TestClient

from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine, migrate
from serving.main import create_app


@pytest.fixture
def client(sabiscore_home):  # noqa: ANN001, ANN201
    get_engine.cache_clear()
    migrate()
    with TestClient(create_app()) as test_client:
        yield test_client
    get_engine.cache_clear()


def restart(monkeypatch: pytest.MonkeyPatch, **env: str) -> TestClient:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clear_settings_cache()
    get_engine.cache_clear()
    return TestClient(create_app())


def test_health_is_liveness_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with restart(
        monkeypatch,
        SABISCORE_REDIS_URL="redis://127.0.0.1:1/0",
        SABISCORE_DATABASE_URL="postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=2",
    ) as api:
        answer = api.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": "0.1.0"}


def test_ready_embedded_without_redis(client: TestClient) -> None:
    answer = client.get("/ready")
    assert answer.status_code == 200
    assert answer.json() | {"version": ""} == {
        "status": "ok",
        "warehouse": "ok",
        "redis": "disabled",
        "version": "",
    }


def test_ready_with_the_real_redis(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with restart(monkeypatch, SABISCORE_REDIS_URL="redis://127.0.0.1:6379/0") as api:
        body = api.get("/ready").json()
    assert body["redis"] == "ok" and body["status"] == "ok"


def test_ready_reports_an_unreachable_redis(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with restart(monkeypatch, SABISCORE_REDIS_URL="redis://127.0.0.1:1/0") as api:
        answer = api.get("/ready")
    assert answer.status_code == 200  # still serving, from the warehouse
    assert answer.json() == {**answer.json(), "redis": "unreachable", "status": "degraded"}


def test_ready_reports_an_unreachable_warehouse(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with restart(
        monkeypatch,
        SABISCORE_DATABASE_URL="postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=2",
    ) as api:
        answer = api.get("/ready")
    assert answer.status_code == 503  # no Redis configured: nothing can answer
    assert answer.json()["warehouse"] == "unreachable"
    assert answer.json()["status"] == "unavailable"


def test_the_former_entry_point_is_the_same_app() -> None:
    from serving.app import app as former
    from serving.main import app

    assert former is app


def test_the_api_imports_no_ml_library(tmp_path) -> None:  # noqa: ANN001
    """In a fresh interpreter: import the app, start it, serve requests, look at sys.modules.

    Neither an ML library nor a data-frame one (polars, pandas, numpy) is loaded.
    """
    script = textwrap.dedent(
        """
        import os, sys
        os.environ["SABISCORE_HOME"] = sys.argv[1]
        from fastapi.testclient import TestClient
        from sabiscore_ml.warehouse.engine import migrate
        migrate()
        import serving.main
        from sabiscore_ml.warehouse.api_keys import create_api_key
        from sabiscore_ml.warehouse.engine import get_engine
        key = create_api_key(get_engine(), owner="t", tier="free").key
        with TestClient(serving.main.app) as client:
            for path in ("/health", "/ready", "/v1/leagues", "/v1/matches/upcoming",
                         "/v1/value-bets", "/v1/predictions/1", "/v1/insights/1",
                         "/v1/models/current", "/v1/models/current/performance",
                         "/openapi.json", "/metrics"):
                answer = client.get(path, headers={"X-API-Key": key})
                assert answer.status_code in (200, 404), (path, answer.status_code)
        banned = ("sklearn", "xgboost", "lightgbm", "mlflow", "polars", "pandas", "numpy")
        loaded = sorted({m.split(".")[0] for m in sys.modules} & set(banned))
        print("loaded:", ",".join(loaded))
        """
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SABISCORE_")}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "home")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "loaded:"


def _imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at its top or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_the_library_never_imports_the_api() -> None:
    """Nothing under sabiscore_ml/ or feature_store/ imports serving (the API depends on them)."""
    importers = sorted(
        str(path.relative_to(REPO))
        for package in ("sabiscore_ml", "feature_store")
        for path in (REPO / package).rglob("*.py")
        if any(m == "serving" or m.startswith("serving.") for m in _imported_modules(path))
    )
    assert importers == []


def _library_imports() -> dict[str, set[str]]:
    """Module -> the ``sabiscore_ml`` modules it imports (at its top or inside a function)."""
    modules = {}
    for path in (REPO / "sabiscore_ml").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # imports the checker alone reads (``if TYPE_CHECKING:``) are never executed
        type_only = {
            id(child)
            for node in ast.walk(tree)
            if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
            for child in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # ``from package import module`` imports the module (the package's
                # ``__init__`` runs first, but is not what depends on the module)
                submodules = {f"{node.module}.{a.name}" for a in node.names}
                found.update(submodules & modules.keys() or {node.module})
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_the_library_has_no_import_cycle() -> None:
    """No two ``sabiscore_ml`` modules import each other, even through function-level imports."""
    graph = _library_imports()
    index: dict[str, int] = {}
    cycles = []
    for start in sorted(graph):  # modules reachable both ways form a cycle with ``start``
        if start in index:
            continue
        reach = {start}
        todo = [start]
        while todo:
            for module in graph[todo.pop()]:
                if module not in reach:
                    reach.add(module)
                    todo.append(module)
        back = {m for m in reach if m != start and _reaches(graph, m, start)}
        if back:
            cycle = {start, *back}
            cycles.append(cycle)
            index.update(dict.fromkeys(cycle, len(cycles)))
    assert cycles == []
    assert graph["sabiscore_ml.jobs.ingest"].isdisjoint(
        {m for m in graph if m.startswith("sabiscore_ml.jobs.") and m != "sabiscore_ml.jobs"}
    )


def _reaches(graph: dict[str, set[str]], source: str, target: str) -> bool:
    seen, todo = {source}, [source]
    while todo:
        for module in graph[todo.pop()]:
            if module == target:
                return True
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return False
