"""The Understat parsers on real recorded pages, responses and CSVs (and broken copies)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import FIXTURES, real_file

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.sources.understat import (
    GENERATION_AJAX,
    GENERATION_HTML,
    GENERATION_LEGACY_JSON,
    UNDERSTAT_LEAGUES,
    Forecast,
    UnderstatFixture,
    UnderstatMatch,
    parse_understat_league,
    parse_understat_match,
    parse_understat_shots_csv,
    understat_league_name,
    understat_page_variables,
    understat_season,
)

UNDERSTAT = FIXTURES / "understat"
SOCCERDATA_MATCHES = ("match_81.json", "match_104.json", "match_318.json", "match_460.json")
CHALLENGE_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    b'<meta http-equiv="refresh" content="390"></head><body><div id="challenge-body">'
    b"<script>window._cf_chl_opt={cvId: '3'};</script></div></body></html>"
)


def raw(name: str) -> bytes:
    return real_file("understat", name).read_bytes()


def fixture(matches: list[UnderstatFixture], match_id: int) -> UnderstatFixture:
    (found,) = [match for match in matches if match.match_id == match_id]
    return found


def rejected(call, *args, **kwargs) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        call(*args, **kwargs)
    return info.value


# ----------------------------------------------------------------------------- leagues


def test_legacy_league_page_epl_2020() -> None:
    league = parse_understat_league(raw("league_epl.html"), "league_epl.html")
    assert league.generation == GENERATION_HTML
    assert (league.understat_league, league.league, league.season) == ("EPL", "E0", "2020-2021")
    assert len(league.matches) == 380
    assert len(league.results) == 276  # crawled in March 2021: 104 matches still to play
    assert len({match.match_id for match in league.matches}) == 380
    assert len(league.teams) == 20 and league.teams[89] == "Manchester United"
    assert league.player_count == 499
    assert min(m.kickoff for m in league.matches) == dt.datetime(2020, 9, 12, 11, 30)
    assert max(m.kickoff for m in league.matches) == dt.datetime(2021, 5, 22, 19, 0)
    assert all(m.season == "2020-2021" and m.league == "E0" for m in league.matches)
    assert league.warnings == []


def test_legacy_league_values_match_the_escaped_page_text() -> None:
    # var datesData = JSON.parse('\x5B\x7B\x22id\x22\x3A\x2214086\x22,\x22isResult\x22\x3Atrue,
    # \x22h\x22\x3A\x7B\x22id\x22\x3A\x22228\x22,\x22title\x22\x3A\x22Fulham\x22,...
    # \x22a\x22\x3A\x7B\x22id\x22\x3A\x2283\x22,\x22title\x22\x3A\x22Arsenal\x22,...
    # \x22goals\x22\x3A\x7B\x22h\x22\x3A\x220\x22,\x22a\x22\x3A\x223\x22\x7D,
    # \x22xG\x22\x3A\x7B\x22h\x22\x3A\x220.126327\x22,\x22a\x22\x3A\x222.16287\x22\x7D,
    # \x22datetime\x22\x3A\x222020\x2D09\x2D12\x2011\x3A30\x3A00\x22,
    # \x22forecast\x22\x3A\x7B\x22w\x22\x3A\x220.0037\x22,\x22d\x22...\x220.0476\x22,
    # \x22l\x22...\x220.9487\x22
    league = parse_understat_league(raw("league_epl.html"), "league_epl.html")
    first = league.matches[0]
    assert first == UnderstatFixture(
        match_id=14086,
        understat_league="EPL",
        league="E0",
        season="2020-2021",
        kickoff=dt.datetime(2020, 9, 12, 11, 30),
        home_team="Fulham",
        away_team="Arsenal",
        home_team_id=228,
        away_team_id=83,
        is_result=True,
        home_goals=0,
        away_goals=3,
        home_xg=0.126327,
        away_xg=2.16287,
        forecast=Forecast(home_win=0.0037, draw=0.0476, away_win=0.9487),
    )
    assert first.kickoff.tzinfo is None  # Understat publishes no time zone


def test_unplayed_match_has_no_goals_xg_or_forecast() -> None:
    # league_ajax.json: {"id": "14814", "isResult": false, "h": {"id": "229",
    # "title": "Wolverhampton Wanderers", ...}, "a": {"id": "89", "title": "Manchester United"},
    # "goals": {"h": null, "a": null}, "xG": {"h": null, "a": null},
    # "datetime": "2021-05-22 19:00:00"}
    league = parse_understat_league(raw("league_ajax.json"), "league_ajax.json", league="EPL")
    last = fixture(league.matches, 14814)
    assert (last.home_team, last.away_team) == ("Wolverhampton Wanderers", "Manchester United")
    assert (last.home_team_id, last.away_team_id) == (229, 89)
    assert last.is_result is False
    assert (last.home_goals, last.away_goals, last.home_xg, last.away_xg) == (None,) * 4
    assert last.forecast is None
    assert last.kickoff == dt.datetime(2021, 5, 22, 19, 0)


def test_the_three_league_generations_give_the_same_records() -> None:
    html = parse_understat_league(raw("league_epl.html"), "league_epl.html")
    ajax = parse_understat_league(
        raw("league_ajax.json"), "league_ajax.json", league="EPL", season=2020
    )
    bare = parse_understat_league(
        raw("league_datesdata.json"), "league_datesdata.json", league="E0", season="2020-2021"
    )
    assert (ajax.generation, bare.generation) == (GENERATION_AJAX, GENERATION_LEGACY_JSON)
    assert ajax.matches == html.matches
    assert bare.matches == html.matches
    assert ajax.teams == html.teams and ajax.player_count == html.player_count == 499
    assert bare.teams == {} and bare.player_count is None
    assert ajax.warnings == [] and bare.warnings == []


def test_a_json_response_without_league_or_season_infers_the_season_only() -> None:
    ajax = parse_understat_league(raw("league_ajax.json"), "league_ajax.json")
    assert (ajax.understat_league, ajax.league, ajax.season) == (None, None, "2020-2021")
    assert ajax.warnings == [
        "season 2020-2021 inferred from the first kick-off (2020-09-12); "
        "the source does not name it"
    ]
    assert {m.league for m in ajax.matches} == {None}


@pytest.mark.parametrize(
    ("name", "kwargs", "check"),
    [
        ("league_epl.html", {"season": 2019}, "season_mismatch"),
        ("league_epl.html", {"season": "2021-2022"}, "season_mismatch"),
        ("league_epl.html", {"league": "La_liga"}, "league_mismatch"),
        ("league_epl.html", {"league": "SP1"}, "league_mismatch"),
        ("league_ajax.json", {"season": "2019-20"}, "season_mismatch"),
    ],
)
def test_requested_league_and_season_are_checked(name: str, kwargs: dict, check: str) -> None:
    assert rejected(parse_understat_league, raw(name), name, **kwargs).check == check


def test_matching_arguments_are_accepted() -> None:
    league = parse_understat_league(
        raw("league_epl.html"), "league_epl.html", league="E0", season="2020-21"
    )
    assert (league.understat_league, league.season) == ("EPL", "2020-2021")


def test_soccerdata_cache_epl_2015_16() -> None:
    # {"datesData": [{"id": "81", "isResult": true, "h": {"id": "89", "title":
    # "Manchester United", ...}, "a": {"id": "82", "title": "Tottenham", ...},
    # "goals": {"h": "1", "a": "0"}, "xG": {"h": "0.627539", "a": "0.6746"},
    # "datetime": "2015-08-08 15:45:00", "forecast": {"w": "0.2859", "d": "0.3905", "l": "0.3236"}}
    league = parse_understat_league(
        raw("league_1_season_2015.json"), "league_1_season_2015.json", league="EPL", season=2015
    )
    assert league.generation == GENERATION_LEGACY_JSON
    assert len(league.matches) == 380 and len(league.results) == 380
    assert {m.match_id for m in league.matches} == set(range(81, 461))
    assert len(league.teams) == 20 and league.player_count == 550
    first = fixture(league.matches, 81)
    assert (first.home_team, first.away_team, first.home_goals, first.away_goals) == (
        "Manchester United",
        "Tottenham",
        1,
        0,
    )
    assert (first.home_xg, first.away_xg) == (0.627539, 0.6746)
    # a 12:45 UK kick-off published as 15:45: the offset is not UTC nor UK time
    assert first.kickoff == dt.datetime(2015, 8, 8, 15, 45)
    assert first.forecast == Forecast(0.2859, 0.3905, 0.3236)


# ----------------------------------------------------------------------------- matches


def test_legacy_match_page_14717() -> None:
    # match_info = JSON.parse('\x7B\x22id\x22\x3A\x2214717\x22,\x22fid\x22\x3A\x221485433\x22,
    # \x22h\x22\x3A\x2278\x22,\x22a\x22\x3A\x2289\x22,\x22date\x22\x3A\x222021\x2D03\x2D03\x2020
    # \x3A15\x3A00\x22,...\x22season\x22\x3A\x222020\x22,\x22h_goals\x22\x3A\x220\x22,
    # \x22a_goals\x22\x3A\x220\x22,\x22team_h\x22\x3A\x22Crystal\x20Palace\x22,\x22team_a\x22
    # \x3A\x22Manchester\x20United\x22,\x22h_xg\x22\x3A\x220.742397\x22,\x22a_xg\x22\x3A
    # \x220.584016\x22,\x22h_w\x22\x3A\x220.3773\x22,\x22h_d\x22\x3A\x220.3779\x22,\x22h_l\x22
    # \x3A\x220.2448\x22,\x22league\x22\x3A\x22EPL\x22,\x22h_shot\x22\x3A\x228\x22,\x22a_shot
    # \x22\x3A\x2211\x22,...
    match = parse_understat_match(raw("match.html"), "match.html")
    info = match.match_info
    assert match.generation == GENERATION_HTML
    assert (info.match_id, info.understat_league, info.league, info.season) == (
        14717,
        "EPL",
        "E0",
        "2020-2021",
    )
    assert info.kickoff == dt.datetime(2021, 3, 3, 20, 15)
    assert (info.home_team, info.away_team) == ("Crystal Palace", "Manchester United")
    assert (info.home_team_id, info.away_team_id) == (78, 89)
    assert (info.home_goals, info.away_goals) == (0, 0)
    assert (info.home_xg, info.away_xg) == (0.742397, 0.584016)
    assert info.forecast == Forecast(0.3773, 0.3779, 0.2448)
    assert (info.home_shots, info.away_shots) == (8, 11)
    assert (info.home_shots_on_target, info.away_shots_on_target) == (2, 1)
    assert len(match.shots) == 19
    assert [s.side for s in match.shots] == ["h"] * 8 + ["a"] * 11
    assert {s.match_id for s in match.shots} == {14717}
    assert match.warnings == []


def test_first_shot_matches_the_escaped_page_text() -> None:
    # var shotsData = JSON.parse('\x7B\x22h\x22\x3A\x5B\x7B\x22id\x22\x3A\x22408200\x22,
    # \x22minute\x22\x3A\x226\x22,\x22result\x22\x3A\x22MissedShots\x22,\x22X\x22\x3A
    # \x220.8830000305175781\x22,\x22Y\x22\x3A\x220.5579999923706055\x22,\x22xG\x22\x3A
    # \x220.08583834767341614\x22,\x22player\x22\x3A\x22Christian\x20Benteke\x22,\x22h_a\x22
    # \x3A\x22h\x22,\x22player_id\x22\x3A\x22606\x22,\x22situation\x22\x3A\x22OpenPlay\x22,...
    # \x22shotType\x22\x3A\x22RightFoot\x22,...\x22player_assisted\x22\x3A\x22Andros\x20
    # Townsend\x22,\x22lastAction\x22\x3A\x22Cross\x22\x7D
    shot = parse_understat_match(raw("match.html"), "match.html").shots[0]
    assert shot.shot_id == 408200 and shot.match_id == 14717
    assert shot.minute == 6
    assert (shot.x, shot.y, shot.xg) == (
        0.8830000305175781,
        0.5579999923706055,
        0.08583834767341614,
    )
    assert (shot.result, shot.situation, shot.shot_type) == ("MissedShots", "OpenPlay", "RightFoot")
    assert (shot.player, shot.player_id, shot.assist) == (
        "Christian Benteke",
        606,
        "Andros Townsend",
    )
    assert (shot.side, shot.team, shot.last_action) == ("h", "Crystal Palace", "Cross")


def test_both_match_generations_give_the_same_records() -> None:
    html = parse_understat_match(raw("match.html"), "match.html")
    ajax = parse_understat_match(raw("match_ajax.json"), "match_ajax.json")
    assert ajax.generation == GENERATION_AJAX
    assert ajax.match_info == html.match_info
    assert ajax.shots == html.shots


def test_match_xg_is_not_always_the_sum_of_shot_xg() -> None:
    match = parse_understat_match(raw("match.html"), "match.html")
    assert match.xg_sum("h") == pytest.approx(0.742397, abs=1e-6)  # published 0.742397
    assert match.xg_sum("a") == pytest.approx(0.58753, abs=1e-5)  # published 0.584016


def test_page_variables_decode_to_the_published_decoded_json() -> None:
    variables = understat_page_variables(raw("match.html"), "match.html")
    assert variables["shotsData"] == json.loads(raw("match_shotsdata.json"))
    assert variables["match_info"] == json.loads(raw("match_matchinfo.json"))
    # ...\x22player\x22\x3A\x22Cheikhou\x20Kouyat\x5Cu00e9\x22...  (escaped twice)
    roster = [p["player"] for side in ("h", "a") for p in variables["rostersData"][side].values()]
    assert "Cheikhou Kouyaté" in roster
    league = understat_page_variables(raw("league_epl.html"), "league_epl.html")
    assert league["datesData"] == json.loads(raw("league_datesdata.json"))
    # \x22player_name\x22\x3A\x22Sadio\x20Man\x5Cu00e9\x22
    assert "Sadio Mané" in {p["player_name"] for p in league["playersData"]}


def test_every_javascript_escape_form_is_decoded() -> None:
    # Built by hand (not a recorded page): a JS-level \u00e9, an escaped quote \' and a
    # JSON-level escaped double quote written as \x5C\x22, beside the usual \xNN forms.
    page = (
        rb"<html><title>Understat</title><script>var teamsData = JSON.parse('\x7B\x2271\x22"
        rb"\x3A\x7B\x22title\x22\x3A\x22Man\u00e9 O\'Neil \x5C\x22Jr\x5C\x22\x22\x7D\x7D');"
        rb"</script></html>"
    )
    variables = understat_page_variables(page, "hand-made")
    assert variables == {"teamsData": {"71": {"title": 'Mané O\'Neil "Jr"'}}}


@pytest.mark.parametrize("file_name", SOCCERDATA_MATCHES)
def test_soccerdata_match_files_agree_with_their_league(file_name: str) -> None:
    league = parse_understat_league(
        raw("league_1_season_2015.json"), "league", league="EPL", season=2015
    )
    match = parse_understat_match(raw(f"EPL_2015_matches/{file_name}"), file_name)
    info = match.match_info
    listed = fixture(league.matches, info.match_id)
    assert match.generation == GENERATION_LEGACY_JSON
    assert (info.home_team, info.away_team, info.home_team_id, info.away_team_id) == (
        listed.home_team,
        listed.away_team,
        listed.home_team_id,
        listed.away_team_id,
    )
    assert (info.home_goals, info.away_goals, info.home_xg, info.away_xg) == (
        listed.home_goals,
        listed.away_goals,
        listed.home_xg,
        listed.away_xg,
    )
    assert (info.kickoff, info.forecast, info.season) == (
        listed.kickoff,
        listed.forecast,
        "2015-2016",
    )
    assert len(match.shots) == {81: 19, 104: 28, 318: 35, 460: 20}[info.match_id]
    assert match.warnings == []  # goals counted from the shots equal the score


def test_own_goal_is_listed_under_the_scorers_side_and_counts_for_the_other() -> None:
    # match_104.json: Crystal Palace 2-1 Aston Villa; shotsData.h holds
    # {"id": "56508", "minute": "76", "result": "OwnGoal", "xG": "0",
    #  "player": "Pape Souar\u00e9", "h_a": "h", ..., "lastAction": "Challenge"}
    match = parse_understat_match(raw("EPL_2015_matches/match_104.json"), "match_104.json")
    (own_goal,) = [s for s in match.shots if s.result == "OwnGoal"]
    assert (own_goal.shot_id, own_goal.side, own_goal.team) == (56508, "h", "Crystal Palace")
    assert (own_goal.player, own_goal.xg, own_goal.minute) == ("Pape Souaré", 0.0, 76)
    home_goals = sum(1 for s in match.shots if s.side == "h" and s.result == "Goal")
    assert (home_goals, match.match_info.home_goals, match.match_info.away_goals) == (2, 2, 1)


def test_largest_xg_gap_and_a_midnight_timestamp() -> None:
    # match_318.json: {"id": "318", "date": "2016-02-03 00:00:00", "team_h":
    # "West Bromwich Albion", "team_a": "Swansea", "h_xg": "2.30645", "a_xg": "1.17928", ...}
    # (a 19:45 UK Tuesday-evening game, published as midnight of the next day)
    match = parse_understat_match(raw("EPL_2015_matches/match_318.json"), "match_318.json")
    assert match.match_info.kickoff == dt.datetime(2016, 2, 3, 0, 0)
    assert match.match_info.home_xg == 2.30645
    assert match.xg_sum("h") == pytest.approx(2.87943, abs=1e-5)


# --------------------------------------------------------------------------- shot CSVs


def test_whole_csv_epl_2021_22_partial_season() -> None:
    # 446993.0,4.0,BlockedShot,0.764000015258789,0.705,0.017585139721632,Ashley Young,h,631.0,
    # OpenPlay,2021.0,LeftFoot,16516.0,Aston Villa,Leicester,2.0,1.0,2021-12-05 16:30:00,
    # Ollie Watkins,Pass
    parsed = parse_understat_shots_csv(raw("shots_epl_21-22.csv"), "shots_epl_21-22.csv")
    assert (parsed.season, parsed.encoding, parsed.league) == ("2021-2022", "utf-8-sig", None)
    assert len(parsed.shots) == 4088
    assert len(parsed.matches) == 158
    assert parsed.matches[0].kickoff == dt.datetime(2021, 8, 13, 19, 0)
    assert parsed.matches[-1].kickoff == dt.datetime(2021, 12, 12, 16, 30)
    first = parsed.shots[0]
    assert (first.shot_id, first.minute, first.match_id, first.player_id) == (446993, 4, 16516, 631)
    assert (first.x, first.y, first.xg) == (0.764000015258789, 0.705, 0.017585139721632)
    assert (first.player, first.assist, first.side, first.team) == (
        "Ashley Young",
        "Ollie Watkins",
        "h",
        "Aston Villa",
    )
    villa = next(m for m in parsed.matches if m.match_id == 16516)
    assert (villa.home_team, villa.away_team, villa.home_goals, villa.away_goals) == (
        "Aston Villa",
        "Leicester",
        2,
        1,
    )
    assert sum(m.home_shots + m.away_shots for m in parsed.matches) == 4088
    assert parsed.warnings == []


def test_html_escaped_and_plain_names_come_out_the_same() -> None:
    # line 1017: 442268.0,...,N'Golo Kanté,a,751.0,...
    # line 1298: 441061.0,...,Ross Barkley,h,592.0,...,N&#039;Golo Kanté,Pass
    parsed = parse_understat_shots_csv(raw("shots_epl_21-22.csv"), "shots_epl_21-22.csv")
    by_id = {shot.shot_id: shot for shot in parsed.shots}
    assert by_id[442268].player == "N'Golo Kanté"
    assert by_id[441061].assist == "N'Golo Kanté"


def test_a_side_without_shots_still_gives_a_match_with_zero_xg() -> None:
    # Bournemouth 0-1 Manchester City, 2 March 2019: 23 shots, all by City
    # 276234.0,4.0,BlockedShot,...,Sergio Agüero,a,619.0,SetPiece,2018.0,RightFoot,9486.0,
    # Bournemouth,Manchester City,0.0,1.0,2019-03-02 15:00:00,,None
    parsed = parse_understat_shots_csv(
        raw("shots_epl_18-19_match_9486.csv"), "shots_epl_18-19.csv", league="EPL"
    )
    assert (parsed.season, parsed.understat_league, parsed.league) == ("2018-2019", "EPL", "E0")
    (match,) = parsed.matches
    assert (match.match_id, match.home_team, match.away_team) == (
        9486,
        "Bournemouth",
        "Manchester City",
    )
    assert (match.home_goals, match.away_goals) == (0, 1)
    assert (match.home_shots, match.away_shots) == (0, 23)
    assert match.home_xg_sum == 0.0
    assert match.away_xg_sum == pytest.approx(1.6499028, abs=1e-6)
    first = parsed.shots[0]
    assert (first.assist, first.last_action) == (None, None)  # empty, and "None"


def test_csv_shots_equal_the_match_page_shots() -> None:
    parsed = parse_understat_shots_csv(
        raw("shots_epl_20-21_matches_14086_14717.csv"), "shots_epl_20-21.csv"
    )
    page = parse_understat_match(raw("match.html"), "match.html")
    from_csv = sorted(
        (s for s in parsed.shots if s.match_id == 14717), key=lambda shot: shot.shot_id
    )
    from_page = sorted(page.shots, key=lambda shot: shot.shot_id)
    assert len(from_csv) == len(from_page) == 19
    for csv_shot, page_shot in zip(from_csv, from_page, strict=True):
        # pandas printed floats with one digit fewer: 0.0858383476734161 vs 0.08583834767341614
        assert (csv_shot.xg, csv_shot.x, csv_shot.y) == pytest.approx(
            (page_shot.xg, page_shot.x, page_shot.y), abs=1e-15
        )
        assert (csv_shot.shot_id, csv_shot.minute, csv_shot.side) == (
            page_shot.shot_id,
            page_shot.minute,
            page_shot.side,
        )
        assert (csv_shot.player, csv_shot.assist, csv_shot.result, csv_shot.team) == (
            page_shot.player,
            page_shot.assist,
            page_shot.result,
            page_shot.team,
        )


def test_csv_xg_sum_differs_from_the_published_match_xg() -> None:
    # Fulham 0-3 Arsenal: the league page publishes xG 0.126327 - 2.16287
    parsed = parse_understat_shots_csv(
        raw("shots_epl_20-21_matches_14086_14717.csv"), "shots_epl_20-21.csv"
    )
    fulham = next(m for m in parsed.matches if m.match_id == 14086)
    assert (fulham.home_shots, fulham.away_shots) == (5, 13)
    assert fulham.home_xg_sum == pytest.approx(0.126327, abs=1e-6)
    assert fulham.away_xg_sum == pytest.approx(2.71989, abs=1e-5)


def test_csv_agrees_with_the_soccerdata_match_files() -> None:
    parsed = parse_understat_shots_csv(
        raw("shots_epl_15-16_matches_81_104_318_460.csv"), "shots_epl_15-16.csv"
    )
    assert [(m.match_id, m.home_shots + m.away_shots) for m in parsed.matches] == [
        (81, 19),
        (104, 28),
        (318, 35),
        (460, 20),
    ]
    for file_name in SOCCERDATA_MATCHES:
        match: UnderstatMatch = parse_understat_match(
            raw(f"EPL_2015_matches/{file_name}"), file_name
        )
        match_id = match.match_info.match_id
        derived = next(m for m in parsed.matches if m.match_id == match_id)
        assert derived.home_xg_sum == pytest.approx(match.xg_sum("h"), abs=1e-5)
        assert derived.away_xg_sum == pytest.approx(match.xg_sum("a"), abs=1e-5)
        assert (derived.home_goals, derived.away_goals) == (
            match.match_info.home_goals,
            match.match_info.away_goals,
        )

        def key(shot):
            return (shot.side, shot.minute, shot.player, shot.result, shot.situation, shot.assist)

        csv_shots = sorted((s for s in parsed.shots if s.match_id == match_id), key=key)
        assert [key(s) for s in csv_shots] == sorted(key(s) for s in match.shots)
        same_ids = {s.shot_id for s in csv_shots} == {s.shot_id for s in match.shots}
        assert same_ids is (match_id != 81)  # match 81's shots were renumbered between crawls


# ---------------------------------------------------------------------------- bad input


def _drop_key(name: str, key: str) -> bytes:
    data = json.loads(raw(name))
    del data[key]
    return json.dumps(data).encode()


def _cut_inside(name: str, marker: bytes) -> bytes:
    """The file cut 2,000 bytes after ``marker`` (inside that variable's string)."""
    content = raw(name)
    return content[: content.index(marker) + 2000]


def _drop_line(name: str, marker: bytes) -> bytes:
    lines = raw(name).split(b"\n")
    kept = [line for line in lines if marker not in line]
    assert len(kept) == len(lines) - 1
    return b"\n".join(kept)


@pytest.mark.parametrize(
    ("parser", "content", "check"),
    [
        # truncated downloads
        pytest.param(
            parse_understat_league,
            lambda: raw("league_ajax.json")[:400_000],
            "json",
            id="ajax-league-truncated",
        ),
        pytest.param(
            parse_understat_match,
            lambda: raw("match_ajax.json")[:-10],
            "json",
            id="ajax-match-truncated",
        ),
        pytest.param(
            parse_understat_league,
            lambda: _cut_inside("league_epl.html", b"var datesData"),
            "json",
            id="html-league-cut-in-datesData",
        ),
        pytest.param(
            parse_understat_match,
            lambda: _cut_inside("match.html", b"var shotsData"),
            "json",
            id="html-match-cut-in-shotsData",
        ),
        # a page of one generation with its required key missing
        pytest.param(
            parse_understat_league,
            lambda: _drop_key("league_ajax.json", "dates"),
            "missing_key",
            id="ajax-league-without-dates",
        ),
        pytest.param(
            parse_understat_match,
            lambda: _drop_key("match_ajax.json", "tmpl"),
            "missing_key",
            id="ajax-match-without-tmpl",
        ),
        pytest.param(
            parse_understat_match,
            lambda: _drop_key("match_ajax.json", "shots"),
            "missing_key",
            id="ajax-match-without-shots",
        ),
        pytest.param(
            parse_understat_league,
            lambda: _drop_line("league_epl.html", b"var datesData"),
            "missing_key",
            id="html-league-without-datesData",
        ),
        pytest.param(
            parse_understat_match,
            lambda: _drop_line("match.html", b"match_info = JSON"),
            "missing_key",
            id="html-match-without-match_info",
        ),
        pytest.param(
            parse_understat_match,
            lambda: raw("minimal.html"),
            "missing_key",
            id="html-shell-page-without-data",
        ),  # shell page, no data
        pytest.param(
            parse_understat_match,
            lambda: raw("match_shotsdata.json"),
            "missing_key",
            id="bare-shotsData-variable",
        ),  # bare variable
        # empty
        pytest.param(parse_understat_league, lambda: b"", "empty", id="league-empty"),
        pytest.param(parse_understat_match, lambda: b" \n\n", "empty", id="match-blank"),
        pytest.param(parse_understat_shots_csv, lambda: b"", "empty", id="shots_csv-empty"),
        pytest.param(
            parse_understat_league,
            lambda: b'{"dates": [], "teams": {}, "players": []}',
            "empty",
            id="ajax-league-no-matches",
        ),
        # block pages
        pytest.param(
            parse_understat_league, lambda: CHALLENGE_PAGE, "blocked", id="league-blocked"
        ),
        pytest.param(parse_understat_match, lambda: CHALLENGE_PAGE, "blocked", id="match-blocked"),
        pytest.param(
            parse_understat_shots_csv, lambda: CHALLENGE_PAGE, "blocked", id="shots_csv-blocked"
        ),
        # the wrong kind of page
        pytest.param(
            parse_understat_match,
            lambda: raw("league_epl.html"),
            "wrong_page",
            id="league-page-as-match",
        ),
        pytest.param(
            parse_understat_league,
            lambda: raw("match_ajax.json"),
            "wrong_page",
            id="match-response-as-league",
        ),
        pytest.param(
            parse_understat_league,
            lambda: raw("team_ajax.json"),
            "wrong_page",
            id="team-response-as-league",
        ),
        pytest.param(
            parse_understat_league,
            lambda: raw("shots_epl_18-19_match_9486.csv"),
            "not_understat",
            id="csv-as-league",
        ),
        pytest.param(
            parse_understat_match,
            lambda: b"<html><title>Example Domain</title></html>",
            "not_understat",
            id="foreign-html-page",
        ),
        pytest.param(
            parse_understat_shots_csv, lambda: raw("match.html"), "not_csv", id="html-page-as-csv"
        ),
    ],
)
def test_bad_input_is_rejected_with_a_named_check(parser, content, check: str) -> None:
    error = rejected(parser, content(), "bad-input")
    assert error.check == check, error
    assert error.name == "bad-input"


def _ajax_match_with_first_home_shot(**changes: str) -> bytes:
    data = json.loads(raw("match_ajax.json"))
    data["shots"]["h"][0].update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"X": "1.2"}, "X=1.2 outside [0, 1]"),
        ({"Y": "-0.01"}, "Y=-0.01 outside [0, 1]"),
        ({"xG": "1.5"}, "xG=1.5 outside [0, 1]"),
        ({"minute": "131"}, "minute 131 outside 0..130"),
    ],
)
def test_shots_out_of_range_are_rejected_naming_the_shot(changes: dict, problem: str) -> None:
    error = rejected(parse_understat_match, _ajax_match_with_first_home_shot(**changes), "m")
    assert error.check == "shot_range"
    assert "shot 408200" in error.detail and "Christian Benteke" in error.detail
    assert problem in error.detail


