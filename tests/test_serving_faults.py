"""Faults on the real services: Redis down (or stopping mid-run), PostgreSQL down, both.

With Redis unreachable every route answers the same bytes from the warehouse
and ``/ready`` says ``degraded``; with the warehouse unreachable the routes Redis
can answer still do; nothing answers with a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient
from serving_support import (
    REDIS_URL,
    UNUSED_PG_URL,
    UNUSED_REDIS_URL,
    TcpProxy,
    World,
    configure,
    serving_world,
)
from sqlalchemy import Engine
from test_publishing import SATURDAY, T0, kill_publisher_at, scored_run

from sabiscore_ml.publish import document_key, publish, run_documents

JWT_SECRET = "a-test-secret-that-is-long-enough-0123456789"


@pytest.fixture
def world(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with serving_world(warehouse, monkeypatch, SABISCORE_API_JWT_SECRET=JWT_SECRET) as published:
        yield published


def paths(world: World) -> list[str]:
    ids = world.match_ids()
    return [
        "/v1/leagues",
        "/v1/matches/upcoming",
        "/v1/matches/upcoming?league=SP1",
        f"/v1/matches/upcoming?date={SATURDAY}",
        "/v1/value-bets",
        "/v1/value-bets?min_edge=0.2",
        "/v1/models/current",
        "/v1/predictions/987654321",
        *(f"/v1/predictions/{m}" for m in ids),
        *(f"/v1/insights/{m}" for m in ids),
    ]


def answers(api: TestClient, world: World, chosen: list[str]) -> dict[str, tuple[int, bytes]]:
    found = {}
    for path in chosen:
        answer = api.get(path, headers=world.headers("pro"))
        found[path] = (answer.status_code, answer.content)
    return found


def metric(api: TestClient, line_start: str) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_redis_unreachable_the_warehouse_gives_the_same_answers(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world.client() as api:
        expected = answers(api, world, paths(world))
        assert metric(api, 'sabiscore_api_store_reads_total{result="found",store="warehouse"}') == 0
    assert expected["/v1/matches/upcoming"] == (200, world.document("upcoming", "all"))
    assert expected["/v1/predictions/987654321"][0] == 404

    configure(monkeypatch, SABISCORE_REDIS_URL=UNUSED_REDIS_URL)
    with world.client() as api:
        assert answers(api, world, paths(world)) == expected
        ready = api.get("/ready")
        assert ready.status_code == 200
        assert ready.json() | {"version": ""} == {
            "status": "degraded",
            "redis": "unreachable",
            "warehouse": "ok",
            "version": "",
        }
        assert metric(api, 'sabiscore_api_store_errors_total{operation="pointer",store="redis"}')
        assert metric(api, 'sabiscore_api_store_reads_total{result="found",store="warehouse"}') > 5
        assert api.get("/health").status_code == 200

    # the rate limits are still counted (in memory while Redis is down)
    configure(monkeypatch, SABISCORE_API_RATE_LIMIT="3/minute")
    with world.client() as api:
        statuses = [api.get("/v1/leagues").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert metric(api, 'sabiscore_api_store_errors_total{operation="rate_limit",store="redis"}')


def test_a_publication_killed_after_its_warehouse_commit_changes_no_answer(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Killed between the warehouse and Redis: with Redis up or down, the previous run serves."""
    newer = scored_run(
        "run-2024-03-02", world.fixtures[:-1], created_at=T0 + dt.timedelta(days=1), shift=0.01
    )
    url = world.engine.url.render_as_string(hide_password=False)
    kill_publisher_at("warehouse committed", newer, url, world.prefix, tmp_path)
    chosen = ["/v1/leagues", "/v1/matches/upcoming", "/v1/value-bets"]
    with world.client() as api:
        from_redis = answers(api, world, chosen)
    configure(monkeypatch, SABISCORE_REDIS_URL=UNUSED_REDIS_URL)
    with world.client() as api:
        from_warehouse = answers(api, world, chosen)
    assert from_redis == from_warehouse
    assert from_redis["/v1/matches/upcoming"] == (200, world.document("upcoming", "all"))

    # Publishing it again completes it: both stores serve the new run.
    publish(newer, engine=world.engine, redis_client=world.redis, prefix=world.prefix)
    expected = {(d.kind, d.key): d.body for d in run_documents(newer)}
    with world.client() as api:
        from_warehouse = answers(api, world, chosen)
    configure(monkeypatch, SABISCORE_REDIS_URL=REDIS_URL)
    with world.client() as api:
        from_redis = answers(api, world, chosen)
    assert from_redis == from_warehouse
    assert from_redis["/v1/matches/upcoming"] == (200, expected["upcoming", "all"])


def test_redis_stopping_mid_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = TcpProxy()
    configure(monkeypatch, SABISCORE_REDIS_URL=proxy.url, SABISCORE_API_POINTER_CACHE_SECONDS="0")
    chosen = paths(world)
    with world.client() as api:
        warm = answers(api, world, chosen[:9])
        assert all(status < 500 for status, _ in warm.values())
        proxy.stop()
        after = answers(api, world, chosen)
        assert {path: after[path] for path in warm} == warm
        assert after["/v1/value-bets"] == (200, world.document("value-bets"))
        for match_id in world.match_ids():
            body = world.document("prediction", str(match_id))
            assert after[f"/v1/insights/{match_id}"] == (200, body)
        assert all(status < 500 for status, _ in after.values())
        assert api.get("/ready").json()["status"] == "degraded"


