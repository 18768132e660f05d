"""Settings: embedded defaults under SABISCORE_HOME, explicit locations in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sabiscore_ml import settings as s


def test_embedded_defaults_live_under_sabiscore_home(sabiscore_home: Path) -> None:
    assert s.get_core_settings().home_dir == sabiscore_home.resolve()
    assert (
        s.get_warehouse_settings().url == f"sqlite:///{sabiscore_home.resolve()}/warehouse.sqlite"
    )
    assert s.get_core_settings().raw_archive_dir == sabiscore_home.resolve() / "raw"
    assert s.get_redis_settings().redis_url is None
    assert s.get_mlflow_settings().uri == f"sqlite:///{sabiscore_home.resolve()}/mlflow/mlflow.db"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SABISCORE_DATABASE_URL", "postgresql+psycopg2://u@db/warehouse")
    monkeypatch.setenv("SABISCORE_REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("SABISCORE_RAW_DIR", str(tmp_path / "archive"))
    s.clear_settings_cache()
    assert s.get_warehouse_settings().url == "postgresql+psycopg2://u@db/warehouse"
    assert s.get_redis_settings().redis_url == "redis://cache:6379/1"
    assert s.get_mlflow_settings().uri == "http://mlflow:5000"
    assert s.get_core_settings().raw_archive_dir == (tmp_path / "archive").resolve()


def test_settings_are_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    first = s.get_warehouse_settings()
    monkeypatch.setenv("SABISCORE_DATABASE_URL", "sqlite:////tmp/other.sqlite")
    assert s.get_warehouse_settings() is first
    s.clear_settings_cache()
    assert s.get_warehouse_settings().url == "sqlite:////tmp/other.sqlite"


def test_production_refuses_embedded_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SABISCORE_ENV", "production")
    with pytest.raises(ValidationError, match="SABISCORE_DATABASE_URL must be set"):
        s.WarehouseSettings()
    with pytest.raises(ValidationError, match="SABISCORE_REDIS_URL must be set"):
        s.RedisSettings()
    with pytest.raises(ValidationError, match="MLFLOW_TRACKING_URI must be set"):
        s.MlflowSettings()


def test_production_refuses_development_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SABISCORE_ENV", "production")
    monkeypatch.setenv("SABISCORE_DATABASE_URL", "postgresql+psycopg2://sabiscore:changeme@db/w")
    with pytest.raises(ValidationError, match="development password"):
        s.WarehouseSettings()
    monkeypatch.setenv("SABISCORE_DATABASE_URL", "postgresql+psycopg2://sabiscore:x9Lq2@db/w")
    assert s.WarehouseSettings().url.endswith("@db/w")
