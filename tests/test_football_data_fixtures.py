"""football-data's fixtures.csv in the warehouse: unplayed matches with their current odds.

The file is ``tests/fixtures/football-data/fixtures_2024-08-08.csv`` (real rows of the
bundled samples moved to 9-12 August 2024, see the provenance notes there).  Loading
never touches a played match, all leagues load in one transaction, and the odds of a
newer copy replace the earlier pre-closing quotes of unplayed matches.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR, warehouse_snapshot
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import aliased

from sabiscore_ml.jobs.football_data import (
    ingest_football_data_bytes,
    ingest_football_data_fixtures_bytes,
)
from sabiscore_ml.jobs.live import loaded_season_over
from sabiscore_ml.jobs.sources import replay_items, run_replay_item
from sabiscore_ml.settings import get_core_settings
from sabiscore_ml.warehouse import loaders
from sabiscore_ml.warehouse.models import Match, Team

FIXTURES_FILE = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
TODAY = dt.date(2024, 8, 8)
FIRST_DAY = dt.date(2024, 8, 9)  # the file's first fixtures


def fixtures_from(first_day: dt.date, raw: bytes | None = None) -> bytes:
    """The fixture file with every date moved so that its first fixtures are on ``first_day``."""
    shift = first_day - FIRST_DAY

    def move(found: re.Match[bytes]) -> bytes:
        day = dt.datetime.strptime(found.group(1).decode(), "%d/%m/%Y").date() + shift
        return b"," + day.strftime("%d/%m/%Y").encode() + b","

    return re.sub(rb",(\d\d/\d\d/\d{4}),", move, FIXTURES_FILE.read_bytes() if raw is None else raw)


def upcoming_first_day() -> dt.date:
    """Tomorrow, or 1 June when the file's four days from tomorrow would span two seasons."""
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    june = dt.date(tomorrow.year, 6, 1)
    return june if tomorrow < june <= tomorrow + dt.timedelta(days=3) else tomorrow


def ingest(raw: bytes, engine: Engine, today: dt.date = TODAY, uri: str = "fixtures.csv"):
    return ingest_football_data_fixtures_bytes(raw, uri, engine=engine, today=today)


def rows(engine: Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql), params)]


def fixture_rows(engine: Engine) -> list[tuple]:
    """(id, league, season, date, home, away, kick-off, kick-off UTC, referee, result) per match."""
    home, away = aliased(Team), aliased(Team)
    with engine.connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                select(
                    Match.id,
                    Match.league_code,
                    Match.season_code,
                    Match.match_date,
                    home.name,
                    away.name,
                    Match.kickoff_time,
                    Match.kickoff_utc,
                    Match.referee,
                    Match.result,
                )
                .join(home, home.id == Match.home_team_id)
                .join(away, away.id == Match.away_team_id)
                .order_by(Match.league_code, Match.match_date, home.name)
            )
        ]


def quote(engine: Engine, home: str, bookmaker: str, market: str, outcome: str) -> list[tuple]:
    return rows(
        engine,
        "SELECT o.timing, o.line, o.price FROM odds o JOIN matches m ON m.id = o.match_id "
        "JOIN teams h ON h.id = m.home_team_id WHERE h.name = :home AND o.bookmaker = :bk "
        "AND o.market = :market AND o.outcome = :outcome ORDER BY o.timing, o.line",
        home=home,
        bk=bookmaker,
        market=market,
        outcome=outcome,
    )


def test_fixtures_load_as_unplayed_matches_with_their_odds(warehouse: Engine) -> None:
    outcome = ingest(FIXTURES_FILE.read_bytes(), warehouse)
    assert outcome.status == "loaded", outcome.message
    assert (outcome.matches, outcome.odds) == (20, 800)
    assert outcome.per_league_season == {"E0 2024-2025": 10, "SP1 2024-2025": 10}
    assert (
        outcome.message == "fixtures as of 2024-08-08: E0 2024-2025 10, SP1 2024-2025 10 (20 new)"
    )
    assert outcome.warnings == ["skipped division(s) that are not known leagues: X9 (2 fixture(s))"]

    loaded = fixture_rows(warehouse)
    assert len(loaded) == 20 and {r[-1] for r in loaded} == {None}
    # kick-off in UK local time (BST), and in UTC
    assert loaded[0][1:] == (
        "E0",
        "2024-2025",
        dt.date(2024, 8, 9),
        "Burnley",
        "Man City",
        dt.time(20, 0),
        dt.datetime(2024, 8, 9, 19, 0),
        "C Pawson",
        None,
    )
    assert rows(warehouse, "SELECT timing, COUNT(*) FROM odds GROUP BY timing") == [
        ("preclose", 800)
    ]
    assert quote(warehouse, "Burnley", "b365", "1x2", "home") == [("preclose", 0.0, 8.0)]
    assert quote(warehouse, "Almeria", "pinnacle", "ah", "home") == [("preclose", 0.0, 1.85)]
    assert rows(
        warehouse, "SELECT COUNT(*) FROM raw_files WHERE sha256 = :s", s=outcome.sha256
    ) == [(1,)]

    before = warehouse_snapshot(warehouse)
    again = ingest(FIXTURES_FILE.read_bytes(), warehouse)
    assert again.status == "loaded" and again.message.endswith("(0 new)")
    assert warehouse_snapshot(warehouse) == before


