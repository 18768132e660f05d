"""The serving application (``uvicorn serving.app:app``)."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, Response, status
from pydantic import BaseModel
from sqlalchemy import text

from sabiscore_ml import __version__
from sabiscore_ml.settings import get_redis_settings
from sabiscore_ml.warehouse.engine import get_engine

app = FastAPI(
    title="Sabiscore",
    version=__version__,
    description="Precomputed football predictions, value bets and stakes (read-only).",
)


class Health(BaseModel):
    """Liveness of the stores the API reads."""

    status: Literal["ok", "degraded"]
    warehouse: Literal["ok", "unreachable"]
    redis: Literal["ok", "unreachable", "disabled"]
    version: str


def _warehouse_ok() -> bool:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "unreachable"
        return False
    return True


def _redis_state() -> Literal["ok", "unreachable", "disabled"]:
    url = get_redis_settings().redis_url
    if not url:
        return "disabled"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError:
        return "unreachable"
    return "ok"


@app.get("/health", response_model=Health)
def health(response: Response) -> Health:
    """Whether the warehouse (and Redis, when configured) answer; 503 when not."""
    warehouse = "ok" if _warehouse_ok() else "unreachable"
    redis_state = _redis_state()
    healthy = warehouse == "ok" and redis_state != "unreachable"
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if healthy else "degraded",
        warehouse=warehouse,
        redis=redis_state,
        version=__version__,
    )
