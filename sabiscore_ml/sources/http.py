"""One polite HTTP fetcher for every source.

A :class:`Fetcher` sends every request with a timeout and a clear User-Agent,
keeps a minimum interval between two requests to the same source, reads and
obeys each host's ``robots.txt``, retries 429/5xx answers, timeouts and network
errors with exponential backoff and jitter (honouring ``Retry-After``), sends
conditional requests, and refuses block, challenge and login pages instead of
returning them as data.

Use one fetcher per process (:func:`get_fetcher`) so the pacing holds across
all the jobs of that process.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from sabiscore_ml.errors import FetchError
from sabiscore_ml.settings import FetchSettings, get_fetch_settings
from sabiscore_ml.sources.reading import LIMITED_SOURCES, limit_setting, max_bytes

log = logging.getLogger(__name__)

Expect = Literal["csv", "html", "json"]

#: Response headers kept on :class:`FetchedBody` (lower case).
KEPT_HEADERS = ("content-type", "etag", "last-modified", "date", "cache-control")

_ACCEPT: dict[str, str] = {
    "csv": "text/csv, text/plain;q=0.9, */*;q=0.1",
    "html": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
    "json": "application/json, */*;q=0.1",
}

# How much of a body is searched for block markers.
_SNIFF_BYTES = 65536

# Markers searched in the <title> of an HTML answer (lower case, regular expressions).
_TITLE_MARKERS: tuple[tuple[str, str], ...] = (
    ("Cloudflare challenge 'Just a moment...'", r"^just a moment"),
    ("Cloudflare 'Attention Required'", r"attention required"),
    ("access denied page", r"^access denied"),
    ("captcha page", r"captcha"),
    ("login wall", r"^(log ?in|sign ?in)\b|\b(log ?in|sign ?in)( required)?$"),
)

# Markers searched anywhere in the first bytes of an HTML answer (lower case, plain text).
_BODY_MARKERS: tuple[tuple[str, str], ...] = (
    ("Cloudflare 'Checking your browser'", "checking your browser"),
    ("Cloudflare challenge (cf-chl)", "cf-chl"),
    ("Cloudflare challenge (cf-chl)", "_cf_chl_opt"),
    ("Cloudflare browser verification", "cf-browser-verification"),
    ("Cloudflare 'Attention Required'", "attention required! | cloudflare"),
    ("FBref 'Rate Limited Request'", "rate limited request"),
    ("captcha page", "g-recaptcha"),
    ("captcha page", "h-captcha"),
    ("captcha page", "cf-turnstile"),
    ("captcha page", "px-captcha"),
    ("captcha page", "captcha-delivery.com"),
    ("captcha page", "verify you are human"),
    ("captcha page", "verify you are a human"),
    ("captcha page", "are you a robot"),
)

# A final URL (after redirects) under one of these paths is a login wall.
_LOGIN_PATH = re.compile(r"/(log-?in|sign-?in|sign_in|users/sign_in|account/login)(/|$)", re.I)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.I | re.S)


@dataclass(frozen=True, slots=True)
class FetchedBody:
    """A downloaded body and what the server said about it.

    ``status`` is 200 (``content`` holds the body) or 304 (``not_modified`` is
    true and ``content`` is empty: the copy named by the given ETag or date is
    still current).  ``headers`` keeps the :data:`KEPT_HEADERS` that were sent.
    """

    url: str
    status: int
    content: bytes
    content_type: str
    fetched_at: dt.datetime
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    not_modified: bool = False


class RobotsDisallowed(FetchError):
    """The host's ``robots.txt`` forbids the URL to our User-Agent; it was not requested."""

    def __init__(self, url: str, robots_url: str, user_agent: str) -> None:
        self.robots_url = robots_url
        super().__init__(url, f"disallowed by {robots_url} for {user_agent!r}; not requested")


class BlockedResponse(FetchError):
    """The answer is a block, challenge, login or error page, never data.

    ``marker`` says what was recognised, ``status`` is the HTTP status and
    ``content`` the page itself (kept so that it can be archived for inspection).
    """

    def __init__(
        self, url: str, marker: str, status: int, expect: str, content: bytes = b""
    ) -> None:
        self.marker = marker
        self.status = status
        self.content = content
        super().__init__(url, f"HTTP {status}: a block or error page ({marker}), not {expect} data")


class _Retryable(Exception):
    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retry_after = retry_after


