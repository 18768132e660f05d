"""Warm reads answered before the router, from the worker's caches.

Most requests ask again for a document this worker already holds, by a
caller it has already verified.  For those the routing and dependency
machinery costs several times the work itself, so a GET of a published
document without a query string (``/v1/leagues``, ``/v1/matches/upcoming``,
``/v1/value-bets``, ``/v1/predictions/{id}``, and ``/v1/insights/{id}`` for a
paying caller) is answered here when, without any store call:

- the run pointer is fresh and the document is in the document cache, and
- the caller's key was verified within ``key_cache_seconds`` (or its bearer
  token was), or the route needs no caller.

Then the same rate limits are counted and the same answer is given as the
route would (``200`` or ``304`` with the same headers, ``429`` with the same
body).  Anything else -- a cold cache, a query string, an unknown or missing
key, a free caller's insight, a malformed id -- goes to the routes, which
fill the caches; nothing is counted twice, since limits are only counted once
the answer is certain to come from here.  ``SABISCORE_API_HOT_PATH=false``
sends everything to the routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sabiscore_ml.publish.contract import ALL_LEAGUES, LEAGUES, PREDICTION, UPCOMING, VALUE_BETS
from sabiscore_ml.warehouse.api_keys import FREE
from serving.api.deps import client_address, too_many_requests
from serving.rate_limits import CALLER, CLIENT
from serving.repository import PREDICTION_VIEW
from serving.responses import document_response
from serving.security import Principal, bearer_token
from serving.state import ServingState

_MATCH = re.compile(r"/v1/(predictions|insights)/([1-9][0-9]{0,18})")
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class _Read:
    """A document route: which cached document, which Cache-Control, whether a caller is needed."""

    kind: str
    key: str | None
    view: tuple[str, ...] | None
    static: bool  # the static max-age, else the odds one
    caller: bool
    insight: bool = False


_FIXED = {
    "/v1/leagues": _Read(LEAGUES, None, None, static=True, caller=False),
    "/v1/matches/upcoming": _Read(UPCOMING, ALL_LEAGUES, None, static=True, caller=True),
    "/v1/value-bets": _Read(VALUE_BETS, None, None, static=False, caller=True),
}


def _read_of(path: str) -> tuple[str, _Read] | None:
    """The route template and the read a path asks for, if it is one of the warm reads."""
    if path in _FIXED:
        return path, _FIXED[path]
    match = _MATCH.fullmatch(path)
    if match is None or int(match.group(2)) > _MAX_ID:
        return None
    if match.group(1) == "predictions":
        read = _Read(PREDICTION, match.group(2), PREDICTION_VIEW, static=False, caller=True)
        return "/v1/predictions/{match_id}", read
    read = _Read(PREDICTION, match.group(2), None, static=False, caller=True, insight=True)
    return "/v1/insights/{match_id}", read


class HotPath:
    """An ASGI middleware in front of the router (see the module docstring)."""

    def __init__(self, app: ASGIApp, state: ServingState) -> None:
        self.app = app
        self.state = state
        self.enabled = state.settings.hot_path
        self._routes: dict[str, Any] | None = None

    def _route(self, scope: Scope, template: str) -> Any:
        if self._routes is None:
            self._routes = {
                getattr(route, "path", ""): route for route in scope["app"].router.routes
            }
        return self._routes.get(template)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a warm read, or pass the request on."""
        if (
            not self.enabled
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["query_string"]
        ):
            await self.app(scope, receive, send)
            return
        found = _read_of(scope["path"])
        document = None
        if found is not None:
            template, read = found
            document = self.state.repository.cached(read.kind, read.key, read.view)
        if document is None:
            await self.app(scope, receive, send)
            return
        api_key = authorization = if_none_match = forwarded = None
        for name, value in scope["headers"]:
            if name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
            elif name == b"x-forwarded-for" and forwarded is None:
                forwarded = value.decode("latin-1")
        settings = self.state.settings
        caller: Principal | None = None
        if read.caller:
            caller = self.state.authenticator.identify_cached(api_key, bearer_token(authorization))
            if caller is None or (read.insight and caller.tier == FREE):
                await self.app(scope, receive, send)
                return
        ip = client_address(forwarded, scope.get("client"), settings.trust_proxy)
        limits = self.state.limits
        refusal = await limits.check(CLIENT, ip)
        if refusal is None and caller is not None:
            refusal = await limits.check(CALLER, caller.subject)
        if refusal is not None:
            error = too_many_requests(refusal)
            response: Any = JSONResponse(
                {"detail": error.detail}, status_code=error.status_code, headers=error.headers
            )
        else:
            static, odds = settings.static_cache_seconds, settings.odds_cache_seconds
            max_age = static if read.static else odds
            response = document_response(
                if_none_match, document, max_age=max_age, public=not read.caller
            )
        scope["route"] = self._route(scope, template)
        await response(scope, receive, send)
