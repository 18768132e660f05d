"""The API's routes against the real Redis and the warehouse (SQLite and PostgreSQL).

Every endpoint on a run published with the real publisher, the caching headers,
every error path (404, 401, 422, 429), the free tier's quota, the rate limits
per IP and per key, bearer tokens, CORS and the security headers.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from serving_support import METRICS, World, configure, serving_world
from sqlalchemy import Engine
from test_publishing import SATURDAY, SUNDAY, scored_run

from sabiscore_ml.publish import encode_document, publish, run_predictions, run_value_bets
from sabiscore_ml.publish.contract import (
    CORRECT_SCORE_KEYS,
    PREDICTION_FIELDS,
    correct_score_markets,
)
from sabiscore_ml.warehouse.api_keys import revoke_api_key
from serving import schemas


@pytest.fixture
def world(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with serving_world(warehouse, monkeypatch) as published:
        yield published


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with world.client() as client:
        yield client


def test_every_endpoint_answers_what_was_published(world: World, api: TestClient) -> None:
    run_id, pro = world.run.run_id, world.headers("pro")

    leagues = api.get("/v1/leagues")  # open: no key
    assert leagues.status_code == 200
    assert leagues.content == world.document("leagues")
    assert leagues.json() == [
        {"league_code": "E0", "n_predictions": 3},
        {"league_code": "SP1", "n_predictions": 3},
    ]

    upcoming = api.get("/v1/matches/upcoming", headers=pro)
    assert upcoming.content == world.document("upcoming", "all")
    assert {m["match_id"] for m in upcoming.json()} == set(world.match_ids())
    TypeAdapter(list[schemas.CompactPrediction]).validate_python(upcoming.json())
    for league in ("E0", "e0"):
        answer = api.get("/v1/matches/upcoming", params={"league": league}, headers=pro)
        assert answer.content == world.document("upcoming", "E0")
    assert api.get("/v1/matches/upcoming?league=D1", headers=pro).content == b"[]"
    on_sunday = api.get("/v1/matches/upcoming", params={"date": str(SUNDAY)}, headers=pro)
    expected = encode_document(run_predictions(world.engine, run_id, date=SUNDAY))
    assert on_sunday.content == expected
    assert {m["league_code"] for m in on_sunday.json()} == {"SP1"}
    both = api.get(f"/v1/matches/upcoming?league=E0&date={SUNDAY}", headers=pro)
    assert both.content == b"[]"
    saturday_e0 = api.get(f"/v1/matches/upcoming?league=E0&date={SATURDAY}", headers=pro)
    assert saturday_e0.content == world.document("upcoming", "E0")

    for match_id in world.match_ids():
        insight = api.get(f"/v1/insights/{match_id}", headers=pro)
        assert insight.status_code == 200
        assert insight.content == world.document("prediction", str(match_id))
        schemas.Insight.model_validate(insight.json())
        prediction = api.get(f"/v1/predictions/{match_id}", headers=pro)
        assert prediction.status_code == 200
        body = prediction.json()
        schemas.Prediction.model_validate(body)
        assert list(body) == sorted(PREDICTION_FIELDS)
        assert body == {field: insight.json()[field] for field in PREDICTION_FIELDS}
        assert body["model_version"] == "7" and body["created_at"] == "2024-03-01T09:00:00Z"
    first = api.get(f"/v1/insights/{world.fixtures[0].match_id}", headers=pro).json()
    assert first["drivers"] == [{"feature": "elo_diff", "value": 31.123457}]
    assert first["value_bets"] and first["stakes"] and len(first["edges"]) == 3
    # What the numbers mean: the rules deciding value bets, the bankroll stakes are of, why
    # an outcome is no value bet, and times a JavaScript Date reads as UTC.
    assert first["value_bet_rules"]["max_price"] == 10.0
    assert first["value_bet_rules"]["edge_threshold"] == 0.042
    assert (first["staking"]["bankroll"], first["staking"]["unit"]) == (1000.0, "units")
    assert first["staking"]["kelly_multiplier"] == 0.125
    assert [(e["outcome"], e["excluded_by"]) for e in first["edges"]] == [
        ("home", None),
        ("draw", "edge_threshold"),
        ("away", "edge_threshold"),
    ]
    assert first["kickoff_utc"].endswith("Z") and first["created_at"].endswith("Z")

    value_bets = api.get("/v1/value-bets", headers=pro)
    assert value_bets.content == world.document("value-bets")
    edges = [bet["edge"] for bet in value_bets.json()]
    assert edges == sorted(edges, reverse=True) and len(edges) == 3
    TypeAdapter(list[schemas.ValueBet]).validate_python(value_bets.json())
    for params in ({"min_edge": 0.25}, {"league": "SP1"}, {"league": "E0", "min_edge": 0.05}):
        filtered = api.get("/v1/value-bets", params=params, headers=pro)
        expected = run_value_bets(world.engine, run_id, **params)
        assert filtered.content == encode_document(expected), params
    assert [b["edge"] for b in api.get("/v1/value-bets?min_edge=0.25", headers=pro).json()] == [0.3]

    model = api.get("/v1/models/current", headers=pro)
    assert model.status_code == 200
    assert model.json() == {
        "name": "sabiscore-1x2",
        "version": "7",
        "alias": "champion",
        "mlflow_run_id": "0123456789abcdef0123456789abcdef",
        "trained_at": "2024-02-28T03:12:44Z",
        "metrics": METRICS,
    }

    assert api.get("/health").json()["status"] == "ok"
    assert api.get("/ready").json() == {
        "status": "ok",
        "redis": "ok",
        "warehouse": "ok",
        "version": "0.1.0",
    }
    metrics = api.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    insights = 'method="GET",route="/v1/insights/{match_id}",status="200"'
    assert f"sabiscore_api_requests_total{{{insights}}} 7.0" in text
    assert 'sabiscore_api_request_duration_seconds_bucket{le="0.015",route="/v1/leagues"}' in text
    assert 'sabiscore_api_cache_total{cache="documents",result="hit"}' in text
    assert 'sabiscore_api_store_reads_total{result="found",store="redis"}' in text


def test_the_correct_scores_round_trip_through_the_api(world: World, api: TestClient) -> None:
    """Published correct scores come back as published, from Redis and from the warehouse."""
    pro = world.headers("pro")
    published = {p["match_id"]: p for p in world.run.records.predictions}
    graded = [m for m, p in published.items() if p["correct_score"] is not None]
    assert len(graded) == 4
    rounding = (len(CORRECT_SCORE_KEYS) + 1) * 5e-7
    for match_id in world.match_ids():
        for route in ("predictions", "insights"):
            body = api.get(f"/v1/{route}/{match_id}", headers=pro).json()
            assert body["correct_score"] == published[match_id]["correct_score"]
            if match_id in graded:
                markets = correct_score_markets(body["correct_score"])
                for market, value in markets.items():
                    assert value == pytest.approx(body[market], abs=rounding), market
    # the warehouse's copy, once Redis has lost the documents
    world.redis.delete(*world.redis.keys(f"{world.prefix}:pub:{world.run.run_id}:prediction:*"))
    with world.client() as fresh:
        for match_id in graded:
            body = fresh.get(f"/v1/predictions/{match_id}", headers=pro).json()
            assert body["correct_score"] == published[match_id]["correct_score"]
            schemas.Prediction.model_validate(body)


def test_documents_come_from_redis_then_from_the_cache(world: World, api: TestClient) -> None:
    match_id = world.match_ids()[0]
    first = api.get(f"/v1/insights/{match_id}", headers=world.headers())
    reads = _metric(api, "sabiscore_api_store_reads_total", 'result="found",store="redis"')
    assert reads >= 1
    second = api.get(f"/v1/insights/{match_id}", headers=world.headers())
    assert first.content == second.content
    assert _metric(api, "sabiscore_api_store_reads_total", 'result="found",store="redis"') == reads
    assert _metric(api, "sabiscore_api_store_reads_total", 'result="found",store="warehouse"') == 0


def _metric(api: TestClient, name: str, labels: str) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{{labels}}}"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_etags_and_caching_headers(world: World, api: TestClient) -> None:
    match_id = world.match_ids()[1]
    for path, headers, cache_control in (
        ("/v1/leagues", {}, "public, max-age=300"),
        ("/v1/matches/upcoming", world.headers(), "private, max-age=300"),
        ("/v1/matches/upcoming?league=SP1", world.headers(), "private, max-age=300"),
        (f"/v1/predictions/{match_id}", world.headers(), "private, max-age=60"),
        (f"/v1/insights/{match_id}", world.headers(), "private, max-age=60"),
        ("/v1/value-bets", world.headers(), "private, max-age=60"),
        ("/v1/models/current", world.headers(), "private, max-age=300"),
    ):
        for attempt in range(2):  # the routes, then the warm path
            first = api.get(path, headers=headers)
            assert first.status_code == 200, path
            etag = first.headers["etag"]
            assert etag.startswith('"') and first.headers["cache-control"] == cache_control
            same = api.get(path, headers={**headers, "If-None-Match": etag})
            assert same.status_code == 304 and same.content == b"", (path, attempt)
            assert same.headers["etag"] == etag
            weak = api.get(path, headers={**headers, "If-None-Match": f'"x", W/{etag}'})
            assert weak.status_code == 304
            other = api.get(path, headers={**headers, "If-None-Match": '"something-else"'})
            assert other.status_code == 200 and other.content == first.content
    predictions = {
        api.get(f"/v1/predictions/{m}", headers=world.headers()).headers["etag"]
        for m in world.match_ids()
    }
    assert len(predictions) == len(world.match_ids())  # one version per document


def test_unknown_match_is_404(world: World, api: TestClient) -> None:
    for path in ("/v1/predictions/987654321", "/v1/insights/987654321"):
        answer = api.get(path, headers=world.headers())
        assert answer.status_code == 404
        assert answer.json() == {"detail": "match 987654321 is not in the current published run"}
        assert answer.headers["cache-control"] == "no-store"
    assert api.get("/v1/nothing-here").status_code == 404


KEY_CHALLENGE = 'ApiKey realm="sabiscore", header="X-API-Key"'


def test_missing_and_bad_credentials_are_401(world: World, api: TestClient) -> None:
    """Without a JWT secret the API takes keys only, and its 401s say so."""
    match_id = world.match_ids()[0]
    valid = world.keys["pro"]
    for headers, detail in (
        ({}, "an X-API-Key header is needed"),
        ({"X-API-Key": "not-a-key"}, "malformed API key"),
        (
            {"X-API-Key": valid[:-2] + ("AA" if valid[-2:] != "AA" else "BB")},
            "unknown or revoked API key",
        ),
        ({"X-API-Key": "sbk_000000000000_" + "A" * 43}, "unknown or revoked API key"),
        (
            {"Authorization": "Bearer abc.def.ghi"},
            "this API accepts no bearer token; send an X-API-Key header",
        ),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "an X-API-Key header is needed"),
    ):
        for path in ("/v1/matches/upcoming", f"/v1/predictions/{match_id}", "/v1/value-bets"):
            answer = api.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.json() == {"detail": detail}
            assert answer.headers["www-authenticate"] == KEY_CHALLENGE
    assert api.get("/v1/leagues").status_code == 200  # open
    schemes = api.get("/openapi.json").json()["components"]["securitySchemes"]
    assert list(schemes) == ["ApiKey"]


def test_a_revoked_key_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, SABISCORE_API_KEY_CACHE_SECONDS="0")
    key = world.keys["premium"]
    with world.client() as api:
        assert api.get("/v1/value-bets", headers={"X-API-Key": key}).status_code == 200
        record = revoke_api_key(world.engine, key.split("_")[1])
        assert record.revoked_at is not None and not record.active
        answer = api.get("/v1/value-bets", headers={"X-API-Key": key})
        assert answer.status_code == 401 and answer.json()["detail"] == "unknown or revoked API key"

    # with keys trusted for a while, a revocation is seen once that while is over
    configure(monkeypatch, SABISCORE_API_KEY_CACHE_SECONDS="0.2")
    key = world.keys["pro"]
    with world.client() as api:
        assert api.get("/v1/value-bets", headers={"X-API-Key": key}).status_code == 200
        revoke_api_key(world.engine, key.split("_")[1])
        assert api.get("/v1/value-bets", headers={"X-API-Key": key}).status_code == 200
        time.sleep(0.3)
        # the first request after it may still pass while the key is checked again
        statuses = [api.get("/v1/value-bets", headers={"X-API-Key": key}).status_code]
        deadline = time.monotonic() + 5
        while statuses[-1] != 401 and time.monotonic() < deadline:
            time.sleep(0.01)
            statuses.append(api.get("/v1/value-bets", headers={"X-API-Key": key}).status_code)
        assert statuses[-1] == 401 and len(statuses) <= 3, statuses


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/value-bets?min_edge=abc", "query parameter 'min_edge'"),
        ("/v1/value-bets?min_edge=nan", "query parameter 'min_edge'"),
        ("/v1/value-bets?min_edge=1e9", "query parameter 'min_edge'"),
        ("/v1/value-bets?league=E0;DROP", "query parameter 'league'"),
        ("/v1/matches/upcoming?date=2024-13-45", "query parameter 'date'"),
        ("/v1/matches/upcoming?league=" + "E" * 9, "query parameter 'league'"),
        ("/v1/predictions/abc", "path parameter 'match_id'"),
        ("/v1/predictions/0", "path parameter 'match_id'"),
        ("/v1/insights/99999999999999999999", "path parameter 'match_id'"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    world: World, api: TestClient, path: str, parameter: str
) -> None:
    answer = api.get(path, headers=world.headers())
    assert answer.status_code == 422
    body = answer.json()
    assert body["detail"].startswith(parameter + ": ")
    assert body["errors"] and set(body["errors"][0]) == {"loc", "msg", "type"}
    schemas.ValidationProblem.model_validate(body)


def test_rate_limits_per_ip_and_per_key_are_shared_through_redis(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(
        monkeypatch,
        SABISCORE_API_RATE_LIMIT="3/minute",
        SABISCORE_API_TRUST_PROXY="true",
        SABISCORE_API_RATE_LIMIT_SYNC_SECONDS="0",  # every request counted in Redis at once
    )
    alice, bob = world.headers("pro"), world.headers("premium")

    def get(client: TestClient, headers: dict[str, str], ip: str):  # noqa: ANN202
        return client.get("/v1/matches/upcoming", headers={**headers, "X-Forwarded-For": ip})

    with world.client() as one, world.client() as two:  # two workers
        assert [get(one, alice, "10.0.0.1").status_code for _ in range(2)] == [200, 200]
        assert get(two, alice, "10.0.0.1").status_code == 200  # the third, on the other worker
        by_key = get(two, alice, "10.0.0.2")  # a new IP, the same key
        assert by_key.status_code == 429
        assert by_key.json()["detail"] == "rate limit exceeded (3 per 1 minute per key)"
        assert 1 <= int(by_key.headers["retry-after"]) <= 60
        by_ip = get(one, bob, "10.0.0.1")  # another key, the same IP
        assert by_ip.status_code == 429
        assert by_ip.json()["detail"] == "rate limit exceeded (3 per 1 minute per ip)"
        assert get(one, bob, "10.0.0.3").status_code == 200
        opened = [get(one, {}, "10.0.0.4") for _ in range(3)]  # open routes count the IP too
        assert [a.status_code for a in opened] == [401, 401, 401]
        assert one.get("/v1/leagues", headers={"X-Forwarded-For": "10.0.0.4"}).status_code == 429
    assert list(world.redis.scan_iter(f"{world.prefix}:limits*"))


def test_workers_settling_with_redis_hand_their_counts_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What one worker lets through counts for the other, however long the interval.

    With 5 a minute a lease is one slot (10% of the limit is less), taken in Redis
    before the request is answered; a refused identity is refused with the
    window's Retry-After.
    """
    configure(
        monkeypatch,
        SABISCORE_API_RATE_LIMIT="5/minute",
        SABISCORE_API_RATE_LIMIT_SYNC_SECONDS="3600",  # leases kept an hour
        SABISCORE_API_TRUST_PROXY="true",
    )
    ips = (f"10.1.0.{n}" for n in range(1, 100))  # a new IP each time: the key's limit counts

    def get(client: TestClient, tier: str) -> int:
        headers = {**world.headers(tier), "X-Forwarded-For": next(ips)}
        answer = client.get("/v1/matches/upcoming", headers=headers)
        if answer.status_code == 429:
            assert answer.json()["detail"] == "rate limit exceeded (5 per 1 minute per key)"
            assert 1 <= int(answer.headers["retry-after"]) <= 60
        return answer.status_code

    with world.client() as one:
        assert [get(one, "pro") for _ in range(3)] == [200] * 3
    with world.client() as two:  # the three were counted in Redis as they were answered
        assert [get(two, "pro") for _ in range(4)] == [200, 200, 429, 429]

    configure(monkeypatch, SABISCORE_API_RATE_LIMIT_SYNC_SECONDS="0.2")
    with world.client() as one, world.client() as two:
        assert [get(one, "premium") for _ in range(4)] == [200] * 4
        time.sleep(0.6)  # the first worker gives back its (empty) leases meanwhile
        # the second worker finds the four in the window when it first leases
        assert [get(two, "premium") for _ in range(2)] == [200, 429]


