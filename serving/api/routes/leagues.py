"""The leagues of the current run (open: no key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from serving.api.deps import StateDep, limit_client
from serving.responses import NOT_MODIFIED, RATE_LIMITED, UNAVAILABLE, document_response, ok
from serving.schemas import League

router = APIRouter(tags=["matches"])


@router.get(
    "/leagues",
    response_model=list[League],
    summary="Leagues with published predictions",
    dependencies=[Depends(limit_client)],
    responses={200: ok("The current run's leagues, by code"), **NOT_MODIFIED, **RATE_LIMITED}
    | UNAVAILABLE,
)
async def leagues(request: Request, state: StateDep) -> Response:
    """The leagues of the current published run and how many matches each has.

    Open to everyone (no key): it names what can be asked for, nothing more.
    """
    document = await state.repository.leagues()
    return document_response(
        request.headers.get("if-none-match"),
        document,
        max_age=state.settings.static_cache_seconds,
        public=True,
    )
