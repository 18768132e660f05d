"""The API's HTTP edges against a real server: uvicorn in a process of its own on loopback.

Forwarded headers count only when ``SABISCORE_API_TRUST_PROXY`` says so, however the
API is started (``uvicorn serving.main:app``, ``sabiscore serve``, the compose
command); oversized requests are refused at the documented limits; ``HEAD`` answers
wherever ``GET`` does; an unknown league is refused; a ``401`` offers what the API takes.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import yaml
from conftest import REPO
from serving_support import (
    UNUSED_PG_URL,
    UNUSED_REDIS_URL,
    World,
    configure,
    free_port,
    http_request,
    live_server,
    serving_world,
    uvicorn_argv,
)
from sqlalchemy import Engine

from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.settings import ServingSettings

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


@pytest.fixture
def roomy_world(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A published run with a rate limit these tests do not reach."""
    with serving_world(warehouse, monkeypatch, SABISCORE_API_RATE_LIMIT="10000/minute") as world:
        yield world


@pytest.fixture
def server(roomy_world: World) -> Iterator[int]:
    """``uvicorn serving.main:app`` on the roomy world; yields its port."""
    port = free_port()
    with live_server(uvicorn_argv(port), port):
        yield port


def _comparable(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("date", "x-request-id")}


def test_head_answers_like_get_without_the_body(roomy_world: World, server: int) -> None:
    """Cold (the routes) and warm (the hot path): same status and headers, no body."""
    match_id = roomy_world.match_ids()[0]
    pro = roomy_world.headers("pro")
    targets = [
        ("/health", {}),
        ("/ready", {}),
        ("/openapi.json", {}),
        ("/docs", {}),
        ("/redoc", {}),
        ("/v1/leagues", {}),
        ("/v1/matches/upcoming", pro),
        ("/v1/matches/upcoming?league=E0", pro),
        ("/v1/value-bets", pro),
        (f"/v1/predictions/{match_id}", pro),
        (f"/v1/insights/{match_id}", pro),
        (f"/v1/predictions/{match_id}", {**pro, "If-None-Match": "*"}),
        ("/v1/models/current", pro),
        ("/v1/matches/upcoming", {}),
        ("/v1/predictions/987654321", pro),
        ("/v1/nothing-here", {}),
    ]
    for target, headers in targets:
        cold = http_request(server, "HEAD", target, headers)
        got = http_request(server, "GET", target, headers)
        warm = http_request(server, "HEAD", target, headers)
        assert cold.status == got.status == warm.status != 405, target
        assert cold.body == warm.body == b"", target
        assert _comparable(cold.headers) == _comparable(got.headers), target
        assert _comparable(warm.headers) == _comparable(got.headers), target
        if got.status == 200:
            assert int(got.headers["content-length"]) == len(got.body) > 0, target
    assert http_request(server, "HEAD", "/metrics").status == 200


