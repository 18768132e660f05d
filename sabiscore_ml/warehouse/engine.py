"""Engines for the warehouse URL, and schema migration with Alembic."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from sabiscore_ml.settings import get_warehouse_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """The (cached) engine for ``url``, by default the configured warehouse.

    SQLite files get their parent folder created, foreign keys on and WAL
    journaling; PostgreSQL connections are checked before use.
    """
    url = url or get_warehouse_settings().url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str | None = None, revision: str = "head") -> str:
    """Create or upgrade the warehouse schema to ``revision``; return the URL used."""
    from alembic import command

    url = url or get_warehouse_settings().url
    engine = get_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    seed_reference_data(engine)
    return url


def current_revision(url: str | None = None) -> str | None:
    """The schema revision the warehouse is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def seed_reference_data(engine: Engine) -> None:
    """Upsert the known leagues (idempotent)."""
    from sabiscore_ml.leagues import LEAGUES
    from sabiscore_ml.warehouse.models import League
    from sabiscore_ml.warehouse.upsert import upsert

    rows = [
        {"code": lg.code, "name": lg.name, "country": lg.country, "tier": lg.tier}
        for lg in LEAGUES.values()
    ]
    with engine.begin() as connection:
        upsert(connection, League.__table__, rows, ["code"])
