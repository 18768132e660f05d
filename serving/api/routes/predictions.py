"""One match: its prediction, and its insight (edges, value bets, stakes, drivers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status

from sabiscore_ml.warehouse.api_keys import FREE
from serving.api.deps import CallerDep, StateDep, too_many_requests
from serving.repository import Document
from serving.responses import (
    BAD_PARAMETERS,
    NOT_FOUND,
    NOT_MODIFIED,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNAVAILABLE,
    document_response,
    not_modified,
    ok,
)
from serving.schemas import Insight, Prediction

router = APIRouter(tags=["predictions"])

MatchId = Annotated[
    int,
    Path(
        ge=1,
        le=2**63 - 1,
        description="The match id (from `/v1/matches/upcoming`)",
        openapi_examples={"a match": {"value": 1042}},
    ),
]
ERRORS = NOT_MODIFIED | UNAUTHORIZED | NOT_FOUND | BAD_PARAMETERS | RATE_LIMITED | UNAVAILABLE


def _found(document: Document | None, match_id: int) -> Document:
    if document is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"match {match_id} is not in the current published run"
        )
    return document


@router.get(
    "/predictions/{match_id}",
    response_model=Prediction,
    summary="A match's prediction",
    responses={200: ok("The prediction, with the model version and the run"), **ERRORS},
)
async def prediction(
    match_id: MatchId, request: Request, state: StateDep, caller: CallerDep
) -> Response:
    """A match's prediction in the current run.

    1X2 probabilities (and over 2.5 goals, both teams to score, expected goals and the
    correct scores where published), the model name and version, and when the run was
    published (`created_at`).  The markets come from one score grid, published as
    `correct_score` (every score up to 5-5, then `6+-0`, `0-6+`, `other_home`,
    `other_draw`, `other_away`): each market is the sum of its scores, so none
    contradicts another.
    """
    document = _found(await state.repository.prediction(match_id), match_id)
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.odds_cache_seconds
    )


@router.get(
    "/insights/{match_id}",
    response_model=Insight,
    summary="Everything published about a match",
    responses={200: ok("The insight document, as published"), **ERRORS},
)
async def insight(
    match_id: MatchId, request: Request, state: StateDep, caller: CallerDep
) -> Response:
    """Everything published about a match.

    The prediction (with its correct scores) with every priced outcome (the market's
    margin-free probability, the edge at the best price), the value bets with the stake each
    portfolio's rules sized, and the features that drove the prediction (`drivers`).

    A free key may read 5 insights in any 24 hours (a `304` does not count).
    """
    document = _found(await state.repository.insight(match_id), match_id)
    if caller.tier == FREE and not not_modified(request.headers.get("if-none-match"), document):
        refusal = await state.limits.take_insight(caller.subject)
        if refusal is not None:
            raise too_many_requests(refusal)
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.odds_cache_seconds
    )
