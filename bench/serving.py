"""Benchmark: throughput and latency of ``GET /v1/predictions/{id}`` against two baselines.

Usage: python bench/serving.py [--seconds 10] [--runs 3] [--connections 50]
                               [--redis-url redis://127.0.0.1:6379/0]
       python bench/serving.py --limit-runs 5

On loopback, one uvicorn worker (uvloop, httptools, no access log) per
application, ``wrk`` with one thread and 50 connections (``apt-get install
wrk``; without it a slower Python client is used and says so).  Every
application answers with the same bytes, the published prediction of one match:

1. ``bare ASGI``: a bare ASGI callable returning the bytes;
2. ``FastAPI, bytes from memory``: a FastAPI route returning them from memory;
3. ``FastAPI + Redis GET``: a FastAPI route reading them from Redis (no cache);
4. ``serving app``: the real application (``serving.main:app``), keys warm in
   Redis, a pro key (``X-API-Key``), the per-IP and per-key rate limits counted in
   Redis as configured (moving window; the limit raised to 1,000,000/minute so the
   benchmark's single client is counted but never refused), each leased from
   Redis in shares of the limit (the default ``SABISCORE_API_RATE_LIMIT_SYNC_SECONDS``);
5. the same with every request counted in Redis (``..._SYNC_SECONDS=0``: two
   round trips per request);
6. the same with rate limiting off (``SABISCORE_API_RATE_LIMITING=false``);
7. the same without the warm path either (``SABISCORE_API_HOT_PATH=false``): every
   request through the FastAPI routes and their dependencies.

All seven run at once (idle, they cost nothing); after a 2-second warm-up each,
``--runs`` rounds drive each in turn for ``--seconds``, so every application
meets the same background load.  The best of its runs (by requests per second)
is printed with its p50 and p99 latency, and its ratio to the FastAPI-from-memory
baseline.  Everything is
published to a throwaway SQLite warehouse and to Redis under a prefix of its own,
deleted at the end.  Other work on the machine moves the figures: run it on an
idle machine, and compare figures of the same run only.

``--limit-runs N`` measures how exactly the rate limit holds instead: the
serving app with two uvicorn workers sharing Redis and the default
``100/minute``; each of ``N`` runs sends 300 requests of a new key within the
window, over fresh connections (8 at a time, so both workers answer), and the
number answered ``200`` is printed per run, then min / median / max.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path, where ``serving`` would be this
# file; the ``serving`` package is the one wanted.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
HOST = "127.0.0.1"
PATH_TEMPLATE = "/v1/predictions/{match_id}"


# --- the applications served (run in a child process: ``--serve KIND``) ---------------------


def bare_app(body: bytes):  # noqa: ANN201 - an ASGI callable
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def memory_app(body: bytes):  # noqa: ANN201 - a FastAPI app
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get(PATH_TEMPLATE)
    async def prediction(match_id: int) -> Response:
        return Response(body, media_type="application/json")

    return app


def redis_app(redis_url: str, key_template: str):  # noqa: ANN201 - a FastAPI app
    from contextlib import asynccontextmanager

    import redis.asyncio as aioredis
    from fastapi import FastAPI, HTTPException, Response

    clients: dict[str, aioredis.Redis] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        clients["redis"] = aioredis.Redis.from_url(redis_url)
        yield
        await clients["redis"].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get(PATH_TEMPLATE)
    async def prediction(match_id: int) -> Response:
        body = await clients["redis"].get(key_template.format(match_id=match_id))
        if body is None:
            raise HTTPException(404)
        return Response(body, media_type="application/json")

    return app


def serve(kind: str, port: int, body_file: str, redis_url: str, key_template: str) -> None:
    import uvicorn

    body = Path(body_file).read_bytes()
    app = {
        "bare": lambda: bare_app(body),
        "memory": lambda: memory_app(body),
        "redis": lambda: redis_app(redis_url, key_template),
    }[kind]()
    uvicorn.run(
        app,
        host=HOST,
        port=port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


# --- the published run ------------------------------------------------------------------------


def publish_sample(engine, client, prefix: str, n_matches: int = 40) -> int:  # noqa: ANN001
    """Fixtures in the warehouse, scored and published; the id of the match to ask for."""
    import polars as pl
    from sqlalchemy import insert

    from sabiscore_ml.betting.edges import match_edges
    from sabiscore_ml.betting.kelly import StakingRules, size_stakes
    from sabiscore_ml.publish import PublishedRun, publish
    from sabiscore_ml.warehouse.models import Match, RawFile, Season, Team

    day = dt.date(2024, 3, 2)
    rows = []
    with engine.begin() as connection:
        connection.execute(insert(Season).values(code="2023-2024", start_year=2023))
        connection.execute(
            insert(RawFile).values(
                sha256="b" * 64,
                source="bench",
                uri="bench://fixtures",
                size_bytes=0,
                archive_path="-",
                first_seen_at=dt.datetime(2024, 3, 1),
            )
        )
        for i in range(n_matches):
            home, away = (
                connection.execute(
                    insert(Team).values(country="England", name=f"Club {2 * i + side}")
                ).inserted_primary_key[0]
                for side in (0, 1)
            )
            match_id = connection.execute(
                insert(Match).values(
                    league_code="E0",
                    season_code="2023-2024",
                    match_date=day,
                    kickoff_utc=dt.datetime.combine(day, dt.time(12 + i % 8)),
                    home_team_id=home,
                    away_team_id=away,
                    raw_sha256="b" * 64,
                )
            ).inserted_primary_key[0]
            p_home = 0.40 + 0.005 * (i % 10)
            rows.append(
                {
                    "match_id": match_id,
                    "league_code": "E0",
                    "season_code": "2023-2024",
                    "match_date": day,
                    "kickoff_utc": dt.datetime.combine(day, dt.time(12 + i % 8)),
                    "home_team": f"Club {2 * i}",
                    "away_team": f"Club {2 * i + 1}",
                    "p_home": p_home,
                    "p_draw": 0.3,
                    "p_away": 0.7 - p_home,
                    "p_over25": 0.55,
                    "p_btts": 0.5,
                    "xg_home": 1.5,
                    "xg_away": 1.1,
                    "drivers": json.dumps(
                        [{"feature": f"feature_{k}", "value": 0.1 * k} for k in range(8)]
                    ),
                }
            )
    predictions = pl.DataFrame(rows)
    prices = pl.DataFrame(
        [
            {
                "match_id": r["match_id"],
                "bookmaker": book,
                "price_home": 1.12 / r["p_home"] + step,
                "price_draw": 0.95 / 0.3 + step,
                "price_away": 0.95 / (0.7 - r["p_home"]) + step,
            }
            for r in rows
            for book, step in (("pinnacle", 0.0), ("b365", -0.05), ("bwin", -0.02))
        ]
    )
    edges = match_edges(
        predictions.select("match_id", "match_date", "league_code", "p_home", "p_draw", "p_away"),
        prices,
    )
    rules = StakingRules(max_stake_per_league=None, max_stake_per_matchday=None)
    stakes = (
        size_stakes(edges, 1000.0, 1000.0, rules)
        .to_frame()
        .with_columns(pl.lit("strategy:value").alias("portfolio"))
    )
    run = PublishedRun(
        f"bench-{uuid.uuid4().hex[:8]}",
        "sabiscore-1x2",
        "7",
        dt.datetime(2024, 3, 1, 9),
        dt.date(2024, 3, 1),
        "live",
        predictions,
        edges,
        stakes,
    )
    publish(run, engine=engine, redis_client=client, prefix=prefix)
    return int(rows[0]["match_id"])


# --- driving the load -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One measured run."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> Figures:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        argv[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    count = int(bad.group(1)) if bad else 0
    count += sum(int(g) for g in errors.groups()) if errors else 0
    return Figures(rps, p50, p99, count)


async def _python_client(
    url: str, headers: dict[str, str], seconds: int, connections: int
) -> Figures:
    """A keep-alive HTTP/1.1 client on asyncio streams (slower than wrk: a lower bound)."""
    path = "/" + url.split("/", 3)[3]
    port = int(url.split(":")[2].split("/")[0])
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3")):
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Figures(
        len(latencies) / elapsed,
        1000 * latencies[len(latencies) // 2],
        1000 * latencies[int(len(latencies) * 0.99)],
        errors,
    )


def drive(url: str, headers: dict[str, str], seconds: int, connections: int) -> Figures:
    if shutil.which("wrk"):
        return wrk(url, headers, seconds, connections)
    return asyncio.run(_python_client(url, headers, seconds, connections))


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until_up(url: str, headers: dict[str, str], process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within 60 s")


@dataclass(frozen=True)
class Server:
    """An application to measure: how to start it and what to ask it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    url: str
    headers: dict[str, str]


