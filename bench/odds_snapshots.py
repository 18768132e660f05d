"""Benchmark: reading odds snapshots "as of T" at the full archive's size.

Usage: python bench/odds_snapshots.py WAREHOUSE [--runs 5]

``WAREHOUSE`` is a SQLite file or a database URL of a loaded warehouse (e.g. the
full shared football-data archive: 177,116 matches, about 5.2 million quotes, as
many snapshots).  For three selections of matches, one matchday of every
division, one season of every division and every match, it times through the
price layer (:mod:`sabiscore_ml.prices`):

* ``current``: the current pre-closing 1X2 prices (``odds``), the reference;
* ``as of T``: the pre-closing 1X2 prices as they stood at T
  (:func:`~sabiscore_ml.prices.quotes_as_of`: the latest snapshot at or before T);
* ``before T``: every pre-closing 1X2 snapshot taken before T
  (:func:`~sabiscore_ml.prices.read_snapshots`, what the movement features read).

Prints rows returned and the min / median wall time over ``--runs`` (after one
warm-up read), and the query plan of the snapshot read for one matchday, which
shows whether the ``(match_id, taken_at)`` index serves it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, create_engine, text

from sabiscore_ml import prices


def _engine(target: str) -> Engine:
    if "://" in target:
        return create_engine(target)
    path = Path(target).resolve()
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")


def _ids(engine: Engine, where: str, **params: object) -> list[int]:
    with engine.connect() as connection:
        return [
            int(i)
            for i in connection.execute(text(f"SELECT id FROM matches {where}"), params).scalars()
        ]


def _timed(read: Callable[[], pl.DataFrame], runs: int) -> tuple[int, float, float]:
    read()  # warm the caches
    walls, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        frame = read()
        walls.append(time.perf_counter() - started)
        rows = frame.height
    return rows, min(walls), statistics.median(walls)


def _plan(engine: Engine, match_ids: list[int], as_of: dt.datetime) -> str:
    ids = ", ".join(str(i) for i in match_ids[:50])
    sql = (
        "SELECT match_id, bookmaker, outcome, price, taken_at FROM odds_snapshots "
        f"WHERE match_id IN ({ids}) AND market = '1x2' AND timing = 'preclose' "
        f"AND taken_at <= '{as_of.isoformat(sep=' ')}'"
    )
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        rows = connection.execute(text(explain + sql)).all()
    return "\n".join("    " + " | ".join(str(v) for v in row) for row in rows[:12])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("warehouse")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = _engine(args.warehouse)
    with engine.connect() as connection:
        snapshots = connection.execute(text("SELECT COUNT(*) FROM odds_snapshots")).scalar_one()
        quotes = connection.execute(text("SELECT COUNT(*) FROM odds")).scalar_one()
        matches = connection.execute(text("SELECT COUNT(*) FROM matches")).scalar_one()
    print(f"{engine.dialect.name}: {matches:,} matches, {quotes:,} quotes, {snapshots:,} snapshots")

    saturday = dt.date(2019, 11, 9)  # a matchday of every division
    selections = {
        "one matchday (8-11 Nov 2019)": (
            _ids(
                engine,
                "WHERE match_date BETWEEN :a AND :b",
                a=saturday - dt.timedelta(days=1),
                b=saturday + dt.timedelta(days=2),
            ),
            dt.datetime(2019, 11, 8, 16, 0),
        ),
        "one season (2018-2019)": (
            _ids(engine, "WHERE season_code = '2018-2019'"),
            dt.datetime(2019, 6, 1),
        ),
        "every match": (_ids(engine, ""), dt.datetime(2100, 1, 1)),
    }
    print(f"{args.runs} runs after a warm-up; wall time min / median")
    print(f"{'selection':<30} {'matches':>8} {'read':<10} {'rows':>10} {'min':>9} {'median':>9}")
    for label, (ids, as_of) in selections.items():
        reads: dict[str, Callable[[], pl.DataFrame]] = {
            "current": lambda ids=ids: prices.read_quotes(engine, ids),
            "as of T": lambda ids=ids, t=as_of: prices.quotes_as_of(engine, ids, t),
            "before T": lambda ids=ids, t=as_of: prices.read_snapshots(engine, ids, before=t),
        }
        for name, read in reads.items():
            rows, low, median = _timed(read, args.runs)
            print(f"{label:<30} {len(ids):>8,} {name:<10} {rows:>10,} {low:>8.3f}s {median:>8.3f}s")
    ids, as_of = selections["one matchday (8-11 Nov 2019)"]
    print("query plan, snapshots of 50 matches of the matchday before T:")
    print(_plan(engine, ids, as_of))


if __name__ == "__main__":
    main()