def test_documents_expired_in_redis_come_from_the_warehouse(world: World) -> None:
    with world.client() as api:
        expected = answers(api, world, paths(world))
    kept = document_key(world.prefix, world.run.run_id, "meta")
    for key in world.redis.scan_iter(f"{world.prefix}:pub:{world.run.run_id}:*"):
        if key.decode() != kept:
            world.redis.delete(key)  # as if their TTL had passed; the pointer stays
    with world.client() as api:
        assert answers(api, world, paths(world)) == expected
        assert metric(api, 'sabiscore_api_store_reads_total{result="missing",store="redis"}') > 5


def _token(**claims) -> str:  # noqa: ANN003
    exp = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    return jwt.encode({"sub": "user-1", "tier": "pro", "exp": exp, **claims}, JWT_SECRET)


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)
def test_postgresql_unreachable_redis_served_routes_still_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = world.match_ids()
    with world.client() as api:
        # one request verifies the key (kept by the worker); the model is read once
        assert api.get(f"/v1/predictions/{ids[0]}", headers=world.headers()).status_code == 200
        model = api.get("/v1/models/current", headers=world.headers())
        configure(monkeypatch, SABISCORE_DATABASE_URL=UNUSED_PG_URL)

        redis_served = [
            "/v1/leagues",
            "/v1/matches/upcoming",
            "/v1/matches/upcoming?league=E0",
            f"/v1/matches/upcoming?date={SATURDAY}",
            "/v1/value-bets",
            "/v1/value-bets?league=SP1&min_edge=0.1",
            *(f"/v1/predictions/{m}" for m in ids[1:]),
            *(f"/v1/insights/{m}" for m in ids),
        ]
        got = answers(api, world, redis_served)
        assert {path: status for path, (status, _) in got.items()} == dict.fromkeys(
            redis_served, 200
        )
        assert got["/v1/matches/upcoming"][1] == world.document("upcoming", "all")
        assert got["/v1/value-bets"][1] == world.document("value-bets")
        assert got[f"/v1/insights/{ids[3]}"][1] == world.document("prediction", str(ids[3]))

        # a bearer token needs no store
        bearer = {"Authorization": f"Bearer {_token()}"}
        assert api.get(f"/v1/insights/{ids[2]}", headers=bearer).status_code == 200
        # the model read before the outage is still served
        again = api.get("/v1/models/current", headers=world.headers())
        assert (again.status_code, again.content) == (200, model.content)

        # what only the warehouse knows: a 503 saying so, never a 500
        unknown_key = api.get("/v1/matches/upcoming", headers=world.headers("premium"))
        assert unknown_key.status_code == 503 and unknown_key.headers["retry-after"] == "5"
        assert unknown_key.json() == {
            "detail": "the API key cannot be checked right now; try again shortly"
        }
        assert api.get("/v1/predictions/987654321", headers=world.headers()).status_code == 503

        ready = api.get("/ready")
        assert ready.status_code == 200
        assert (ready.json()["status"], ready.json()["warehouse"]) == ("degraded", "unreachable")
        assert metric(api, 'sabiscore_api_store_errors_total{operation="ping",store="warehouse"}')


def test_both_stores_down_answers_503_not_500(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(
        monkeypatch, SABISCORE_REDIS_URL=UNUSED_REDIS_URL, SABISCORE_DATABASE_URL=UNUSED_PG_URL
    )
    bearer = {"Authorization": f"Bearer {_token()}"}
    with world.client() as api:
        for path in paths(world):
            answer = api.get(path, headers=bearer)
            assert answer.status_code == 503, path
            assert answer.headers["retry-after"] == "5"
            assert "detail" in answer.json()
        ready = api.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert api.get("/health").status_code == 200


def test_a_worker_keeps_the_run_redis_named_when_redis_stops(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Killed between the switch and the warehouse's mark, then Redis stops: no flip back."""
    newer = scored_run(
        "run-2024-03-02", world.fixtures[:-1], created_at=T0 + dt.timedelta(days=1), shift=0.01
    )
    url = world.engine.url.render_as_string(hide_password=False)
    kill_publisher_at("pointer switched, warehouse not marked", newer, url, world.prefix, tmp_path)
    expected = {(d.kind, d.key): d.body for d in run_documents(newer)}
    proxy = TcpProxy()
    configure(monkeypatch, SABISCORE_REDIS_URL=proxy.url, SABISCORE_API_POINTER_CACHE_SECONDS="0")
    with world.client() as api:
        pro = world.headers("pro")
        assert api.get("/v1/matches/upcoming", headers=pro).content == expected["upcoming", "all"]
        proxy.stop()
        after = api.get("/v1/matches/upcoming", headers=pro)
        assert after.content == expected["upcoming", "all"]  # from the warehouse, same bytes
        assert api.get("/ready").json()["redis"] == "unreachable"
