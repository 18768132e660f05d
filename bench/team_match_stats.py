"""Benchmark: the per team-match statistics frame over a warehouse of ~100k match-log rows.

Usage: python bench/team_match_stats.py DATA_DIR [--database-url URL] [--rows N]

DATA_DIR is the shared data folder (``football-data/``, ``understat/``, ``fbref/``).
Loads football-data E0 2015-16 and 2020-21 and F1 2020-21 (from the bundled
sample: the shared archive lacks it), then the real Understat EPL 2015-16 and
2020-21 league pages with every EPL 2015-16 match file, and the FBref Ligue 1
2020-21 match logs.  The real ``team_match_logs`` rows are then copied into
earlier seasons (dates moved back whole years, no match link) until the table
holds about N rows, and :func:`team_match_stats_frame` is timed (wall best and
median of seven runs, and the CPU time of this process, which includes SQLite's
work but not PostgreSQL's server) with the counts that show the work was real.
Without --database-url the warehouse is a SQLite file in a temporary
SABISCORE_HOME.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path


def _shifted(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--database-url", help="warehouse URL (default: SQLite in a temp dir)")
    parser.add_argument("--rows", type=int, default=100_000, help="match-log rows to reach")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="sabiscore-bench-"))
    os.environ["SABISCORE_HOME"] = str(home)
    if args.database_url:
        os.environ["SABISCORE_DATABASE_URL"] = args.database_url

    from sqlalchemy import func, select

    from sabiscore_ml.jobs.football_data import ingest_football_data_file
    from sabiscore_ml.jobs.sources import ingest_source_bytes
    from sabiscore_ml.settings import get_warehouse_settings
    from sabiscore_ml.warehouse.engine import get_engine, migrate
    from sabiscore_ml.warehouse.models import Season, TeamMatchLog
    from sabiscore_ml.warehouse.queries import team_match_stats_frame
    from sabiscore_ml.warehouse.upsert import upsert

    data = args.data_dir
    migrate()
    engine = get_engine()
    print(f"warehouse: {get_warehouse_settings().url.split('@')[-1]}")
    samples = Path(__file__).resolve().parents[1] / "samples" / "football-data"
    for league, season in (("E0", "2015-2016"), ("E0", "2020-2021"), ("F1", "2020-2021")):
        # the shared archive has no F1 2020-21: the bundled sample has it
        found = sorted((data / "football-data" / league).glob(f"{season}*.csv"))
        found = found or sorted((samples / league).glob(f"{season}*.csv"))
        assert ingest_football_data_file(found[0]).ok, found
    understat = data / "understat"
    sources = [
        ("understat", understat / "soccerdata_api_json" / "EPL_2015" / "league_1_season_2015.json"),
        ("understat", understat / "html" / "league_epl.html"),
        *(
            ("understat", path)
            for path in sorted((understat / "soccerdata_api_json" / "EPL_2015").glob("*/*.json"))
        ),
        *(("fbref", path) for path in sorted((data / "fbref" / "matchlogs").glob("*.html"))),
    ]
    started = time.perf_counter()
    loaded = 0
    for source, path in sources:
        outcome = ingest_source_bytes(source, path.read_bytes(), str(path), league="E0")
        loaded += outcome.ok
    seconds = time.perf_counter() - started
    print(f"source files loaded: {loaded} of {len(sources)} in {seconds:.1f} s")

    columns = [c.name for c in TeamMatchLog.__table__.columns if c.name != "id"]
    with engine.begin() as connection:
        real = [
            dict(zip(columns, row, strict=True))
            for row in connection.execute(select(*(TeamMatchLog.__table__.c[c] for c in columns)))
        ]
        copies = max(0, -(-args.rows // max(len(real), 1)) - 1)
        for years in range(1, copies + 1):
            rows = []
            for row in real:
                start = int(row["season_code"][:4]) - years
                rows.append(
                    {
                        **row,
                        "season_code": f"{start}-{start + 1}",
                        "match_date": _shifted(row["match_date"], years),
                        "source_match_id": None,
                    }
                )
            seasons = {r["season_code"] for r in rows}
            upsert(
                connection,
                Season.__table__,
                [{"code": code, "start_year": int(code[:4])} for code in seasons],
                ["code"],
                update=[],
            )
            upsert(
                connection,
                TeamMatchLog.__table__,
                rows,
                ["source", "team_id", "match_date", "competition", "opponent_name", "stat_type"],
            )
        total = connection.execute(select(func.count()).select_from(TeamMatchLog)).scalar_one()
    print(f"team_match_logs: {len(real):,} real rows, {total:,} after {copies} yearly copies")

    timings, cpu = [], []
    for _ in range(7):
        started, cpu_started = time.perf_counter(), time.process_time()
        frame = team_match_stats_frame(engine)
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    print(
        f"team_match_stats_frame: {frame.height:,} rows x {frame.width} columns; wall best "
        f"{min(timings):.2f} s, median {statistics.median(timings):.2f} s; this process's CPU "
        f"best {min(cpu):.2f} s"
    )
    print(
        "rows by source: "
        + ", ".join(f"{s} {n:,}" for s, n in frame.group_by("source").len().sort("source").rows())
    )
    print(
        f"with npxG {frame['npxg_for'].is_not_null().sum():,}, "
        f"with PPDA {frame['ppda'].is_not_null().sum():,}, "
        f"with a league {frame['league_code'].is_not_null().sum():,}, "
        f"with an opponent id {frame['opponent_team_id'].is_not_null().sum():,}, "
        f"linked to a match {frame['match_id'].is_not_null().sum():,}"
    )


if __name__ == "__main__":
    main()