def test_leased_slots_go_back_to_the_window_when_unused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker takes its slots in Redis before it uses them and gives back the rest.

    With 100 a minute and one worker a lease is 5 slots (10% over one worker and
    one more); what is left goes back to the limits moving window when the worker
    stops, or once the lease is an interval old.
    """
    configure(monkeypatch, SABISCORE_API_RATE_LIMIT="100/minute")
    workers = f"{world.prefix}:limits:workers"

    def windows() -> list[int]:  # the entries of the IP's and the key's windows
        keys = [
            k for k in world.redis.scan_iter(f"{world.prefix}:limits:*") if k != workers.encode()
        ]
        return sorted(world.redis.llen(k) for k in keys)

    with world.client() as one:
        assert one.get("/v1/matches/upcoming", headers=world.headers()).status_code == 200
        assert windows() == [5, 5]  # counted before use: the leases of the IP and the key
        assert world.redis.zcard(workers) == 1
        assert one.get("/v1/matches/upcoming", headers=world.headers()).status_code == 200
        assert windows() == [5, 5]  # from the leases, in memory
    assert windows() == [2, 2]  # stopped: the 3 unused slots of each lease went back
    assert not world.redis.exists(workers)

    configure(monkeypatch, SABISCORE_API_RATE_LIMIT_SYNC_SECONDS="0.2")
    with world.client() as two:
        assert two.get("/v1/matches/upcoming", headers=world.headers()).status_code == 200
        assert windows() == [7, 7]
        deadline = time.monotonic() + 30
        while windows() != [3, 3]:  # the background flush gives the expired leases back
            assert time.monotonic() < deadline, windows()
            time.sleep(0.1)
    assert windows() == [3, 3]


def test_the_free_tier_reads_five_insights_a_day(world: World, api: TestClient) -> None:
    free, premium = world.headers("free"), world.headers("premium")
    ids = world.match_ids()
    first = api.get(f"/v1/insights/{ids[0]}", headers=free)
    assert first.status_code == 200
    # a conditional request that the client already holds does not count
    revalidated = api.get(
        f"/v1/insights/{ids[0]}", headers={**free, "If-None-Match": first.headers["etag"]}
    )
    assert revalidated.status_code == 304
    assert [api.get(f"/v1/insights/{m}", headers=free).status_code for m in ids[1:5]] == [200] * 4
    over = api.get(f"/v1/insights/{ids[5]}", headers=free)
    assert over.status_code == 429
    assert over.json()["detail"].startswith("the free tier's insights are used up (5 per 1 day)")
    assert 86_000 < int(over.headers["retry-after"]) <= 86_400
    assert api.get(f"/v1/predictions/{ids[5]}", headers=free).status_code == 200
    assert api.get(f"/v1/insights/{ids[0]}", headers=free).status_code == 429
    assert [api.get(f"/v1/insights/{m}", headers=premium).status_code for m in ids] == [200] * 6
    assert api.get(f"/v1/insights/{ids[0]}", headers=premium).status_code == 200


def _token(secret: str, **claims) -> str:  # noqa: ANN003
    now = dt.datetime.now(dt.UTC)
    body = {"sub": "user-42", "exp": now + dt.timedelta(minutes=5), **claims}
    return jwt.encode(body, secret, algorithm="HS256")


def test_bearer_tokens(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s" * 40
    configure(monkeypatch, SABISCORE_API_JWT_SECRET=secret)
    match_id = world.match_ids()[2]
    with world.client() as api:

        def get(token: str):  # noqa: ANN202
            return api.get(f"/v1/insights/{match_id}", headers={"Authorization": f"Bearer {token}"})

        premium = _token(secret, tier="premium")
        assert [get(premium).status_code for _ in range(7)] == [200] * 7
        assert get(premium).content == world.document("prediction", str(match_id))
        free = _token(secret, sub="user-7")
        assert [get(free).status_code for _ in range(6)] == [200] * 5 + [429]
        expired = _token(secret, exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))
        assert (get(expired).status_code, get(expired).json()["detail"]) == (
            401,
            "expired bearer token",
        )
        for bad in (_token("t" * 40), _token(secret, tier="gold"), "abc", premium + "x"):
            assert (get(bad).status_code, get(bad).json()["detail"]) == (
                401,
                "invalid bearer token",
            )
        no_subject = jwt.encode({"exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)}, secret)
        assert get(no_subject).status_code == 401
        # a key wins over a token when both are sent
        both = api.get(
            f"/v1/insights/{match_id}",
            headers={"Authorization": f"Bearer {free}", **world.headers("pro")},
        )
        assert both.status_code == 200


def test_cors_from_the_allow_list(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, SABISCORE_API_CORS_ORIGINS="https://app.example, https://www.example")
    with world.client() as api:
        for attempt in range(2):
            allowed = api.get(
                "/v1/matches/upcoming",
                headers={"Origin": "https://app.example", **world.headers()},
            )
            assert allowed.status_code == 200, attempt
            assert allowed.headers["access-control-allow-origin"] == "https://app.example"
            assert "ETag" in allowed.headers["access-control-expose-headers"]
            refused = api.get(
                "/v1/matches/upcoming",
                headers={"Origin": "https://evil.example", **world.headers()},
            )
            assert "access-control-allow-origin" not in refused.headers
        preflight = api.options(
            "/v1/insights/1",
            headers={
                "Origin": "https://www.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-API-Key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://www.example"
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    configure(monkeypatch, SABISCORE_API_CORS_ORIGINS=None)
    with world.client() as api:  # no allow-list: no CORS headers
        answer = api.get("/v1/leagues", headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in answer.headers


def test_security_headers_and_hsts(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    with world.client() as api:
        for path in ("/v1/leagues", "/v1/leagues", "/health", "/v1/nothing", "/docs"):
            answer = api.get(path)
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
            assert len(answer.headers["x-request-id"]) == 16
            assert "strict-transport-security" not in answer.headers
        docs_policy = api.get("/docs").headers["content-security-policy"]
        assert docs_policy.startswith("default-src 'self';")  # the docs load from here only
        assert api.get("/health").headers["content-security-policy"].startswith("default-src")
        forwarded = api.get("/v1/leagues", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in forwarded.headers  # proxy not trusted
    with world.client(base_url="https://testserver") as api:
        assert api.get("/v1/leagues").headers["strict-transport-security"].startswith("max-age=")
    configure(monkeypatch, SABISCORE_API_TRUST_PROXY="true")
    with world.client() as api:
        answer = api.get("/v1/leagues", headers={"X-Forwarded-Proto": "https"})
        assert "includeSubDomains" in answer.headers["strict-transport-security"]


def test_an_unexpected_error_tells_nothing(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with world.client(raise_server_exceptions=False) as api:
        repository = api.app.state.serving.repository

        async def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            raise RuntimeError("psycopg2 password=hunter2 in sabiscore_ml/secret_module.py")

        repository.leagues = broken
        answer = api.get("/v1/leagues")
    assert answer.status_code == 500
    body = answer.json()
    assert body == {"detail": "internal error", "request_id": answer.headers["x-request-id"]}
    assert "hunter2" not in answer.text and "Traceback" not in answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"
    logged = [r for r in caplog.records if r.exc_info and "hunter2" in str(r.exc_info[1])]
    assert logged  # logged with its traceback, not sent


def test_warm_reads_answer_like_the_routes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm path answers without the stores, exactly as the routes would."""
    match_id = world.match_ids()[0]
    paths = [
        ("/v1/leagues", {}),
        ("/v1/matches/upcoming", world.headers()),
        ("/v1/value-bets", world.headers()),
        (f"/v1/predictions/{match_id}", world.headers()),
        (f"/v1/insights/{match_id}", world.headers("premium")),
        (f"/v1/insights/{match_id}", {**world.headers(), "If-None-Match": "*"}),
    ]
    answers = {}
    for hot in ("true", "false"):
        configure(monkeypatch, SABISCORE_API_HOT_PATH=hot)
        with world.client() as api:
            for path, headers in paths:
                api.get(path, headers=headers)  # warms the caches
            repository = api.app.state.serving.repository

            async def unreachable(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                raise RuntimeError("the stores were asked")

            repository.current_run_id = unreachable
            answers[hot] = []
            for path, headers in paths:
                answer = api.get(path, headers=headers)
                kept = {k: v for k, v in answer.headers.items() if k != "x-request-id"}
                answers[hot].append((answer.status_code, answer.content, kept))
    assert [a[0] for a in answers["true"]] == [200, 200, 200, 200, 200, 304]
    assert all(a[0] == 500 for a in answers["false"])  # the routes do read the pointer
    with world.client() as api:  # the routes, cold, give the same answers
        routes = []
        for path, headers in paths:
            answer = api.get(path, headers=headers)
            kept = {k: v for k, v in answer.headers.items() if k != "x-request-id"}
            routes.append((answer.status_code, answer.content, kept))
    assert routes == answers["true"]


def test_openapi_documents_every_route_with_examples(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/health",
        "/ready",
        "/metrics",
        "/v1/leagues",
        "/v1/matches/upcoming",
        "/v1/predictions/{match_id}",
        "/v1/insights/{match_id}",
        "/v1/value-bets",
        "/v1/models/current",
    ):
        assert "get" in paths[path], path
    insight = paths["/v1/insights/{match_id}"]["get"]
    assert {"200", "304", "401", "404", "422", "429", "503"} <= set(insight["responses"])
    assert insight["security"] == [{"ApiKey": []}]  # no JWT secret: no bearer scheme
    assert "security" not in paths["/v1/leagues"]["get"]
    components = schema["components"]["schemas"]
    assert components["Insight"]["examples"][0]["edges"]
    assert components["Prediction"]["examples"][0]["p_home"]
    assert json.dumps(schema).count('"examples"') > 10
    assert api.get("/docs").status_code == 200


def test_a_new_run_is_served_once_the_pointer_moves(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, SABISCORE_API_POINTER_CACHE_SECONDS="0")
    match_id = world.match_ids()[0]
    with world.client() as api:
        before = api.get(f"/v1/predictions/{match_id}", headers=world.headers())
        etag = before.headers["etag"]
        newer = scored_run(
            "run-2024-03-01-b", world.fixtures, created_at=dt.datetime(2024, 3, 1, 10), shift=0.05
        )
        publish(newer, engine=world.engine, redis_client=world.redis, prefix=world.prefix)
        after = api.get(
            f"/v1/predictions/{match_id}", headers={**world.headers(), "If-None-Match": etag}
        )
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert after.json()["run_id"] == "run-2024-03-01-b"
        assert after.json()["p_home"] == pytest.approx(before.json()["p_home"] + 0.05)
        assert api.get("/v1/matches/upcoming", headers=world.headers()).json()[0]["run_id"] == (
            "run-2024-03-01-b"
        )
