"""The API's HTTP edges against a real server: uvicorn in a process of its own on loopback.

Forwarded headers count only when ``SABISCORE_API_TRUST_PROXY`` says so, however the
API is started (``uvicorn serving.main:app``, ``sabiscore serve``, the compose
command); oversized requests are refused at the documented limits; ``HEAD`` answers
wherever ``GET`` does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from serving_support import (
    World,
    configure,
    free_port,
    http_request,
    live_server,
    serving_world,
    uvicorn_argv,
)
from sqlalchemy import Engine

pytestmark = pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)


@pytest.fixture
def world(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with serving_world(
        warehouse,
        monkeypatch,
        SABISCORE_API_RATE_LIMIT="3/minute",
        SABISCORE_API_RATE_LIMIT_SYNC_SECONDS="0",
    ) as published:
        yield published


def _compose_argv(port: int) -> list[str]:
    """The compose file's serving command, on loopback and ``port``."""
    compose = yaml.safe_load((REPO / "docker-compose.airflow.yml").read_text(encoding="utf-8"))
    argv = list(map(str, compose["services"]["serving"]["command"]))
    assert argv[0] == "uvicorn"
    replaced = {"0.0.0.0": "127.0.0.1", "8000": str(port)}
    return [str(Path(sys.executable).with_name("uvicorn"))] + [
        replaced.get(word, word) for word in argv[1:]
    ]


def _serve_argv(port: int) -> list[str]:
    sabiscore = str(Path(sys.executable).with_name("sabiscore"))
    return [sabiscore, "serve", "--host", "127.0.0.1", "--port", str(port)]


STARTS = {
    "uvicorn": lambda port: uvicorn_argv(port),
    "sabiscore serve": _serve_argv,
    "compose": _compose_argv,
}
SPOOFED = {"X-Forwarded-For": "10.0.0.8", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize("start", list(STARTS))
def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(
    world: World, start: str
) -> None:
    """A client over its limit stays refused whatever X-Forwarded-For it sends; no HSTS."""
    port = free_port()
    with live_server(STARTS[start](port), port):
        assert [http_request(port, "GET", "/v1/leagues").status for _ in range(3)] == [200] * 3
        assert http_request(port, "GET", "/v1/leagues").status == 429
        spoofed = http_request(port, "GET", "/v1/leagues", SPOOFED)
        assert spoofed.status == 429, f"{start}: X-Forwarded-For set the client address"
        assert "strict-transport-security" not in spoofed.headers, f"{start}: HSTS over HTTP"
        keyed = http_request(port, "GET", "/v1/matches/upcoming", {**SPOOFED, **world.headers()})
        assert keyed.status == 429


def test_forwarded_headers_count_behind_a_trusted_proxy(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the proxy trusted, the last X-Forwarded-For hop is the client; HTTPS gets HSTS."""
    configure(monkeypatch, SABISCORE_API_TRUST_PROXY="true")
    port = free_port()
    with live_server(uvicorn_argv(port), port):
        for _ in range(3):
            assert http_request(port, "GET", "/v1/leagues").status == 200
        assert http_request(port, "GET", "/v1/leagues").status == 429
        other = http_request(port, "GET", "/v1/leagues", {"X-Forwarded-For": "1.2.3.4, 10.0.0.8"})
        assert other.status == 200
        assert "strict-transport-security" not in other.headers
        https = http_request(port, "GET", "/v1/leagues", SPOOFED)
        assert https.status == 200
        assert https.headers["strict-transport-security"].startswith("max-age=")