def test_shot_inconsistencies_in_a_match_are_rejected() -> None:
    wrong_side = _ajax_match_with_first_home_shot(h_a="a")
    assert rejected(parse_understat_match, wrong_side, "m").check == "side"
    other_match = _ajax_match_with_first_home_shot(match_id="14718")
    assert rejected(parse_understat_match, other_match, "m").check == "match_id"
    not_a_number = _ajax_match_with_first_home_shot(xG="n/a")
    error = rejected(parse_understat_match, not_a_number, "m")
    assert (error.check, error.detail) == ("values", "shots.h[0] xG: 'n/a' is not a number")
    data = json.loads(raw("match_ajax.json"))
    data["shots"]["a"].append(data["shots"]["a"][0])
    assert rejected(parse_understat_match, json.dumps(data).encode(), "m").check == (
        "duplicate_shot"
    )


def _csv_with_line(number: int, old: bytes, new: bytes) -> bytes:
    lines = raw("shots_epl_18-19_match_9486.csv").split(b"\n")
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    return b"\n".join(lines)


def test_csv_shot_out_of_range_names_the_line() -> None:
    # line 2: 276234.0,4.0,BlockedShot,0.8219999694824218,...
    error = rejected(
        parse_understat_shots_csv, _csv_with_line(2, b",0.8219999694824218,", b",1.8,"), "c.csv"
    )
    assert error.check == "shot_range"
    assert "line 2 (shot 276234, minute 4, Sergio Agüero): X=1.8 outside [0, 1]" in error.detail


