"""Odds snapshots: when each quote was taken, and writing them (``odds_snapshots``).

Every quote loaded is kept as a snapshot stamped with the moment it was taken;
``odds`` keeps only each quote's latest price.  The moments:

* a ``fixtures.csv`` copy: when it was downloaded, or the moment given with the
  copy (``--taken-at``);
* a season file's **pre-closing** block: football-data collects it "on Friday
  afternoons for weekend games and on Tuesday afternoons for midweek games"
  (its notes): the Friday (matches Friday to Monday) or the Tuesday (Tuesday to
  Thursday) on or before the match day, at :data:`COLLECTION_HOUR` UK time, and
  at the latest an hour before a known kick-off;
* a season file's **closing** block: the kick-off (the match day's noon, UK
  time, when the file gives no time).

Times are naive UTC, like every time in the warehouse.  On PostgreSQL the
table is partitioned by month of ``taken_at``: :func:`ensure_partitions`
creates the months a load needs before it writes (a missing month is an
error, not a silent default partition).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from sabiscore_ml.warehouse.models import OddsSnapshot
from sabiscore_ml.warehouse.upsert import upsert

UK = ZoneInfo("Europe/London")
_UTC = ZoneInfo("UTC")
#: The UK hour of the afternoon football-data's pre-closing odds are taken as collected at.
COLLECTION_HOUR = 15
#: Days back from the match day to the collection day, by weekday (Monday 0): a
#: weekend game's Friday, a midweek game's Tuesday.
_DAYS_BACK = {0: 3, 1: 0, 2: 1, 3: 2, 4: 0, 5: 1, 6: 2}
SNAPSHOT_KEY: tuple[str, ...] = (
    "match_id",
    "bookmaker",
    "market",
    "timing",
    "line",
    "outcome",
    "taken_at",
)
TABLE = OddsSnapshot.__tablename__
#: No snapshot of a match is taken earlier than this before its day: readers bound
#: ``taken_at`` from below with it, so PostgreSQL scans only the months a read can
#: touch; loaders refuse a quote outside it (:func:`check_lookback`).
LOOKBACK = dt.timedelta(days=400)


class SnapshotWindowError(ValueError):
    """A quote taken longer than :data:`LOOKBACK` before its match's day."""


def earliest_snapshot(match_date: dt.date) -> dt.datetime:
    """The earliest moment a snapshot of a match on ``match_date`` may carry."""
    return dt.datetime.combine(match_date, dt.time()) - LOOKBACK


def check_lookback(match_date: dt.date, taken_at: dt.datetime, what: str) -> None:
    """Raise :class:`SnapshotWindowError` unless ``taken_at`` is within the look-back window."""
    if taken_at < earliest_snapshot(match_date):
        raise SnapshotWindowError(
            f"{what}: prices taken at {taken_at:%Y-%m-%d %H:%M} are more than "
            f"{LOOKBACK.days} days before the match day {match_date}"
        )


def _uk_to_utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UK)
    return local.astimezone(_UTC).replace(tzinfo=None)


def season_quote_time(
    match_date: dt.date, kickoff_utc: dt.datetime | None, timing: str
) -> dt.datetime:
    """When a season file's quote of ``timing`` (``preclose``/``close``) was taken (naive UTC)."""
    if timing == "close":
        return kickoff_utc if kickoff_utc is not None else _uk_to_utc(match_date, 12)
    collected = _uk_to_utc(
        match_date - dt.timedelta(days=_DAYS_BACK[match_date.weekday()]), COLLECTION_HOUR
    )
    if kickoff_utc is not None and collected > kickoff_utc - dt.timedelta(hours=1):
        collected = kickoff_utc - dt.timedelta(hours=1)
    return collected


def partition_name(year: int, month: int) -> str:
    """The PostgreSQL partition of ``odds_snapshots`` holding one month."""
    return f"{TABLE}_y{year:04d}m{month:02d}"


def partitions(connection: Connection) -> set[str]:
    """The month partitions that exist (PostgreSQL; nothing elsewhere)."""
    if connection.dialect.name != "postgresql":
        return set()
    rows = connection.execute(
        text(
            "SELECT child.relname FROM pg_inherits i "
            "JOIN pg_class child ON child.oid = i.inhrelid "
            "JOIN pg_class parent ON parent.oid = i.inhparent "
            "WHERE parent.relname = :table"
        ),
        {"table": TABLE},
    ).scalars()
    return set(rows)


def ensure_partitions(connection: Connection, times: Iterable[dt.datetime]) -> list[str]:
    """Create the month partitions ``times`` fall in that do not exist yet; return them.

    PostgreSQL only (SQLite has one table).  Concurrent loads creating the same
    month are serialised by a transaction-scoped advisory lock.
    """
    if connection.dialect.name != "postgresql":
        return []
    months = {(t.year, t.month) for t in times}
    existing = partitions(connection)
    missing = sorted(m for m in months if partition_name(*m) not in existing)
    if not missing:
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": TABLE})
    existing = partitions(connection)
    created = []
    for year, month in missing:
        name = partition_name(year, month)
        if name in existing:
            continue
        following = (year + month // 12, month % 12 + 1)
        connection.execute(
            text(
                f'CREATE TABLE "{name}" PARTITION OF "{TABLE}" FOR VALUES '
                f"FROM ('{year:04d}-{month:02d}-01') "
                f"TO ('{following[0]:04d}-{following[1]:02d}-01')"
            )
        )
        created.append(name)
    return created


def write_snapshots(
    connection: Connection, rows: Sequence[dict[str, object]], *, batch_size: int = 5000
) -> int:
    """Write snapshot rows (``odds`` rows with ``taken_at``); the same quote and moment once.

    A row already stored for the same quote and moment takes the incoming
    price (a corrected re-publication of the same file); a new moment is a new
    snapshot.  Returns the rows written.
    """
    if not rows:
        return 0
    times: set[dt.datetime] = set()
    for row in rows:
        taken = row["taken_at"]
        assert isinstance(taken, dt.datetime)
        times.add(taken)
    ensure_partitions(connection, times)
    return upsert(
        connection,
        OddsSnapshot.__table__,
        rows,
        list(SNAPSHOT_KEY),
        update=["price", "raw_sha256"],
        batch_size=batch_size,
    )