def measure(servers: list[Server], args: argparse.Namespace) -> dict[str, Figures]:
    """Every server up at once (idle ones cost nothing), then ``--runs`` rounds of each in turn.

    Interleaving the rounds lets every application meet the same background load.
    """
    processes = [subprocess.Popen(s.argv, env=s.env, cwd=ROOT) for s in servers]
    runs: dict[str, list[Figures]] = {s.name: [] for s in servers}
    try:
        for server, process in zip(servers, processes, strict=True):
            wait_until_up(server.url, server.headers, process)
            drive(server.url, server.headers, 2, args.connections)  # warm-up
        for _ in range(args.runs):
            for server in servers:
                figures = drive(server.url, server.headers, args.seconds, args.connections)
                runs[server.name].append(figures)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    best = {}
    for server in servers:
        chosen = max(runs[server.name], key=lambda f: f.requests_per_second)
        spread = ", ".join(f"{f.requests_per_second:,.0f}" for f in runs[server.name])
        print(
            f"  {server.name:<40} {chosen.requests_per_second:>9,.0f} req/s  "
            f"p50 {chosen.p50_ms:6.2f} ms  p99 {chosen.p99_ms:6.2f} ms  "
            f"(runs: {spread}; errors {chosen.errors})",
            flush=True,
        )
        best[server.name] = chosen
    return best


