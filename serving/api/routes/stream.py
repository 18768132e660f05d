"""Push: each run made current and each value-bet alert, as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from serving.api.deps import CallerDep, StateDep
from serving.api.routes.matches import LeagueQuery
from serving.responses import BAD_PARAMETERS, RATE_LIMITED, RETRY_AFTER, UNAUTHORIZED
from serving.schemas import Problem
from serving.stream import ALL_EVENTS, Cursor, StreamFull, event_frames

router = APIRouter(tags=["push"])

EventName = Literal["run", "value_bet", "monitor_breach"]
EVENT_STREAM = "text/event-stream"
STREAM_DESCRIPTION = """\
A `text/event-stream` that stays open. Events:

- `run`: a published run became current (its meta document: `run_id`, model, version,
  times, mode, counts); read its predictions with the other routes;
- `value_bet`: one of that run's value bets (the document of `/v1/value-bets`, with `mode`);
- `monitor_breach`: a monitored figure of the published predictions crossed its threshold
  (league, window, figure, value, threshold, model version, message).

Each event's `id` is a cursor (`<runs entry>_<alerts entry>`). A client that reconnects with
it, in the `Last-Event-ID` header (a browser's `EventSource` sends it by itself) or the
`last_event_id` parameter, first receives every event it missed, then the live ones, none
twice. Without one the stream starts from now. A comment line (`: keep-alive`) comes when
nothing happened for a while. Opening the stream counts as one request against the rate
limits of the IP and the key.
"""

STREAM_UNAVAILABLE: dict[int | str, dict[str, object]] = {
    503: {
        "model": Problem,
        "description": "The API has no Redis to follow, or this worker holds its most "
        "subscribers; retry later",
        "headers": RETRY_AFTER,
    }
}


@router.get(
    "/stream",
    summary="New runs and value-bet alerts as they are published (Server-Sent Events)",
    description=STREAM_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The event stream",
            "content": {
                EVENT_STREAM: {
                    "schema": {"type": "string"},
                    "example": "id: 1733540000000-0_0-0\nevent: run\n"
                    'data: {"run_id":"20240302-3f9c2a","n_value_bets":2,...}\n\n',
                }
            },
        }
    }
    | UNAUTHORIZED
    | BAD_PARAMETERS
    | RATE_LIMITED
    | STREAM_UNAVAILABLE,
)
async def stream(
    state: StateDep,
    caller: CallerDep,
    league: LeagueQuery = None,
    events: Annotated[
        list[EventName] | None,
        Query(description="Only these events (repeat the parameter); default: both"),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Query(description="Resume after this event id (as the Last-Event-ID header)"),
    ] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Runs made current and value-bet alerts, pushed as they are published.

    ``league`` keeps that league's value bets and breaches only (runs are always sent).
    """
    hub = state.stream
    if hub is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the event stream needs Redis (SABISCORE_REDIS_URL), which this API does not have",
            headers={"Retry-After": "60"},
        )
    resume = last_event_id_header or last_event_id
    try:
        cursor = Cursor.parse(resume) if resume else None
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    try:
        subscriber, start, backlog = await hub.subscribe(cursor)
    except StreamFull:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "this worker holds as many event streams as it may; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    settings = state.settings
    frames = event_frames(
        hub,
        subscriber,
        start,
        backlog,
        wanted=frozenset(events or ALL_EVENTS),
        league=league,
        keepalive_seconds=settings.stream_keepalive_seconds,
        retry_ms=settings.stream_retry_ms,
    )
    return StreamingResponse(
        frames,
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
