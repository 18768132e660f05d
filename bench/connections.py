"""Benchmark: how many open connections one serving process holds, with p99 at ~1,000 req/s.

Usage: python bench/connections.py [--streams 0,1000,2500,5000,10000] [--rate 1000]
                                   [--seconds 10] [--redis-url redis://127.0.0.1:6379/0]

One uvicorn worker of the real application (``serving.main:app``: uvloop,
httptools, no access log, rate limits on but raised out of reach, a pro key) on
loopback, serving a run published to a throwaway SQLite warehouse and to Redis
under a prefix of its own (the sample of ``bench/serving.py``).  The client, one
asyncio process on the same machine, opens idle ``GET /v1/stream`` connections
(Server-Sent Events, the connections a web app keeps open) step by step up to each
count of ``--streams``; at every step it drives ``GET /v1/predictions/{id}`` at a
constant ``--rate`` for ``--seconds`` over 32 keep-alive connections, open loop
(each request is due at its time whether or not the last one answered, and its
latency counts from then, so a stall is not hidden), and prints the achieved rate,
p50 / p99 / p99.9 latency, errors, how many streams are still open and the
server's resident memory.  Last, the current run's entry is added to the runs
stream again (what a publish's switch adds) and the time until every open
stream has received that ``run`` event is measured: the push's fan-out.

The client and the server share the machine's cores: on 2 cores the client's own
work is part of what is measured.  The open-files limit is raised to its hard
limit for both.  Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
HOST = "127.0.0.1"


def _bench_serving():  # noqa: ANN202 - the sibling script, as a module
    spec = importlib.util.spec_from_file_location("bench_serving", ROOT / "bench" / "serving.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Streams:
    """The open event streams and what they received."""

    writers: list[asyncio.StreamWriter]
    tasks: list[asyncio.Task[None]]
    run_events: dict[int, float]  # stream index -> when it received a ``run`` event
    closed: int = 0


async def _open_stream(port: int, key: str, index: int, streams: Streams) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(
        f"GET /v1/stream?events=run HTTP/1.1\r\nHost: {HOST}\r\nX-API-Key: {key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream {index}: {status.decode().strip()}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    streams.writers.append(writer)

    async def drain() -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if b"event: run" in line:
                    streams.run_events.setdefault(index, time.perf_counter())
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        streams.closed += 1

    streams.tasks.append(asyncio.create_task(drain()))


async def _open_streams(port: int, key: str, count: int, streams: Streams) -> None:
    start = len(streams.writers)
    for first in range(start, count, 200):  # 200 at a time: no storm of SYNs
        await asyncio.gather(
            *(_open_stream(port, key, i, streams) for i in range(first, min(count, first + 200)))
        )


@dataclass(frozen=True)
class Load:
    """One constant-rate run."""

    sent: int
    answered: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _constant_rate(port: int, key: str, path: str, rate: float, seconds: float) -> Load:
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nX-API-Key: {key}\r\n\r\n".encode()
    total = int(rate * seconds)
    due: asyncio.Queue[float] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while True:
                at = await due.get()
                if at < 0:
                    return
                writer.write(request)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - at) * 1000)
                if b" 200 " not in status:
                    errors += 1
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(32)]
    started = time.perf_counter()
    for n in range(total):
        at = started + n / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait(at)
    for _ in workers:
        due.put_nowait(-1.0)
    await asyncio.gather(*workers, return_exceptions=True)
    elapsed = time.perf_counter() - started
    return Load(total, len(latencies), errors, elapsed, latencies)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _measure(
    args: argparse.Namespace,
    port: int,
    key: str,
    path: str,
    server_pid: int,
    publish_next: Callable[[], None],
) -> None:
    streams = Streams([], [], {})
    print(
        f"{'streams':>8} {'open':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
        f"{'errors':>6} {'server RSS':>11}",
        flush=True,
    )
    await _constant_rate(port, key, path, args.rate, 2.0)  # warm-up: caches, key, pools
    for count in args.streams:
        await _open_streams(port, key, count, streams)
        await asyncio.sleep(1.0)
        load = await _constant_rate(port, key, path, args.rate, args.seconds)
        still_open = len(streams.writers) - streams.closed
        print(
            f"{count:>8} {still_open:>6} {load.answered / load.seconds:>8.0f} "
            f"{load.quantile(0.50):>8.2f} {load.quantile(0.99):>8.2f} {load.quantile(0.999):>9.2f} "
            f"{load.errors + load.sent - load.answered:>6} {_rss_mib(server_pid):>8.0f} MiB",
            flush=True,
        )
    if streams.writers:
        sent = time.perf_counter()
        await asyncio.to_thread(publish_next)
        deadline = time.monotonic() + 60
        while len(streams.run_events) < len(streams.writers) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        arrivals = sorted(t - sent for t in streams.run_events.values())
        if arrivals:
            print(
                f"push of one run to {len(streams.writers)} open streams: "
                f"{len(arrivals)} received it; after {statistics.median(arrivals) * 1000:.0f} ms "
                f"(median), {arrivals[-1] * 1000:.0f} ms (last)",
                flush=True,
            )
    for writer in streams.writers:
        writer.close()
    for task in streams.tasks:
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="0,1000,2500,5000,10000")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    args.streams = [int(n) for n in args.streams.split(",")]
    limit = _raise_open_files()
    if limit < max(args.streams) + 200:
        sys.exit(f"the open-files hard limit ({limit}) is below {max(args.streams) + 200}")

    import redis

    from sabiscore_ml.settings import clear_settings_cache
    from sabiscore_ml.warehouse.api_keys import create_api_key
    from sabiscore_ml.warehouse.engine import get_engine, migrate

    sample = _bench_serving()
    home = Path(tempfile.mkdtemp(prefix="sabiscore-bench-connections-"))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SABISCORE_")},
        "SABISCORE_HOME": str(home),
        "SABISCORE_REDIS_URL": args.redis_url,
        "SABISCORE_REDIS_PREFIX": prefix,
        "SABISCORE_API_RATE_LIMIT": "100000000/minute",
        "SABISCORE_API_STREAM_MAX_SUBSCRIBERS": str(max(args.streams) + 100),
    }
    os.environ.update(env)
    clear_settings_cache()
    client = redis.Redis.from_url(args.redis_url)
    server = None
    try:
        migrate()
        engine = get_engine()
        match_id = sample.publish_sample(engine, client, prefix)
        key = create_api_key(engine, owner="bench", tier="pro").key
        port = sample.free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "serving.main:app", "--host", HOST]
            + ["--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools"]
            + ["--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "2"]
            + ["--backlog", "4096"],
            env=env,
            preexec_fn=_raise_open_files,
        )
        path = f"/v1/predictions/{match_id}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("the server did not start")
                time.sleep(0.2)
        print(
            f"{os.cpu_count()} CPUs; one uvicorn worker; GET {path} at {args.rate:.0f}/s for "
            f"{args.seconds:.0f} s per step over 32 connections; idle GET /v1/stream "
            f"connections: {', '.join(map(str, args.streams))}",
            flush=True,
        )

        run_id = client.get(f"{prefix}:pub:current").decode()
        meta = client.get(f"{prefix}:pub:{run_id}:meta")

        def publish_next() -> None:
            client.xadd(f"{prefix}:runs", {"run_id": run_id, "document": meta})

        asyncio.run(_measure(args, port, key, path, server.pid, publish_next))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
