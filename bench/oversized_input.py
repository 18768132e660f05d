"""Benchmark: peak memory and time of refusing a 200 MB squad-value CSV (and its gzip bomb).

Usage: python bench/oversized_input.py [--megabytes 200] [--without-limit]

Builds, in a temporary folder, a squad-value table of about ``--megabytes`` MB
from the real rows of ``samples/transfermarkt/E0/premier_league_squad_values_2020_2024.csv``
(the header once, then its data rows over and over), and the same table
gzip-compressed (a few hundred KB that decompress to the whole table).  Each is
ingested by the real command, ``sabiscore ingest transfermarkt --file ... --league E0``,
in a child process with a fresh ``SABISCORE_HOME``; the child's wall time, exit
status and peak resident memory (``ru_maxrss`` from ``os.wait4``) are printed,
beside the same command on the real sample file for the baseline.
``--without-limit`` raises ``SABISCORE_TRANSFERMARKT_MAX_BYTES`` above the file, to
measure what reading it whole costs (minutes, and gigabytes of memory).
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "transfermarkt" / "E0" / "premier_league_squad_values_2020_2024.csv"
SABISCORE = Path(sys.executable).with_name("sabiscore")


def build_table(path: Path, megabytes: int) -> int:
    """Write the sample's header, then its data rows until ``megabytes`` MB; return the size."""
    header, body = SAMPLE.read_bytes().split(b"\n", 1)
    block = body * max(1, (1 << 20) // len(body))
    target = megabytes << 20
    with path.open("wb") as out:
        out.write(header + b"\n")
        while out.tell() < target:
            out.write(block)
    return path.stat().st_size


def build_bomb(table: Path, path: Path) -> int:
    """``table`` gzip-compressed into ``path``, streamed; return the compressed size."""
    with table.open("rb") as source, gzip.GzipFile(path, "wb", mtime=0) as out:
        while chunk := source.read(1 << 20):
            out.write(chunk)
    return path.stat().st_size


def run(path: Path, home: Path, env: dict[str, str]) -> tuple[float, int, float, str]:
    """Ingest ``path``: (wall seconds, exit status, peak RSS in MiB, last output line)."""
    command = [str(SABISCORE), "ingest", "transfermarkt", "--file", str(path), "--league", "E0"]
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        env={**env, "SABISCORE_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    output = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if "rejected by check" in line]
    shown = lines[0] if lines else (output.strip().splitlines() or [""])[-1]
    return wall, child.returncode, usage.ru_maxrss / 1024, shown


_IN_PROCESS = """
import resource, sys, time
from sabiscore_ml.jobs.sources import run_source_item
from sabiscore_ml.warehouse.engine import get_engine, migrate
migrate()
engine = get_engine()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
item = {"kind": "file", "source": "transfermarkt", "path": sys.argv[1], "league": "E0"}
outcome = run_source_item(item, engine=engine)
took = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{took:.4f} {before / 1024:.1f} {after / 1024:.1f} {outcome.check}")
"""


def run_in_process(path: Path, home: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """``run_source_item`` alone, after the imports: (seconds, RSS before, peak after, check)."""
    done = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(path)],
        env={**env, "SABISCORE_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    took, before, after, check = done.stdout.split()[-4:]
    return float(took), float(before), float(after), check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--without-limit", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SABISCORE_", "MLFLOW_"))}
    env["SABISCORE_MODEL_THREADS"] = "1"
    env["COLUMNS"] = "400"  # one line per message
    if args.without_limit:
        env["SABISCORE_TRANSFERMARKT_MAX_BYTES"] = str((args.megabytes + 1) << 21)
    with tempfile.TemporaryDirectory(prefix="sabiscore-bench-") as tmp:
        folder = Path(tmp) / "E0"
        folder.mkdir()
        table = folder / "squad_values_big.csv"
        size = build_table(table, args.megabytes)
        bomb = folder / "squad_values_big.csv.gz"
        packed = build_bomb(table, bomb)
        print(f"table: {size:,} bytes ({size / 2**20:.0f} MiB); gzip: {packed:,} bytes")
        cases = [("real sample (baseline)", SAMPLE), ("200 MB table", table), ("gzip bomb", bomb)]
        print("the command, sabiscore ingest transfermarkt --file FILE --league E0:")
        for index, (label, path) in enumerate(cases):
            wall, status, rss, shown = run(path, Path(tmp) / f"cli{index}", env)
            print(f"  {label:24} exit {status}  {wall:7.2f} s  peak RSS {rss:8.1f} MiB")
            print(f"  {'':24} {shown.strip()[:240]}")
        print("run_source_item alone (after the imports; peak RSS before -> after the call):")
        for index, (label, path) in enumerate(cases):
            took, before, after, check = run_in_process(path, Path(tmp) / f"job{index}", env)
            print(
                f"  {label:24} {took * 1000:9.1f} ms  peak RSS {before:7.1f} -> {after:7.1f} MiB"
                f"  check {check}"
            )


if __name__ == "__main__":
    main()
