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
* **incremental after one new matchday**: the results of the latest matchday
  of the latest Premier League season are removed (as if not played yet), the
  store is brought up to date, the results are put back, and the timed build
  recomputes only what that matchday made stale;
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

    with engine.begin() as connection:
        season = connection.execute(
            text("SELECT MAX(season_code) FROM matches WHERE league_code = 'E0'")
        ).scalar_one()
        day = connection.execute(
            text(
                "SELECT MAX(match_date) FROM matches WHERE league_code = 'E0' "
                "AND season_code = :season"
            ),
            {"season": season},
        ).scalar_one()
        saved = connection.execute(
            text("SELECT id, home_goals, away_goals FROM matches WHERE match_date = :day"),
            {"day": day},
        ).all()
    incremental = []
    for run in range(args.runs):
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE matches SET home_goals = NULL, away_goals = NULL WHERE id = :id"),
                [{"id": row.id} for row in saved],
            )
        offline.build_offline(engine)  # up to date without the matchday
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE matches SET home_goals = :h, away_goals = :a WHERE id = :id"),
                [{"id": row.id, "h": row.home_goals, "a": row.away_goals} for row in saved],
            )
        report = offline.build_offline(engine)
        incremental.append(report.seconds)
        print(
            f"incremental {run + 1} (matchday {day}, {len(saved)} results): "
            f"{report.seconds:.2f} s, rebuilt {[f'{lg} {sn}' for lg, sn, _ in report.written]}"
        )

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"full rebuild, cold: {cold:.1f} s")
    print(
        f"full rebuild, snapshots: min {min(full):.1f} s, "
        f"median {statistics.median(full):.1f} s, max {max(full):.1f} s"
    )
    print(
        f"incremental: min {min(incremental):.2f} s, "
        f"median {statistics.median(incremental):.2f} s, max {max(incremental):.2f} s"
    )
    print(f"peak RSS {peak:,.0f} MiB")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
