"""Live ingestion over real HTTP: a server on 127.0.0.1 plays the recorded pages at the
URLs the sources publish them under.  A finished season is served from the archive with
no request, the current one is asked for with its validators, and block pages fail loudly.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, SAMPLE_DIR, real_file
from http_server import ScriptedServer
from sqlalchemy import Engine, text

from sabiscore_ml.jobs.football_data import ingest_football_data_file, plan_football_data, run_item
from sabiscore_ml.jobs.live import loaded_season_over
from sabiscore_ml.jobs.sources import plan_source, replay_items, run_source_item
from sabiscore_ml.leagues import season_of
from sabiscore_ml.settings import clear_settings_cache, get_core_settings
from sabiscore_ml.sources import urls
from sabiscore_ml.sources.archive import latest_copy
from sabiscore_ml.warehouse.engine import get_engine, migrate

SAMPLES = REPO / "samples"
LA_LIGA_2324 = SAMPLES / "fbref" / "schedule_ESP-La_Liga_2324.html.gz"
LIGUE_1_2021 = SAMPLES / "fbref" / "schedule_FRA-Ligue_1_2021.html.gz"
LIGUE_1_1920 = FIXTURES / "fbref" / "schedule_FRA-Ligue_1_1920.html.gz"
UNDERSTAT_AJAX = FIXTURES / "understat" / "league_ajax.json"  # EPL 2020, 276 of 380 played
CLOUDFLARE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    b"<body>Checking your browser before accessing fbref.com.</body></html>"
)

# One wildcard sitemap-free robots.txt, no pacing, tiny backoff: the tests are about behaviour.
FAST_FETCH = {
    "SABISCORE_FETCH_ATTEMPTS": "2",
    "SABISCORE_FETCH_BACKOFF_INITIAL_SECONDS": "0.01",
    "SABISCORE_FETCH_BACKOFF_MAX_SECONDS": "0.05",
    "SABISCORE_FETCH_DEFAULT_MIN_INTERVAL_SECONDS": "0",
    "SABISCORE_FETCH_FBREF_MIN_INTERVAL_SECONDS": "0",
    "SABISCORE_FETCH_FOOTBALL_DATA_MIN_INTERVAL_SECONDS": "0",
    "SABISCORE_FETCH_UNDERSTAT_MIN_INTERVAL_SECONDS": "0",
    "SABISCORE_FETCH_TRANSFERMARKT_MIN_INTERVAL_SECONDS": "0",
}

only_sqlite = pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)


def canonical_path(page: Path) -> str:
    """The path of the canonical link the recorded page carries (where it was published)."""
    html = gzip.decompress(page.read_bytes())
    url = re.search(rb'rel="canonical" href="([^"]+)"', html).group(1).decode()
    return url.removeprefix("https://fbref.com")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    """A local server standing in for every source, and settings pointing at it."""
    with ScriptedServer() as scripted:
        monkeypatch.setenv("SABISCORE_FBREF_BASE_URL", scripted.url)
        monkeypatch.setenv("SABISCORE_UNDERSTAT_BASE_URL", scripted.url)
        monkeypatch.setenv("SABISCORE_TRANSFERMARKT_DATASETS_BASE_URL", f"{scripted.url}/data")
        monkeypatch.setenv("SABISCORE_FOOTBALL_DATA_BASE_URL", f"{scripted.url}/mmz4281")
        for name, value in FAST_FETCH.items():
            monkeypatch.setenv(name, value)
        clear_settings_cache()
        yield scripted
    clear_settings_cache()


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def runs(engine: Engine, source: str) -> list[tuple]:
    return rows(
        engine,
        "SELECT status, check_failed, message FROM ingestion_runs "
        f"WHERE source = '{source}' ORDER BY id",
    )


# The football-data league-seasons the recorded pages reconcile against.
ROSTERS = (
    "E0/2020-2021.csv",
    "SP1/2023-2024_reserialized.csv",
    "F1/2019-2020_reserialized.csv",
    "F1/2020-2021_reserialized.csv",
)


@pytest.fixture(scope="module")
def rosters_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite warehouse holding :data:`ROSTERS`, loaded once per module."""
    home = tmp_path_factory.mktemp("rosters")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("SABISCORE_", "MLFLOW_")):
                patch.delenv(name)
        patch.setenv("SABISCORE_HOME", str(home))
        clear_settings_cache()
        get_engine.cache_clear()
        try:
            migrate()
            for name in ROSTERS:
                assert ingest_football_data_file(SAMPLE_DIR / name, engine=get_engine()).ok
            get_engine().dispose()
        finally:
            get_engine.cache_clear()
            clear_settings_cache()
    return home / "warehouse.sqlite"


