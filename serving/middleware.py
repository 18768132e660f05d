"""The edge of the application: size limits, HEAD, request ids, security headers, CORS, metrics.

It has the last word on errors: no stack trace, no internal name ever leaves the server.
A request whose headers, URL or body is over its limit (``SABISCORE_API_MAX_*_BYTES``)
is answered ``431``, ``414`` or ``413`` before anything else reads it.  A ``HEAD`` is
served as the ``GET`` it stands for (by the hot path or the routes), without the body.

One pure ASGI middleware, so the work per request stays a few dictionary and
list operations.
"""

from __future__ import annotations

import json
import logging
import secrets
import time

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sabiscore_ml.settings import ServingSettings
from serving.docs import DOCS_CSP
from serving.hot_path import HotPath
from serving.state import ServingState

log = logging.getLogger("serving.errors")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# The JSON answers load nothing; the interactive docs load their assets from this origin.
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP = (b"content-security-policy", DOCS_CSP.encode())
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_NO_STORE = (b"cache-control", b"no-store")
_DOC_PATHS = ("/docs", "/redoc")
UNMATCHED = "unmatched"  # the route label of paths no route serves


def url_bytes(scope: Scope) -> int:
    """The size of the request target: the path and, if any, ``?`` and the query string."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return len(path) + (len(query) + 1 if query else 0)


def oversized(scope: Scope, settings: ServingSettings) -> tuple[tuple[int, str] | None, bool]:
    """The refusal a request's size earns (None within the limits), and whether a body comes.

    One pass over the headers: each line counts ``name: value`` and its line end; a body
    comes with a ``Content-Length`` above 0 or a ``Transfer-Encoding``.
    """
    size = 0
    length: int | None = None
    chunked = False
    for name, value in scope.get("headers", ()):
        size += len(name) + len(value) + 4
        if name == b"content-length":
            length = int(value) if value.strip().isdigit() else length
        elif name == b"transfer-encoding":
            chunked = True
    has_body = chunked or bool(length)
    if size > settings.max_header_bytes:
        return (431, f"the request headers are over {settings.max_header_bytes} bytes"), has_body
    if url_bytes(scope) > settings.max_url_bytes:
        return (414, f"the URL is over {settings.max_url_bytes} bytes"), has_body
    if length is not None and length > settings.max_body_bytes:
        return (413, f"the request body is over {settings.max_body_bytes} bytes"), has_body
    return None, has_body


async def read_body(receive: Receive, limit: int) -> list[Message] | None:
    """The request body's messages, read to its end; None as soon as it is over ``limit``."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` giving ``messages`` first, then what ``receive`` gives."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _forwarded_https(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            forwarded: bytes = value
            return forwarded.split(b",")[0].strip().lower() == b"https"
    return False


class EdgeMiddleware:
    """Wraps every HTTP request of the application.

    The application's :class:`~serving.state.ServingState` (``app.state.serving``)
    gives the settings and the metrics once the application has started; CORS is
    built from the allow-list then (no allow-list, no CORS headers), around the
    :class:`~serving.hot_path.HotPath` in front of the router.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inner: ASGIApp | None = None
        self._state: ServingState | None = None

    def _prepare(self, state: ServingState) -> ASGIApp:
        origins = state.settings.cors_origins
        self._state = state
        inner: ASGIApp = HotPath(self.app, state)
        if not origins:
            self._inner = inner
        else:
            self._inner = CORSMiddleware(
                inner,
                allow_origins=origins,
                allow_methods=["GET"],
                allow_headers=["X-API-Key", "Authorization", "If-None-Match"],
                expose_headers=["ETag", "Retry-After", "X-Request-ID"],
                max_age=600,
            )
        return self._inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (or pass a lifespan message through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: ServingState | None = scope["app"].state.serving if "app" in scope else None
        method = scope["method"]
        if method == "HEAD":
            scope = {**scope, "method": "GET"}  # the server, holding the HEAD, sends no body
        if state is None:
            inner = self.app
        elif state is self._state and self._inner is not None:
            inner = self._inner
        else:
            inner = self._prepare(state)
        request_id = secrets.token_hex(8)
        extra = [*_SECURITY_HEADERS, (b"x-request-id", request_id.encode())]
        extra.append(_DOCS_CSP if scope["path"].startswith(_DOC_PATHS) else _API_CSP)
        if scope.get("scheme") == "https" or (
            state is not None and state.settings.trust_proxy and _forwarded_https(scope)
        ):
            extra.append(_HSTS)
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if status >= 400 and not any(name == b"cache-control" for name, _ in headers):
                    headers.append(_NO_STORE)
                headers.extend(extra)
            elif method == "HEAD" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        try:
            refusal, has_body = oversized(scope, state.settings) if state else (None, False)
            if refusal is None and has_body and state is not None:
                messages = await read_body(receive, state.settings.max_body_bytes)
                if messages is None:
                    refusal = 413, f"the request body is over {state.settings.max_body_bytes} bytes"
                else:
                    receive = replay(messages, receive)
            if refusal is not None:
                await self._refuse(send_with_headers, *refusal)
                return
            await inner(scope, receive, send_with_headers)
        except Exception:
            log.exception("request %s failed: %s %s", request_id, method, scope["path"])
            if status == 0:
                await self._internal_error(send_with_headers, request_id)
            else:
                status = 500
        finally:
            if state is not None:
                route = scope.get("route")
                state.metrics.observe_request(
                    method,
                    route.path if route is not None else UNMATCHED,
                    status,
                    time.perf_counter() - started,
                )

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str) -> None:
        """A request over a size limit: its status and a detail naming the limit."""
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _internal_error(send: Send, request_id: str) -> None:
        body = json.dumps({"detail": "internal error", "request_id": request_id}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
