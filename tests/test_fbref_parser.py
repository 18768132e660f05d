"""The FBref parsers on real published pages (and on broken copies of them)."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from functools import cache

import pytest
from conftest import FIXTURES, real_file

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.sources.fbref import (
    FBREF_LEAGUES,
    FbrefMatch,
    FbrefMatchLog,
    FbrefSchedule,
    FbrefTeamStats,
    fbref_league,
    parse_fbref_match,
    parse_fbref_matchlog,
    parse_fbref_schedule,
    parse_fbref_team_stats,
    stat_value,
)

FBREF_FIXTURES = FIXTURES / "fbref"
LA_LIGA_2324 = "schedule_ESP-La_Liga_2324.html"
LIGUE1_1920 = "schedule_FRA-Ligue_1_1920.html"
LIGUE1_2021 = "schedule_FRA-Ligue_1_2021.html"
LYON_SCHEDULE = "matchlogs_Lyon_2021_schedule.html"
LYON_SHOOTING = "matchlogs_Lyon_2021_shooting.html"
PSG_SCHEDULE = "matchlogs_Paris_S-G_2021_schedule.html"
FIORENTINA_TORINO = "match_34e95e35.html"
VERONA_ROMA = "match_e0a20cfe.html"
LA_LIGA_STATS = "teams_ESP-La_Liga_2324.html"
BIG5_SHOOTING = "teams_Big_5_European_Leagues_Combined_2021_shooting_for.html"


@cache
def raw(name: str) -> bytes:
    return gzip.decompress(real_file("fbref", f"{name}.gz").read_bytes())


@cache
def schedule(name: str) -> FbrefSchedule:
    return parse_fbref_schedule(raw(name), name)


@cache
def matchlog(name: str) -> FbrefMatchLog:
    return parse_fbref_matchlog(raw(name), name)


@cache
def match_report(name: str) -> FbrefMatch:
    return parse_fbref_match(raw(name), name)


@cache
def team_stats(name: str) -> FbrefTeamStats:
    return parse_fbref_team_stats(raw(name), name)


def without_table(page: bytes, table_id: str) -> bytes:
    start = page.index(b"<table", page.index(f'id="{table_id}"'.encode()) - 200)
    end = page.index(b"</table>", start) + len(b"</table>")
    assert f'id="{table_id}"'.encode() in page[start:end]
    return page[:start] + page[end:]


# --------------------------------------------------------------------------- schedules


def test_la_liga_2023_24_has_380_matches_with_xg() -> None:
    parsed = schedule(LA_LIGA_2324)
    assert (parsed.league, parsed.season, parsed.competition) == ("SP1", "2023-2024", "La Liga")
    assert parsed.competition_id == "12"
    assert parsed.table_ids == ("sched_2023-2024_12_1",)
    assert len(parsed.matches) == 380
    assert len({m.match_id for m in parsed.matches}) == 380
    assert all(m.played and m.status == "played" for m in parsed.matches)
    assert all(m.home_xg is not None and m.away_xg is not None for m in parsed.matches)
    assert all(m.kickoff_epoch is not None for m in parsed.matches)
    assert {m.gameweek for m in parsed.matches} == set(range(1, 39))
    assert len({m.home_team for m in parsed.matches}) == 20
    assert parsed.other_matches == [] and parsed.warnings == []


def test_la_liga_first_row_matches_the_page_text() -> None:
    # <th data-stat="gameweek">1</th> ... data-stat="date" csk="20230811">2023-08-11 ...
    # <span class="venuetime" data-venue-epoch="1691775000" data-venue-time="19:30">19:30</span>
    # data-stat="home_team"><a href="/en/squads/78ecf4bb/...">Almería</a>
    # data-stat="home_xg">1.4</td>
    # data-stat="score"><a href="/en/matches/30d3212e/...">0&ndash;2</a>
    # data-stat="away_xg">2.1</td> ... ">Rayo Vallecano</a>
    # data-stat="attendance" csk="14837">14,837
    # data-stat="venue">Power Horse Stadium</td> data-stat="referee" ...>Javier Alberola</td>
    first = schedule(LA_LIGA_2324).matches[0]
    assert first.match_id == "30d3212e"
    assert (first.gameweek, first.match_date) == (1, dt.date(2023, 8, 11))
    assert first.kickoff_time == dt.time(19, 30)
    assert first.kickoff_epoch == 1691775000
    assert first.kickoff_utc == dt.datetime(2023, 8, 11, 17, 30, tzinfo=dt.UTC)
    assert (first.home_team, first.home_team_id) == ("Almería", "78ecf4bb")
    assert (first.away_team, first.away_team_id) == ("Rayo Vallecano", "98e8af82")
    assert (first.home_goals, first.away_goals) == (0, 2)
    assert (first.home_xg, first.away_xg) == (1.4, 2.1)
    assert first.attendance == 14837
    assert (first.venue, first.referee, first.notes) == (
        "Power Horse Stadium",
        "Javier Alberola",
        None,
    )


def test_la_liga_row_in_the_middle_of_the_season() -> None:
    # gameweek 31, 2024-04-13, 18:30 (epoch 1713025800), Mallorca 0.6 "0&ndash;1" 1.5 Real Madrid,
    # attendance 23,244, Estadi Mallorca Son Moix, José Sánchez, /en/matches/8887cd3f/
    (row,) = [m for m in schedule(LA_LIGA_2324).matches if m.match_id == "8887cd3f"]
    assert (row.gameweek, row.match_date, row.kickoff_epoch) == (
        31,
        dt.date(2024, 4, 13),
        1713025800,
    )
    assert (row.home_team, row.home_goals, row.away_goals, row.away_team) == (
        "Mallorca",
        0,
        1,
        "Real Madrid",
    )
    assert (row.home_xg, row.away_xg, row.attendance) == (0.6, 1.5, 23244)
    assert (row.venue, row.referee) == ("Estadi Mallorca Son Moix", "José Sánchez")


def test_ligue1_2019_20_keeps_the_cancelled_fixtures_unplayed() -> None:
    parsed = schedule(LIGUE1_1920)
    assert (parsed.league, parsed.season) == ("F1", "2019-2020")
    assert len(parsed.matches) == 380
    assert len(parsed.played) == 279
    assert len(parsed.unplayed) == 101
    assert {m.status for m in parsed.unplayed} == {"cancelled"}
    assert all(m.home_goals is None and m.away_goals is None for m in parsed.unplayed)
    assert all(m.home_xg is None and m.away_xg is None for m in parsed.unplayed)
    assert all(m.home_xg is not None for m in parsed.played)
    assert any("101 fixture(s) without a score (101 cancelled)" in w for w in parsed.warnings)
    # gameweek 29, 2020-03-13, epoch 1584128700, Lyon, home_xg "", score
    # <a href="/en/matches/1d845950/Lyon-Reims-March-13-2020-Ligue-1"></a>, Reims,
    # Groupama Stadium, referee "", notes "Match Cancelled"
    (lyon_reims,) = [m for m in parsed.matches if m.match_id == "1d845950"]
    assert (lyon_reims.home_team, lyon_reims.away_team) == ("Lyon", "Reims")
    assert (lyon_reims.gameweek, lyon_reims.match_date) == (29, dt.date(2020, 3, 13))
    assert lyon_reims.kickoff_epoch == 1584128700
    assert not lyon_reims.played
    assert (lyon_reims.venue, lyon_reims.referee, lyon_reims.notes) == (
        "Groupama Stadium",
        None,
        "Match Cancelled",
    )


def test_ligue1_2020_21_three_tables_are_deduplicated_to_380() -> None:
    parsed = schedule(LIGUE1_2021)
    assert parsed.table_ids == ("sched_all", "sched_2020-2021_13_1", "sched_2020-2021_110")
    assert len(parsed.matches) == 380
    assert len({m.match_id for m in parsed.matches}) == 380
    assert {m.competition_id for m in parsed.matches} == {"13"}
    assert all(m.played and m.home_xg is not None for m in parsed.matches)
    # sched_2020-2021_110: Thu 2021-05-27 20:45, Toulouse "1&ndash;2" Nantes,
    # /en/matches/621f8a81/..., Stadium de Toulouse, Jérémie Pignard, "Leg 1 of 2"
    assert [m.match_id for m in parsed.other_matches] == ["621f8a81", "28ce9808"]
    leg1 = parsed.other_matches[0]
    assert leg1.competition == "French 1/2 Relegation/Promotion play-offs"
    assert leg1.competition_id == "110"
    assert (leg1.home_team, leg1.home_goals, leg1.away_goals, leg1.away_team) == (
        "Toulouse",
        1,
        2,
        "Nantes",
    )
    assert (leg1.gameweek, leg1.home_xg, leg1.notes) == (None, None, "Leg 1 of 2")
    assert leg1.attendance is None  # csk="0" with an empty cell is "not published"


def test_schedule_table_inside_an_html_comment_is_read() -> None:
    page = raw(LA_LIGA_2324)
    start = page.index(b'<table class="stats_table sortable min_width" id="sched_2023-2024_12_1"')
    end = page.index(b"</table>", start) + len(b"</table>")
    commented = page[:start] + b"<!--\n" + page[start:end] + b"\n-->" + page[end:]
    parsed = parse_fbref_schedule(commented, "commented")
    assert parsed.matches == schedule(LA_LIGA_2324).matches


@pytest.mark.parametrize(
    "variant",
    ["class-thead", "scope-col"],
)
def test_repeated_header_rows_and_hyphen_scores_are_handled(variant: str) -> None:
    # long FBref tables repeat their header inside <tbody>: <tr class="thead"> rows, or
    # rows of <th scope="col"> cells; each kind alone must be skipped
    page = raw(LA_LIGA_2324)
    header = re.search(rb"<thead>\s*(<tr>.*?</tr>)", page, re.S)
    assert header is not None
    if variant == "class-thead":
        thead_row = header.group(1).replace(b"<tr>", b'<tr class="thead">', 1)
        thead_row = thead_row.replace(b' scope="col"', b"")
    else:
        thead_row = header.group(1)
    first_body_row = page.index(b"<tbody>") + len(b"<tbody>")
    page = page[:first_body_row] + thead_row + page[first_body_row:]
    page = page.replace(b">0&ndash;2</a>", b">0-2</a>", 1)
    parsed = parse_fbref_schedule(page, "with-header-rows")
    assert len(parsed.matches) == 380
    assert (parsed.matches[0].home_goals, parsed.matches[0].away_goals) == (0, 2)


def test_shootout_scores_and_awarded_notes_on_a_schedule() -> None:
    # cup schedules print shoot-outs as "<small>(4)</small> 1&ndash;1 <small>(3)</small>";
    # an awarded match keeps its score with a note "Match awarded to ..."
    page = raw(LA_LIGA_2324).replace(
        b">0&ndash;2</a>", b"><small>(4)</small> 1&ndash;1 <small>(3)</small></a>", 1
    )
    page = page.replace(
        b'data-stat="notes" ></td>', b'data-stat="notes" >Match awarded to Valencia</td>', 2
    )
    first, second = parse_fbref_schedule(page, "edited").matches[:2]
    assert (first.home_goals, first.away_goals, first.home_pens, first.away_pens) == (1, 1, 4, 3)
    assert (second.home_team, second.status, second.played) == ("Sevilla", "awarded", True)


# --------------------------------------------------------------------------- match logs


def test_lyon_match_log_keeps_cup_matches_with_their_competition() -> None:
    parsed = matchlog(LYON_SCHEDULE)
    assert (parsed.team, parsed.team_id, parsed.season, parsed.stat_type) == (
        "Lyon",
        "d53c0b06",
        "2020-2021",
        "schedule",
    )
    assert len(parsed.rows) == 42
    assert parsed.against_rows == []
    league = [r for r in parsed.rows if r.league == "F1"]
    cup = [r for r in parsed.rows if r.competition == "Coupe de France"]
    assert len(league) == 38 and len(cup) == 4
    assert {r.competition_id for r in cup} == {"518"} and {r.league for r in cup} == {None}
    assert all(r.match_id and re.fullmatch(r"[0-9a-f]{8}", r.match_id) for r in parsed.rows)
    # data-stat="date" csk="20210209"><a href="/en/matches/8d8f362f/...">2021-02-09</a>
    # data-venue-epoch="1612900800" data-venue-time="21:00"; comp: Coupe de France (comps/518);
    # round: Round of 64; Tue; venue Home; result W; goals_for 5; goals_against 1;
    # opponent <a href="/en/squads/7a54bb4f/...">Ajaccio</a>; xg_for ""; xg_against "";
    # possession ""; captain Memphis; formation 4-2-3-1; opp_formation 4-1-4-1; Florent Batta
    ajaccio = cup[0]
    assert ajaccio.match_id == "8d8f362f"
    assert (ajaccio.match_date, ajaccio.kickoff_time) == (dt.date(2021, 2, 9), dt.time(21, 0))
    assert ajaccio.kickoff_epoch == 1612900800
    assert (ajaccio.round, ajaccio.venue, ajaccio.result) == ("Round of 64", "Home", "W")
    assert (ajaccio.goals_for, ajaccio.goals_against, ajaccio.pens_for) == (5, 1, None)
    assert (ajaccio.opponent, ajaccio.opponent_id) == ("Ajaccio", "7a54bb4f")
    assert (ajaccio.xg, ajaccio.xga) == (None, None)
    assert ajaccio.stats == {
        "dayofweek": "Tue",
        "possession": None,
        "attendance": None,
        "captain": "Memphis",
        "formation": "4-2-3-1",
        "opp_formation": "4-1-4-1",
        "referee": "Florent Batta",
        "notes": None,
    }
    # 2020-08-28 Ligue 1 Matchweek 2, Home, W 4-1 v Dijon, xG 4.6 / xGA 0.2, possession 63
    first = parsed.rows[0]
    assert (first.competition, first.round, first.opponent) == ("Ligue 1", "Matchweek 2", "Dijon")
    assert (first.goals_for, first.goals_against, first.xg, first.xga) == (4, 1, 4.6, 0.2)
    assert first.stats["possession"] == 63


def test_shooting_match_log_has_for_and_against_tables_without_totals() -> None:
    parsed = matchlog(LYON_SHOOTING)
    assert parsed.stat_type == "shooting"
    assert len(parsed.rows) == 42 and len(parsed.against_rows) == 42
    assert [r.match_id for r in parsed.rows] == [r.match_id for r in parsed.against_rows]
    # last row of matchlogs_for: 2021-05-23 Ligue 1 Matchweek 38, Home, L 2-3 v Nice,
    # goals 2, shots 12, shots_on_target 6, shots_on_target_pct 50.0, average_shot_distance 15.7,
    # xg 1.4, npxg 1.4, xg_net "+0.6"; the tfoot totals (shots 677) are not a row
    last = parsed.rows[-1]
    assert (last.match_date, last.opponent, last.result) == (dt.date(2021, 5, 23), "Nice", "L")
    assert (last.goals_for, last.goals_against) == (2, 3)
    assert last.stats["shots"] == 12 and last.stats["shots_on_target"] == 6
    assert last.stats["shots_on_target_pct"] == 50.0
    assert last.stats["average_shot_distance"] == 15.7
    assert last.stats["xg"] == 1.4 and last.stats["xg_net"] == 0.6
    assert sum(r.stats["shots"] for r in parsed.rows) == 677  # equals the published total


def test_match_log_shootouts_and_european_opponents() -> None:
    parsed = matchlog(PSG_SCHEDULE)
    assert (parsed.team, parsed.team_id) == ("Paris Saint-Germain", "e2d8892c")
    counts: dict[str, int] = {}
    for row in parsed.rows:
        counts[row.competition] = counts.get(row.competition, 0) + 1
    assert counts == {
        "Ligue 1": 38,
        "Champions Lg": 12,
        "Trophée des Champions": 1,
        "Coupe de France": 6,
    }
    # 2021-05-12 Coupe de France Semi-finals, Away, D, goals_for "2 <small>(6)</small>",
    # goals_against "2 <small>(5)</small>" v Montpellier, /en/matches/5ec364a2/
    (shootout,) = [r for r in parsed.rows if r.pens_for is not None]
    assert shootout.match_id == "5ec364a2"
    assert (shootout.goals_for, shootout.pens_for) == (2, 6)
    assert (shootout.goals_against, shootout.pens_against) == (2, 5)
    assert (shootout.result, shootout.venue, shootout.opponent) == ("D", "Away", "Montpellier")
    # 2021-04-28 Champions Lg Semi-finals: opponent cell "<span class="f-i">eng</span>
    # <a href="/en/squads/b8fd03ef/...">Manchester City</a>", xG 1.0, xGA 0.8, notes Leg 1 of 2
    (city,) = [r for r in parsed.rows if r.match_id == "ac4f70dd"]
    assert (city.opponent, city.opponent_id) == ("Manchester City", "b8fd03ef")
    assert (city.competition_id, city.league, city.round) == ("8", None, "Semi-finals")
    assert (city.xg, city.xga, city.stats["notes"]) == (1.0, 0.8, "Leg 1 of 2")


# --------------------------------------------------------------------------- match reports


def test_match_report_score_box_and_shots() -> None:
    parsed = match_report(FIORENTINA_TORINO)
    assert parsed.match_id == "34e95e35"
    assert (parsed.competition, parsed.competition_id, parsed.league) == ("Serie A", "11", "I1")
    assert (parsed.season, parsed.round) == ("2020-2021", "Matchweek 1")
    # <span class="venuetime" data-venue-date="2020-09-19" data-venue-time="18:00"
    #  data-venue-epoch="1600531200">; <div class="score">1</div><div class="score_xg">1.9</div>
    # ... <div class="score">0</div><div class="score_xg">0.7</div>
    assert (parsed.match_date, parsed.kickoff_time) == (dt.date(2020, 9, 19), dt.time(18, 0))
    assert parsed.kickoff_epoch == 1600531200
    assert (parsed.home_team, parsed.home_team_id) == ("Fiorentina", "421387cf")
    assert (parsed.away_team, parsed.away_team_id) == ("Torino", "105360fe")
    assert (parsed.home_goals, parsed.away_goals) == (1, 0)
    assert (parsed.home_xg, parsed.away_xg) == (1.9, 0.7)
    assert parsed.venue == "Stadio Artemio Franchi, Firenze"
    assert parsed.referee == "Rosario Abisso"
    assert not parsed.awarded and parsed.warnings == []
    # shots_all holds 21 <tr class="shots_<squad id>"> rows and one spacer row
    assert len(parsed.shots) == 21
    assert sum(s.is_home is True for s in parsed.shots) + sum(
        s.is_home is False for s in parsed.shots
    ) == len(parsed.shots)
    assert [s.player for s in parsed.shots if s.outcome == "Goal"] == ["Gaetano Castrovilli"]
    # <th data-stat="minute" csk="7800">78</th> ... data-append-csv="0728bebe" ...
    # Gaetano Castrovilli ... Fiorentina ... xg_shot 0.48, psxg_shot 0.43, outcome Goal,
    # distance 4, body_part Left Foot, notes Volley, sca_1 Federico Chiesa / Pass (Live),
    # sca_2 Martín Cáceres / Pass (Live)
    (goal,) = [s for s in parsed.shots if s.outcome == "Goal"]
    assert (goal.minute, goal.added_time) == (78, None)
    assert (goal.player, goal.player_id, goal.squad, goal.squad_id) == (
        "Gaetano Castrovilli",
        "0728bebe",
        "Fiorentina",
        "421387cf",
    )
    assert goal.is_home is True
    assert (goal.xg, goal.psxg, goal.distance) == (0.48, 0.43, 4)
    assert (goal.body_part, goal.notes) == ("Left Foot", "Volley")
    assert (goal.sca_1_player, goal.sca_1_type) == ("Federico Chiesa", "Pass (Live)")
    assert (goal.sca_2_player, goal.sca_2_type) == ("Martín Cáceres", "Pass (Live)")
    # first shot: 4', Giacomo Bonaventura, xg_shot 0.03, psxg_shot "", Blocked, 24, Right Foot
    first = parsed.shots[0]
    assert (first.minute, first.player, first.xg, first.psxg) == (
        4,
        "Giacomo Bonaventura",
        0.03,
        None,
    )
    assert (first.outcome, first.distance, first.body_part) == ("Blocked", 24, "Right Foot")


def test_awarded_match_report_without_shots() -> None:
    # <div class="score">3*</div> ... <div class="score">0</div> (no score_xg);
    # <div>*Match awarded to Hellas Verona</div>; no shots table on the page
    parsed = match_report(VERONA_ROMA)
    assert (parsed.home_team, parsed.away_team) == ("Hellas Verona", "Roma")
    assert (parsed.home_goals, parsed.away_goals) == (3, 0)
    assert (parsed.home_xg, parsed.away_xg) == (None, None)
    assert parsed.awarded
    assert parsed.shots == []
    assert any("no shots table" in w for w in parsed.warnings)


# --------------------------------------------------------------------------- squad stats


def test_league_stats_page_tables() -> None:
    parsed = team_stats(LA_LIGA_STATS)
    assert (parsed.league, parsed.season, parsed.competition) == ("SP1", "2023-2024", "La Liga")
    assert len(parsed.tables) == 24
    assert all(len(table.rows) == 20 for table in parsed.tables.values())
    overall = parsed.table("results2023-2024121_overall")
    assert overall.stat_type == "league_table"
    # rank 1, Real Madrid (/en/squads/53a2f082/), games 38, wins 29, ties 8, losses 1,
    # goals_for 87, goals_against 26, goal_diff +61, points 95, xg_for 68.8, xg_against 35.4,
    # attendance_per_g 72,061, top_team_scorers "Jude Bellingham - 19"
    madrid = overall.rows[0]
    assert (madrid.team, madrid.team_id, madrid.league) == ("Real Madrid", "53a2f082", "SP1")
    assert madrid.stats["points"] == 95 and madrid.stats["goal_diff"] == 61
    assert (madrid.stats["xg_for"], madrid.stats["xg_against"]) == (68.8, 35.4)
    assert madrid.stats["attendance_per_g"] == 72061
    assert madrid.stats["top_team_scorers"] == "Jude Bellingham - 19"
    against = parsed.table("stats_squads_shooting_against")
    assert (against.stat_type, against.side) == ("shooting", "against")
    assert against.rows[0].team == "Alavés"  # published as "vs Alavés"


def test_big5_squad_stats_page() -> None:
    parsed = team_stats(BIG5_SHOOTING)
    assert (parsed.competition_id, parsed.season, parsed.league) == ("Big5", "2020-2021", None)
    assert set(parsed.tables) == {"stats_teams_shooting_for", "stats_teams_shooting_against"}
    rows = parsed.table("stats_teams_shooting_for").rows
    assert len(rows) == 98
    per_league: dict[str | None, int] = {}
    for row in rows:
        per_league[row.league] = per_league.get(row.league, 0) + 1
    assert per_league == {"SP1": 20, "F1": 20, "E0": 20, "I1": 20, "D1": 18}
    # ranker 1, Alavés (8d6fd021), comp "<span class="f-i">es</span> La Liga", shots 339,
    # shots_on_target 95, xg 42.6, npxg 36.4, xg_net -7.6
    alaves = rows[0]
    assert (alaves.team, alaves.team_id, alaves.competition) == ("Alavés", "8d6fd021", "La Liga")
    assert (alaves.stats["shots"], alaves.stats["shots_on_target"]) == (339, 95)
    assert (alaves.stats["xg"], alaves.stats["xg_net"]) == (42.6, -7.6)


def test_league_code_mapping_and_stat_values() -> None:
    assert {FBREF_LEAGUES[c] for c in ("9", "12", "20", "11", "13")} == {
        "E0",
        "SP1",
        "D1",
        "I1",
        "F1",
    }
    assert fbref_league("eng Premier League") == "E0"
    assert fbref_league("Coupe de France") is None
    assert stat_value("14,837") == 14837 and stat_value("+0.6") == 0.6
    assert stat_value("4-2-3-1") == "4-2-3-1" and stat_value("") is None


# --------------------------------------------------------------------------- bad input


def _reject(parser, page: bytes) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        parser(page, "bad.html")
    assert "bad.html" in str(info.value)
    return info.value


def test_rejects_a_schedule_page_without_its_table() -> None:
    error = _reject(parse_fbref_schedule, without_table(raw(LA_LIGA_2324), "sched_2023-2024_12_1"))
    assert error.check == "missing_table"
    assert "sched_2023-2024_12_1" in error.detail


def test_rejects_other_pages_without_their_table() -> None:
    error = _reject(parse_fbref_matchlog, without_table(raw(LYON_SCHEDULE), "matchlogs_for"))
    assert (error.check, "matchlogs_for" in error.detail) == ("missing_table", True)
    error = _reject(
        parse_fbref_team_stats, without_table(raw(LA_LIGA_STATS), "results2023-2024121_overall")
    )
    assert (error.check, "results2023-2024121_overall" in error.detail) == ("missing_table", True)
    error = _reject(parse_fbref_schedule, raw(LYON_SCHEDULE))  # the wrong page type
    assert error.check == "missing_table"


def test_rejects_an_empty_page() -> None:
    assert _reject(parse_fbref_schedule, b"").check == "empty"
    assert _reject(parse_fbref_match, b"  \r\n").check == "empty"
    assert _reject(parse_fbref_matchlog, b"Date,Comp\n2021-02-09,Ligue 1\n").check == "not_html"


CLOUDFLARE = b"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper" role="main">
<div class="main-content"><noscript><div class="h2"><span id="challenge-error-text">
Enable JavaScript and cookies to continue</span></div></noscript></div></div>
<script>(function(){window._cf_chl_opt={cvId: '3',cZone: "fbref.com",cType: 'managed'};
var a = document.createElement('script');
a.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1';
document.getElementsByTagName('head')[0].appendChild(a);}());</script></body></html>"""
RATE_LIMITED = b"""<!DOCTYPE html><html><head><title>Rate Limited Request (429 error)</title></head>
<body><h1>Rate Limited Request (429 error)</h1><p>Sports Reference limits how often a site can be
accessed by bots. You have exceeded that limit; please try again later.</p></body></html>"""
TITLE_ONLY = b"<html><head><title>Just a moment...</title></head><body></body></html>"
CAPTCHA = b"""<html><head><title>FBref.com</title></head><body><form method="post">
<div class="g-recaptcha" data-sitekey="6LfwuyUTAAAAAOAmoS0fdqijC2PbbdH4kjq62Y1b"></div>
</form></body></html>"""


