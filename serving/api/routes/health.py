"""Liveness, readiness and the Prometheus metrics (no key needed, no rate limit)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status

from sabiscore_ml import __version__
from serving.api.deps import StateDep
from serving.responses import RETRY_AFTER
from serving.schemas import Health, Readiness

router = APIRouter(tags=["operations"])
READY_RETRY_SECONDS = 5  # a store that is down is asked again after this long


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Health:
    """The process answers; it does not look at the stores (see `/ready`)."""
    return Health(status="ok", version=__version__)


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: Redis and the warehouse",
    responses={
        503: {
            "model": Readiness,
            "description": "No store answers: nothing to serve",
            "headers": RETRY_AFTER,
        }
    },
)
async def ready(state: StateDep, response: Response) -> Readiness:
    """Whether the stores answer.

    `ok` when every configured store answers, `degraded` when one is down (answers still
    come from the other), `unavailable` (503, with a `Retry-After`) when none does.
    """
    redis_state = await state.repository.redis_state()
    warehouse = await state.repository.warehouse_state()
    up = [warehouse == "ok"] + ([] if redis_state == "disabled" else [redis_state == "ok"])
    verdict: Literal["ok", "degraded", "unavailable"] = (
        "ok" if all(up) else "degraded" if any(up) else "unavailable"
    )
    if verdict == "unavailable":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(READY_RETRY_SECONDS)
    return Readiness(status=verdict, redis=redis_state, warehouse=warehouse, version=__version__)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Text exposition format"}},
)
async def metrics(state: StateDep) -> Response:
    """Prometheus metrics of this worker process.

    Request counts and latency histograms by route, cache hits, store reads and errors,
    requests refused by a limit; and the monitor's latest figures of the published
    predictions (`sabiscore_monitor_figure`, `sabiscore_monitor_breached`), read from the
    warehouse.
    """
    state.metrics.set_monitor_figures(await state.repository.monitor_figures(state.model_name))
    return Response(state.metrics.exposition(), media_type=state.metrics.content_type)
