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

# From this many rows on, PostgreSQL upserts go through COPY into a temporary table.
_COPY_THRESHOLD = 2000


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
    newer: Sequence[str] | None = None,
    batch_size: int = 5000,
) -> int:
    """Insert ``rows`` or update them where ``key`` already exists; return the row count.

    ``update`` lists the columns to overwrite on conflict (default: every
    non-key column).  With no columns to update, conflicting rows are left as
    they are.  With ``newer`` (rank columns, e.g. ``["release", "raw_sha256"]``)
    a conflicting row is only overwritten when the incoming row ranks higher on
    those columns, compared in order: the result no longer depends on the order
    in which rows of several versions arrive.  Every row must have the same keys.
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
        action = "DO UPDATE SET " + ", ".join(
            f"{quote(c)} = {excluded}.{quote(c)}" for c in columns
        )
        if newer:
            incoming = ", ".join(f"{excluded}.{quote(c)}" for c in newer)
            stored = ", ".join(f"{quote(table.name)}.{quote(c)}" for c in newer)
            action += f" WHERE ({incoming}) > ({stored})"
    else:
        action = "DO NOTHING"
    placeholder = "%s" if dialect.name == "postgresql" else "(" + ", ".join("?" * len(names)) + ")"
    conflict_sql = f"ON CONFLICT ({', '.join(quote(c) for c in key)}) {action}"
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) "
        f"VALUES {placeholder} {conflict_sql}"
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
        if dialect.name == "postgresql" and len(values) >= _COPY_THRESHOLD:
            _pg_copy_upsert(cursor, table.name, names, values, quote, conflict_sql)
        elif dialect.name == "postgresql":
            from psycopg2.extras import execute_values

            execute_values(cursor, sql, values, page_size=batch_size)
        else:
            cursor.executemany(sql, values)
    finally:
        cursor.close()
    return len(rows)


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _pg_copy_upsert(
    cursor: Any,
    table: str,
    names: Sequence[str],
    values: Sequence[tuple[Any, ...]],
    quote: Callable[[str], str],
    conflict_sql: str,
) -> None:
    """COPY the rows into a temporary table, then upsert them in one statement."""
    import io

    staging = quote(f"_staging_{table}")
    columns = ", ".join(quote(c) for c in names)
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
        f"(LIKE {quote(table)} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    cursor.execute(f"TRUNCATE {staging}")
    buffer = io.StringIO()
    buffer.writelines("\t".join(_copy_text(v) for v in row) + "\n" for row in values)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {staging} ({columns}) FROM STDIN", buffer)
    cursor.execute(
        f"INSERT INTO {quote(table)} ({columns}) SELECT {columns} FROM {staging} {conflict_sql}"
    )
