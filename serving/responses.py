"""Answers built from published bytes: entity tags, ``304 Not Modified``, caching headers.

Also the error answers every route documents, so the OpenAPI schema lists
each status a route can give.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from serving.repository import Document
from serving.schemas import Problem, ValidationProblem

JSON = "application/json"


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, ``*`` matches)."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def cache_control(max_age: int, *, public: bool = False) -> str:
    """``public`` answers may be kept by shared caches; keyed answers are ``private``."""
    return f"{'public' if public else 'private'}, max-age={max_age}"


def document_response(
    if_none_match: str | None, document: Document, *, max_age: int, public: bool = False
) -> Response:
    """The document's bytes with its ETag and Cache-Control, or ``304`` when the client has it.

    ``if_none_match``: the request's ``If-None-Match`` header, if any.
    """
    headers = {"ETag": document.etag, "Cache-Control": cache_control(max_age, public=public)}
    if if_none_match is not None and etag_matches(if_none_match, document.etag):
        return Response(status_code=304, headers=headers)
    return Response(document.body, media_type=JSON, headers=headers)


def not_modified(if_none_match: str | None, document: Document) -> bool:
    """Whether an ``If-None-Match`` header names the document's version."""
    return if_none_match is not None and etag_matches(if_none_match, document.etag)


_CACHING_HEADERS = {
    "ETag": {"description": "Version of the answer; send it back in If-None-Match"},
    "Cache-Control": {"description": "How long the answer may be reused"},
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def ok(description: str) -> dict[str, Any]:
    """A documented ``200`` with the caching headers."""
    return {"description": description, "headers": _CACHING_HEADERS}


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match header names this version"}
}
BAD_PARAMETERS: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationProblem, "description": "A parameter is missing or malformed"}
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": "Over the rate limit (100 requests a minute per IP and per key by "
        "default) or the free tier's daily insights",
        "headers": RETRY_AFTER,
    }
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Problem,
        "description": "No store can answer right now",
        "headers": RETRY_AFTER,
    }
}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No key or token, or one that is not valid"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "The match is not in the current published run"}
}