@pytest.fixture
def rosters(rosters_template: Path, sabiscore_home: Path) -> Iterator[Engine]:
    """This test's SQLite warehouse (the default one), starting with :data:`ROSTERS`."""
    sabiscore_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rosters_template, sabiscore_home / "warehouse.sqlite")
    get_engine.cache_clear()
    engine = get_engine()
    yield engine
    engine.dispose()
    get_engine.cache_clear()


def fbref_item(league: str, season: str, *, refresh: bool = False) -> dict[str, str]:
    (item,) = plan_source("fbref", leagues=[league], seasons=[season], refresh=refresh)
    return item


# ------------------------------------------------------------------ URL builders


def test_url_builders_give_the_addresses_of_the_recorded_pages() -> None:
    # FBref: the canonical links of the recorded schedules.
    for league, season, page in (
        ("SP1", "2023-2024", LA_LIGA_2324),
        ("F1", "2020-2021", LIGUE_1_2021),
        ("F1", "2019-20", LIGUE_1_1920),
    ):
        assert urls.fbref_schedule_url(league, season) == f"https://fbref.com{canonical_path(page)}"
    assert urls.fbref_schedule_url("E0", "2020-2021") == (
        "https://fbref.com/en/comps/9/2020-2021/schedule/"
        "2020-2021-Premier-League-Scores-and-Fixtures"
    )
    # Understat: the recorded league page is EPL 2020 (season selector) under understat.com.
    page = (SAMPLES / "understat" / "league_epl.html").read_text()
    assert '<base href="https://understat.com/">' in page
    assert '<option value="2020" selected>' in page and 'href="league/EPL"' in page
    assert (
        urls.understat_league_page_url("E0", "2020-2021") == "https://understat.com/league/EPL/2020"
    )
    assert urls.understat_league_data_url("E0", "2020/21") == (
        "https://understat.com/getLeagueData/EPL/2020"
    )
    assert urls.understat_league_data_url("SP1", "2015-2016").endswith("/La_liga/2015")
    assert urls.understat_match_data_url(14717) == "https://understat.com/getMatchData/14717"
    assert urls.transfermarkt_table_url("player_valuations").endswith(
        ".r2.dev/data/player_valuations.csv.gz"
    )
    with pytest.raises(ValueError, match="Understat does not cover E1"):
        urls.understat_league_data_url("E1", "2020-2021")
    with pytest.raises(KeyError, match="unknown league"):
        urls.fbref_schedule_url("XX", "2020-2021")


def test_live_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    assert plan_source("understat", leagues=["E0", "SP1"], seasons=["2020/21"]) == [
        {"kind": "live", "source": "understat", "league": "E0", "season": "2020-2021"},
        {"kind": "live", "source": "understat", "league": "SP1", "season": "2020-2021"},
    ]
    (current,) = plan_source("fbref", leagues=["E0"], refresh=True)
    assert current["refresh"] == "1" and re.fullmatch(r"\d{4}-\d{4}", current["season"])
    tables = plan_source("transfermarkt", leagues=["E0"], seasons=["2020-2021"])
    assert [item["table"] for item in tables] == list(urls.TRANSFERMARKT_TABLES)
    with pytest.raises(ValueError, match="give --league"):
        plan_source("fbref")
    with pytest.raises(ValueError, match="does not cover E1"):
        plan_source("understat", leagues=["E1"], seasons=["2020-2021"])
    with pytest.raises(ValueError, match="at most one --league"):
        plan_source("transfermarkt", leagues=["E0", "SP1"])
    assert plan_football_data(leagues=["E0"], seasons=["2022-23"], refresh=True) == [
        {"kind": "remote", "league": "E0", "season": "2022-2023", "refresh": "1"}
    ]


# ------------------------------------------------------------------ FBref: a finished season


