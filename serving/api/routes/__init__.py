"""The routes: health and metrics at the root, the versioned API under ``/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.routes import (
    health,
    leagues,
    matches,
    models,
    predictions,
    stream,
    value_bets,
)

v1_router = APIRouter(prefix="/v1")
for module in (leagues, matches, predictions, value_bets, models, stream):
    v1_router.include_router(module.router)

__all__ = ["health", "v1_router"]
