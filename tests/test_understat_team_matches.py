"""Understat per team-match statistics (xG, npxG, deep completions, PPDA) on real recorded
pages: the parser, the load into ``team_match_logs`` and the per team-match frame."""

from __future__ import annotations

import json
import math
from collections import Counter

import polars as pl
import pytest
from conftest import FIXTURES, SAMPLE_DIR, real_file, table_snapshot
from sqlalchemy import Engine, text

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.jobs.football_data import ingest_football_data_file
from sabiscore_ml.jobs.sources import ingest_source_bytes
from sabiscore_ml.sources.understat import (
    UnderstatTeamMatch,
    parse_understat_league,
    parse_understat_match,
)
from sabiscore_ml.warehouse.queries import TEAM_MATCH_STATS_COLUMNS, team_match_stats_frame

UNDERSTAT = FIXTURES / "understat"
LIVERPOOL, LEEDS = 87, 245  # Understat team ids


def raw(name: str) -> bytes:
    return real_file("understat", name).read_bytes()


def one(records: list[UnderstatTeamMatch], match_id: int, side: str) -> UnderstatTeamMatch:
    (found,) = [r for r in records if (r.match_id, r.side) == (match_id, side)]
    return found


def ajax_league_with(change) -> bytes:
    """league_ajax.json with ``change(teams)`` applied to its decoded ``teams``."""
    data = json.loads(raw("league_ajax.json"))
    change(data["teams"])
    return json.dumps(data).encode()


def rejected(content: bytes) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        parse_understat_league(content, "epl_2020.json", league="EPL", season=2020)
    return info.value


# ------------------------------------------------------------------------------ parser


def test_league_page_gives_two_rows_per_played_match() -> None:
    league = parse_understat_league(raw("league_epl.html"), "league_epl.html")
    rows = league.team_matches
    assert len(league.results) == 276
    assert len(rows) == 552 == 2 * len(league.results)
    assert Counter(r.side for r in rows) == {"h": 276, "a": 276}
    assert {(r.match_id, r.side) for r in rows} == {
        (m.match_id, side) for m in league.results for side in ("h", "a")
    }
    assert len({r.team for r in rows}) == 20
    assert all(r.origin == "league" and r.xpts is not None for r in rows)
    assert league.warnings == []


def test_liverpool_leeds_values_match_the_escaped_page_text() -> None:
    # league_epl.html, teamsData, \x22id\x22\x3A\x2287\x22,\x22title\x22\x3A\x22Liverpool\x22,
    # \x22history\x22\x3A\x5B\x7B\x22h_a\x22\x3A\x22h\x22,\x22xG\x22\x3A3.15411999999999981...,
    # \x22xGA\x22\x3A0.26981300000000002...,\x22npxG\x22\x3A1.63179000000000007...,
    # \x22npxGA\x22\x3A0.26981300000000002...,\x22ppda\x22\x3A\x7B\x22att\x22\x3A308,
    # \x22def\x22\x3A31\x7D,\x22ppda_allowed\x22\x3A\x7B\x22att\x22\x3A196,\x22def\x22\x3A21\x7D,
    # \x22deep\x22\x3A19,\x22deep_allowed\x22\x3A2,\x22scored\x22\x3A4,\x22missed\x22\x3A3,
    # \x22xpts\x22\x3A2.92700000000000004...,\x22result\x22\x3A\x22w\x22,
    # \x22date\x22\x3A\x222020\x2D09\x2D12\x2016\x3A30\x3A00\x22
    # and datesData: match 14090, Liverpool (87) v Leeds (245), 2020-09-12 16:30:00.
    league = parse_understat_league(raw("league_epl.html"), "league_epl.html")
    row = one(league.team_matches, 14090, "h")
    assert (row.team_id, row.team, row.opponent_id, row.opponent) == (
        LIVERPOOL,
        "Liverpool",
        LEEDS,
        "Leeds",
    )
    assert str(row.kickoff) == "2020-09-12 16:30:00"
    assert (row.goals_for, row.goals_against) == (4, 3)
    assert (row.xg, row.xga, row.npxg, row.npxga) == (3.15412, 0.269813, 1.63179, 0.269813)
    assert (row.ppda_att, row.ppda_def, row.ppda_allowed_att, row.ppda_allowed_def) == (
        308,
        31,
        196,
        21,
    )
    assert row.ppda == 308 / 31 and row.ppda_allowed == 196 / 21
    assert (row.deep, row.deep_allowed, row.xpts) == (19, 2, 2.927)
    # Liverpool scored two penalties: xG minus npxG is their xG
    assert row.xg - row.npxg == pytest.approx(1.52233)
    # Leeds' row of the same match mirrors it
    leeds = one(league.team_matches, 14090, "a")
    assert (leeds.team, leeds.opponent, leeds.goals_for, leeds.goals_against) == (
        "Leeds",
        "Liverpool",
        3,
        4,
    )
    assert (leeds.npxg, leeds.npxga, leeds.deep, leeds.deep_allowed) == (0.269813, 1.63179, 2, 19)
    assert (leeds.ppda_att, leeds.ppda_def) == (196, 21)


