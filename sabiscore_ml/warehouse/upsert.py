"""Dialect-aware bulk upserts (INSERT ... ON CONFLICT) for SQLite and PostgreSQL.

Rows go straight to the DBAPI cursor of the caller's connection (so they join
its transaction), with values converted by each column's SQLAlchemy type: the
stored text is exactly what the ORM would write, without the per-row cost of
compiling parameters.  PostgreSQL receives multi-row VALUES pages
(``psycopg2.extras.execute_values``); SQLite an ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table


def _converters(
    connection: Connection, table: Table, names: Sequence[str]
) -> list[Callable[[Any], Any] | None]:
    dialect = connection.dialect
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    *,
    update: Sequence[str] | None = None,
    batch_size: int = 5000,
) -> int:
    """Insert ``rows`` or update them where ``key`` already exists; return the row count.

    ``update`` lists the columns to overwrite on conflict (default: every
    non-key column).  With no columns to update, conflicting rows are left as
    they are.  Every row must have the same keys.
    """
    if not rows:
        return 0
    names = list(rows[0])
    columns = list(update) if update is not None else [c for c in names if c not in key]
    dialect = connection.dialect
    if dialect.name not in ("postgresql", "sqlite"):  # pragma: no cover - guarded by settings
        raise NotImplementedError(f"upserts are not implemented for {dialect.name}")
    quote = dialect.identifier_preparer.quote
    excluded = "EXCLUDED" if dialect.name == "postgresql" else "excluded"
    if columns:
        action = "DO UPDATE SET " + ", ".join(f"{quote(c)} = {excluded}.{quote(c)}" for c in columns)
    else:
        action = "DO NOTHING"
    placeholder = "%s" if dialect.name == "postgresql" else "(" + ", ".join("?" * len(names)) + ")"
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) "
        f"VALUES {placeholder} ON CONFLICT ({', '.join(quote(c) for c in key)}) {action}"
    )
    converters = _converters(connection, table, names)
    if any(converters):
        values = [
            tuple(
                row[name] if convert is None or row[name] is None else convert(row[name])
                for name, convert in zip(names, converters, strict=True)
            )
            for row in rows
        ]
    else:
        values = [tuple(row[name] for name in names) for row in rows]
    cursor = connection.connection.cursor()
    try:
        if dialect.name == "postgresql":
            from psycopg2.extras import execute_values

            execute_values(cursor, sql, values, page_size=batch_size)
        else:
            cursor.executemany(sql, values)
    finally:
        cursor.close()
    return len(rows)