def test_a_finished_season_is_served_from_the_archive(
    rosters: Engine, server: ScriptedServer
) -> None:
    path = canonical_path(LA_LIGA_2324)
    page = gzip.decompress(LA_LIGA_2324.read_bytes())
    server.add(path, 200, page, "text/html; charset=utf-8", headers={"ETag": '"la-liga-2324"'})

    first = run_source_item(fbref_item("SP1", "2023-2024"), engine=rosters)
    assert first.status == "loaded", first.message
    assert (first.uri, first.league, first.season) == (f"{server.url}{path}", "SP1", "2023-2024")
    assert rows(
        rosters,
        "SELECT status, COUNT(*) FROM source_matches WHERE source = 'fbref' GROUP BY 1",
    ) == [("played", 380)]
    copy = latest_copy("fbref", first.uri)
    assert copy is not None and copy.read() == page and copy.etag == '"la-liga-2324"'
    reason = loaded_season_over(rosters, "fbref", "SP1", "2023-2024")
    assert reason == ("380 fixtures (380 played), the last on 2024-05-26; over since 2024-05-31")

    second = run_source_item(fbref_item("SP1", "2023-2024"), engine=rosters)
    assert second.status == "skipped" and second.sha256 == first.sha256
    assert second.message.startswith(f"finished season, archived copy {first.sha256[:12]}")
    assert reason in second.message
    assert [p for p, _ in server.requests] == [path]  # no second request

    forced = run_source_item(fbref_item("SP1", "2023-2024", refresh=True), engine=rosters)
    assert forced.status == "loaded"
    assert [p for p, _ in server.requests] == [path, path]
    assert "if-none-match" not in server.seen[1].headers  # refresh asks unconditionally
    assert [status for status, _, _ in runs(rosters, "fbref")] == ["loaded", "skipped", "loaded"]
    assert rows(rosters, "SELECT COUNT(*) FROM source_matches") == [(380,)]


def test_a_season_is_not_finished_until_every_fixture_is_over(rosters: Engine) -> None:
    import datetime as dt

    from sabiscore_ml.jobs.sources import ingest_source_bytes

    # Ligue 1 2019-20 was stopped (COVID): 279 played, 101 cancelled (the last one had
    # been scheduled for 23 May), all over.
    raw = LIGUE_1_1920.read_bytes()
    assert ingest_source_bytes("fbref", raw, "l1_1920.html.gz", engine=rosters).ok
    assert loaded_season_over(rosters, "fbref", "F1", "2019-2020") == (
        "380 fixtures (101 cancelled, 279 played), the last on 2020-05-23; over since 2020-05-31"
    )
    # the margin counts from the later of the last fixture and the nominal end
    june_10 = dt.date(2020, 6, 10)
    assert loaded_season_over(rosters, "fbref", "F1", "2019-2020", today=june_10) is None
    # football-data lists played matches only: complete when every pair has met
    assert loaded_season_over(rosters, "football-data", "F1", "2019-2020") is None
    assert loaded_season_over(rosters, "football-data", "E0", "2020-2021") == (
        "380 matches of 20 teams, the last on 2021-05-23; over since 2021-05-31"
    )
    assert loaded_season_over(rosters, "fbref", "E0", "2020-2021") is None  # nothing loaded


# ------------------------------------------------------------------ Understat: the current season


def test_the_current_season_is_refreshed_with_a_conditional_request(
    rosters: Engine, server: ScriptedServer
) -> None:
    modified = "Sun, 14 Mar 2021 10:00:00 GMT"
    server.add(
        "/getLeagueData/EPL/2020",
        200,
        UNDERSTAT_AJAX.read_bytes(),
        "application/json",
        headers={"ETag": '"epl-2020-v1"', "Last-Modified": modified},
    )
    item = {"kind": "live", "source": "understat", "league": "E0", "season": "2020-2021"}

    first = run_source_item(item, engine=rosters)
    assert first.status == "loaded", first.message
    assert server.seen[0].headers["x-requested-with"] == "XMLHttpRequest"
    assert "application/json" in server.seen[0].headers["accept"]
    assert rows(
        rosters,
        "SELECT status, COUNT(*) FROM source_matches WHERE source = 'understat' "
        "GROUP BY 1 ORDER BY 1",
    ) == [("played", 276), ("scheduled", 104)]
    assert loaded_season_over(rosters, "understat", "E0", "2020-2021") is None

    second = run_source_item(item, engine=rosters)
    assert second.status == "skipped"
    assert second.message == (
        f"not modified since {modified} (HTTP 304): archived copy {first.sha256[:12]} is current"
    )
    assert server.seen[1].headers["if-none-match"] == '"epl-2020-v1"'
    assert server.seen[1].headers["if-modified-since"] == modified
    assert len(server.requests) == 2
    assert [r[0] for r in runs(rosters, "understat")] == ["loaded", "skipped"]


