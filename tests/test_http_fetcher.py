"""The polite fetcher against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import email.utils
import logging
import socket
import time

import pytest
from http_server import ScriptedServer

from sabiscore_ml import __version__
from sabiscore_ml.errors import FetchError
from sabiscore_ml.settings import FetchSettings, clear_settings_cache, get_fetch_settings
from sabiscore_ml.sources.http import (
    BlockedResponse,
    Fetcher,
    RobotsDisallowed,
    find_block_marker,
    get_fetcher,
    parse_retry_after,
)

CSV = b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\nE0,11/08/2023,Burnley,Man City,0,3\n"

# No pacing and tiny backoff: tests that are not about timing stay fast.
FAST = {
    "timeout_seconds": 2.0,
    "attempts": 3,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "default_min_interval_seconds": 0.0,
    "fbref_min_interval_seconds": 0.0,
    "football_data_min_interval_seconds": 0.0,
    "understat_min_interval_seconds": 0.0,
    "transfermarkt_min_interval_seconds": 0.0,
}


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fetcher(clock: FakeClock | None = None, **settings: object) -> Fetcher:
    config = FetchSettings(**{**FAST, **settings})
    if clock is None:
        return Fetcher(config)
    return Fetcher(config, clock=clock, sleep=clock.sleep)


# -- identity and response metadata ---------------------------------------------------------


def test_user_agent_is_sent_on_robots_and_data_requests() -> None:
    expected = f"sabiscore/{__version__} (+https://github.com/sabiscore/sabiscore)"
    assert FetchSettings().user_agent == expected
    with ScriptedServer() as server, fetcher() as f:
        server.add("/E0.csv", 200, CSV)
        body = f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    assert body.content == CSV and body.status == 200 and not body.not_modified
    assert server.requests == [("/E0.csv", expected)]
    assert [seen.headers["user-agent"] for seen in server.robots_requests] == [expected]
    assert "text/csv" in server.seen[0].headers["accept"]


def test_user_agent_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SABISCORE_FETCH_USER_AGENT", "sabiscore-test/9 (+https://example.org)")
    monkeypatch.setenv("SABISCORE_FETCH_FOOTBALL_DATA_MIN_INTERVAL_SECONDS", "0")
    clear_settings_cache()
    with ScriptedServer() as server, Fetcher() as f:
        server.add("/E0.csv", 200, CSV)
        f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    assert server.requests == [("/E0.csv", "sabiscore-test/9 (+https://example.org)")]


def test_settings_from_the_environment_and_the_shared_fetcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = get_fetch_settings()
    assert defaults.min_intervals["fbref"] == 6.0
    assert defaults.min_intervals["football-data"] == 1.0
    shared = get_fetcher()
    assert get_fetcher() is shared
    monkeypatch.setenv("SABISCORE_FETCH_FBREF_MIN_INTERVAL_SECONDS", "2.5")
    monkeypatch.setenv("SABISCORE_FETCH_ATTEMPTS", "2")
    monkeypatch.setenv("SABISCORE_FETCH_TIMEOUT_SECONDS", "7")
    assert get_fetch_settings() is defaults  # cached until cleared
    clear_settings_cache()
    rebuilt = get_fetcher()
    assert rebuilt is not shared
    assert rebuilt.min_interval("fbref") == 2.5
    assert rebuilt.min_interval("some-new-source") == 1.0
    assert (rebuilt.settings.attempts, rebuilt.settings.timeout_seconds) == (2, 7.0)


# -- pacing ---------------------------------------------------------------------------------


def test_rate_limit_per_source_with_a_fake_clock() -> None:
    clock = FakeClock()
    defaults = FetchSettings()  # FBref 6 s, the other sources 1 s
    with ScriptedServer() as server, Fetcher(defaults, clock=clock, sleep=clock.sleep) as f:
        for name in ("a", "b", "c", "d"):
            server.add(f"/{name}", 200, b"<html><title>ok</title></html>", "text/html")
        for name in ("a", "b", "c"):
            f.fetch(f"{server.url}/{name}", source="fbref", expect="html")
        # robots.txt, then three pages: FBref's 6 s between every two requests
        assert clock.sleeps == [6.0, 6.0, 6.0]
        f.fetch(f"{server.url}/d", source="understat", expect="html")
        assert clock.sleeps == [6.0, 6.0, 6.0]  # another source has its own pace
        f.fetch(f"{server.url}/d", source="understat", expect="html")
        assert clock.sleeps == [6.0, 6.0, 6.0, 1.0]
    assert len(server.robots_requests) == 1


def test_rate_limit_in_real_time() -> None:
    with ScriptedServer() as server, fetcher(football_data_min_interval_seconds=0.3) as f:
        server.add("/E0.csv", 200, CSV)
        started = time.monotonic()
        for _ in range(3):
            f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
        elapsed = time.monotonic() - started
    arrivals = [seen.at for seen in server.robots_requests + server.seen]
    assert len(arrivals) == 4
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert min(gaps) >= 0.28, gaps
    assert elapsed >= 0.9


def test_robots_crawl_delay_slows_the_source_down() -> None:
    clock = FakeClock()
    with ScriptedServer() as server, fetcher(clock, understat_min_interval_seconds=1.0) as f:
        server.robots("User-agent: *\nCrawl-delay: 4\n")
        server.add("/league", 200, b'{"ok": true}', "application/json")
        f.fetch(f"{server.url}/league", source="understat", expect="json")
        f.fetch(f"{server.url}/league", source="understat", expect="json")
    assert clock.sleeps == [4.0, 4.0]


# -- retries --------------------------------------------------------------------------------


def test_5xx_is_retried_with_exponential_backoff_and_jitter() -> None:
    clock = FakeClock()
    with (
        ScriptedServer() as server,
        fetcher(clock, attempts=4, backoff_initial_seconds=1.0, backoff_max_seconds=60) as f,
    ):
        server.add("/E0.csv", 503, b"busy", "text/plain")
        server.add("/E0.csv", 500, b"oops", "text/plain")
        server.add("/E0.csv", 200, CSV)
        body = f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    assert body.content == CSV
    assert [path for path, _ in server.requests] == ["/E0.csv"] * 3
    first, second = clock.sleeps
    assert 1.0 <= first <= 2.0 and 2.0 <= second <= 3.0


def test_gives_up_after_the_last_attempt_naming_url_and_reason() -> None:
    with ScriptedServer() as server, fetcher(attempts=3) as f:
        server.add("/E0.csv", 503, b"busy", "text/plain")
        url = f"{server.url}/E0.csv"
        with pytest.raises(FetchError) as caught:
            f.fetch(url, source="football-data", expect="csv")
    assert caught.value.url == url
    assert "gave up after 3 attempts" in str(caught.value) and "HTTP 503" in str(caught.value)
    assert len(server.requests) == 3


def test_retry_after_in_seconds_is_honoured() -> None:
    clock = FakeClock()
    with ScriptedServer() as server, fetcher(clock, backoff_max_seconds=60) as f:
        server.add("/E0.csv", 429, b"slow down", "text/plain", headers={"Retry-After": "7"})
        server.add("/E0.csv", 200, CSV)
        assert f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv").content
    assert clock.sleeps == [7.0]
    assert len(server.requests) == 2


def test_retry_after_as_an_http_date_is_honoured() -> None:
    clock = FakeClock()
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    with ScriptedServer() as server, fetcher(clock, backoff_max_seconds=120) as f:
        server.add("/E0.csv", 503, b"maintenance", "text/plain", headers={"Retry-After": later})
        server.add("/E0.csv", 200, CSV)
        f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    (waited,) = clock.sleeps
    assert 28.0 <= waited <= 31.0


def test_retry_after_beyond_the_cap_gives_up_at_once() -> None:
    clock = FakeClock()
    with ScriptedServer() as server, fetcher(clock, backoff_max_seconds=60) as f:
        server.add("/E0.csv", 429, b"jail", "text/plain", headers={"Retry-After": "3600"})
        with pytest.raises(FetchError, match="3600 s, more than the 60 s cap"):
            f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    assert len(server.requests) == 1 and clock.sleeps == []


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", date=date) == 90.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", date=date) == 0.0


@pytest.mark.parametrize("status", [404, 403, 400, 410])
def test_client_errors_are_not_retried(status: int) -> None:
    with ScriptedServer() as server, fetcher(attempts=4) as f:
        server.add("/E0.csv", status, b"no", "text/plain")
        with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
            f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    assert not isinstance(caught.value, BlockedResponse)
    assert len(server.requests) == 1


def test_a_slow_server_times_out_and_is_retried() -> None:
    with ScriptedServer() as server, fetcher(timeout_seconds=0.2, attempts=2) as f:
        server.add("/E0.csv", 200, CSV, delay=2.0)
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"gave up after 2 attempts: timed out after 0.2 s"):
            f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
        elapsed = time.monotonic() - started
    assert len(server.requests) == 2
    assert 0.4 <= elapsed < 1.5


def test_an_unreachable_host_is_retried_then_fails_and_robots_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/E0.csv"
    with (
        caplog.at_level(logging.WARNING, logger="sabiscore_ml.sources.http"),
        fetcher(attempts=2) as f,
        pytest.raises(FetchError, match="gave up after 2 attempts: network error: ConnectError"),
    ):
        f.fetch(url, source="football-data", expect="csv")
    assert any("robots.txt unreachable" in record.getMessage() for record in caplog.records)


# -- robots.txt -----------------------------------------------------------------------------


def test_robots_disallow_is_obeyed_without_requesting_the_url() -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.robots("User-agent: *\nDisallow: /private/\n")
        server.add("/public/E0.csv", 200, CSV)
        server.add("/private/E0.csv", 200, CSV)
        url = f"{server.url}/private/E0.csv"
        with pytest.raises(RobotsDisallowed) as caught:
            f.fetch(url, source="football-data", expect="csv")
        assert f.fetch(f"{server.url}/public/E0.csv", source="football-data", expect="csv")
        assert f.fetch(f"{server.url}/public/E0.csv", source="fbref", expect="csv")
    assert isinstance(caught.value, FetchError) and caught.value.url == url
    assert f"{server.url}/robots.txt" in str(caught.value)
    assert server.requests == [("/public/E0.csv", f.user_agent)] * 2
    assert len(server.robots_requests) == 1  # once per host


def test_robots_rules_for_our_user_agent() -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.robots("User-agent: sabiscore\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
        server.add("/E0.csv", 200, CSV)
        with pytest.raises(RobotsDisallowed):
            f.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    assert server.requests == []


def test_missing_or_broken_robots_allows_everything(caplog: pytest.LogCaptureFixture) -> None:
    with ScriptedServer() as missing, fetcher() as f:
        missing.add("/E0.csv", 200, CSV)
        assert f.fetch(f"{missing.url}/E0.csv", source="football-data", expect="csv")
    with (
        caplog.at_level(logging.WARNING, logger="sabiscore_ml.sources.http"),
        ScriptedServer() as broken,
        fetcher() as f,
    ):
        broken.robots("oops", status=500)
        broken.add("/E0.csv", 200, CSV)
        assert f.fetch(f"{broken.url}/E0.csv", source="football-data", expect="csv")
    assert any("HTTP 500" in record.getMessage() for record in caplog.records)


# -- block, challenge and login pages -------------------------------------------------------

CLOUDFLARE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    b"<body>Checking your browser before accessing fbref.com.</body></html>"
)


@pytest.mark.parametrize(
    ("page", "marker"),
    [
        (CLOUDFLARE, "Just a moment"),
        (b"<html><body><h2>Checking your browser</h2></body></html>", "Checking your browser"),
        (b'<html><body><div id="cf-chl-widget-x"></div></body></html>', "cf-chl"),
        (b"<html><script>window._cf_chl_opt={cvId: '3'};</script></html>", "cf-chl"),
        (b"<html><title>Attention Required! | Cloudflare</title></html>", "Attention Required"),
        (b'<html><body><div class="g-recaptcha" data-sitekey="k"></div></body></html>', "captcha"),
        (b"<html><title>Captcha</title><body>Are you a robot?</body></html>", "captcha"),
        (b"<html><title>Sign in | Transfermarkt</title></html>", "login wall"),
        (
            b"<html><head><title>429 error</title></head>"
            b"<body><h1>Rate Limited Request</h1></body></html>",
            "Rate Limited Request",
        ),
    ],
    ids=[
        "just-a-moment",
        "checking-your-browser",
        "cf-chl",
        "cf-chl-opt",
        "attention-required",
        "recaptcha",
        "captcha-title",
        "login-title",
        "fbref-rate-limited",
    ],
)
def test_block_pages_are_refused(page: bytes, marker: str) -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.add("/en/comps/9/", 200, page, "text/html; charset=utf-8")
        url = f"{server.url}/en/comps/9/"
        with pytest.raises(BlockedResponse) as caught:
            f.fetch(url, source="fbref", expect="html")
    assert marker.lower() in caught.value.marker.lower()
    assert caught.value.url == url and caught.value.status == 200
    assert "block or error page" in str(caught.value)
    assert len(server.requests) == 1


def test_a_challenge_with_an_error_status_is_not_retried() -> None:
    with ScriptedServer() as server, fetcher(attempts=4) as f:
        server.add("/a", 503, CLOUDFLARE, "text/html")
        server.add("/b", 403, b"<html></html>", "text/html", headers={"cf-mitigated": "challenge"})
        with pytest.raises(BlockedResponse, match="Just a moment"):
            f.fetch(f"{server.url}/a", source="fbref", expect="html")
        with pytest.raises(BlockedResponse, match="cf-mitigated"):
            f.fetch(f"{server.url}/b", source="fbref", expect="html")
    assert [path for path, _ in server.requests] == ["/a", "/b"]


def test_a_redirect_to_a_login_page_is_a_login_wall() -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.add("/squads/x", 302, b"", "text/html", headers={"Location": "/login?next=/x"})
        server.add("/login?next=/x", 200, b"<html><title>Members</title></html>", "text/html")
        with pytest.raises(BlockedResponse, match="login wall"):
            f.fetch(f"{server.url}/squads/x", source="transfermarkt", expect="html")


def test_an_ordinary_page_is_not_mistaken_for_a_block() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>2023-2024 Premier League Stats | FBref.com</title>"
        b"</head><body><a href='/en/login'>Log in</a><table id='results'></table></body></html>"
    )
    with ScriptedServer() as server, fetcher() as f:
        server.add("/en/comps/9/", 200, page, "text/html")
        body = f.fetch(f"{server.url}/en/comps/9/", source="fbref", expect="html")
    assert body.content == page
    assert find_block_marker(CSV, content_type="text/csv") is None


@pytest.mark.parametrize(
    ("expect", "content_type", "page"),
    [
        ("csv", "text/html; charset=UTF-8", b"<html><body>Server error</body></html>"),
        ("csv", "text/csv", b"\n<!DOCTYPE html>\n<html><body>Not here</body></html>"),
        ("json", "text/html", b"<html><body>Maintenance</body></html>"),
    ],
    ids=["csv-html-type", "csv-html-sniffed", "json-html-type"],
)
def test_html_where_data_was_expected_is_refused(
    expect: str, content_type: str, page: bytes
) -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.add("/data", 200, page, content_type)
        with pytest.raises(BlockedResponse, match=f"block or error page.*not {expect} data"):
            f.fetch(f"{server.url}/data", source="understat", expect=expect)  # type: ignore[arg-type]


def test_extra_request_headers_are_sent() -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.add("/getLeagueData/EPL/2020", 200, b'{"dates": []}', "application/json")
        f.fetch(
            f"{server.url}/getLeagueData/EPL/2020",
            source="understat",
            expect="json",
            headers={"X-Requested-With": "XMLHttpRequest"},
            etag='"v1"',
        )
    sent = server.seen[0].headers
    assert sent["x-requested-with"] == "XMLHttpRequest" and sent["if-none-match"] == '"v1"'
    assert sent["accept"].startswith("application/json")


def test_a_block_page_keeps_its_bytes() -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.add("/en/comps/9/", 200, CLOUDFLARE, "text/html")
        with pytest.raises(BlockedResponse) as caught:
            f.fetch(f"{server.url}/en/comps/9/", source="fbref", expect="html")
    assert caught.value.content == CLOUDFLARE


def test_json_when_json_was_expected() -> None:
    with ScriptedServer() as server, fetcher() as f:
        server.add("/data", 200, b'[{"id": 1}]', "application/json")
        body = f.fetch(f"{server.url}/data", source="understat", expect="json")
    assert body.content == b'[{"id": 1}]' and body.content_type == "application/json"


# -- conditional requests -------------------------------------------------------------------


def test_etag_and_last_modified_give_a_304() -> None:
    modified = "Sat, 01 Jun 2024 10:00:00 GMT"
    validators = {"ETag": '"v1"', "Last-Modified": modified, "Cache-Control": "max-age=60"}
    with ScriptedServer() as server, fetcher() as f:
        server.add("/E0.csv", 200, CSV, headers=validators)
        url = f"{server.url}/E0.csv"
        first = f.fetch(url, source="football-data", expect="csv")
        by_etag = f.fetch(url, source="football-data", expect="csv", etag=first.etag)
        by_date = f.fetch(
            url, source="football-data", expect="csv", last_modified=first.last_modified
        )
        changed = f.fetch(url, source="football-data", expect="csv", etag='"v0"')
    assert (first.status, first.etag, first.last_modified) == (200, '"v1"', modified)
    assert first.headers["cache-control"] == "max-age=60" and "date" in first.headers
    assert first.headers["content-type"] == "text/csv" and not first.not_modified
    for body in (by_etag, by_date):
        assert (body.status, body.not_modified, body.content) == (304, True, b"")
        assert body.etag == '"v1"'
    assert (changed.status, changed.content, changed.not_modified) == (200, CSV, False)
    sent = [seen.headers for seen in server.seen]
    assert "if-none-match" not in sent[0] and "if-modified-since" not in sent[0]
    assert sent[1]["if-none-match"] == '"v1"'
    assert sent[2]["if-modified-since"] == modified and "if-none-match" not in sent[2]
    assert sent[3]["if-none-match"] == '"v0"'


# -- the football-data job ------------------------------------------------------------------


def test_the_download_job_reports_a_robots_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    from sabiscore_ml.jobs.football_data import ingest_football_data_remote
    from sabiscore_ml.warehouse.engine import get_engine, migrate

    with ScriptedServer() as server:
        server.robots("User-agent: *\nDisallow: /mmz4281/\n")
        monkeypatch.setenv("SABISCORE_FOOTBALL_DATA_BASE_URL", f"{server.url}/mmz4281")
        clear_settings_cache()
        get_engine.cache_clear()
        try:
            migrate()
            outcome = ingest_football_data_remote("E0", "2023-2024")
        finally:
            get_engine.cache_clear()
    # not "fetch": a refusal is not retried, it would be refused again
    assert (outcome.status, outcome.check) == ("rejected", "robots")
    assert "disallowed by" in (outcome.message or "")
    assert server.requests == []