@pytest.mark.parametrize(
    "page", [CLOUDFLARE, RATE_LIMITED, CAPTCHA, TITLE_ONLY], ids=["cf", "429", "captcha", "title"]
)
@pytest.mark.parametrize(
    "parser",
    [parse_fbref_schedule, parse_fbref_matchlog, parse_fbref_match, parse_fbref_team_stats],
)
def test_rejects_block_and_challenge_pages(parser, page: bytes) -> None:
    assert _reject(parser, page).check == "blocked"


def test_rejects_out_of_range_values() -> None:
    page = raw(LA_LIGA_2324)
    high_xg = page.replace(b'data-stat="home_xg" >1.4</td>', b'data-stat="home_xg" >12.4</td>', 1)
    error = _reject(parse_fbref_schedule, high_xg)
    assert error.check == "range"
    assert "home_xg 12.4" in error.detail and "Almería 0–2 Rayo Vallecano" in error.detail
    many_goals = page.replace(b">0&ndash;2</a>", b">16&ndash;2</a>", 1)
    error = _reject(parse_fbref_schedule, many_goals)
    assert (error.check, "home_goals 16" in error.detail) == ("range", True)
    shot = raw(FIORENTINA_TORINO).replace(
        b'data-stat="xg_shot" >0.48</td>', b'data-stat="xg_shot" >1.48</td>', 1
    )
    error = _reject(parse_fbref_match, shot)
    assert (error.check, "Gaetano Castrovilli" in error.detail) == ("range", True)
    log = raw(LYON_SCHEDULE).replace(
        b'data-stat="xg_for" >4.6</td>', b'data-stat="xg_for" >-4.6</td>', 1
    )
    assert _reject(parse_fbref_matchlog, log).check == "range"


def test_rejects_tables_that_disagree_about_a_match() -> None:
    # Bordeaux-Nantes 2020-08-21 is "0&ndash;0" in sched_all and in the league table
    original = (
        b'<a href="/en/matches/c0996cac/Bordeaux-Nantes-August-21-2020-Ligue-1">0&ndash;0</a>'
    )
    page = raw(LIGUE1_2021)
    assert page.count(original) == 2
    changed = page.replace(original, original.replace(b"0&ndash;0", b"1&ndash;0"), 1)
    error = _reject(parse_fbref_schedule, changed)
    assert error.check == "conflicting_duplicate" and "c0996cac" in error.detail


def test_rejects_a_malformed_score() -> None:
    page = raw(LA_LIGA_2324).replace(b">0&ndash;2</a>", b">0&ndash;two</a>", 1)
    assert _reject(parse_fbref_schedule, page).check == "score_format"