def test_both_league_generations_give_identical_records() -> None:
    html = parse_understat_league(raw("league_epl.html"), "league_epl.html")
    ajax = parse_understat_league(raw("league_ajax.json"), "league_ajax.json", league="EPL")
    assert len(ajax.team_matches) == 552
    assert ajax.team_matches == html.team_matches
    # a bare datesData list has no teams, so no history
    bare = parse_understat_league(raw("league_datesdata.json"), "bare.json", league="EPL")
    assert bare.team_matches == []


def test_soccerdata_epl_2015_every_match_has_both_rows() -> None:
    league = parse_understat_league(
        raw("league_1_season_2015.json"), "league_1_season_2015.json", league="EPL"
    )
    assert len(league.results) == 380
    assert len(league.team_matches) == 760


def test_match_page_14717_npxg_is_the_sum_of_its_shots() -> None:
    match = parse_understat_match(raw("match.html"), "match.html")
    home, away = match.team_matches
    assert (home.side, home.team, away.team) == ("h", "Crystal Palace", "Manchester United")
    assert not any(s.situation == "Penalty" for s in match.shots)
    for record in (home, away):
        shots = [s.xg for s in match.shots if s.side == record.side]
        assert record.npxg == math.fsum(shots)
    assert home.npxg == pytest.approx(0.742397, abs=1e-6)
    # the away shots sum to more than Understat's published match xG
    assert (away.xg, away.npxg) == (0.584016, pytest.approx(0.5875296, abs=1e-7))
    assert (home.npxga, away.npxga) == (away.npxg, home.npxg)
    # match_info: h_deep 3, a_deep 8, h_ppda 16.4737, a_ppda 10.7368
    assert (home.deep, home.deep_allowed, home.ppda, home.ppda_allowed) == (3, 8, 16.4737, 10.7368)
    assert (away.deep, away.deep_allowed, away.ppda, away.ppda_allowed) == (8, 3, 10.7368, 16.4737)
    assert (home.ppda_att, home.xpts, home.origin) == (None, None, "match")
    # the league page of the same season agrees on deep completions and PPDA (313/19 passes)
    league = parse_understat_league(raw("league_epl.html"), "league_epl.html")
    listed = one(league.team_matches, 14717, "h")
    assert (listed.deep, listed.deep_allowed, listed.xg, listed.xga) == (3, 8, 0.742397, 0.584016)
    assert round(listed.ppda, 4) == home.ppda and (listed.ppda_att, listed.ppda_def) == (313, 19)
    # both match generations give the same records
    ajax = parse_understat_match(raw("match_ajax.json"), "match_ajax.json")
    assert ajax.team_matches == match.team_matches


def test_a_penalty_is_left_out_of_npxg() -> None:
    # match_193: Manchester United 2-0 West Bromwich Albion, Mata's penalty xG 0.761169
    name = "EPL_2015_matches/match_193.json"
    match = parse_understat_match((UNDERSTAT / name).read_bytes(), name)
    home, away = match.team_matches
    (penalty,) = [s for s in match.shots if s.situation == "Penalty"]
    assert (penalty.side, penalty.player, penalty.xg) == ("h", "Juan Mata", 0.7611690163612366)
    # published match xG is rounded to 4 decimals (h_xg "1.2779")
    assert home.npxg == pytest.approx(home.xg - penalty.xg, abs=1e-5)
    # and the league page publishes the same npxG for both sides
    league = parse_understat_league(
        raw("league_1_season_2015.json"), "league_1_season_2015.json", league="EPL"
    )
    listed = {side: one(league.team_matches, 193, side) for side in ("h", "a")}
    assert (listed["h"].npxg, listed["a"].npxg) == (0.516734, 0.594031)
    assert home.npxg == pytest.approx(listed["h"].npxg, abs=1e-6)
    assert away.npxg == pytest.approx(listed["a"].npxg, abs=1e-6)


