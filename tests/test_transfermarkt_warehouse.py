"""The transfermarkt-datasets tables in a real warehouse (SQLite and PostgreSQL): exact
counts, values checked by hand against the files, squad values derived from player
valuations, idempotence, any load order, and bad input quarantined with nothing written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR, real_file, table_snapshot
from sqlalchemy import Engine, text

from sabiscore_ml.jobs.football_data import (
    ingest_football_data_bytes,
    ingest_football_data_file,
)
from sabiscore_ml.jobs.sources import ingest_source_bytes
from sabiscore_ml.settings import get_core_settings
from sabiscore_ml.sources.transfermarkt import (
    parse_tm_player_valuations,
    parse_tm_players,
    squad_values_as_of,
)
from sabiscore_ml.warehouse.models import Base
from sabiscore_ml.warehouse.queries import squad_value_on, squad_values_frame

CLUBS = "clubs.csv"
OLDER_CLUBS = "clubs_full_2025-05_snapshot.csv"
PLAYERS = "players.csv"
VALUATIONS = "player_valuations.csv"
GAMES = "games.csv"
COMPETITIONS = "competitions.csv"
SCRAPED_GAMES = "scraper_samples/games.json"
APPEARANCES = "scraper_samples/appearances.json"
EVERY_FILE = [COMPETITIONS, CLUBS, OLDER_CLUBS, PLAYERS, VALUATIONS, GAMES, SCRAPED_GAMES]
EVERY_FILE.append(APPEARANCES)
TM_TABLES = {
    "tm_competitions": "competition_id",
    "tm_clubs": "club_id",
    "tm_players": "player_id",
    "tm_player_valuations": "player_id, valuation_date",
    "tm_games": "game_id",
    "tm_appearances": "player_id, match_date, competition_id",
}
D1_2012 = FOOTBALL_DATA_FIXTURES / "D1_2012-2013_matchday1.csv"


def load_d1_matchday1(engine: Engine) -> bool:
    """The Bundesliga 2012-13 file as it was downloaded after its first matchday.

    A finished season must hold every match; this file is the real file of the
    Monday after matchday 1, so it is loaded with that download time.
    """
    outcome = ingest_football_data_bytes(
        D1_2012.read_bytes(),
        str(D1_2012),
        engine=engine,
        fetched_at=dt.datetime(2012, 8, 27, 9, 0),
    )
    return outcome.ok


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def ingest(engine: Engine, name: str, *, raw: bytes | None = None, league: str | None = None):
    path = real_file("transfermarkt", name)
    body = path.read_bytes() if raw is None else raw
    return ingest_source_bytes("transfermarkt", body, str(path), league=league, engine=engine)


def tm_snapshot(engine: Engine) -> dict[str, list[tuple]]:
    snapshot = {table: table_snapshot(engine, table, key) for table, key in TM_TABLES.items()}
    snapshot["squad_values"] = table_snapshot(engine, "squad_values", "team_id, source, as_of")
    snapshot["source_matches"] = table_snapshot(engine, "source_matches", "source_match_id")
    snapshot["team_aliases"] = [
        row[1:] for row in table_snapshot(engine, "team_aliases", "source, country, alias_key")
    ]
    snapshot["teams"] = table_snapshot(engine, "teams", "id")
    return snapshot


@pytest.fixture
def rosters(warehouse: Engine) -> Engine:
    # Premier League 2020-21 and 2023-24 and the Bundesliga's 2012-13 first matchday (its
    # 18 clubs): the clubs and games of these league-seasons are reconciled strictly.  The
    # Championship 2017-18 adds English teams (Sunderland, Ipswich...) of no such season.
    for path in (
        SAMPLE_DIR / "E0" / "2020-2021.csv",
        SAMPLE_DIR / "E0" / "2023-2024.csv",
        SAMPLE_DIR / "E1" / "2017-2018.csv",
    ):
        assert ingest_football_data_file(path, engine=warehouse).ok
    assert load_d1_matchday1(warehouse)
    return warehouse


def test_every_table_loads_with_exact_counts(rosters: Engine) -> None:
    outcomes = {name: ingest(rosters, name) for name in EVERY_FILE}
    assert {name: o.status for name, o in outcomes.items()} == dict.fromkeys(EVERY_FILE, "loaded")
    counts = {table: rows(rosters, f"SELECT COUNT(*) FROM {table}")[0][0] for table in TM_TABLES}
    # 100 games of games.csv and 9 of the scraper's; 29 players of the trimmed players.csv
    assert counts == {
        "tm_competitions": 49,
        "tm_clubs": 451,
        "tm_players": 29,
        "tm_player_valuations": 1000,
        "tm_games": 109,
        "tm_appearances": 12,
    }
    # Clubs reconciled: the 18 Bundesliga clubs of 2012-13, and the 32 Premier League
    # clubs that played E0 2020-21 or 2023-24 or E1 2017-18; the 5 others are not teams
    # the warehouse holds, and clubs of other countries or competitions stay apart.
    assert rows(
        rosters,
        "SELECT league_code, COUNT(*), COUNT(team_id) FROM tm_clubs "
        "WHERE league_code IN ('E0', 'D1', 'SP1') GROUP BY 1 ORDER BY 1",
    ) == [("D1", 31, 18), ("E0", 37, 32), ("SP1", 33, 0)]
    assert sorted(
        name
        for (name,) in rows(
            rosters, "SELECT name FROM tm_clubs WHERE league_code = 'E0' AND team_id IS NULL"
        )
    ) == ["Huddersfield Town", "Stoke City", "Swansea City", "Watford FC", "Wigan Athletic"]
    assert rows(rosters, "SELECT COUNT(*) FROM tm_clubs WHERE team_id IS NOT NULL") == [(50,)]
    # clubs.csv line 3: 10004,paris-fc,Paris Football Club,FR1,,31,28.5,...,€-72.30m,,2025
    assert rows(
        rosters,
        "SELECT name, league_code, team_id, squad_size, net_transfer_record_eur, last_season "
        "FROM tm_clubs WHERE club_id = 10004",
    ) == [("Paris Football Club", "F1", None, 31, -72_300_000.0, "2025-2026")]
    assert rows(
        rosters,
        "SELECT t.name FROM tm_clubs c JOIN teams t ON t.id = c.team_id WHERE club_id = 631",
    ) == [("Chelsea",)]
    # player_valuations.csv line 4: 3132,2003-12-09,400000,Dynamo Kyiv,126,TR1
    assert rows(
        rosters,
        "SELECT market_value_eur, club_name, club_id, competition_id FROM tm_player_valuations "
        "WHERE player_id = 3132 AND valuation_date = '2003-12-09'",
    ) == [(400_000.0, "Dynamo Kyiv", 126, "TR1")]
    # games.csv line 89: 2222535,L1,2012,1. Matchday,2012-08-24,16,86,2,1 (Dortmund v
    # Werder Bremen), linked to football-data's D1,24/08/12,Dortmund,Werder Bremen,2,1
    assert rows(
        rosters,
        "SELECT s.league_code, s.season_code, h.name, a.name, m.home_goals, m.away_goals "
        "FROM source_matches s JOIN matches m ON m.id = s.match_id "
        "JOIN teams h ON h.id = m.home_team_id JOIN teams a ON a.id = m.away_team_id "
        "WHERE s.source = 'transfermarkt' AND s.source_match_id = '2222535'",
    ) == [("D1", "2012-2013", "Dortmund", "Werder Bremen", 2, 1)]
    assert rows(
        rosters,
        "SELECT COUNT(*), COUNT(match_id) FROM source_matches WHERE source = 'transfermarkt'",
    ) == [(9, 9)]
    # the scraper's games are Turkish and Russian 2020-21 games: kept, not linked
    assert rows(
        rosters,
        "SELECT competition_id, COUNT(*), COUNT(home_team_id) FROM tm_games "
        "WHERE season_code = '2020-2021' GROUP BY 1 ORDER BY 1",
    ) == [("RU1", 1, 0), ("TR1", 8, 0)]
    # appearances.json line 7: 12/6/20, Liverpool v Wolves 4:0, Matip scored once in 90'
    assert rows(
        rosters,
        "SELECT club_id, opponent_club_id, home_goals, away_goals, goals, minutes_played "
        "FROM tm_appearances WHERE player_id = 82105 AND match_date = '2020-12-06'",
    ) == [(31, 543, 4, 0, 1, 90)]


def test_a_link_list_is_skipped_with_its_reason(rosters: Engine) -> None:
    outcome = ingest(rosters, "scraper_samples/clubs.json")
    assert outcome.status == "skipped"
    assert "club list (20 record(s)" in outcome.message
    assert "no match or value data" in outcome.message
    assert rows(
        rosters, "SELECT status, message FROM ingestion_runs WHERE source = 'transfermarkt'"
    ) == [("skipped", outcome.message)]


def test_squad_values_derived_from_valuations_by_hand(rosters: Engine) -> None:
    for name in (CLUBS, VALUATIONS):
        assert ingest(rosters, name).ok
    derived = {
        team: (day, value, players)
        for team, day, value, players in rows(
            rosters,
            "SELECT t.name, v.as_of, v.market_value_eur, v.players_valued FROM squad_values v "
            "JOIN teams t ON t.id = v.team_id WHERE v.source = 'transfermarkt-derived' "
            "AND v.as_of = '2004-10-04'",
        )
    }
    # player_valuations.csv: the 18 rows printed "Chelsea FC", all of 2004-10-04, sum to
    # 2.25 + 4 + 7 + 10 + 19.5 + 8.5 + 15 + 7 + 18 + 9 + 8.5 + 30 + 18 + 14 + 15 + 12.5
    # + 30 + 20 = 248.25 million, whatever club id the dataset gives them.
    assert derived["Chelsea"][1:] == (248_250_000.0, 18)
    # the 7 rows printed "Manchester City" (lines 169, 183, 187, 192, 210, 211, 262):
    # 15 + 0.75 + 0.7 + 6.5 + 1.5 + 2.25 + 3.5 = 30.2 million
    assert derived["Man City"][1:] == (30_200_000.0, 7)
    # West Bromwich Albion: the 2 rows printed with its name (lines 244 and 857), not the
    # 9 rows that carry its club id 984 as the players' club at the dataset release
    assert derived["West Brom"][1:] == (1_600_000.0, 2)
    valuations = parse_tm_player_valuations(real_file("transfermarkt", VALUATIONS).read_bytes())
    players = parse_tm_players(real_file("transfermarkt", PLAYERS).read_bytes())
    (by_id,) = squad_values_as_of(valuations, players, club_ids=[984], as_of=dt.date(2004, 10, 4))
    assert by_id.players == 9
    # the values hold until they are 400 days old; a derived row names the valuations file
    chelsea = rows(
        rosters,
        "SELECT CAST(v.as_of AS VARCHAR(10)), v.market_value_eur, v.players_valued, "
        "v.season_code, r.uri "
        "FROM squad_values v JOIN teams t ON t.id = v.team_id "
        "JOIN raw_files r ON r.sha256 = v.raw_sha256 "
        "WHERE t.name = 'Chelsea' AND v.source = 'transfermarkt-derived' ORDER BY v.as_of",
    )
    assert [row[:4] for row in chelsea] == [
        ("2004-10-04", 248_250_000.0, 18, "2004-2005"),
        ("2005-11-09", None, 0, "2005-2006"),
    ]
    assert {Path(row[4]).name for row in chelsea} == {VALUATIONS}
    (team_id,) = rows(rosters, "SELECT id FROM teams WHERE name = 'Chelsea'")[0]
    with rosters.connect() as connection:
        assert squad_value_on(connection, team_id, dt.date(2004, 10, 3)) is None
        stood = squad_value_on(connection, team_id, dt.date(2005, 1, 2))
        ninety_days_before = squad_value_on(connection, team_id, dt.date(2004, 10, 4))
        assert stood.market_value_eur - ninety_days_before.market_value_eur == 0.0
        assert squad_value_on(connection, team_id, dt.date(2005, 11, 9)).market_value_eur is None
    # the export carries them, beside the published season tables
    frame = squad_values_frame(rosters)
    assert set(frame["source"]) == {"transfermarkt-derived"}
    row = frame[(frame["team"] == "Chelsea") & (frame["as_of"].astype(str) == "2004-10-04")]
    assert (row["market_value_eur"].item(), row["players_valued"].item()) == (248_250_000.0, 18)


def test_any_load_order_gives_the_same_warehouse(rosters: Engine) -> None:
    first = [VALUATIONS, PLAYERS, OLDER_CLUBS, CLUBS]
    for name in first:
        assert ingest(rosters, name).ok
    before = tm_snapshot(rosters)
    with rosters.begin() as connection:
        for table in TM_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("DELETE FROM squad_values"))
        connection.execute(text("DELETE FROM team_aliases WHERE source = 'transfermarkt'"))
    for name in reversed(first):
        assert ingest(rosters, name).ok
    assert tm_snapshot(rosters) == before
    # two rows for each of the 48 teams some valuation is printed with: 2004-10-04, and the
    # day those valuations are 400 days old
    assert rows(rosters, "SELECT COUNT(*), COUNT(DISTINCT team_id) FROM squad_values") == [(96, 48)]
    # clubs.csv is the newer release: its rows win whichever file came last
    # (clubs.csv: 1003,...,Leicester City,...,+€57.30m,...,2024 and 1132,...,Burnley
    # Football Club,...,2025; the older release: Leicester City Football Club, Burnley FC, 2023)
    assert rows(
        rosters,
        "SELECT club_id, name, net_transfer_record_eur, last_season, release FROM tm_clubs "
        "WHERE club_id IN (1003, 1132) ORDER BY club_id",
    ) == [
        (1003, "Leicester City", 57_300_000.0, "2024-2025", "2025-2026"),
        (1132, "Burnley Football Club", -93_650_000.0, "2025-2026", "2025-2026"),
    ]


def test_loading_twice_changes_nothing(rosters: Engine) -> None:
    for name in EVERY_FILE:
        assert ingest(rosters, name).ok
    before = tm_snapshot(rosters)
    for name in EVERY_FILE:
        assert ingest(rosters, name).ok
    assert tm_snapshot(rosters) == before


def _broken(name: str, old: bytes, new: bytes) -> bytes:
    original = real_file("transfermarkt", name).read_bytes()
    assert old in original
    return original.replace(old, new, 1)


@pytest.mark.parametrize(
    ("name", "raw", "check", "detail"),
    [
        (
            VALUATIONS,
            _broken(VALUATIONS, b"3132,2003-12-09,400000,", b"3132,2003-12-09,4OO000,"),
            "money_format",
            "line 4: market_value_in_eur '4OO000' is not a money amount",
        ),
        (
            VALUATIONS,
            real_file("transfermarkt", VALUATIONS).read_bytes()[:-30],
            "truncated",
            "does not end with a line break",
        ),
        (
            PLAYERS,
            _broken(PLAYERS, b",1000000,30000000\r\n", b",1000000,5000000000\r\n"),
            "expectation",
            "1 unexpected: line 2: highest_market_value_eur 5000000000",
        ),
        (
            GAMES,
            _broken(GAMES, b"\n1026846,FIWC,2009,", b"\n1026846,FIWC,2099,"),
            "expectation",
            "ExpectColumnValuesToBeBetween(season_year) failed: 1 unexpected: line 2: season "
            "2099-2100; accepted: seasons 1993-1994 to",
        ),
        (
            CLUBS,
            _broken(CLUBS, b",Sheffield United,", b",Sheffield Unitd,"),
            "reconcile",
            "England,Sheffield United,transfermarkt,Sheffield Unitd",
        ),
        (
            SCRAPED_GAMES,
            _broken(SCRAPED_GAMES, b'"result": "2:1"', b'"result": 2:1'),
            "not_json",
            "line 1",
        ),
    ],
    ids=[
        "unknown-money-format",
        "truncated",
        "value-limit",
        "season-beyond-window",
        "unknown-club",
        "broken-json",
    ],
)
def test_bad_input_is_quarantined_and_nothing_written(
    rosters: Engine, name: str, raw: bytes, check: str, detail: str
) -> None:
    for good in (CLUBS, VALUATIONS):
        if good != name:
            assert ingest(rosters, good).ok
    before = tm_snapshot(rosters)
    outcome = ingest(rosters, name, raw=raw)
    assert (outcome.status, outcome.check) == ("rejected", check)
    assert name.rsplit("/", 1)[-1] in outcome.message and detail in outcome.message
    assert tm_snapshot(rosters) == before
    kept = get_core_settings().raw_archive_dir / "transfermarkt" / "_quarantine"
    manifest = json.loads((kept / f"{outcome.sha256}.json").read_text())
    assert manifest["quarantined"]["check"] == check


def test_a_table_naming_no_league_gets_it_from_its_clubs(rosters: Engine) -> None:
    # No league column, no league folder, no --league; 2025-26 is a season the warehouse
    # does not hold: every club is an English team, 18 of the 20 played E0 2023-24.
    outcome = ingest(rosters, "tm_market_values_clubs_2025_26.csv", league=None)
    assert outcome.ok, outcome.message
    assert (outcome.league, outcome.season) == ("E0", "2025-2026")
    assert "18 of the 20 played E0 in 2023-2024" in " ".join(outcome.warnings)
    # 1,Arsenal,"€ 1,370,000,000.00",... : the value on 1 August 2025
    assert rows(
        rosters,
        "SELECT CAST(v.as_of AS VARCHAR(10)), v.market_value_eur FROM squad_values v "
        "JOIN teams t ON t.id = v.team_id "
        "WHERE t.name = 'Arsenal' AND v.source = 'transfermarkt'",
    ) == [("2025-08-01", 1_370_000_000.0)]
    # in a season the warehouse holds, the clubs are those of one league-season (the
    # table's other seasons are reconciled with theirs: Watford played E0 in 2021-22)
    for season in ("2021-2022", "2022-2023"):
        assert ingest_football_data_file(SAMPLE_DIR / "E0" / f"{season}.csv", engine=rosters).ok
    outcome = ingest(rosters, "premier_league_squad_values_2020_2024.csv")
    assert outcome.ok and outcome.league == "E0"
    assert "every club played E0 in 2020-2021" in " ".join(outcome.warnings)
    # the players table repeats 4 players; one row each is kept
    outcome = ingest(rosters, "tm_market_values_players_2025_26.csv")
    assert outcome.ok, outcome.message
    assert "4 repeated row(s)" in " ".join(outcome.warnings)
    assert rows(rosters, "SELECT COUNT(*), COUNT(DISTINCT team_id) FROM tm_player_values") == [
        (96, 15)
    ]
    # 2,Bukayo Saka,Right Winger,England / Nigeria,24,Arsenal,"€ 150,000,000.00"
    assert rows(
        rosters,
        "SELECT p.rank, t.name, p.nationality, p.market_value_eur FROM tm_player_values p "
        "JOIN teams t ON t.id = p.team_id WHERE p.player_name = 'Bukayo Saka'",
    ) == [(2, "Arsenal", "England / Nigeria", 150_000_000.0)]


def test_a_league_is_never_guessed(warehouse: Engine) -> None:
    assert load_d1_matchday1(warehouse)
    outcome = ingest(warehouse, "tm_market_values_clubs_2025_26.csv")
    assert (outcome.status, outcome.check) == ("rejected", "known_league")
    assert "give --league" in outcome.message
    assert rows(warehouse, "SELECT COUNT(*) FROM squad_values") == [(0,)]


def test_the_migrations_build_the_models_schema(warehouse: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with warehouse.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
