"""The serving tier's small parts: its settings, the in-process cache, entity tags, keys."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from sabiscore_ml import settings as s
from sabiscore_ml.warehouse.api_keys import key_digest, key_id_of
from serving.cache import LruCache, SingleFlight
from serving.repository import Document, prediction_view
from serving.responses import cache_control, etag_matches
from serving.security import bearer_token


def test_serving_settings_defaults_and_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    api = s.get_serving_settings()
    assert (api.require_key, api.rate_limit, api.free_insights_per_day) == (True, "100/minute", 5)
    assert api.cors_origins == [] and api.jwt_secret is None and api.hot_path
    monkeypatch.setenv("SABISCORE_API_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("SABISCORE_API_RATE_LIMIT", "10/second;100/minute")
    s.clear_settings_cache()
    api = s.get_serving_settings()
    assert api.cors_origins == ["https://a.example", "https://b.example"]
    assert api.rate_limit == "10/second;100/minute"
    monkeypatch.setenv("SABISCORE_API_CORS_ORIGINS", '["https://c.example"]')
    assert s.ServingSettings().cors_origins == ["https://c.example"]
    monkeypatch.setenv("SABISCORE_API_RATE_LIMIT", "lots")
    with pytest.raises(ValidationError, match="rate limit 'lots'"):
        s.ServingSettings()


def test_production_locks_the_api_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SABISCORE_ENV", "production")
    assert s.ServingSettings().require_key
    for name, value, message in (
        ("SABISCORE_API_REQUIRE_KEY", "false", "REQUIRE_KEY cannot be false"),
        ("SABISCORE_API_CORS_ORIGINS", "*", "cannot be '\\*'"),
        ("SABISCORE_API_JWT_SECRET", "changeme", "development value or shorter than 32"),
        ("SABISCORE_API_JWT_SECRET", "short-but-random-4f9a", "shorter than 32"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=message):
            s.ServingSettings()
        monkeypatch.delenv(name)
    monkeypatch.setenv("SABISCORE_API_JWT_SECRET", "x7Qp" * 10)
    assert s.ServingSettings().jwt_secret.get_secret_value() == "x7Qp" * 10
    monkeypatch.setenv("SABISCORE_ENV", "embedded")
    monkeypatch.setenv("SABISCORE_API_JWT_SECRET", "changeme")
    monkeypatch.setenv("SABISCORE_API_REQUIRE_KEY", "false")
    assert not s.ServingSettings().require_key  # a development machine may


def test_lru_cache_evicts_the_least_recently_used_and_ages_entries() -> None:
    cache: LruCache[int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)
    aged: LruCache[str] = LruCache(10, ttl=0.05)
    aged.put("k", "v")
    assert aged.get("k") == "v"
    time.sleep(0.06)
    assert aged.get("k") is None and aged.get_stale("k") == "v"
    assert aged.get("missing", "default") == "default"
    nothing: LruCache[int] = LruCache(0)
    nothing.put("a", 1)
    assert nothing.get("a") is None


def test_single_flight_shares_one_fetch_among_concurrent_callers() -> None:
    calls: list[str] = []

    async def fetch(value: str) -> str:
        calls.append(value)
        await asyncio.sleep(0.01)
        if value == "bad":
            raise LookupError(value)
        return value.upper()

    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()
        together = await asyncio.gather(*(flights.run("a", lambda: fetch("a")) for _ in range(20)))
        assert together == ["A"] * 20 and calls == ["a"]
        assert await flights.run("a", lambda: fetch("a")) == "A"  # done: a new fetch
        assert calls == ["a", "a"]
        failing = [flights.run("b", lambda: fetch("bad")) for _ in range(3)]
        results = await asyncio.gather(*failing, return_exceptions=True)
        assert all(isinstance(r, LookupError) for r in results) and calls.count("bad") == 1
        started = flights.start("c", lambda: fetch("bad"))  # nobody awaits it: no warning
        await asyncio.sleep(0.05)
        assert started.done() and isinstance(started.exception(), LookupError)

    asyncio.run(scenario())


def test_entity_tags() -> None:
    document = Document.of(b'{"a":1}', "run-1")
    assert document.etag == Document.of(b'{"a":1}', "run-2").etag  # the bytes decide
    assert document.etag != Document.of(b'{"a":2}', "run-1").etag
    assert etag_matches(document.etag, document.etag)
    assert etag_matches(f'"x", W/{document.etag}', document.etag)
    assert etag_matches("*", document.etag)
    assert not etag_matches('"x"', document.etag)
    assert not etag_matches(document.etag.strip('"'), document.etag)
    assert cache_control(60) == "private, max-age=60"
    assert cache_control(300, public=True) == "public, max-age=300"


def test_a_prediction_is_its_insight_trimmed() -> None:
    insight = (
        b'{"as_of":"2024-03-01","away_team":"B","created_at":"2024-03-01T09:00:00",'
        b'"drivers":null,"edges":[],"home_team":"A","kickoff_utc":null,"league_code":"E0",'
        b'"match_date":"2024-03-02","match_id":3,"mode":"live","model_name":"m",'
        b'"model_version":"7","p_away":0.2,"p_btts":null,"p_draw":0.3,"p_home":0.5,'
        b'"p_over25":0.55,"run_id":"r","season_code":"2023-2024","stakes":[],"value_bets":[],'
        b'"xg_away":null,"xg_home":1.25}'
    )
    # an insight published before correct scores were: the prediction says null
    assert prediction_view(insight) == (
        b'{"as_of":"2024-03-01","away_team":"B","correct_score":null,'
        b'"created_at":"2024-03-01T09:00:00","home_team":"A","kickoff_utc":null,"league_code":"E0","match_date":"2024-03-02",'
        b'"match_id":3,"mode":"live","model_name":"m","model_version":"7","p_away":0.2,'
        b'"p_btts":null,"p_draw":0.3,"p_home":0.5,"p_over25":0.55,"run_id":"r",'
        b'"season_code":"2023-2024","xg_away":null,"xg_home":1.25}'
    )


def test_key_and_token_formats() -> None:
    key = "sbk_0123456789ab_" + "A" * 43
    assert key_id_of(key) == "0123456789ab"
    for bad in ("", "sbk_0123456789ab_short", "xyz_0123456789ab_" + "A" * 43, key + "A"):
        assert key_id_of(bad) is None
    assert key_digest(key) == key_digest(key) and len(key_digest(key)) == 64
    assert bearer_token("Bearer abc") == bearer_token("bearer  abc ") == "abc"
    for header in (None, "", "Bearer", "Basic abc", "Token abc"):
        assert bearer_token(header) is None