def test_an_understat_match_is_fetched_with_its_shots(
    rosters: Engine, server: ScriptedServer
) -> None:
    raw = (FIXTURES / "understat" / "match_ajax.json").read_bytes()
    server.add("/getMatchData/14717", 200, raw, "application/json")
    (item,) = plan_source("understat", leagues=["E0"], seasons=["2020-2021"], match_ids=["14717"])
    assert item == {
        "kind": "live",
        "source": "understat",
        "league": "E0",
        "season": "2020-2021",
        "match_id": "14717",
    }
    outcome = run_source_item(item, engine=rosters)
    assert outcome.status == "loaded", outcome.message
    # Crystal Palace 0-0 Manchester United, 3 March 2021: 19 shots
    assert rows(
        rosters,
        "SELECT home_name, away_name, home_goals, COUNT(match_id) FROM source_matches "
        "GROUP BY 1, 2, 3",
    ) == [("Crystal Palace", "Manchester United", 0, 1)]
    assert rows(rosters, "SELECT COUNT(*) FROM shots WHERE source = 'understat'") == [(19,)]
    assert server.seen[0].headers["x-requested-with"] == "XMLHttpRequest"
    with pytest.raises(ValueError, match="of one --league and one --season"):
        plan_source("fbref", leagues=["E0"], seasons=["2020-2021"], match_ids=["1"])
    with pytest.raises(ValueError, match="is not a number"):
        plan_source("understat", leagues=["E0"], seasons=["2020-2021"], match_ids=["abc"])


@only_sqlite
def test_a_response_of_another_season_is_rejected(
    warehouse: Engine, server: ScriptedServer
) -> None:
    # the mirror answers 2020-21 data at the 2021 address
    server.add("/getLeagueData/EPL/2021", 200, UNDERSTAT_AJAX.read_bytes(), "application/json")
    item = {"kind": "live", "source": "understat", "league": "E0", "season": "2021-2022"}
    outcome = run_source_item(item, engine=warehouse)
    assert (outcome.status, outcome.check) == ("rejected", "season_mismatch")
    assert rows(warehouse, "SELECT COUNT(*) FROM source_matches") == [(0,)]


# ------------------------------------------------------------------ refusals


@only_sqlite
def test_a_block_page_fails_loudly_and_writes_nothing(
    warehouse: Engine, server: ScriptedServer
) -> None:
    path = canonical_path(LIGUE_1_2021)
    server.add(path, 403, CLOUDFLARE, "text/html", headers={"cf-mitigated": "challenge"})
    before = rows(warehouse, "SELECT COUNT(*) FROM source_matches")

    outcome = run_source_item(fbref_item("F1", "2020-2021"), engine=warehouse)

    url = f"{server.url}{path}"
    assert (outcome.status, outcome.check) == ("rejected", "blocked")
    assert outcome.message.startswith(f"{url}: rejected by check 'blocked': HTTP 403")
    assert rows(warehouse, "SELECT COUNT(*) FROM source_matches") == before == [(0,)]
    assert rows(warehouse, "SELECT COUNT(*) FROM raw_files WHERE source = 'fbref'") == [(0,)]
    assert runs(warehouse, "fbref") == [("rejected", "blocked", outcome.message)]
    # the page is kept for inspection, but never taken for a copy of the data
    kept = get_core_settings().raw_archive_dir / "fbref" / "_quarantine"
    (manifest,) = [json.loads(p.read_text()) for p in kept.glob("*.json")]
    assert manifest["uri"] == url and manifest["block_page"] is True
    assert manifest["quarantined"]["check"] == "blocked"
    assert latest_copy("fbref", url) is None
    assert replay_items(["fbref"]) == []  # nor replayed as data


