"""Value bets of the current run, largest edge first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from serving.api.deps import CallerDep, StateDep
from serving.api.routes.matches import LeagueQuery
from serving.responses import (
    BAD_PARAMETERS,
    NOT_MODIFIED,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNAVAILABLE,
    document_response,
    ok,
)
from serving.schemas import ValueBet, WithdrawnBet

router = APIRouter(tags=["value bets"])


@router.get(
    "/value-bets",
    response_model=list[ValueBet],
    summary="Value bets, largest edge first",
    responses={200: ok("Value bets with their stakes")}
    | NOT_MODIFIED
    | UNAUTHORIZED
    | BAD_PARAMETERS
    | RATE_LIMITED
    | UNAVAILABLE,
)
async def value_bets(
    request: Request,
    state: StateDep,
    caller: CallerDep,
    league: LeagueQuery = None,
    min_edge: Annotated[
        float | None,
        Query(
            ge=-1.0,
            le=100.0,
            allow_inf_nan=False,
            description="Only bets whose edge (p_model x price - 1) is at least this",
            openapi_examples={"5% or more": {"value": 0.05}},
        ),
    ] = None,
) -> Response:
    """The current run's value bets, largest edge first.

    Each with the fixture, the outcome and the best price, the model's and the market's
    probabilities, the edge, and the stake each portfolio's rules sized.
    """
    document = await state.repository.value_bets(
        league, None if min_edge is None else round(min_edge, 6)
    )
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.odds_cache_seconds
    )


@router.get(
    "/value-bets/withdrawn",
    response_model=list[WithdrawnBet],
    summary="The previous run's value bets the current prices withdraw",
    responses={200: ok("Withdrawn bets, by kickoff")}
    | NOT_MODIFIED
    | UNAUTHORIZED
    | BAD_PARAMETERS
    | RATE_LIMITED
    | UNAVAILABLE,
)
async def withdrawn_bets(
    request: Request, state: StateDep, caller: CallerDep, league: LeagueQuery = None
) -> Response:
    """The value bets of the previous published run that are none at the current run's prices.

    Each with its fixture, the price it was published at, the price on offer now and
    when that price was last seen; a bet whose price still holds stays among the value bets.
    """
    document = await state.repository.withdrawn(league)
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.odds_cache_seconds
    )
