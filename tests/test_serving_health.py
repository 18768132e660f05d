"""The serving tier's health endpoint against the real warehouse and Redis."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine
from serving.app import app


@pytest.fixture
def client():
    get_engine.cache_clear()
    with TestClient(app) as test_client:
        yield test_client
    get_engine.cache_clear()


def test_health_embedded_without_redis(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["warehouse"] == "ok"
    assert response.json()["redis"] == "disabled"


def test_health_with_the_real_redis(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SABISCORE_REDIS_URL", "redis://127.0.0.1:6379/0")
    clear_settings_cache()
    body = client.get("/health").json()
    assert body["redis"] == "ok" and body["status"] == "ok"


def test_health_reports_an_unreachable_redis(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SABISCORE_REDIS_URL", "redis://127.0.0.1:1/0")
    clear_settings_cache()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {**response.json(), "redis": "unreachable", "status": "degraded"}


def test_health_reports_an_unreachable_warehouse(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SABISCORE_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=2"
    )
    clear_settings_cache()
    get_engine.cache_clear()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["warehouse"] == "unreachable"
