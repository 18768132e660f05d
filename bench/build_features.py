"""Benchmark: full and incremental feature-store builds over a loaded warehouse.

Usage: python bench/build_features.py WAREHOUSE.sqlite [--runs N]

WAREHOUSE.sqlite is a warehouse already holding the data (for example the
``warehouse.sqlite`` of a SABISCORE_HOME after ``sabiscore ingest`` of the full
shared football-data, Understat, FBref and Transfermarkt folders).  The file is
copied to a temporary SABISCORE_HOME first: the benchmark changes results and
must never touch the original.

Prints, per run:

* **full rebuild**: every league-season recomputed (``--full``): reading the
  inputs, every feature family, writing the Parquet partitions and the index,
  with the time of each family.  The first run is cold (every input read from
  the warehouse, and the input snapshots written); the timed runs after it
  read the snapshots, which are current since the data did not change;
* **incremental after one new matchday**: the results of a day are removed
  (as if not played yet), the store is brought up to date, the results are
  put back, and the timed build recomputes only what that day made stale:
  once for the latest day on which a single country played, once for the
  latest day on which four or more countries did;
* peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path


class FamilyTimes(logging.Handler):
    """Collects the per-family timings the feature builder logs at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, float] = defaultdict(float)

    def emit(self, record: logging.LogRecord) -> None:
        name, seconds = record.args  # "%s: %.2f s"
        self.seconds[name] += seconds


def _incremental(engine, offline, day, label: str, run: int) -> float:  # noqa: ANN001
    """Remove ``day``'s results, catch up, put them back: time the build that follows."""
    from sqlalchemy import text

    with engine.begin() as connection:
        saved = connection.execute(
            text("SELECT id, home_goals, away_goals FROM matches WHERE match_date = :day"),
            {"day": day},
        ).all()
        connection.execute(
            text("UPDATE matches SET home_goals = NULL, away_goals = NULL WHERE id = :id"),
            [{"id": row.id} for row in saved],
        )
    offline.build_offline(engine)  # up to date without the day's results
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE matches SET home_goals = :h, away_goals = :a WHERE id = :id"),
            [{"id": row.id, "h": row.home_goals, "a": row.away_goals} for row in saved],
        )
    report = offline.build_offline(engine)
    rebuilt = ", ".join(f"{league} {season}" for league, season, _ in report.written)
    print(
        f"incremental {run + 1} after {label} ({day}, {len(saved)} results): "
        f"{report.seconds:.2f} s, rebuilt {rebuilt}"
    )
    return report.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="sabiscore-bench-features-"))
    started = time.perf_counter()
    shutil.copyfile(args.warehouse, home / "warehouse.sqlite")
    print(f"copied the warehouse to {home} in {time.perf_counter() - started:.1f} s")
    os.environ["SABISCORE_HOME"] = str(home)
    os.environ.pop("SABISCORE_DATABASE_URL", None)
    os.environ.pop("SABISCORE_REDIS_URL", None)

    from sqlalchemy import text

    import feature_store.build as build_module
    import feature_store.offline as offline
    from feature_store.catalog import feature_names
    from sabiscore_ml.leagues import LEAGUES
    from sabiscore_ml.warehouse.engine import get_engine, migrate

    migrate()
    engine = get_engine()
    with engine.connect() as connection:
        matches = connection.execute(text("SELECT COUNT(*) FROM matches")).scalar_one()
        odds = connection.execute(text("SELECT COUNT(*) FROM odds")).scalar_one()
        xg = connection.execute(text("SELECT COUNT(*) FROM match_xg")).scalar_one()
        values = connection.execute(text("SELECT COUNT(*) FROM squad_values")).scalar_one()
        logs = connection.execute(text("SELECT COUNT(*) FROM team_match_logs")).scalar_one()
    print(
        f"warehouse: {matches:,} matches, {odds:,} odds quotes, {xg:,} xG rows, "
        f"{logs:,} match-log rows, {values:,} squad values; {len(feature_names())} features"
    )

    times = FamilyTimes()
    build_logger = logging.getLogger(build_module.__name__)
    build_logger.setLevel(logging.DEBUG)
    build_logger.addHandler(times)
    build_logger.propagate = False

    full = []
    for run in range(args.runs + 1):
        times.seconds.clear()
        report = offline.build_offline(engine, full=True)
        families = ", ".join(f"{k} {v:.1f} s" for k, v in times.seconds.items())
        kind = "cold, every input read from the warehouse" if run == 0 else "input snapshots"
        print(
            f"full rebuild {run} ({kind}): {report.seconds:.1f} s, {report.partitions} "
            f"partitions, {report.rows:,} matches; families: {families}"
        )
        if run == 0:
            cold = report.seconds
        else:
            full.append(report.seconds)

    with engine.connect() as connection:
        days = connection.execute(
            text("SELECT match_date, league_code FROM matches GROUP BY match_date, league_code")
        ).all()
    countries: dict[object, set[str]] = defaultdict(set)
    for day, league in days:
        countries[day].add(LEAGUES[league].country)
    busy = max(day for day, seen in countries.items() if len(seen) >= 4)
    single = max(day for day, seen in countries.items() if len(seen) == 1)
    incremental: dict[str, list[float]] = {}
    for label, day in (("one country's matchday", single), ("a day of four countries", busy)):
        incremental[label] = [
            _incremental(engine, offline, day, label, run) for run in range(args.runs)
        ]

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"full rebuild, cold: {cold:.1f} s")
    print(
        f"full rebuild, snapshots: min {min(full):.1f} s, "
        f"median {statistics.median(full):.1f} s, max {max(full):.1f} s"
    )
    for label, seconds in incremental.items():
        print(
            f"incremental after {label}: min {min(seconds):.2f} s, "
            f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s"
        )
    print(f"peak RSS {peak:,.0f} MiB")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
