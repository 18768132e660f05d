"""Shared fixtures: an isolated SABISCORE_HOME per test, and real warehouses.

Warehouse tests run on SQLite and on the real PostgreSQL server
(``SABISCORE_TEST_PG_URL``, default ``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``):
each test run creates its own database and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine, migrate

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "samples" / "football-data"
FIXTURES = REPO / "tests" / "fixtures"
FOOTBALL_DATA_FIXTURES = FIXTURES / "football-data"


def real_file(source: str, name: str) -> Path:
    """A recorded file of ``source``: a test fixture, or one of the bundled samples.

    The bundled samples (``samples/<source>/``) double as fixtures, so no file is
    kept twice; both share the provenance notes in ``tests/fixtures/<source>/``.
    """
    path = FIXTURES / source / name
    if path.exists():
        return path
    found = sorted((REPO / "samples" / source).rglob(name))
    if not found:
        raise FileNotFoundError(f"{name}: not in tests/fixtures/{source} nor in samples/{source}")
    return found[0]


PG_ADMIN_URL = os.environ.get(
    "SABISCORE_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(autouse=True)
def sabiscore_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own SABISCORE_HOME and no inherited Sabiscore settings."""
    for name in list(os.environ):
        if name.startswith(("SABISCORE_", "MLFLOW_")):
            monkeypatch.delenv(name)
    home = tmp_path / "sabiscore-home"
    monkeypatch.setenv("SABISCORE_HOME", str(home))
    # two test workers share two cores: one thread per tree model each
    monkeypatch.setenv("SABISCORE_MODEL_THREADS", "1")
    clear_settings_cache()
    yield home
    clear_settings_cache()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sabiscore_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the server is part of the test setup
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is needed for these tests: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    admin.dispose()
    try:
        yield url
    finally:
        get_engine.cache_clear()
        drop_database(name)


def drop_database(name: str) -> None:
    """Drop a PostgreSQL database of the tests, ending its open connections first."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(
    request: pytest.FixtureRequest, sabiscore_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """A migrated, empty warehouse on SQLite or PostgreSQL, set as the configured one."""
    if request.param == "sqlite":
        url = f"sqlite:///{sabiscore_home / 'warehouse.sqlite'}"
    else:
        url = request.getfixturevalue("pg_database")
        _reset_postgres(url)
    monkeypatch.setenv("SABISCORE_DATABASE_URL", url)
    clear_settings_cache()
    get_engine.cache_clear()
    migrate(url)
    engine = get_engine(url)
    yield engine
    engine.dispose()
    get_engine.cache_clear()


def table_snapshot(engine: Engine, table: str, order_by: str) -> list[tuple]:
    """Every row of ``table`` in a stable order (for before/after comparisons)."""
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY {order_by}"))
        ]


def warehouse_snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """The data tables (not the run log) of the warehouse."""
    return {
        "teams": table_snapshot(engine, "teams", "id"),
        "team_aliases": table_snapshot(engine, "team_aliases", "id"),
        "seasons": table_snapshot(engine, "seasons", "code"),
        "raw_files": [row[:5] for row in table_snapshot(engine, "raw_files", "sha256")],
        "matches": table_snapshot(engine, "matches", "id"),
        "odds": table_snapshot(
            engine, "odds", "match_id, bookmaker, market, timing, line, outcome"
        ),
    }
