"""Upcoming matches of the current run with their predictions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from sabiscore_ml.leagues import LEAGUES
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


def known_league(code: str | None) -> str | None:
    """The league code upper-cased, if it is one of :data:`sabiscore_ml.leagues.LEAGUES`.

    An unknown code is a ``422`` naming the known ones, never an empty list: a known
    league with nothing published is ``200 []``.
    """
    if code is None:
        return None
    upper = code.upper()
    if upper not in LEAGUES:
        raise PydanticCustomError(
            "unknown_league",
            "unknown league {code}; known leagues: {known}",
            {"code": repr(code), "known": ", ".join(sorted(LEAGUES))},
        )
    return upper


IsoDate = Annotated[dt.date, BeforeValidator(_written_as_a_date)]
LeagueQuery = Annotated[
    str | None,
    Query(
        pattern=LEAGUE_PATTERN,
        description="A league code (`E0`, `SP1`, ...; see `/v1/leagues`); all leagues if absent. "
        f"An unknown code is a 422 (known: {', '.join(sorted(LEAGUES))}); a known league "
        "with nothing published gives an empty list",
        openapi_examples={"Premier League": {"value": "E0"}, "La Liga": {"value": "SP1"}},
    ),
    AfterValidator(known_league),
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
    document = await state.repository.upcoming(league, date)
    return document_response(
        request.headers.get("if-none-match"), document, max_age=state.settings.static_cache_seconds
    )