def test_ready_503_says_when_to_retry(roomy_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(
        monkeypatch,
        SABISCORE_REDIS_URL=UNUSED_REDIS_URL,
        SABISCORE_DATABASE_URL=UNUSED_PG_URL,
    )
    port = free_port()
    with live_server(uvicorn_argv(port), port):
        for method in ("GET", "HEAD"):
            answer = http_request(port, method, "/ready")
            assert answer.status == 503
            assert answer.headers["retry-after"] == "5"


def _limit(name: str) -> int:
    return ServingSettings.model_fields[name].default


def test_oversized_requests_are_refused_at_the_documented_limits(server: int) -> None:
    """Headers, URL and body each at their limit pass, and one byte over is refused."""
    headers_limit, url_limit = _limit("max_header_bytes"), _limit("max_url_bytes")
    body_limit = _limit("max_body_bytes")
    sent = [(b"host", f"127.0.0.1:{server}".encode()), (b"accept-encoding", b"identity")]
    base = sum(len(name) + len(value) + 4 for name, value in sent) + len("x-filler") + 4
    filler = "a" * (headers_limit - base)  # X-Filler brings the header lines to the limit
    assert http_request(server, "GET", "/health", {"X-Filler": filler}).status == 200
    big = http_request(server, "GET", "/health", {"X-Filler": filler + "a"})
    assert big.status == 431
    assert big.json()["detail"] == f"the request headers are over {headers_limit} bytes"
    huge = http_request(server, "GET", "/health", {"X-Filler": "a" * 8 * 2**20})
    assert huge.status == 431

    query = "/v1/leagues?x="
    assert http_request(server, "GET", query + "a" * (url_limit - len(query))).status == 200
    long = http_request(server, "GET", query + "a" * (url_limit - len(query) + 1))
    assert long.status == 414
    assert long.json()["detail"] == f"the URL is over {url_limit} bytes"

    assert http_request(server, "GET", "/health", body=b"a" * body_limit).status == 200
    declared = http_request(server, "GET", "/health", body=b"a" * (body_limit + 1))
    assert declared.status == 413
    assert declared.json()["detail"] == f"the request body is over {body_limit} bytes"
    chunks = iter([b"a" * body_limit, b"a"])
    streamed = http_request(server, "GET", "/health", {"Transfer-Encoding": "chunked"}, body=chunks)
    assert streamed.status == 413


KNOWN = ", ".join(sorted(LEAGUES))


def test_an_unknown_league_is_422_a_known_empty_one_200(roomy_world: World, server: int) -> None:
    pro = roomy_world.headers()
    for target in ("/v1/matches/upcoming?league=ZZ", "/v1/value-bets?league=XX1"):
        answer = http_request(server, "GET", target, pro)
        assert answer.status == 422, target
        code = target.rsplit("=", 1)[1]
        assert answer.json()["detail"] == (
            f"query parameter 'league': unknown league '{code}'; known leagues: {KNOWN}"
        )
    leagues = http_request(server, "GET", "/v1/leagues").json()
    published = {league["league_code"] for league in leagues}
    assert "D1" in LEAGUES and "D1" not in published
    for target in ("/v1/matches/upcoming?league=D1", "/v1/value-bets?league=d1"):
        answer = http_request(server, "GET", target, pro)
        assert (answer.status, answer.body) == (200, b"[]"), target
    lower = http_request(server, "GET", "/v1/matches/upcoming?league=e0", pro)
    assert lower.body == http_request(server, "GET", "/v1/matches/upcoming?league=E0", pro).body
    assert lower.json()


KEY_CHALLENGE = 'ApiKey realm="sabiscore", header="X-API-Key"'


def _token(secret: str, subject: str = "user-42") -> str:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    return jwt.encode({"sub": subject, "exp": expires}, secret, algorithm="HS256")


def test_401s_offer_what_the_api_accepts(
    roomy_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys only without a JWT secret; keys or bearer tokens with one: message, header, schema."""
    match_id = roomy_world.match_ids()[0]
    target = f"/v1/predictions/{match_id}"
    port = free_port()
    with live_server(uvicorn_argv(port), port):
        nothing = http_request(port, "GET", target)
        assert nothing.status == 401
        assert nothing.json() == {"detail": "an X-API-Key header is needed"}
        assert nothing.headers["www-authenticate"] == KEY_CHALLENGE
        token = http_request(port, "GET", target, {"Authorization": f"Bearer {_token('s' * 40)}"})
        assert token.status == 401
        refused = "this API accepts no bearer token; send an X-API-Key header"
        assert token.json()["detail"] == refused
        assert "Bearer" not in token.headers["www-authenticate"]
        schema = http_request(port, "GET", "/openapi.json").json()
        assert "Bearer" not in schema["components"]["securitySchemes"]
        assert schema["paths"]["/v1/predictions/{match_id}"]["get"]["security"] == [{"ApiKey": []}]

    secret = "s" * 40
    configure(monkeypatch, SABISCORE_API_JWT_SECRET=secret)
    port = free_port()
    with live_server(uvicorn_argv(port), port):
        nothing = http_request(port, "GET", target)
        assert nothing.json()["detail"] == (
            "an X-API-Key header or an Authorization: Bearer token is needed"
        )
        assert nothing.headers["www-authenticate"] == f'{KEY_CHALLENGE}, Bearer realm="sabiscore"'
        bad = http_request(port, "GET", target, {"Authorization": f"Bearer {_token('t' * 40)}"})
        assert (bad.status, bad.json()["detail"]) == (401, "invalid bearer token")
        assert bad.headers["www-authenticate"] == (
            f'{KEY_CHALLENGE}, Bearer realm="sabiscore", error="invalid_token"'
        )
        good = http_request(port, "GET", target, {"Authorization": f"Bearer {_token(secret)}"})
        assert good.status == 200
        schema = http_request(port, "GET", "/openapi.json").json()
        assert set(schema["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