def looks_like_html(content: bytes, content_type: str = "") -> bool:
    """True when the content type or the first bytes say the body is an HTML page."""
    if "html" in content_type.lower():
        return True
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def find_block_marker(
    content: bytes,
    *,
    content_type: str = "",
    headers: Mapping[str, str] | None = None,
    status: int = 200,
    final_url: str = "",
) -> str | None:
    """Name the block, challenge or login-wall marker in an answer, or ``None``.

    Headers (``cf-mitigated``), status 401 and a final URL on a login path are
    checked for every answer; the page title and body only when it is HTML.
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "Cloudflare challenge (cf-mitigated header)"
    if status == 401:
        return "login wall (HTTP 401)"
    if final_url and _LOGIN_PATH.search(urlsplit(final_url).path):
        return f"login wall (redirected to {urlsplit(final_url).path})"
    if not looks_like_html(content, content_type):
        return None
    head = content[:_SNIFF_BYTES]
    title_match = _TITLE.search(head)
    if title_match:
        title = " ".join(title_match.group(1).decode("utf-8", "replace").split()).lower()
        for name, pattern in _TITLE_MARKERS:
            if re.search(pattern, title):
                return f"{name}: title {title!r}"
    text = head.decode("utf-8", "replace").lower()
    for name, needle in _BODY_MARKERS:
        if needle in text:
            return f"{name}: {needle!r}"
    return None


def parse_retry_after(value: str | None, *, date: str | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP-date), else ``None``.

    An HTTP-date is measured from the response's ``Date`` header when there is
    one (so clock skew does not matter), else from the local clock.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = dt.datetime.now(dt.UTC)
    if date:
        try:
            now = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            pass
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _retryable_status(status: int) -> bool:
    return status == 429 or (500 <= status < 600 and status != 501)


class Fetcher:
    """Polite GETs for every source, paced per source; one instance per process.

    ``clock`` and ``sleep`` measure and wait out the intervals between requests
    (and the retry backoff), so tests can drive them with a fake clock.
    """

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or get_fetch_settings()
        self.user_agent = self.settings.user_agent
        self._clock = clock
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=self.settings.timeout_seconds,
            headers={"User-Agent": self.user_agent},
            follow_redirects=True,
        )
        self._lock = threading.Lock()
        self._source_locks: dict[str, threading.Lock] = {}
        self._last_request: dict[str, float] = {}
        self._robots_lock = threading.Lock()
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pacing ----------------------------------------------------------------------------

    def min_interval(self, source: str, url: str | None = None) -> float:
        """Least seconds between two requests to ``source`` (raised by a robots Crawl-delay)."""
        interval = self.settings.min_intervals.get(
            source, self.settings.default_min_interval_seconds
        )
        if url is not None:
            parser = self._robots.get(_origin(url))
            delay = parser.crawl_delay(self.user_agent) if parser is not None else None
            if delay:
                interval = max(interval, float(delay))
        return interval

    def _wait_turn(self, source: str, url: str) -> None:
        interval = self.min_interval(source, url)
        with self._lock:
            lock = self._source_locks.setdefault(source, threading.Lock())
        with lock:
            last = self._last_request.get(source)
            if last is not None:
                delay = last + interval - self._clock()
                if delay > 0:
                    log.debug("%s: waiting %.2f s before %s", source, delay, url)
                    self._sleep(delay)
            self._last_request[source] = self._clock()

    # -- robots.txt ------------------------------------------------------------------------

    def _robots_for(self, url: str, source: str) -> urllib.robotparser.RobotFileParser | None:
        origin = _origin(url)
        with self._robots_lock:
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin, source)
            return self._robots[origin]

    def _load_robots(self, origin: str, source: str) -> urllib.robotparser.RobotFileParser | None:
        robots_url = f"{origin}/robots.txt"
        self._wait_turn(source, robots_url)
        try:
            response = self._client.get(robots_url, headers={"Accept": "text/plain, */*;q=0.1"})
        except httpx.HTTPError as exc:
            log.warning(
                "%s unreachable (%s: %s); treating every path as allowed",
                robots_url,
                exc.__class__.__name__,
                exc,
            )
            return None
        if response.status_code >= 500:
            log.warning(
                "%s answered HTTP %d; treating every path as allowed",
                robots_url,
                response.status_code,
            )
            return None
        if response.status_code >= 400:
            log.info("%s: HTTP %d, no rules", robots_url, response.status_code)
            return None
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(response.text.splitlines())
        return parser

    def allowed(self, url: str, *, source: str) -> bool:
        """True when the host's ``robots.txt`` lets our User-Agent fetch ``url``."""
        parser = self._robots_for(url, source)
        return parser is None or parser.can_fetch(self.user_agent, url)

    # -- fetching --------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        source: str,
        expect: Expect,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchedBody:
        """GET ``url`` for ``source``, expecting a ``csv``, ``html`` or ``json`` body.

        Give ``etag`` / ``last_modified`` from an earlier fetch to ask only for
        a changed body: an unchanged one comes back with ``not_modified=True``.
        ``headers`` are sent as well (an endpoint that wants ``X-Requested-With``).

        Raises :class:`RobotsDisallowed` (nothing requested),
        :class:`BlockedResponse` (a block, challenge, login or HTML-instead-of-data
        page; never retried), or :class:`FetchError` for any other HTTP error
        (4xx at once, 429/5xx/timeouts/network errors after the last attempt).
        """
        if expect not in _ACCEPT:
            raise ValueError(f"expect must be one of {sorted(_ACCEPT)}, not {expect!r}")
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise FetchError(url, "only absolute http(s) URLs can be fetched")
        parser = self._robots_for(url, source)
        if parser is not None and not parser.can_fetch(self.user_agent, url):
            raise RobotsDisallowed(url, f"{_origin(url)}/robots.txt", self.user_agent)

        sent = {**(headers or {}), "Accept": _ACCEPT[expect]}
        if etag:
            sent["If-None-Match"] = etag
        if last_modified:
            sent["If-Modified-Since"] = last_modified
        settings = self.settings
        cap = settings.backoff_max_seconds
        backoff = wait_exponential(multiplier=settings.backoff_initial_seconds) + wait_random(
            0, settings.backoff_initial_seconds
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            delay = min(cap, backoff(state))
            retry_after = getattr(exc, "retry_after", None)
            return max(delay, retry_after) if retry_after is not None else delay

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "%s: attempt %d failed (%s); retrying in %.2f s",
                url,
                state.attempt_number,
                getattr(exc, "reason", exc),
                state.upcoming_sleep,
            )

        retrying = Retrying(
            sleep=self._sleep,
            stop=stop_after_attempt(settings.attempts),
            wait=wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, source, expect, sent)
        except _Retryable as exc:
            raise FetchError(
                url, f"gave up after {settings.attempts} attempts: {exc.reason}"
            ) from exc

    def _attempt(self, url: str, source: str, expect: str, headers: dict[str, str]) -> FetchedBody:
        self._wait_turn(source, url)
        timeout = self.settings.timeout_seconds
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                content = _bounded_body(response, url, source)
        except httpx.TimeoutException as exc:
            raise _Retryable(
                url, f"timed out after {timeout:g} s ({exc.__class__.__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise _Retryable(url, f"network error: {exc.__class__.__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{exc.__class__.__name__}: {exc}") from exc

        status = response.status_code
        kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        content_type = kept.get("content-type", "")
        fetched_at = dt.datetime.now(dt.UTC)
        if status == 304:
            return FetchedBody(
                url=str(response.url),
                status=304,
                content=b"",
                content_type=content_type,
                fetched_at=fetched_at,
                etag=kept.get("etag") or headers.get("If-None-Match"),
                last_modified=kept.get("last-modified") or headers.get("If-Modified-Since"),
                headers=kept,
                not_modified=True,
            )
        marker = find_block_marker(
            content,
            content_type=content_type,
            headers=response.headers,
            status=status,
            final_url=str(response.url),
        )
        if marker is not None:
            raise BlockedResponse(url, marker, status, expect, content)
        if _retryable_status(status):
            retry_after = parse_retry_after(
                response.headers.get("retry-after"), date=response.headers.get("date")
            )
            cap = self.settings.backoff_max_seconds
            if retry_after is not None and retry_after > cap:
                raise FetchError(
                    url,
                    f"HTTP {status}: the server asks to wait {retry_after:.0f} s, "
                    f"more than the {cap:g} s cap; not retried",
                )
            raise _Retryable(url, f"HTTP {status}", retry_after)
        if status >= 400:
            raise FetchError(url, f"HTTP {status}")
        if expect != "html" and looks_like_html(content, content_type):
            raise BlockedResponse(
                url,
                f"HTML where {expect} was expected, content type {content_type!r}",
                status,
                expect,
                content,
            )
        return FetchedBody(
            url=str(response.url),
            status=status,
            content=content,
            content_type=content_type,
            fetched_at=fetched_at,
            etag=kept.get("etag"),
            last_modified=kept.get("last-modified"),
            headers=kept,
        )


def _bounded_body(response: httpx.Response, url: str, source: str) -> bytes:
    """The body of ``response``, refused past the source's size limit without reading it all.

    The limit (``SABISCORE_<SOURCE>_MAX_BYTES``) applies to the decoded body; a
    ``Content-Length`` over it is refused before a byte is read.
    """
    if response.status_code == 304:
        return b""
    limit = max_bytes(source) if source in LIMITED_SOURCES else None
    if limit is None:
        return response.read()
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and "content-encoding" not in response.headers:
        raise FetchError(
            url,
            f"the body is {int(declared):,} bytes (Content-Length), more than the {source} "
            f"limit of {limit:,} bytes ({limit_setting(source)}); not downloaded",
        )
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(
                url,
                f"the body is more than the {source} limit of {limit:,} bytes "
                f"({limit_setting(source)}); download stopped",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


_shared_lock = threading.Lock()
_shared: Fetcher | None = None


def get_fetcher() -> Fetcher:
    """The process-wide :class:`Fetcher`, rebuilt after :func:`clear_settings_cache`."""
    global _shared
    settings = get_fetch_settings()
    with _shared_lock:
        if _shared is None or _shared.settings is not settings:
            if _shared is not None:
                _shared.close()
            _shared = Fetcher(settings)
        return _shared