def test_an_unplayed_match_page_gives_no_record() -> None:
    data = json.loads(raw("match_ajax.json"))
    data["tmpl"].update(h_goals=None, a_goals=None, h_xg=None, a_xg=None)
    data["shots"] = {"h": [], "a": []}
    assert parse_understat_match(json.dumps(data).encode(), "m").team_matches == []


def test_no_defensive_action_gives_no_ppda_but_keeps_the_pair() -> None:
    def no_actions(teams: dict) -> None:
        teams[str(LIVERPOOL)]["history"][0]["ppda"]["def"] = 0

    league = parse_understat_league(ajax_league_with(no_actions), "x.json", league="EPL")
    row = one(league.team_matches, 14090, "h")
    assert (row.ppda, row.ppda_att, row.ppda_def) == (None, 308, 0)
    # each row is read from its own team's history: Leeds' keeps its published pair
    leeds = one(league.team_matches, 14090, "a")
    assert (leeds.ppda_allowed, leeds.ppda_allowed_att, leeds.ppda_allowed_def) == (
        308 / 31,
        308,
        31,
    )


def _drop(key: str):
    def change(teams: dict) -> None:
        del teams[str(LIVERPOOL)]["history"][0][key]

    return change


def _set(key: str, value):
    def change(teams: dict) -> None:
        teams[str(LIVERPOOL)]["history"][0][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "check", "detail"),
    [
        (_drop("npxG"), "missing_key", "teamsData[87] history[0] has no npxG"),
        (_drop("deep"), "missing_key", "teamsData[87] history[0] has no deep"),
        (_set("ppda", {"att": 308}), "missing_key", "teamsData[87] history[0] ppda has no def"),
        (_set("xG", "lots"), "values", "teamsData[87] history[0] xG: 'lots' is not a number"),
        (_set("deep", 2.5), "values", "history[0] deep: 2.5 is not a whole number"),
        (_set("deep_allowed", None), "values", "history[0] deep_allowed: missing"),
        (_set("npxGA", -0.1), "values", "history[0] npxGA: -0.1 is negative"),
        (_set("ppda", 9.9), "values", "history[0] ppda: expected an object"),
        (_set("h_a", "x"), "side", "history[0] h_a: 'x' is not 'h' or 'a'"),
        (_set("date", "2020-09-13 16:30:00"), "history_match", "no match of team 87 at home"),
        (_set("h_a", "a"), "history_match", "no match of team 87 away at 2020-09-12 16:30:00"),
        (_set("scored", 5), "history_match", "says 5-3 for team 87, match 14090 says 4-3"),
        (
            lambda teams: teams[str(LIVERPOOL)]["history"].append(
                teams[str(LIVERPOOL)]["history"][0]
            ),
            "history_match",
            "repeats match 14090 of teamsData[87] history[0]",
        ),
        (
            lambda teams: teams[str(LIVERPOOL)].pop("history"),
            "missing_key",
            "teamsData[87] has no history",
        ),
    ],
    ids=[
        "no-npxG",
        "no-deep",
        "ppda-without-def",
        "text-xG",
        "fractional-deep",
        "null-deep_allowed",
        "negative-npxGA",
        "ppda-not-a-pair",
        "bad-side",
        "no-such-match",
        "wrong-side",
        "score-differs",
        "row-twice",
        "no-history",
    ],
)
def test_malformed_history_is_rejected_naming_the_row(change, check: str, detail: str) -> None:
    error = rejected(ajax_league_with(change))
    assert error.check == check, error
    assert error.name == "epl_2020.json"
    assert detail in error.detail, error.detail
    assert str(error).startswith("epl_2020.json: rejected by check")


# --------------------------------------------------------------------------- warehouse

E0_2020 = SAMPLE_DIR / "E0" / "2020-2021.csv"
F1_2020 = SAMPLE_DIR / "F1" / "2020-2021_reserialized.csv"
FBREF_LOGS = ("matchlogs_Lyon_2021_schedule.html.gz", "matchlogs_Lyon_2021_shooting.html.gz")


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def logs(engine: Engine) -> list[tuple]:
    return table_snapshot(engine, "team_match_logs", "id")


def ingest(engine: Engine, source: str, name: str, content: bytes | None = None) -> None:
    content = real_file(source, name).read_bytes() if content is None else content
    outcome = ingest_source_bytes(source, content, name, league="E0", engine=engine)
    assert outcome.ok, outcome.message


@pytest.fixture
def epl(warehouse: Engine) -> Engine:
    assert ingest_football_data_file(E0_2020, engine=warehouse).ok
    return warehouse