@only_sqlite
def test_robots_and_network_refusals_name_their_check(
    warehouse: Engine, server: ScriptedServer
) -> None:
    server.robots("User-agent: *\nDisallow: /en/comps/9/\n")
    server.add("/getLeagueData/EPL/2020", 503, b"busy", "text/plain")
    refused = run_source_item(fbref_item("E0", "2020-2021"), engine=warehouse)
    failed = run_source_item(
        {"kind": "live", "source": "understat", "league": "E0", "season": "2020-2021"},
        engine=warehouse,
    )
    assert (refused.status, refused.check) == ("rejected", "robots")
    assert (failed.status, failed.check) == ("rejected", "fetch")
    assert "gave up after 2 attempts: HTTP 503" in failed.message
    assert "gave up after 2 attempts: HTTP 503" in failed.message
    assert [p for p, _ in server.requests] == ["/getLeagueData/EPL/2020"] * 2


def test_a_json_body_is_archived_beside_its_manifest_and_replayed(rosters: Engine) -> None:
    from sabiscore_ml.jobs.sources import ingest_source_bytes

    raw = UNDERSTAT_AJAX.read_bytes()
    outcome = ingest_source_bytes("understat", raw, "league_ajax.json", league="E0", engine=rosters)
    assert outcome.ok, outcome.message
    folder = get_core_settings().raw_archive_dir / "understat" / "E0" / "2020-2021"
    assert (folder / f"{outcome.sha256}.json.raw").read_bytes() == raw
    manifest = json.loads((folder / f"{outcome.sha256}.json").read_text())
    assert manifest["uri"] == "league_ajax.json"
    (item,) = replay_items(["understat"])
    assert item["path"] == str(folder / f"{outcome.sha256}.json.raw")


# ------------------------------------------------------------------ Transfermarkt tables


@only_sqlite
def test_transfermarkt_tables_are_fetched_archived_and_revalidated(
    warehouse: Engine, server: ScriptedServer
) -> None:
    body = gzip.compress(real_file("transfermarkt", "clubs.csv").read_bytes(), mtime=0)
    server.add("/data/clubs.csv.gz", 200, body, "application/gzip", headers={"ETag": '"c1"'})
    (item,) = [i for i in plan_source("transfermarkt", leagues=["E0"]) if i["table"] == "clubs"]
    first = run_source_item(item, engine=warehouse)
    second = run_source_item(item, engine=warehouse)
    assert first.uri == f"{server.url}/data/clubs.csv.gz"
    assert first.check not in ("fetch", "blocked", "robots")
    copy = latest_copy("transfermarkt", first.uri)
    assert copy is not None and copy.read() == body and copy.etag == '"c1"'
    # the 304 names the archived copy; it is loaded again only if it never was
    assert server.seen[1].headers["if-none-match"] == '"c1"'
    assert second.sha256 == first.sha256
    assert second.status == ("skipped" if first.ok else first.status)


# ------------------------------------------------------------------ football-data


@only_sqlite
def test_football_data_downloads_a_finished_season_once(
    warehouse: Engine, server: ScriptedServer
) -> None:
    finished = (SAMPLE_DIR / "E0" / "2022-2023.csv").read_bytes()
    partial = (FIXTURES / "football-data" / "EC_2020-2021_partial.csv").read_bytes()
    server.add("/mmz4281/2223/E0.csv", 200, finished)
    server.add("/mmz4281/2021/EC.csv", 200, partial, headers={"ETag": '"ec-jan"'})
    items = [
        *plan_football_data(leagues=["E0"], seasons=["2022-2023"]),
        *plan_football_data(leagues=["EC"], seasons=["2020-2021"]),
    ]

    assert [run_item(i, engine=warehouse).status for i in items] == ["loaded", "loaded"]
    again = [run_item(i, engine=warehouse) for i in items]
    assert [o.status for o in again] == ["skipped", "skipped"]
    assert again[0].message.startswith("finished season, archived copy")
    assert "380 matches of 20 teams" in again[0].message
    assert again[1].message.startswith("not modified since the copy fetched")
    # E0 2022-23 once, EC 2020-21 twice (the second time conditionally)
    assert [p for p, _ in server.requests] == [
        "/mmz4281/2223/E0.csv",
        "/mmz4281/2021/EC.csv",
        "/mmz4281/2021/EC.csv",
    ]
    assert server.seen[2].headers["if-none-match"] == '"ec-jan"'
    refreshed = run_item({**items[0], "refresh": "1"}, engine=warehouse)
    assert refreshed.status == "loaded" and len(server.requests) == 4
    assert rows(warehouse, "SELECT status, COUNT(*) FROM ingestion_runs GROUP BY 1 ORDER BY 1") == [
        ("loaded", 3),
        ("skipped", 2),
    ]