def test_a_newer_copy_updates_times_and_odds_and_moves_a_rescheduled_fixture(
    warehouse: Engine,
) -> None:
    assert ingest(FIXTURES_FILE.read_bytes(), warehouse).ok
    (las_palmas_id,) = rows(
        warehouse,
        "SELECT m.id FROM matches m JOIN teams h ON h.id = m.home_team_id "
        "WHERE h.name = 'Las Palmas'",
    )[0]
    newer = (
        FIXTURES_FILE.read_bytes()
        # Bet365 cut Man City's price, the Arsenal game moved to 13:00 ...
        .replace(b",C Pawson,8,5.5,1.33,", b",C Pawson,8.5,5.5,1.3,", 1)
        .replace(b"E0,10/08/2024,12:30,Arsenal,", b"E0,10/08/2024,13:00,Arsenal,", 1)
        # ... Pinnacle no longer quotes the Sevilla handicap (PAHH, PAHA) ...
        .replace(b",-0.5,1.95,1.98,1.95,1.97,", b",-0.5,1.95,1.98,,,", 1)
        # ... and Las Palmas v Mallorca was put back a day
        .replace(b"SP1,10/08/2024,18:30,Las Palmas,", b"SP1,11/08/2024,18:30,Las Palmas,", 1)
    )
    outcome = ingest(newer, warehouse, today=dt.date(2024, 8, 9))
    assert outcome.status == "loaded", outcome.message
    assert outcome.message.endswith("(0 new)")
    assert any(
        w.startswith("1 unplayed fixture(s) moved to their new day: 2024-08-10 Las Palmas v")
        for w in outcome.warnings
    )

    assert rows(warehouse, "SELECT COUNT(*) FROM matches") == [(20,)]
    assert quote(warehouse, "Burnley", "b365", "1x2", "home") == [("preclose", 0.0, 8.5)]
    assert quote(warehouse, "Burnley", "b365", "1x2", "away") == [("preclose", 0.0, 1.3)]
    assert quote(warehouse, "Sevilla", "pinnacle", "ah", "home") == []
    assert quote(warehouse, "Sevilla", "b365", "ah", "home") == [("preclose", -0.5, 1.95)]
    after = {r[0]: r for r in fixture_rows(warehouse)}
    (arsenal,) = [r for r in after.values() if r[4] == "Arsenal"]
    assert arsenal[6:8] == (dt.time(13, 0), dt.datetime(2024, 8, 10, 12, 0))
    assert after[las_palmas_id][3:6] == (dt.date(2024, 8, 11), "Las Palmas", "Mallorca")
    assert rows(warehouse, "SELECT COUNT(*) FROM odds") == [(798,)]


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_later_meeting_of_the_same_sides_is_not_taken_for_a_rescheduled_fixture(
    warehouse: Engine,
) -> None:
    assert ingest(FIXTURES_FILE.read_bytes(), warehouse).ok
    # the Scottish leagues have a side host the same visitor twice in a season
    later = FIXTURES_FILE.read_bytes().replace(
        b"SP1,10/08/2024,18:30,Las Palmas,", b"SP1,09/11/2024,18:30,Las Palmas,", 1
    )
    outcome = ingest(later, warehouse)
    assert outcome.ok and outcome.message.endswith("(1 new)")
    assert not any("moved" in w for w in outcome.warnings)
    days = [r[3] for r in fixture_rows(warehouse) if r[4] == "Las Palmas"]
    assert days == [dt.date(2024, 8, 10), dt.date(2024, 11, 9)]


