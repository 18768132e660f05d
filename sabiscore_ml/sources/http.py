"""Polite HTTP fetching: timeouts, a clear User-Agent, retries with backoff and jitter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from sabiscore_ml.errors import FetchError

_RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class FetchedBody:
    """A downloaded body and what the server said about it."""

    url: str
    status: int
    content: bytes
    content_type: str
    fetched_at: dt.datetime


class _Retryable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def fetch(
    url: str,
    *,
    user_agent: str,
    timeout: float = 30.0,
    attempts: int = 4,
    expect: str = "csv",
) -> FetchedBody:
    """GET ``url``; retry 429/5xx/timeouts; raise :class:`FetchError` on failure.

    With ``expect="csv"`` an HTML answer (an error, login or challenge page) is
    refused as a :class:`FetchError` instead of being returned as data.
    """

    @retry(
        retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
        wait=wait_exponential_jitter(initial=1, max=30),
        stop=stop_after_attempt(max(1, attempts)),
        reraise=True,
    )
    def _get() -> FetchedBody:
        try:
            with httpx.Client(
                timeout=timeout, headers={"User-Agent": user_agent}, follow_redirects=True
            ) as client:
                response = client.get(url)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retryable(url, f"network error: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code in _RETRY_STATUS:
            raise _Retryable(url, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise FetchError(url, f"HTTP {response.status_code}")
        content_type = response.headers.get("content-type", "")
        if expect == "csv" and "html" in content_type.lower():
            raise FetchError(
                url, f"expected a CSV but got {content_type!r} (a block or error page)"
            )
        return FetchedBody(
            url=str(response.url),
            status=response.status_code,
            content=response.content,
            content_type=content_type,
            fetched_at=dt.datetime.now(dt.UTC),
        )

    try:
        return _get()
    except _Retryable as exc:
        raise FetchError(url, f"gave up after {attempts} attempts: {exc.reason}") from exc