@only_sqlite
def test_football_data_fixtures_are_fetched_beside_the_season_files(
    warehouse: Engine, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:

    from test_football_data_fixtures import fixtures_from, upcoming_first_day

    from sabiscore_ml.jobs.football_data import fixtures_url, ingest_football_data_fixtures_remote

    # the site root of SABISCORE_FOOTBALL_DATA_BASE_URL (.../mmz4281), unless set on its own
    assert fixtures_url() == f"{server.url}/fixtures.csv"
    body = fixtures_from(upcoming_first_day())
    for _ in range(2):  # a download, a conditional request, then the server fails
        server.add("/fixtures.csv", 200, body, "text/csv", headers={"ETag": '"fx-1"'})
    server.add("/fixtures.csv", 503, b"busy", "text/plain")

    first = ingest_football_data_fixtures_remote(engine=warehouse)
    assert first.status == "loaded", first.message
    assert first.uri == f"{server.url}/fixtures.csv"
    season = season_of(upcoming_first_day())
    assert first.per_league_season == {f"E0 {season}": 10, f"SP1 {season}": 10}
    assert rows(warehouse, "SELECT COUNT(*), COUNT(result) FROM matches") == [(20, 0)]
    copy = latest_copy("football-data", first.uri)
    assert copy is not None and copy.read() == body and copy.etag == '"fx-1"'

    again = ingest_football_data_fixtures_remote(engine=warehouse)
    assert again.status == "skipped" and "(HTTP 304)" in again.message
    assert server.seen[1].headers["if-none-match"] == '"fx-1"'

    # a failed download leaves the fixtures the warehouse has, and says why
    failed = ingest_football_data_fixtures_remote(engine=warehouse, refresh=True)
    assert (failed.status, failed.check) == ("rejected", "fetch")
    assert "gave up after 2 attempts: HTTP 503" in failed.message
    assert rows(warehouse, "SELECT COUNT(*) FROM matches") == [(20,)]
    # a mirror laid out otherwise names the file itself
    monkeypatch.setenv("SABISCORE_FOOTBALL_DATA_FIXTURES_URL", "https://mirror.test/fixtures.csv")
    clear_settings_cache()
    assert fixtures_url() == "https://mirror.test/fixtures.csv"


@only_sqlite
def test_live_predictions_refresh_the_fixtures_first(
    warehouse: Engine, server: ScriptedServer
) -> None:
    import datetime as dt

    from test_football_data_fixtures import fixtures_from, upcoming_first_day

    from sabiscore_ml.errors import SabiscoreError
    from sabiscore_ml.jobs.predict import PredictRequest, refresh_fixtures

    current = fixtures_from(upcoming_first_day())
    stale = fixtures_from(dt.date.today() - dt.timedelta(days=10))
    for status, body, etag in (
        (200, current, '"fx-1"'),
        (200, current, '"fx-1"'),  # answered 304
        (503, b"busy", None),
        (503, b"busy", None),
        (200, stale, '"fx-2"'),
    ):
        server.add("/fixtures.csv", status, body, headers={"ETag": etag} if etag else {})

    replay = refresh_fixtures(PredictRequest(as_of="2024-05-16"), engine=warehouse)
    assert replay["status"] == "skipped" and server.requests == []

    live = PredictRequest()
    loaded = refresh_fixtures(live, engine=warehouse)
    assert (loaded["status"], loaded["matches"], loaded["odds"]) == ("loaded", 20, 800)
    assert len(json.dumps(loaded)) < 1000  # XCom
    assert refresh_fixtures(live, engine=warehouse)["status"] == "skipped"  # 304
    failed = refresh_fixtures(live, engine=warehouse)  # logged, not raised
    assert (failed["status"], failed["check"]) == ("rejected", "fetch")
    with pytest.raises(SabiscoreError, match="rejected by check 'stale_fixtures'"):
        refresh_fixtures(live, engine=warehouse)
    assert rows(warehouse, "SELECT COUNT(*), COUNT(result) FROM matches") == [(20, 0)]
    assert len(server.requests) == 5


# ------------------------------------------------------------------ the command line


def test_cli_ingests_live_and_refreshes_on_request(server: ScriptedServer, rosters: Engine) -> None:
    from typer.testing import CliRunner

    from sabiscore_ml.cli import app
    from sabiscore_ml.warehouse.engine import get_engine

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), catch_exceptions=False, terminal_width=200)

    path = canonical_path(LA_LIGA_2324)
    server.add(path, 200, gzip.decompress(LA_LIGA_2324.read_bytes()), "text/html")
    get_engine.cache_clear()
    try:
        live = ["ingest", "fbref", "--league", "SP1", "--season", "2023-2024"]
        first = invoke(*live)
        second = invoke(*live)
        forced = invoke(*live, "--refresh")
        with get_engine().connect() as connection:
            count = connection.execute(text("SELECT COUNT(*) FROM source_matches")).scalar_one()
    finally:
        get_engine.cache_clear()
    assert first.exit_code == 0, first.output
    assert "loaded 1 file(s): 380 rows" in first.output
    assert second.exit_code == 0, second.output
    assert (
        "skipped 1 file(s)" in second.output and "finished season, archived copy" in second.output
    )
    assert forced.exit_code == 0 and "loaded 1 file(s): 380 rows" in forced.output
    assert [p for p, _ in server.requests] == [path, path]
    assert count == 380