def test_league_page_rows_land_in_team_match_logs(epl: Engine) -> None:
    ingest(epl, "understat", "league_epl.html")
    assert rows(
        epl,
        "SELECT source, stat_type, competition, season_code, COUNT(*), COUNT(source_match_id), "
        "SUM(CASE WHEN venue = 'Home' THEN 1 ELSE 0 END) FROM team_match_logs "
        "GROUP BY source, stat_type, competition, season_code",
    ) == [("understat", "summary", "Premier League", "2020-2021", 552, 552, 276)]
    ((team, day, venue, opponent, goals, xg, match_id, stats),) = [
        (row[0], str(row[1]), row[2], row[3], row[4:6], row[6:8], row[8], row[9])
        for row in rows(
            epl,
            "SELECT t.name, l.match_date, l.venue, l.opponent_name, l.goals_for, "
            "l.goals_against, l.xg_for, l.xg_against, l.source_match_id, l.stats_json "
            "FROM team_match_logs l JOIN teams t ON t.id = l.team_id "
            "WHERE l.source_match_id = '14090' AND l.venue = 'Home'",
        )
    ]
    assert (team, day, venue, opponent, goals, xg, match_id) == (
        "Liverpool",
        "2020-09-12",
        "Home",
        "Leeds",
        (4, 3),
        (3.15412, 0.269813),
        "14090",
    )
    assert json.loads(stats) == {
        "origin": "league",
        "npxg": 1.63179,
        "npxga": 0.269813,
        "ppda": 308 / 31,
        "ppda_allowed": 196 / 21,
        "ppda_att": 308,
        "ppda_def": 31,
        "ppda_allowed_att": 196,
        "ppda_allowed_def": 21,
        "deep": 19,
        "deep_allowed": 2,
        "xpts": 2.927,
    }


def test_malformed_history_writes_nothing(epl: Engine) -> None:
    def snapshot() -> tuple[list[tuple], ...]:
        return (
            table_snapshot(epl, "source_matches", "source, source_match_id"),
            logs(epl),
            table_snapshot(epl, "team_aliases", "id"),
        )

    ingest(epl, "understat", "match.html")  # something to keep
    before = snapshot()
    content = ajax_league_with(_set("deep", "many"))
    outcome = ingest_source_bytes("understat", content, "epl.json", league="E0", engine=epl)
    assert (outcome.status, outcome.check) == ("rejected", "values")
    assert "epl.json" in outcome.message and "history[0] deep: 'many'" in outcome.message
    assert snapshot() == before
    assert len(before[1]) == 2


def test_match_page_fills_in_and_never_replaces_the_league_page(epl: Engine) -> None:
    ingest(epl, "understat", "match.html")
    first = rows(
        epl,
        "SELECT venue, opponent_name, xg_for, stats_json FROM team_match_logs ORDER BY venue",
    )
    assert [(venue, opponent) for venue, opponent, _, _ in first] == [
        ("Away", "Crystal Palace"),
        ("Home", "Manchester United"),
    ]
    away = json.loads(first[0][3])
    assert (away["origin"], away["deep"], away["ppda"], away["xpts"]) == ("match", 8, 10.7368, None)
    assert away["npxg"] == pytest.approx(0.5875296, abs=1e-7)
    # the league page replaces them with its own figures...
    ingest(epl, "understat", "league_epl.html")
    after_league = logs(epl)
    replaced = rows(
        epl,
        "SELECT stats_json FROM team_match_logs WHERE source_match_id = '14717' AND venue = 'Away'",
    )
    assert json.loads(replaced[0][0])["npxg"] == 0.584016
    assert json.loads(replaced[0][0])["ppda_att"] == 204
    # ...which a match page loaded afterwards leaves alone
    ingest(epl, "understat", "match_ajax.json")
    assert logs(epl) == after_league
    assert len(after_league) == 552


def test_loading_every_generation_twice_changes_nothing(epl: Engine) -> None:
    files = ["league_epl.html", "match.html", "league_ajax.json", "match_ajax.json"]
    for name in files:
        ingest(epl, "understat", name)
    before = logs(epl), table_snapshot(epl, "source_matches", "source, source_match_id")
    for name in files:
        ingest(epl, "understat", name)
    assert (logs(epl), table_snapshot(epl, "source_matches", "source, source_match_id")) == before
    assert len(before[0]) == 552


@pytest.fixture
def loaded(epl: Engine) -> Engine:
    """E0 2020-21 with Understat's league page, and F1 2020-21 with Lyon's FBref logs."""
    assert ingest_football_data_file(F1_2020, engine=epl).ok
    ingest(epl, "understat", "league_epl.html")
    for name in FBREF_LOGS:
        ingest(epl, "fbref", name)
    return epl


