"""Benchmark: what the great-expectations suites add to a folder ingest through the CLI.

Usage: python bench/ingest_validation.py DATA_DIR [--source football-data|understat|fbref]
       [--database-url URL] [--modes off,on] [--base CHECKOUT] [--prepare FOOTBALL_DATA_DIR]
       python bench/ingest_validation.py SHARED_DATA_DIR --understat-season [--database-url URL]

Runs ``sabiscore ingest SOURCE --from-dir DATA_DIR`` once per mode, one after the
other in the same invocation (so that the ratio holds on a loaded machine), each
on a fresh warehouse: ``off`` with the suites replaced by no-ops (nothing
validated, great-expectations never imported), ``on`` as shipped.  ``--base
CHECKOUT`` adds ``base``: the same command run from another checkout's sources
(e.g. ``main``), validation on.  ``--prepare`` first loads a football-data folder
(validation off, not timed) into a warehouse copied for each mode: Understat and
FBref teams are reconciled with the football-data roster.  Prints wall time,
peak RSS and the command's last summary line per mode.  Without --database-url
the warehouse is SQLite in a temporary SABISCORE_HOME; with it, each mode
starts from an empty database of that URL (dropped and created again).
``--understat-season`` measures the 380 Understat match files of EPL 2015-16
under the shared data root (football-data E0 2015-16 prepared first) on SQLite,
then on the PostgreSQL of ``--database-url``, in the same invocation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The CLI with every suite a no-op: the validation-off baseline.
OFF = (
    "import sabiscore_ml.validation as v\n"
    "v.validate_frame = lambda *args, **kwargs: None\n"
    "v.screen_batch = lambda *args, **kwargs: set()\n"
)
RUN = "import sys\nfrom sabiscore_ml.cli import app\nsys.argv[0] = 'sabiscore'\napp()\n"


def _reset_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def _run(code: str, args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and the last summary line of one CLI run."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        child = subprocess.Popen(
            [sys.executable, "-c", code, *args], env=env, stdout=output, stderr=output, text=True
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    peak = usage.ru_maxrss / 1024
    lines = [line for line in text.splitlines() if "file(s)" in line]
    return wall, peak, (lines[-1].strip() if lines else f"exit {child.returncode}")


def measure(
    source: str,
    data_dir: Path,
    *,
    database_url: str | None,
    modes: list[str],
    base: Path | None,
    prepare: Path | None,
) -> None:
    """Run ``sabiscore ingest SOURCE --from-dir DATA_DIR`` once per mode; print the figures."""
    work = Path(tempfile.mkdtemp(prefix="sabiscore-bench-validation-"))
    command = ["ingest", source, "--from-dir", str(data_dir)]
    print(f"{source}: {command[-1]}; warehouse {database_url or 'SQLite'}")
    for mode in modes:
        home = work / mode
        env = dict(os.environ, SABISCORE_HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
        if database_url:
            env["SABISCORE_DATABASE_URL"] = database_url
            _reset_database(database_url)
        if prepare:
            prepared = work / "prepared"
            if not prepared.exists() or database_url:
                prep_env = dict(env, SABISCORE_HOME=str(prepared))
                prepare_command = ["ingest", "football-data", "--from-dir", str(prepare)]
                _run(OFF + RUN, prepare_command, prep_env)
            if not database_url:
                shutil.copytree(prepared, home)
        if mode == "base" and base is not None:
            env["PYTHONPATH"] = str(base.resolve())
        wall, peak, summary = _run((OFF if mode == "off" else "") + RUN, command, env)
        print(f"  validation {mode:>4}: {wall:7.1f} s wall, {peak:6.0f} MiB peak; {summary}")
    print(f"(state kept in {work})")


def understat_season(data_root: Path, work: Path) -> tuple[Path, Path]:
    """The 380 Understat match files of EPL 2015-16 and a folder of its football-data season."""
    matches = data_root / "understat" / "soccerdata_api_json" / "EPL_2015" / "matches"
    roster = work / "football-data"
    (roster / "E0").mkdir(parents=True, exist_ok=True)
    shutil.copy(data_root / "football-data" / "E0" / "2015-2016.csv", roster / "E0")
    return matches, roster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--source", default="football-data")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--modes", default="off,on")
    parser.add_argument("--base", type=Path, help="another checkout, run as mode 'base'")
    parser.add_argument("--prepare", type=Path, help="football-data folder loaded first")
    parser.add_argument(
        "--understat-season",
        action="store_true",
        help="DATA_DIR is the shared data root: its 380 Understat match files of EPL 2015-16 "
        "(football-data E0 2015-16 loaded first), on SQLite and, with --database-url, "
        "PostgreSQL",
    )
    args = parser.parse_args()

    modes = args.modes.split(",") + (["base"] if args.base else [])
    if args.understat_season:
        matches, roster = understat_season(
            args.data_dir, Path(tempfile.mkdtemp(prefix="sabiscore-bench-roster-"))
        )
        for url in [None, *([args.database_url] if args.database_url else [])]:
            measure(
                "understat", matches, database_url=url, modes=modes, base=args.base, prepare=roster
            )
        return
    measure(
        args.source,
        args.data_dir,
        database_url=args.database_url,
        modes=modes,
        base=args.base,
        prepare=args.prepare,
    )


if __name__ == "__main__":
    main()