def test_a_played_match_keeps_its_result_and_its_odds(warehouse: Engine) -> None:
    season = ingest_football_data_bytes(
        (SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes(), "E0_2324.csv", engine=warehouse
    )
    assert season.ok, season.message
    played_sql = (
        "SELECT * FROM matches WHERE match_date = '2023-08-11' "
        "AND home_team_id = (SELECT id FROM teams WHERE name = 'Burnley')"
    )
    (played,) = rows(warehouse, played_sql)
    played_odds = rows(
        warehouse,
        "SELECT * FROM odds WHERE match_id = :id ORDER BY bookmaker, market, timing, line, outcome",
        id=played[0],
    )
    assert {r[3] for r in played_odds} == {"preclose", "close"}

    # a fixtures copy of 10 August 2023 listing that match with other prices and time
    raw = (
        FIXTURES_FILE.read_bytes()
        .replace(b"E0,09/08/2024,20:00,Burnley,", b"E0,11/08/2023,19:45,Burnley,", 1)
        .replace(b",C Pawson,8,5.5,1.33,", b",C Pawson,9,5.5,1.3,", 1)
    )
    outcome = ingest(raw, warehouse, today=dt.date(2023, 8, 10))
    assert outcome.status == "loaded", outcome.message
    assert outcome.per_league_season == {"E0 2023-2024": 0, "E0 2024-2025": 9, "SP1 2024-2025": 10}
    assert any(
        w.startswith("1 fixture(s) already played in the warehouse, left as they are: 2023-08-11")
        for w in outcome.warnings
    )
    assert rows(warehouse, played_sql) == [played]
    assert (
        rows(
            warehouse,
            "SELECT * FROM odds WHERE match_id = :id "
            "ORDER BY bookmaker, market, timing, line, outcome",
            id=played[0],
        )
        == played_odds
    )
    assert rows(warehouse, "SELECT COUNT(*) FROM matches WHERE season_code = '2023-2024'") == [
        (380,)
    ]


def test_a_malformed_copy_changes_nothing_and_is_quarantined(warehouse: Engine) -> None:
    assert ingest(FIXTURES_FILE.read_bytes(), warehouse).ok
    before = warehouse_snapshot(warehouse)
    lines = FIXTURES_FILE.read_bytes().splitlines(keepends=True)
    duplicated = b"".join([*lines, lines[12]])  # an SP1 row twice, after every E0 row

    outcome = ingest(duplicated, warehouse)
    assert (outcome.status, outcome.check) == ("rejected", "duplicate_match")
    assert outcome.message.startswith("fixtures.csv: rejected by check 'duplicate_match'")
    assert warehouse_snapshot(warehouse) == before
    folder = get_core_settings().raw_archive_dir / "football-data" / "_quarantine"
    manifest = json.loads((folder / f"{outcome.sha256}.json").read_text())
    assert manifest["fixtures"] is True and manifest["quarantined"]["check"] == "duplicate_match"
    assert (folder / f"{outcome.sha256}.csv").read_bytes() == duplicated
    assert rows(
        warehouse,
        "SELECT status, check_failed FROM ingestion_runs ORDER BY id",
    ) == [("loaded", None), ("rejected", "duplicate_match")]


def test_every_league_loads_in_one_transaction(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = warehouse_snapshot(warehouse)
    resolve = loaders.resolve_teams

    def fail_for_spain(connection, *, source, country, names):
        if country == "Spain":  # E0 is written by now, in the same transaction
            assert rows_in(connection, "SELECT COUNT(*) FROM matches") == 10
            raise RuntimeError("connection lost")
        return resolve(connection, source=source, country=country, names=names)

    def rows_in(connection, sql):
        return connection.execute(text(sql)).scalar_one()

    monkeypatch.setattr(loaders, "resolve_teams", fail_for_spain)
    with pytest.raises(RuntimeError, match="connection lost"):
        ingest(FIXTURES_FILE.read_bytes(), warehouse)
    assert warehouse_snapshot(warehouse) == before
    assert rows(warehouse, "SELECT status, check_failed FROM ingestion_runs") == [
        ("failed", "database")
    ]


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_replay_loads_the_archived_copy_as_of_the_day_it_was_taken(warehouse: Engine) -> None:
    season = (SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes()
    assert ingest_football_data_bytes(season, "E0_2324.csv", engine=warehouse).ok
    assert ingest(FIXTURES_FILE.read_bytes(), warehouse).ok
    items = replay_items(["football-data"])
    assert [i.get("taken_on") for i in items] == [None, "2024-08-08"]  # season files first
    before = warehouse_snapshot(warehouse)
    replayed = [run_replay_item(i, engine=warehouse) for i in items]
    assert [o.status for o in replayed] == ["loaded", "loaded"]
    assert replayed[1].per_league_season == {"E0 2024-2025": 10, "SP1 2024-2025": 10}
    assert warehouse_snapshot(warehouse) == before


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_season_holding_an_unplayed_fixture_is_not_finished(warehouse: Engine) -> None:
    season = (SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes()
    assert ingest_football_data_bytes(season, "E0_2324.csv", engine=warehouse).ok
    after_the_margin = dt.date(2024, 7, 1)
    assert loaded_season_over(warehouse, "football-data", "E0", "2023-2024", today=after_the_margin)
    # fixtures of the last weekend, not played yet in the warehouse
    late = fixtures_from(dt.date(2024, 5, 25))
    assert ingest(late, warehouse, today=dt.date(2024, 5, 24)).ok
    assert (
        loaded_season_over(warehouse, "football-data", "E0", "2023-2024", today=after_the_margin)
        is None
    )


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_features_see_the_odds_and_day_of_a_newer_copy(warehouse: Engine) -> None:
    from feature_store.api import features_as_of
    from feature_store.offline import fingerprints

    assert ingest(FIXTURES_FILE.read_bytes(), warehouse).ok
    window = (TODAY, TODAY + dt.timedelta(days=6))
    digests = fingerprints(warehouse)

    def burnley(frame):
        (row,) = frame.filter(frame["home_team_id"] == burnley_id).to_dicts()
        return row

    (burnley_id,) = rows(warehouse, "SELECT id FROM teams WHERE name = 'Burnley'")[0]
    first = burnley(features_as_of(*window, leagues=["E0"], engine=warehouse))
    # market average 9.02 / 5.35 / 1.35 in the first copy, 7 / 5 / 1.45 in the newer one,
    # and the match put back to Saturday
    newer = FIXTURES_FILE.read_bytes().replace(
        b"E0,09/08/2024,20:00,Burnley,Man City,C Pawson,8,5.5,1.33,8.75,5.25,1.34,8,5.5,1.35,"
        b"8.58,5.51,1.37,8,5,1.25,9.5,5.25,1.33,9.5,5.68,1.39,9.02,5.35,1.35,",
        b"E0,10/08/2024,20:00,Burnley,Man City,C Pawson,8,5.5,1.33,8.75,5.25,1.34,8,5.5,1.35,"
        b"8.58,5.51,1.37,8,5,1.25,9.5,5.25,1.33,9.5,5.68,1.39,7,5,1.45,",
    )
    assert newer != FIXTURES_FILE.read_bytes()
    assert ingest(newer, warehouse, today=dt.date(2024, 8, 9)).ok
    changed = fingerprints(warehouse)
    assert changed[("E0", "2024-2025")] != digests[("E0", "2024-2025")]
    # the newer copy is a new snapshot moment of every fixture it lists, La Liga's too,
    # whose prices did not change: their movement features now see two moments
    assert changed[("SP1", "2024-2025")] != digests[("SP1", "2024-2025")]

    second = burnley(features_as_of(*window, leagues=["E0"], engine=warehouse))
    implied = [1 / 7, 1 / 5, 1 / 1.45]
    assert first["mkt_market_avg_p_home"] == pytest.approx(
        (1 / 9.02) / sum([1 / 9.02, 1 / 5.35, 1 / 1.35])
    )
    assert second["mkt_market_avg_p_home"] == pytest.approx(implied[0] / sum(implied))
    # the current odds stand in for the prices on offer, but the replay as of 8 August
    # keeps the snapshots taken until then: the copy of the 9th is no movement yet
    assert first["mv_n_snapshots"] is None and second["mv_n_snapshots"] is None
    assert (first["match_date"], second["match_date"]) == (
        dt.date(2024, 8, 9),
        dt.date(2024, 8, 10),
    )


def test_a_fixture_beyond_next_season_rejects_the_copy_naming_its_line(
    warehouse: Engine,
) -> None:
    # Arsenal v Nott'm Forest (line 3) typed as 2099: it would create season 2099-2100.
    raw = FIXTURES_FILE.read_bytes().replace(
        b"E0,10/08/2024,12:30,Arsenal,", b"E0,10/08/2099,12:30,Arsenal,", 1
    )
    before = warehouse_snapshot(warehouse)
    outcome = ingest(raw, warehouse)
    assert (outcome.status, outcome.check) == ("rejected", "expectation"), outcome.message
    assert "football_data.fixtures: ExpectColumnValuesToBeBetween(season_year) failed" in (
        outcome.message
    )
    assert "line 3: Date 2099-08-10" in outcome.message
    assert "accepted: seasons 1993-1994 to 2025-2026" in outcome.message  # taken 2024-08-08
    assert warehouse_snapshot(warehouse) == before
    assert rows(warehouse, "SELECT COUNT(*) FROM seasons WHERE code = '2099-2100'") == [(0,)]
