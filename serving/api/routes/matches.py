"""Upcoming matches of the current run with their predictions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BeforeValidator

from serving.api.deps import CallerDep, StateDep
from serving.responses import (
    BAD_PARAMETERS,
    NOT_MODIFIED,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNAVAILABLE,
    document_response,
    ok,
)
from serving.schemas import CompactPrediction

router = APIRouter(tags=["matches"])

LEAGUE_PATTERN = r"^[A-Za-z0-9]{1,8}$"


def _written_as_a_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` (not the numbers and datetimes pydantic would take)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_written_as_a_date)]
LeagueQuery = Annotated[
    str | None,
    Query(
        pattern=LEAGUE_PATTERN,
        description="A league code (`E0`, `SP1`, ...; see `/v1/leagues`); all leagues if absent",
        openapi_examples={"Premier League": {"value": "E0"}, "La Liga": {"value": "SP1"}},
    ),
]


@router.get(
    "/matches/upcoming",
    response_model=list[CompactPrediction],
    summary="Upcoming matches and their predictions",
    responses={200: ok("Matches by kickoff (none on a date or league without any)")}
    | NOT_MODIFIED
    | UNAUTHORIZED
    | BAD_PARAMETERS
    | RATE_LIMITED
    | UNAVAILABLE,
)
async def upcoming(
    request: Request,
    state: StateDep,
    caller: CallerDep,
    league: LeagueQuery = None,
    date: Annotated[
        IsoDate | None,
        Query(
            description="Only the matches of this day (`YYYY-MM-DD`)",
            openapi_examples={"a Saturday": {"value": "2024-03-02"}},
        ),
    ] = None,
) -> Response:
    """The current run's matches with their predictions.

    Sorted by kickoff (a match without a kickoff time last on its day), each with its 1X2
    probabilities and, where published, over 2.5 goals, both teams to score and expected goals.
    """
    document = await state.repository.upcoming(league.upper() if league else None, date)
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.static_cache_seconds
    )