def test_cli_loads_fixtures_downloaded_or_from_a_file(
    server: ScriptedServer, sabiscore_home: Path, tmp_path: Path
) -> None:
    from test_football_data_fixtures import fixtures_from, upcoming_first_day
    from typer.testing import CliRunner

    from sabiscore_ml.cli import app
    from sabiscore_ml.warehouse.engine import get_engine

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), catch_exceptions=False, terminal_width=200)

    first_day = upcoming_first_day()
    server.add("/fixtures.csv", 200, fixtures_from(first_day), headers={"ETag": '"fx-1"'})
    later = tmp_path / "fixtures.csv"
    later.write_bytes(
        fixtures_from(first_day).replace(b",C Pawson,8,5.5,1.33,", b",C Pawson,8.5,5.5,1.3,")
    )
    get_engine.cache_clear()
    try:
        downloaded = invoke("ingest", "football-data", "--fixtures")
        unchanged = invoke("ingest", "football-data", "--fixtures")
        from_file = invoke("ingest", "football-data", "--fixtures-file", str(later))
        mixed = CliRunner().invoke(app, ["ingest", "football-data", "--fixtures", "-l", "E0"])
        with get_engine().connect() as connection:
            counts = connection.execute(text("SELECT COUNT(*), COUNT(result) FROM matches")).one()
            b365_away = connection.execute(
                text(
                    "SELECT o.price FROM odds o JOIN matches m ON m.id = o.match_id "
                    "JOIN teams t ON t.id = m.home_team_id WHERE t.name = 'Burnley' "
                    "AND o.bookmaker = 'b365' AND o.market = '1x2' AND o.outcome = 'away'"
                )
            ).scalar_one()
    finally:
        get_engine.cache_clear()
    assert downloaded.exit_code == 0, downloaded.output
    assert "loaded 1 file(s): 20 matches, 800 odds" in downloaded.output
    assert "Fixtures loaded" in downloaded.output
    for league in ("E0", "SP1"):
        assert re.search(rf"{league}\s+.\s+{season_of(first_day)}\s+.\s+10\b", downloaded.output)
    assert "skipped division(s) that are not known leagues: X9 (2 fixture(s))" in downloaded.output
    assert unchanged.exit_code == 0 and "(HTTP 304)" in unchanged.output
    assert from_file.exit_code == 0 and "(0 new)" in from_file.output
    assert mixed.exit_code == 2 and "give one, alone" in mixed.output
    assert tuple(counts) == (20, 0) and b365_away == 1.3
