"""Understat, FBref and Transfermarkt files loaded into a real warehouse (SQLite and PostgreSQL):
teams reconciled, matches linked, loads idempotent, bad input quarantined with nothing written."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from conftest import FIXTURES, REPO, SAMPLE_DIR, table_snapshot
from sqlalchemy import Engine, text

from sabiscore_ml.jobs.football_data import ingest_football_data_file
from sabiscore_ml.jobs.sources import ingest_source_bytes
from sabiscore_ml.settings import get_core_settings

SAMPLES = REPO / "samples"
UNDERSTAT_EPL = SAMPLES / "understat" / "league_epl.html"
UNDERSTAT_MATCH = SAMPLES / "understat" / "match.html"
FBREF_L1 = SAMPLES / "fbref" / "schedule_FRA-Ligue_1_2021.html.gz"
TM_EPL = SAMPLES / "transfermarkt" / "E0" / "premier_league_squad_values_2020_2024.csv"
TM_CLUBS = SAMPLES / "transfermarkt" / "dcaribou" / "clubs.csv"
TM_VALUATIONS = SAMPLES / "transfermarkt" / "dcaribou" / "player_valuations.csv"


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def source_snapshot(engine: Engine) -> dict[str, list[tuple]]:
    return {
        "source_matches": table_snapshot(engine, "source_matches", "source, source_match_id"),
        "match_xg": table_snapshot(engine, "match_xg", "match_id, source"),
        "shots": [r[1:] for r in table_snapshot(engine, "shots", "source, source_shot_id")],
        "squad_values": table_snapshot(engine, "squad_values", "team_id, source, as_of"),
        "team_aliases": [
            r[1:] for r in table_snapshot(engine, "team_aliases", "source, alias_key")
        ],
    }


@pytest.fixture
def with_rosters(warehouse: Engine) -> Engine:
    # E0 2019-20..2023-24 and Ligue 1 2020-21.  The squad-value table also covers 2024-25,
    # which football-data's sample lacks: it reconciles against every English team, and
    # Ipswich (promoted in 2024) is known from the Championship 2018-19.
    for path in (
        *sorted((SAMPLE_DIR / "E0").glob("*.csv")),
        SAMPLE_DIR / "F1" / "2020-2021_reserialized.csv",
        SAMPLE_DIR / "E1" / "2018-2019.csv",
    ):
        assert ingest_football_data_file(path, engine=warehouse).ok
    return warehouse


def test_understat_league_page_reconciles_and_links(with_rosters: Engine) -> None:
    outcome = ingest_source_bytes(
        "understat", UNDERSTAT_EPL.read_bytes(), str(UNDERSTAT_EPL), engine=with_rosters
    )
    assert outcome.ok, outcome.message
    assert (outcome.league, outcome.season) == ("E0", "2020-2021")
    (count, linked, played) = rows(
        with_rosters,
        "SELECT COUNT(*), COUNT(match_id), SUM(CASE WHEN status = 'played' THEN 1 ELSE 0 END) "
        "FROM source_matches WHERE source = 'understat'",
    )[0]
    assert (count, played) == (380, 276)
    # every played match finds its football-data match; some fixtures moved after the crawl
    (played_linked,) = rows(
        with_rosters,
        "SELECT COUNT(*) FROM source_matches WHERE status = 'played' AND match_id IS NOT NULL",
    )[0]
    assert played_linked == 276 and linked >= 276
    # Understat match 14086: Fulham 0-3 Arsenal, 2020-09-12 11:30, xG 0.126327 / 2.16287
    (home, away, day, home_goals, away_goals, home_xg, away_xg) = rows(
        with_rosters,
        "SELECT h.name, a.name, m.match_date, m.home_goals, m.away_goals, x.home_xg, x.away_xg "
        "FROM source_matches s JOIN matches m ON m.id = s.match_id "
        "JOIN teams h ON h.id = m.home_team_id JOIN teams a ON a.id = m.away_team_id "
        "JOIN match_xg x ON x.match_id = m.id AND x.source = 'understat' "
        "WHERE s.source_match_id = '14086'",
    )[0]
    assert (home, away, str(day), home_goals, away_goals) == (
        "Fulham",
        "Arsenal",
        "2020-09-12",
        0,
        3,
    )
    assert (home_xg, away_xg) == (0.126327, 2.16287)
    # the aliases that were used are recorded
    aliases = dict(
        rows(with_rosters, "SELECT alias, team_id FROM team_aliases WHERE source = 'understat'")
    )
    assert "Wolverhampton Wanderers" in aliases


def test_understat_match_shots_are_linked_to_teams(with_rosters: Engine) -> None:
    outcome = ingest_source_bytes(
        "understat", UNDERSTAT_MATCH.read_bytes(), str(UNDERSTAT_MATCH), engine=with_rosters
    )
    assert outcome.ok, outcome.message
    (shots, with_team, with_match) = rows(
        with_rosters, "SELECT COUNT(*), COUNT(team_id), COUNT(match_id) FROM shots"
    )[0]
    assert shots == 19 and with_team == 19 and with_match == 19


def test_every_source_load_is_idempotent(with_rosters: Engine) -> None:
    files = [
        ("understat", UNDERSTAT_EPL),
        ("understat", UNDERSTAT_MATCH),
        ("fbref", FBREF_L1),
        ("transfermarkt", TM_EPL),
        ("transfermarkt", TM_VALUATIONS),
        ("transfermarkt", TM_CLUBS),
    ]
    for _ in range(2):
        for source, path in files:
            outcome = ingest_source_bytes(
                source, path.read_bytes(), str(path), league="E0", engine=with_rosters
            )
            assert outcome.ok, outcome.message
        if _ == 0:
            before = source_snapshot(with_rosters)
    assert source_snapshot(with_rosters) == before


def test_fbref_ligue1_schedule_links_every_match(with_rosters: Engine) -> None:
    outcome = ingest_source_bytes(
        "fbref", FBREF_L1.read_bytes(), str(FBREF_L1), engine=with_rosters
    )
    assert outcome.ok, outcome.message
    assert rows(
        with_rosters,
        "SELECT COUNT(*), COUNT(match_id) FROM source_matches WHERE source = 'fbref'",
    ) == [(380, 380)]
    assert rows(with_rosters, "SELECT COUNT(*) FROM match_xg WHERE source = 'fbref'") == [(380,)]


def test_transfermarkt_squad_values(with_rosters: Engine) -> None:
    outcome = ingest_source_bytes(
        "transfermarkt", TM_EPL.read_bytes(), str(TM_EPL), league="E0", engine=with_rosters
    )
    assert outcome.ok, outcome.message
    # 2020,Liverpool FC,969.65 -> team "Liverpool", value at the start of 2020-21
    assert rows(
        with_rosters,
        "SELECT v.market_value_eur, v.season_code FROM squad_values v "
        "JOIN teams t ON t.id = v.team_id "
        "WHERE t.name = 'Liverpool' AND v.season_code = '2020-2021'",
    ) == [(969_650_000.0, "2020-2021")]
    assert rows(with_rosters, "SELECT COUNT(*) FROM squad_values") == [(100,)]


def test_unknown_team_name_stops_the_load_with_a_report(with_rosters: Engine) -> None:
    # the 2025 JSON response of the same EPL 2020 page, with one team renamed
    original = (FIXTURES / "understat" / "league_ajax.json").read_bytes()
    raw = original.replace(b"Wolverhampton Wanderers", b"Wolverhampton Wndrs")
    assert raw != original
    before = source_snapshot(with_rosters)
    outcome = ingest_source_bytes(
        "understat", raw, "epl_renamed.json", league="E0", engine=with_rosters
    )
    assert (outcome.status, outcome.check) == ("rejected", "reconcile")
    assert "unmatched 'Wolverhampton Wndrs'" in outcome.message
    assert "England,Wolves,understat,Wolverhampton Wndrs" in outcome.message
    assert source_snapshot(with_rosters) == before
    kept = get_core_settings().raw_archive_dir / "understat" / "_quarantine"
    manifest = json.loads((kept / f"{outcome.sha256}.json").read_text())
    assert manifest["quarantined"]["check"] == "reconcile"


@pytest.mark.parametrize(
    ("source", "raw", "check"),
    [
        ("understat", UNDERSTAT_EPL.read_bytes()[:300_000], None),
        ("understat", b"", "empty"),
        ("fbref", b"<html><head><title>Just a moment...</title></head></html>", "blocked"),
        (
            "transfermarkt",
            b"season,club_name,market_value_m\n2020,Liverpool FC,9x9\n",
            "money_format",
        ),
        ("transfermarkt", TM_VALUATIONS.read_bytes()[:20_000], "truncated"),
        (
            "transfermarkt",
            TM_CLUBS.read_bytes().replace(b"+\xe2\x82\xac5.90m", b"5.90 Mio", 1),
            "money_format",
        ),
    ],
    ids=[
        "understat-truncated",
        "understat-empty",
        "fbref-challenge",
        "tm-money",
        "tm-valuations-truncated",
        "tm-clubs-money",
    ],
)
def test_bad_input_is_quarantined_and_nothing_written(
    with_rosters: Engine, source: str, raw: bytes, check: str | None
) -> None:
    before = source_snapshot(with_rosters)
    outcome = ingest_source_bytes(source, raw, f"bad.{source}", league="E0", engine=with_rosters)
    assert outcome.status == "rejected"
    if check:
        assert outcome.check == check
    assert "bad." in outcome.message
    assert source_snapshot(with_rosters) == before


def one_match_renamed(raw: bytes, section: bytes, team: bytes, renamed: bytes) -> bytes:
    """``raw`` with ``team`` renamed in its first occurrence after ``section`` only."""
    start = raw.index(team, raw.index(section))
    return raw[:start] + renamed + raw[start + len(team) :]


def test_league_page_with_one_unknown_team_names_it(with_rosters: Engine) -> None:
    # One match of the finished EPL 2020 season spelled with a team no roster has:
    # 21 "clubs", so the season's match count (420 expected) fails too; the team is named.
    original = (FIXTURES / "understat" / "league_ajax.json").read_bytes()
    raw = one_match_renamed(
        original, b'"dates"', b"Wolverhampton Wanderers", b"Wolverhampton Wndrs"
    )
    before = source_snapshot(with_rosters)
    outcome = ingest_source_bytes(
        "understat", raw, "epl_one_renamed.json", league="E0", engine=with_rosters
    )
    assert (outcome.status, outcome.check) == ("rejected", "reconcile"), outcome.message
    assert "unmatched 'Wolverhampton Wndrs'" in outcome.message
    assert "England,Wolves,understat,Wolverhampton Wndrs" in outcome.message
    assert source_snapshot(with_rosters) == before


def test_schedule_with_one_unknown_team_names_it(with_rosters: Engine) -> None:
    # The finished Ligue 1 2020-21 schedule with one match's home side misspelt (in each
    # table listing the match: the whole season and its round).
    original = gzip.decompress(FBREF_L1.read_bytes())
    row = re.compile(rb">Bordeaux</a>(</td>(?:(?!</tr>).)*?/en/matches/c0996cac/)", re.S)
    raw, count = row.subn(rb">Bordeaux Girondins</a>\1", original)
    assert count == 2
    before = source_snapshot(with_rosters)
    outcome = ingest_source_bytes("fbref", raw, "l1_one_renamed.html", engine=with_rosters)
    assert (outcome.status, outcome.check) == ("rejected", "reconcile"), outcome.message
    assert "unmatched 'Bordeaux Girondins'" in outcome.message
    assert source_snapshot(with_rosters) == before


def test_a_squad_value_table_beyond_next_season_is_rejected(with_rosters: Engine) -> None:
    # The real table with its first row's season typed as 2099 (a season that would be
    # created as 2099-2100): rejected by the one window of seasons, naming line and value.
    original = TM_EPL.read_bytes()
    assert original.splitlines()[1] == b"2020,Manchester City,1040.0"
    raw = original.replace(b"2020,Manchester City,", b"2099,Manchester City,", 1)
    before = source_snapshot(with_rosters)
    outcome = ingest_source_bytes(
        "transfermarkt", raw, "E0/squad_values_2099.csv", league="E0", engine=with_rosters
    )
    assert (outcome.status, outcome.check) == ("rejected", "expectation"), outcome.message
    assert "squad_values_2099.csv" in outcome.message
    assert "ExpectColumnValuesToBeBetween(season_year) failed: 1 unexpected: " in outcome.message
    assert "line 2: season 2099-2100" in outcome.message
    assert "accepted: seasons 1993-1994 to " in outcome.message
    assert source_snapshot(with_rosters) == before
    assert rows(with_rosters, "SELECT COUNT(*) FROM seasons WHERE code = '2099-2100'") == [(0,)]


def test_a_league_response_beyond_next_season_is_rejected(with_rosters: Engine) -> None:
    # The EPL 2020 JSON response with every date moved to 2099-2100: each match sits inside
    # its (inferred) season, but the season is outside the window of every source.
    original = (FIXTURES / "understat" / "league_ajax.json").read_bytes()
    raw = original.replace(b'"2020-', b'"2099-').replace(b'"2021-', b'"2100-')
    before = source_snapshot(with_rosters)
    outcome = ingest_source_bytes(
        "understat", raw, "epl_2099.json", league="E0", engine=with_rosters
    )
    assert (outcome.status, outcome.check) == ("rejected", "expectation"), outcome.message
    assert "ExpectColumnValuesToBeBetween(season_year) failed: 380 unexpected: " in outcome.message
    assert "match 14086: date 2099-09-12" in outcome.message
    assert source_snapshot(with_rosters) == before
    assert rows(with_rosters, "SELECT COUNT(*) FROM seasons WHERE code = '2099-2100'") == [(0,)]
