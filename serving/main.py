"""The serving application: ``uvicorn serving.main:app`` (or ``sabiscore serve``).

Read-only: every answer was computed and published by the batch jobs
(:mod:`sabiscore_ml.publish`), read by its contract (``contract``, ``readers``);
this process imports no ML library and no data-frame one.  Settings
are read when the application starts, not when this module is imported.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from sabiscore_ml import __version__
from sabiscore_ml.settings import ServingSettings, get_serving_settings
from serving.api.deps import BEARER
from serving.api.routes import health, v1_router
from serving.docs import add_docs
from serving.middleware import EdgeMiddleware
from serving.repository import StoreUnavailable
from serving.state import build_state

log = logging.getLogger(__name__)

DESCRIPTION = """\
Precomputed football predictions, value bets and stakes, read-only.

**Access.** Every `/v1` route but `/v1/leagues` needs an `X-API-Key` header (create one with
`sabiscore keys create --owner you --tier free|premium|pro`) or, when the API has a JWT
secret (then the `Bearer` scheme is listed below), an `Authorization: Bearer` JWT signed
with it.  Each client IP and each key may make 100 requests a
minute (a `429` says when to retry, in `Retry-After`); a free key may read 5 insights a day.

**Caching.** Answers carry an `ETag` (the version of what was published): send it back in
`If-None-Match` and an unchanged answer is a bodiless `304`.

**Data.** Times are UTC without an offset, dates `YYYY-MM-DD`, probabilities rounded to 6
decimals; every answer names the published run it comes from (`run_id`).
"""

TAGS = [
    {"name": "matches", "description": "Leagues and upcoming matches with their predictions"},
    {"name": "predictions", "description": "One match: its prediction, or the full insight"},
    {"name": "value bets", "description": "Bets whose price beats the model's probability"},
    {"name": "models", "description": "The model behind the predictions"},
    {"name": "push", "description": "New runs and value-bet alerts as they are published"},
    {"name": "operations", "description": "Liveness, readiness and metrics"},
]


def _parameter(loc: tuple[int | str, ...]) -> str:
    where, *name = loc
    return f"{where} parameter '{'.'.join(map(str, name))}'" if name else str(where)


async def _bad_parameters(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in error.errors()
    ]
    detail = "; ".join(f"{_parameter(tuple(e['loc']))}: {e['msg']}" for e in errors)
    return JSONResponse(
        {"detail": detail or "bad request", "errors": errors},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _store_unavailable(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "the published predictions cannot be read right now; try again shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


def _without_bearer(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the ``Bearer`` security scheme taken out (no JWT secret: no tokens)."""
    schema.get("components", {}).get("securitySchemes", {}).pop(BEARER, None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "security" in operation:
                operation["security"] = [s for s in operation["security"] if BEARER not in s]
    return schema


#: What the edge (serving.middleware) answers before any route, whatever the route.
EDGE_REFUSALS = {
    "413": "The request has a body over SABISCORE_API_MAX_BODY_BYTES (the API takes none)",
    "414": "The URL is over SABISCORE_API_MAX_URL_BYTES",
    "431": "A request header is over SABISCORE_API_MAX_HEADER_BYTES",
}


def _with_edge_refusals(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation lists the size refusals the edge may give instead of the route."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in EDGE_REFUSALS.items():
                responses.setdefault(code, {"description": description, "content": problem})
    return schema


def _honest_openapi(app: FastAPI, settings: ServingSettings | None) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` offering the bearer scheme only when the running API accepts tokens."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            state = app.state.serving
            current = state.settings if state is not None else settings or get_serving_settings()
            schema = _with_edge_refusals(generate())
            app.openapi_schema = schema if current.jwt_secret else _without_bearer(schema)
        return app.openapi_schema

    return openapi


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """A new application; ``settings`` (default: the environment's) are used when it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings)
        if not state.settings.require_key:
            log.warning("SABISCORE_API_REQUIRE_KEY is false: anonymous callers get the free tier")
        app.state.serving = state
        try:
            yield
        finally:
            app.state.serving = None
            await state.close()

    app = FastAPI(
        title="Sabiscore API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.serving = None
    add_docs(app)
    app.include_router(health.router)
    app.include_router(v1_router)
    app.add_exception_handler(RequestValidationError, _bad_parameters)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_middleware(EdgeMiddleware)
    app.openapi = _honest_openapi(app, settings)  # type: ignore[method-assign]
    return app


def _leave_forwarded_headers_to_the_app() -> None:
    """Turn off uvicorn's own reading of ``X-Forwarded-*`` for the server loading this module.

    uvicorn (``proxy_headers=True`` by default) rewrites a request's client address and
    scheme from ``X-Forwarded-For`` / ``X-Forwarded-Proto`` when the peer is in
    ``--forwarded-allow-ips`` (loopback by default), before the application sees them.
    Only ``SABISCORE_API_TRUST_PROXY`` decides whether those headers are believed
    (:func:`serving.api.deps.client_address`, the HSTS rule of
    :class:`~serving.middleware.EdgeMiddleware`), so a plain ``uvicorn serving.main:app``
    has that rewrite turned off here: the module is imported by a method of uvicorn's
    ``Config`` (``load_app`` or ``load``), and ``load`` wraps the application in the
    proxy-headers middleware only afterwards, if ``proxy_headers`` is still true.
    ``sabiscore serve`` and the compose command also turn it off themselves.
    """
    config_module = sys.modules.get("uvicorn.config")
    if config_module is None:
        return
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        config = frame.f_locals.get("self")
        if isinstance(config, config_module.Config):
            config.proxy_headers = False
            return
        frame = frame.f_back


_leave_forwarded_headers_to_the_app()
app = create_app()
