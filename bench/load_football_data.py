"""Benchmark: load a whole football-data archive into a fresh warehouse, then export it.

Usage: python bench/load_football_data.py DATA_DIR [--database-url URL] [--export FILE]

Prints the wall time of parsing alone, of parsing and validating with the
great-expectations suites (no database), of the full load (archive + parse +
validate + upsert, one transaction per file), of building the Data Docs of the
load's validation results, and of the export, with the counts that say the
work was real: files, matches, odds, rejections, and how many exported matches
carry Pinnacle closing odds.  Without --database-url the warehouse is a SQLite
file in a temporary SABISCORE_HOME.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--database-url", help="warehouse URL (default: SQLite in a temp dir)")
    parser.add_argument("--export", type=Path, help="where to write the export CSV")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="sabiscore-bench-"))
    os.environ["SABISCORE_HOME"] = str(home)
    if args.database_url:
        os.environ["SABISCORE_DATABASE_URL"] = args.database_url

    from sabiscore_ml.errors import RejectedFile
    from sabiscore_ml.jobs.football_data import plan_football_data, run_item
    from sabiscore_ml.settings import get_warehouse_settings
    from sabiscore_ml.sources.football_data import parse_football_data
    from sabiscore_ml.validation import validate_football_data
    from sabiscore_ml.warehouse.engine import get_engine, migrate
    from sabiscore_ml.warehouse.queries import matches_frame

    items = plan_football_data(from_dir=str(args.data_dir))
    print(f"warehouse: {get_warehouse_settings().url.split('@')[-1]}")
    print(f"files: {len(items)}")

    started, cpu = time.perf_counter(), time.process_time()
    parsed_matches = 0
    for item in items:
        path = Path(item["path"])
        parsed_matches += len(parse_football_data(path.read_bytes(), str(path)).matches)
    parse_seconds, parse_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"parse only: {parse_seconds:.1f} s ({parse_cpu:.1f} s CPU) for {parsed_matches:,} matches"
    )

    import great_expectations  # noqa: F401 - imported once, outside the timings below

    started, cpu = time.perf_counter(), time.process_time()
    rejected = 0
    for item in items:
        path = Path(item["path"])
        try:
            validate_football_data(parse_football_data(path.read_bytes(), str(path)))
        except RejectedFile:
            rejected += 1
    validate_seconds, validate_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"parse + validate: {validate_seconds:.1f} s ({validate_cpu:.1f} s CPU), {rejected} "
        f"rejected; the suites take {(validate_seconds - parse_seconds) / len(items):.3f} s "
        f"({(validate_cpu - parse_cpu) / len(items):.3f} s CPU) per file"
    )

    migrate()
    started = time.perf_counter()
    outcomes = [run_item(item) for item in items]
    load_seconds = time.perf_counter() - started
    status = Counter(outcome.status for outcome in outcomes)
    matches = sum(outcome.matches for outcome in outcomes)
    odds = sum(outcome.odds for outcome in outcomes)
    print(
        f"full load: {load_seconds:.1f} s; files {dict(status)}; matches {matches:,}; "
        f"odds {odds:,}; {matches / load_seconds:,.0f} matches/s"
    )
    for outcome in outcomes:
        if not outcome.ok:
            print(f"  REJECTED {outcome.message}")

    try:
        from sabiscore_ml.data_docs import build_data_docs
    except ImportError:  # a checkout from before the Data Docs
        build_data_docs = None
    if build_data_docs is not None:
        started = time.perf_counter()
        docs = build_data_docs()
        if docs is not None:
            print(
                f"data docs: {time.perf_counter() - started:.1f} s; {docs.rendered} pages, "
                f"{docs.results} results kept ({docs.failed} failed), {docs.index}"
            )

    started = time.perf_counter()
    frame = matches_frame(get_engine())
    export_seconds = time.perf_counter() - started
    with_close = int(frame["pinnacle_close_h"].notna().sum()) if "pinnacle_close_h" in frame else 0
    print(
        f"export: {export_seconds:.1f} s; {len(frame):,} matches, {len(frame.columns)} columns, "
        f"{with_close:,} with Pinnacle closing odds"
    )
    per_league = frame.groupby("league").size()
    print("matches per division: " + ", ".join(f"{k} {v}" for k, v in per_league.items()))
    if args.export:
        frame.to_csv(args.export, index=False)
        print(f"wrote {args.export}")
    print(f"(state kept in {home})")


if __name__ == "__main__":
    main()
