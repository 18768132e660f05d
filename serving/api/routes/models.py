"""The champion model version and its evaluation (read from the warehouse)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from serving.api.deps import CallerDep, StateDep
from serving.responses import (
    NOT_MODIFIED,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNAVAILABLE,
    document_response,
    ok,
)
from serving.schemas import ModelVersion, Problem

router = APIRouter(tags=["models"])


@router.get(
    "/models/current",
    response_model=ModelVersion,
    summary="The champion model",
    responses={200: ok("The champion version and its walk-forward figures")}
    | NOT_MODIFIED
    | UNAUTHORIZED
    | {404: {"model": Problem, "description": "No version has been promoted yet"}}
    | RATE_LIMITED
    | UNAVAILABLE,
)
async def current_model(request: Request, state: StateDep, caller: CallerDep) -> Response:
    """The version serving as `champion`.

    When it was trained and its walk-forward evaluation against the market (`rps`,
    `log_loss`, `ece`, `rps_minus_pinnacle_close`, ...).
    """
    document = await state.repository.champion(state.model_name)
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no model version is champion yet")
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.static_cache_seconds
    )
