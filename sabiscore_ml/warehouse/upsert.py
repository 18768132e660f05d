"""Dialect-aware upserts (INSERT ... ON CONFLICT) for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table


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
    they are.  Rows are sent in batches of ``batch_size``.
    """
    if not rows:
        return 0
    columns = list(update) if update is not None else [c for c in rows[0] if c not in key]
    name = connection.dialect.name
    if name == "postgresql":
        _pg_upsert(connection, table, rows, key, columns, batch_size)
        return len(rows)
    if name != "sqlite":  # pragma: no cover - guarded by the supported URLs
        raise NotImplementedError(f"upserts are not implemented for {name}")
    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(table)
    if columns:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in columns}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    for start in range(0, len(rows), batch_size):
        connection.execute(stmt, list(rows[start : start + batch_size]))
    return len(rows)


def _pg_upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    update: Sequence[str],
    batch_size: int,
) -> None:
    """PostgreSQL upsert with multi-row VALUES pages (psycopg2 ``execute_values``).

    Runs on the connection's own DBAPI cursor, so it joins the caller's
    transaction; psycopg2's plain ``executemany`` would cost a round trip per row.
    """
    from psycopg2.extras import execute_values

    quote = connection.dialect.identifier_preparer.quote
    names = list(rows[0])
    conflict = ", ".join(quote(c) for c in key)
    if update:
        action = "DO UPDATE SET " + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in update)
    else:
        action = "DO NOTHING"
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) "
        f"VALUES %s ON CONFLICT ({conflict}) {action}"
    )
    values = [tuple(row[c] for c in names) for row in rows]
    cursor = connection.connection.cursor()
    try:
        execute_values(cursor, sql, values, page_size=batch_size)
    finally:
        cursor.close()
