"""The champion model version, its evaluation and its monitored performance (warehouse)."""

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
from serving.schemas import ModelPerformance, ModelVersion, Problem

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


@router.get(
    "/models/current/performance",
    response_model=ModelPerformance,
    summary="How the champion's published predictions did",
    responses={200: ok("The monitor's latest figures of the champion, per league and window")}
    | NOT_MODIFIED
    | UNAUTHORIZED
    | {
        404: {
            "model": Problem,
            "description": "No version is champion, or the monitor has not scored it yet",
        }
    }
    | RATE_LIMITED
    | UNAVAILABLE,
)
async def current_performance(request: Request, state: StateDep, caller: CallerDep) -> Response:
    """The champion's published predictions and value bets, scored once their results came in.

    Per league (`all`: every league) and window (`all`: every settled match, and the rolling
    window of the last days): the model's realised `rps`, `log_loss` and `ece`, Pinnacle's
    margin-free pre-closing and closing RPS on the same matches with the paired difference
    and its standard error, the value bets' closing-line value (`clv`), their early
    closing-line value against the latest pre-closing prices seen before kick-off
    (`early_clv`, known before the closing prices are), their profit, flat and staked, the
    largest input drift (`psi_max`), `n` and the figures that crossed a threshold
    (`breaches`). As the `monitor` job stored them.
    """
    document = await state.repository.performance(state.model_name)
    if document is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no monitor figures for the champion version yet"
        )
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.static_cache_seconds
    )