LIMIT_SENT = 300


def limit_runs(runs: int, env: dict[str, str], keys: list[str], path: str) -> None:
    """The ``200`` count of 300 requests of one key each, against two workers and 100/minute."""
    from concurrent.futures import ThreadPoolExecutor
    from statistics import median
    from urllib.error import HTTPError

    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "serving.main:app", "--host", HOST]
    argv += ["--port", str(port), "--workers", "2", "--no-access-log", "--log-level", "warning"]
    limited = {**env, "SABISCORE_API_RATE_LIMIT": "100/minute", "SABISCORE_API_TRUST_PROXY": "true"}
    process = subprocess.Popen(argv, env=limited, cwd=ROOT)
    url = f"http://{HOST}:{port}/health"
    served: list[int] = []
    try:
        wait_until_up(url, {}, process)
        time.sleep(3)  # both workers up

        def status(key: str, n: int) -> int:
            headers = {"X-API-Key": key, "X-Forwarded-For": f"10.9.{n // 250}.{n % 250 + 1}"}
            request = urllib.request.Request(f"http://{HOST}:{port}{path}", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return answer.status
            except HTTPError as error:
                return error.code

        for key in keys[:runs]:
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:  # urllib opens a new connection per request
                statuses = list(pool.map(lambda n, key=key: status(key, n), range(LIMIT_SENT)))
            elapsed = time.monotonic() - started
            served.append(statuses.count(200))
            print(
                f"  {statuses.count(200)} x 200, {statuses.count(429)} x 429 of {LIMIT_SENT} "
                f"in {elapsed:.1f} s",
                flush=True,
            )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    print(f"200s: min {min(served)}, median {median(served):g}, max {max(served)} (limit 100)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--limit-runs", type=int, default=0, help="measure the limit instead")
    parser.add_argument("--serve", choices=["bare", "memory", "redis"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--body", help=argparse.SUPPRESS)
    parser.add_argument("--key-template", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.body, args.redis_url, args.key_template)
        return

    import redis

    from sabiscore_ml.publish import document_key
    from sabiscore_ml.settings import clear_settings_cache
    from sabiscore_ml.warehouse.api_keys import create_api_key
    from sabiscore_ml.warehouse.engine import get_engine, migrate
    from serving.repository import prediction_view

    home = Path(tempfile.mkdtemp(prefix="sabiscore-bench-serving-"))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SABISCORE_")},
        "SABISCORE_HOME": str(home),
        "SABISCORE_REDIS_URL": args.redis_url,
        "SABISCORE_REDIS_PREFIX": prefix,
        "SABISCORE_API_RATE_LIMIT": "1000000/minute",
    }
    os.environ.update(env)
    clear_settings_cache()
    client = redis.Redis.from_url(args.redis_url)
    try:
        migrate()
        engine = get_engine()
        match_id = publish_sample(engine, client, prefix)
        key = create_api_key(engine, owner="bench", tier="pro").key
        run_id = client.get(f"{prefix}:pub:current").decode()
        insight = client.get(document_key(prefix, run_id, "prediction", str(match_id)))
        body = prediction_view(insight)
        body_file = home / "body.json"
        body_file.write_bytes(body)
        key_template = document_key(prefix, run_id, "prediction", "{match_id}")
        # the Redis baseline reads a copy of the bytes the app serves
        client.set(key_template.format(match_id=match_id), body)
        print(
            f"GET {PATH_TEMPLATE.format(match_id=match_id)}: {len(body)} bytes; "
            f"{os.cpu_count()} CPUs; driver: "
            f"{'wrk, 1 thread' if shutil.which('wrk') else 'Python client (no wrk)'}, "
            f"{args.connections} connections, best of {args.runs} x {args.seconds} s",
            flush=True,
        )
        path = PATH_TEMPLATE.format(match_id=match_id)
        if args.limit_runs:
            keys = [
                create_api_key(engine, owner=f"bench-{n}", tier="pro").key
                for n in range(args.limit_runs)
            ]
            limit_runs(args.limit_runs, env, keys, path)
            return
        servers = []
        for name, kind in (
            ("bare ASGI", "bare"),
            ("FastAPI, bytes from memory", "memory"),
            ("FastAPI + Redis GET", "redis"),
        ):
            port = free_port()
            argv = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
            argv += ["--body", str(body_file), "--redis-url", args.redis_url]
            argv += ["--key-template", key_template]
            servers.append(Server(name, argv, env, f"http://{HOST}:{port}{path}", {}))
        off = {"SABISCORE_API_RATE_LIMITING": "false"}
        for name, extra in (
            ("serving app (pro key, rate limits)", {}),
            (
                "serving app, limits settled per request",
                {"SABISCORE_API_RATE_LIMIT_SYNC_SECONDS": "0"},
            ),
            ("serving app, rate limiting off", off),
            ("serving app, routes only, limits off", {**off, "SABISCORE_API_HOT_PATH": "false"}),
        ):
            port = free_port()
            argv = [sys.executable, "-m", "uvicorn", "serving.main:app", "--host", HOST]
            argv += ["--port", str(port), "--workers", "1", "--loop", "uvloop"]
            argv += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
            url = f"http://{HOST}:{port}{path}"
            servers.append(Server(name, argv, {**env, **extra}, url, {"X-API-Key": key}))
        results = measure(servers, args)
        baseline = results["FastAPI, bytes from memory"].requests_per_second
        print("\nratio to FastAPI, bytes from memory (goal: >= 90%, p99 <= 15 ms):")
        for name, figures in results.items():
            print(
                f"  {name:<40} {figures.requests_per_second / baseline:6.1%}  "
                f"p99 {figures.p99_ms:6.2f} ms"
            )
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
