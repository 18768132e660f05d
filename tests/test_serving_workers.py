"""The rate limit of ``sabiscore serve --workers 2`` against the real Redis.

Two uvicorn worker processes share the limit through Redis, each leasing part
of the window's allowance: a client sending 300 requests in one window over
fresh connections (so both workers answer some) gets its limit, give or take
the 10% the leases allow, and no fewer than its limit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REPO
from serving_support import World, serving_world, stop_server
from sqlalchemy import Engine
from test_serving_cli import _free_port, _get, _get_or_none

LIMIT, SENT = 100, 300
UPCOMING = re.compile(
    r'^sabiscore_api_requests_total\{method="GET",route="/v1/matches/upcoming",'
    r'status="(\d+)"\} (\S+)$',
    re.MULTILINE,
)


@pytest.fixture
def world(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with serving_world(
        warehouse,
        monkeypatch,
        SABISCORE_API_RATE_LIMIT=f"{LIMIT}/minute",
        SABISCORE_API_TRUST_PROXY="true",  # a new IP per request: the key's limit counts
    ) as published:
        yield published


def _serve(port: int, log: Path) -> subprocess.Popen:
    """``sabiscore serve --workers 2`` with this test's settings, once both workers are up."""
    sabiscore = str(Path(sys.executable).with_name("sabiscore"))
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sabiscore, "serve", "--port", str(port), "--workers", "2"],
            env=dict(os.environ),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while log.read_text().count("Application startup complete") < 2:
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the workers did not come up:\n{log.read_text()}"
        time.sleep(0.25)
    assert _get_or_none(f"http://127.0.0.1:{port}/health") == 200
    return server


def _per_worker(base: str, tries: int = 60) -> set[tuple[int, int]]:
    """The (200s, 429s) of the upcoming list as each worker's /metrics tells them."""
    seen: set[tuple[int, int]] = set()
    for _ in range(tries):  # a fresh connection each time, answered by either worker
        status, body = _get(f"{base}/metrics")
        assert status == 200
        counts = {code: float(value) for code, value in UPCOMING.findall(body.decode())}
        seen.add((int(counts.get("200", 0)), int(counts.get("429", 0))))
        if len(seen) == 2:
            break
    return seen


def test_two_workers_let_a_key_through_its_limit_and_no_more(world: World, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(port, tmp_path / "serve.log")
    try:
        key = world.keys["pro"]

        def get(n: int) -> int:
            headers = {"X-API-Key": key, "X-Forwarded-For": f"10.2.{n // 250}.{n % 250 + 1}"}
            return _get(f"{base}/v1/matches/upcoming", headers)[0]

        with ThreadPoolExecutor(8) as pool:  # urllib opens a new connection per request
            statuses = list(pool.map(get, range(SENT)))
        workers = _per_worker(base)
    finally:
        stop_server(server)

    assert set(statuses) <= {200, 429}, statuses
    served = statuses.count(200)
    assert LIMIT <= served <= LIMIT * 1.1, f"{served} of {SENT} served against a limit of {LIMIT}"
    # both workers answered part of the burst, and between them every request
    assert len(workers) == 2, f"one worker's /metrics only: {workers}"
    assert all(ok + refused > 0 for ok, refused in workers), workers
    assert sum(ok + refused for ok, refused in workers) == SENT
    assert sum(ok for ok, _ in workers) == served