def test_team_match_stats_frame(loaded: Engine) -> None:
    frame = team_match_stats_frame(loaded)
    assert frame.columns == list(TEAM_MATCH_STATS_COLUMNS)
    assert frame.select("team_id", "match_date", "source", "competition").is_unique().all()
    assert dict(frame.group_by("source").len().iter_rows()) == {"understat": 552, "fbref": 42}
    ids = dict(rows(loaded, "SELECT name, id FROM teams WHERE country IN ('England', 'France')"))

    (liverpool,) = frame.filter(
        pl.col("source") == "understat",
        pl.col("team_id") == ids["Liverpool"],
        pl.col("match_date") == pl.date(2020, 9, 12),
    ).iter_rows(named=True)
    (warehouse_match,) = rows(
        loaded,
        "SELECT id FROM matches WHERE match_date = '2020-09-12' "
        f"AND home_team_id = {ids['Liverpool']} AND away_team_id = {ids['Leeds']}",
    )
    assert liverpool == {
        "team_id": ids["Liverpool"],
        "opponent_team_id": ids["Leeds"],
        "match_date": liverpool["match_date"],
        "season_code": "2020-2021",
        "league_code": "E0",
        "source": "understat",
        "competition": "Premier League",
        "venue": "Home",
        "goals_for": 4,
        "goals_against": 3,
        "xg_for": 3.15412,
        "xg_against": 0.269813,
        "npxg_for": 1.63179,
        "npxg_against": 0.269813,
        "deep_for": 19,
        "deep_against": 2,
        "ppda": 308 / 31,
        "ppda_allowed": 196 / 21,
        "match_id": warehouse_match[0],
    }
    understat = frame.filter(pl.col("source") == "understat")
    assert understat["opponent_team_id"].null_count() == 0
    assert understat["match_id"].null_count() == 0
    assert understat["npxg_for"].null_count() == understat["ppda"].null_count() == 0

    # FBref: Lyon's schedule and shooting logs merge into one row per match
    lyon = frame.filter(pl.col("source") == "fbref")
    assert set(lyon["team_id"]) == {ids["Lyon"]}
    assert dict(lyon.group_by("competition").len().iter_rows()) == {
        "Ligue 1": 38,
        "Coupe de France": 4,
    }
    (dijon,) = lyon.filter(pl.col("match_date") == pl.date(2020, 8, 28)).iter_rows(named=True)
    assert (dijon["opponent_team_id"], dijon["league_code"], dijon["venue"]) == (
        ids["Dijon"],
        "F1",
        "Home",
    )
    assert (dijon["goals_for"], dijon["goals_against"], dijon["xg_for"], dijon["xg_against"]) == (
        4,
        1,
        4.6,
        0.2,
    )
    assert (dijon["npxg_for"], dijon["npxg_against"], dijon["deep_for"], dijon["ppda"]) == (
        3.0,
        0.2,
        None,
        None,
    )
    cups = lyon.filter(pl.col("competition") == "Coupe de France")
    assert cups["league_code"].null_count() == 4

    # filters: the teams of a league with all their matches; seasons
    assert team_match_stats_frame(loaded, leagues=["E0"]).equals(understat)
    assert team_match_stats_frame(loaded, leagues=["F1"]).equals(lyon)
    assert team_match_stats_frame(loaded, seasons=["2019-2020"]).height == 0
    assert team_match_stats_frame(loaded, seasons=["2020-2021"]).equals(frame)


def test_an_unreadable_stats_value_is_null_and_shifts_nothing(loaded: Engine) -> None:
    # FBref keeps a cell it cannot read as text; make Lyon v Dijon's npxg one, with a comma
    ((row_id, stats),) = rows(
        loaded,
        "SELECT id, stats_json FROM team_match_logs WHERE stat_type = 'shooting' "
        "AND match_date = '2020-08-28'",
    )
    changed = {**json.loads(stats), "npxg": 'n/a, "see notes"'}
    with loaded.begin() as connection:
        connection.execute(
            text("UPDATE team_match_logs SET stats_json = :stats WHERE id = :id"),
            {"stats": json.dumps(changed), "id": row_id},
        )
    frame = team_match_stats_frame(loaded)
    (dijon,) = frame.filter(
        pl.col("source") == "fbref", pl.col("match_date") == pl.date(2020, 8, 28)
    ).iter_rows(named=True)
    assert (dijon["npxg_for"], dijon["npxg_against"], dijon["xg_for"]) == (None, 0.2, 4.6)
    assert frame.height == 552 + 42