def test_csv_structural_problems_are_rejected() -> None:
    content = raw("shots_epl_18-19_match_9486.csv")
    inconsistent = _csv_with_line(3, b",0.0,1.0,2019-03-02", b",0.0,2.0,2019-03-02")
    assert rejected(parse_understat_shots_csv, inconsistent, "c").check == "inconsistent_match"
    assert rejected(parse_understat_shots_csv, content[:-40], "c").check == "truncated"
    no_xg = content.replace(b",xG,", b",xg_value,", 1)
    error = rejected(parse_understat_shots_csv, no_xg, "c")
    assert error.check == "mandatory_columns" and "missing column(s) xG" in error.detail
    header_only = content.split(b"\n")[0] + b"\n"
    assert rejected(parse_understat_shots_csv, header_only, "c").check == "empty"
    minute_text = _csv_with_line(2, b",4.0,BlockedShot,", b",4.5,BlockedShot,")
    error = rejected(parse_understat_shots_csv, minute_text, "c")
    assert (error.check, error.detail) == ("values", "line 2 minute: '4.5' is not a whole number")


# ------------------------------------------------------------------------------ mapping


def test_league_and_season_names() -> None:
    assert UNDERSTAT_LEAGUES == {
        "EPL": "E0",
        "La_liga": "SP1",
        "Bundesliga": "D1",
        "Serie_A": "I1",
        "Ligue_1": "F1",
        "RFPL": None,
    }
    assert understat_league_name("La liga") == "La_liga"
    assert understat_league_name("serie_a") == "Serie_A"
    assert understat_league_name("F1") == "Ligue_1"
    with pytest.raises(KeyError):
        understat_league_name("Eredivisie")
    assert understat_season(2020) == "2020-2021"
    assert understat_season("2014.0") == "2014-2015"
    with pytest.raises(ValueError):
        understat_season("2020-2021")
