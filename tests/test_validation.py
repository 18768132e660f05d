"""great-expectations contracts on parsed football-data files."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from conftest import SAMPLE_DIR, real_file

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.sources.football_data import parse_football_data
from sabiscore_ml.validation import validate_football_data

E0_2324 = (SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes()
# E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,C Pawson,...
FIRST_ROW = b"E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,"


def parsed(raw: bytes):
    return parse_football_data(raw, "e0.csv", today=dt.date(2026, 1, 1))


def test_real_file_passes() -> None:
    validate_football_data(parsed(E0_2324))


def test_goals_out_of_range_fail_the_suite_naming_file_and_expectation() -> None:
    assert FIRST_ROW in E0_2324
    bad = E0_2324.replace(FIRST_ROW, FIRST_ROW.replace(b",0,3,A,0,2,", b",0,31,A,0,2,"))
    with pytest.raises(RejectedFile) as info:
        validate_football_data(parsed(bad))
    error = info.value
    assert error.check == "expectation"
    assert "e0.csv" in str(error)
    assert "ExpectColumnValuesToBeBetween(away_goals)" in error.detail
    assert "31" in error.detail


def test_handicap_line_typo_is_dropped_by_the_parser() -> None:
    lines = E0_2324.split(b"\r\n")
    header = lines[0].split(b",")
    cells = lines[1].split(b",")
    column = header.index(b"AHh")
    assert cells[column] == b"1.5"
    cells[column] = b"150"  # the kind of typo seen in real files (-225 for -2.25)
    lines[1] = b",".join(cells)
    result = parsed(b"\r\n".join(lines))
    pre_closing_lines = {
        q.line for q in result.matches[0].odds if q.market == "ah" and q.timing == "preclose"
    }
    assert pre_closing_lines == set()
    assert any("handicap 150" in w for w in result.warnings)
    validate_football_data(result)


def test_source_fixture_outside_the_season_window_fails() -> None:
    from sabiscore_ml.validation import validate_source_records
    from sabiscore_ml.warehouse.source_loaders import SourceFixture

    good = SourceFixture("1", dt.date(2020, 9, 12), "Fulham", "Arsenal", "played", 0, 3, 0.13, 2.16)
    validate_source_records([good], [], season="2020-2021", name="u.json")
    late = SourceFixture("2", dt.date(2022, 1, 1), "Fulham", "Arsenal", "played", 0, 3, 0.1, 2.1)
    with pytest.raises(RejectedFile) as info:
        validate_source_records([good, late], [], season="2020-2021", name="u.json")
    assert info.value.check == "expectation"
    assert "days_into_season" in info.value.detail


def test_shot_coordinates_outside_the_pitch_fail() -> None:
    from sabiscore_ml.validation import validate_source_records

    shot = {"source_shot_id": "9", "x": 1.8, "y": 0.5, "xg": 0.1, "minute": 4, "side": "h"}
    with pytest.raises(RejectedFile) as info:
        validate_source_records([], [shot], season="2020-2021", name="s.csv")
    assert "ExpectColumnValuesToBeBetween(x)" in info.value.detail


def test_negative_squad_value_fails() -> None:
    from sabiscore_ml.validation import validate_squad_values

    rows = [("Arsenal", dt.date(2020, 8, 1), 619_250_000.0, None)]
    validate_squad_values(rows, name="v.csv")
    with pytest.raises(RejectedFile, match="market_value_eur"):
        validate_squad_values([*rows, ("Fulham", dt.date(2020, 8, 1), -5.0, None)], name="v.csv")


# ------------------------------------------------------------ matches of a league-season


def without_last_rows(raw: bytes, count: int) -> bytes:
    """The file with its last ``count`` match rows removed (line endings kept)."""
    ending = b"\r\n" if b"\r\n" in raw else b"\n"
    lines = raw.rstrip(ending).split(ending)
    return ending.join(lines[:-count]) + ending


def test_complete_season_counts_follow_the_league_format() -> None:
    from sabiscore_ml.season_counts import complete_season_matches

    assert complete_season_matches("E0", "2023-2024", 20)[0] == 380
    assert complete_season_matches("E1", "2023-2024", 24)[0] == 552
    assert complete_season_matches("D1", "2000-2001", 18)[0] == 306
    # Scotland: four meetings of 10 clubs; the 12-club top flight splits after 33 rounds
    assert complete_season_matches("SC1", "2005-2006", 10)[0] == 180
    assert complete_season_matches("SC0", "1998-1999", 10)[0] == 180
    assert complete_season_matches("SC0", "2010-2011", 12)[0] == 228


def test_finished_season_short_of_matches_fails_with_the_expected_count() -> None:
    short = without_last_rows(E0_2324, 2)
    with pytest.raises(RejectedFile) as info:
        validate_football_data(parsed(short), as_of=dt.date(2025, 1, 1))
    detail = info.value.detail
    assert info.value.check == "expectation" and "e0.csv" in str(info.value)
    assert "ExpectTableRowCountToBeBetween(matches of the league-season)" in detail
    assert "observed 378" in detail and "380 expected (20 clubs" in detail
    # the clubs whose last match is missing come first among the fewest matches
    assert "fewest matches per club:" in detail and " 37" in detail


def test_season_in_progress_may_be_short_but_not_longer() -> None:
    short = without_last_rows(E0_2324, 2)
    validate_football_data(parsed(short), as_of=dt.date(2024, 5, 1))
    validate_football_data(parsed(E0_2324), as_of=dt.date(2024, 5, 20))


def test_reviewed_exception_accepts_its_count_only() -> None:
    # A real mid-season download (173 matches, 2020-21 finished long ago): listed.
    partial = real_file("football-data", "EC_2020-2021_partial.csv").read_bytes()
    validate_football_data(parsed(partial))
    # One match fewer is not the reviewed file any more.
    with pytest.raises(RejectedFile) as info:
        validate_football_data(parsed(without_last_rows(partial, 1)))
    assert "observed 172" in info.value.detail and "506 expected (23 clubs" in info.value.detail


def test_covid_curtailed_season_is_a_reviewed_exception() -> None:
    from sabiscore_ml.season_counts import exception_reason

    f1 = parsed((SAMPLE_DIR / "F1" / "2019-2020_reserialized.csv").read_bytes())
    assert len(f1.matches) == 279
    assert "COVID-19" in (exception_reason("football-data", "F1", "2019-2020", 279) or "")
    validate_football_data(f1)


def understat_fixtures(path) -> tuple[str, list]:
    from sabiscore_ml.sources.understat import parse_understat_league
    from sabiscore_ml.warehouse.source_loaders import SourceFixture

    page = parse_understat_league(path.read_bytes(), str(path))
    return page.season, [
        SourceFixture(
            str(m.match_id),
            m.kickoff.date(),
            m.home_team,
            m.away_team,
            "played" if m.is_result else "scheduled",
            m.home_goals,
            m.away_goals,
            m.home_xg if m.is_result else None,
            m.away_xg if m.is_result else None,
        )
        for m in page.matches
    ]


def test_understat_league_page_lists_the_whole_season() -> None:
    from sabiscore_ml.validation import validate_source_records

    season, fixtures = understat_fixtures(real_file("understat", "league_epl.html"))
    assert (season, len(fixtures)) == ("2020-2021", 380)
    page = {"season": season, "name": "league_epl.html", "source": "understat", "league": "E0"}
    validate_source_records(fixtures, [], **page, whole_season=True)
    with pytest.raises(RejectedFile) as info:
        validate_source_records(fixtures[:-1], [], **page, whole_season=True)
    assert "ExpectTableRowCountToBeBetween(matches of the league-season)" in info.value.detail
    assert "observed 379" in info.value.detail
    # a page taken during the season, or a file of some matches only, may be short
    validate_source_records(fixtures[:-1], [], **page, whole_season=True, as_of=dt.date(2021, 3, 1))
    validate_source_records(fixtures[:-1], [], **page)


# ------------------------------------------------- failing rows named in the file's terms


def test_a_failed_expectation_names_the_line_the_column_and_the_value() -> None:
    bad = E0_2324.replace(FIRST_ROW, FIRST_ROW.replace(b",0,3,A,0,2,", b",0,31,A,0,2,"))
    with pytest.raises(RejectedFile) as info:
        validate_football_data(parsed(bad))
    # the first match row is line 2 (the header is line 1); FTAG is the file's column
    assert "ExpectColumnValuesToBeBetween(away_goals) failed: 1 unexpected: line 2: FTAG 31" in (
        info.value.detail
    )


def test_an_odds_row_is_named_by_line_bookmaker_market_and_outcome() -> None:
    # the parser drops such prices; the suite is the backstop for any record that has one
    result = parsed(E0_2324)
    first = result.matches[0]
    quote = first.odds[0]
    assert (quote.bookmaker, quote.timing, quote.market, quote.outcome) == (
        "b365",
        "preclose",
        "1x2",
        "home",
    )
    bad = dataclasses.replace(first, odds=(quote._replace(price=0.9), *first.odds[1:]))
    with pytest.raises(RejectedFile) as info:
        validate_football_data(dataclasses.replace(result, matches=[bad, *result.matches[1:]]))
    assert "ExpectColumnValuesToBeBetween(price) failed: 1 unexpected: " in info.value.detail
    assert "line 2 (b365 preclose 1x2 home): price 0.9" in info.value.detail


def test_a_source_date_outside_its_season_is_named_by_match_id_and_date() -> None:
    from sabiscore_ml.validation import validate_source_records
    from sabiscore_ml.warehouse.source_loaders import SourceFixture

    good = SourceFixture("1", dt.date(2020, 9, 12), "Fulham", "Arsenal", "played", 0, 3, 0.13, 2.16)
    late = SourceFixture("2", dt.date(2099, 1, 1), "Fulham", "Arsenal", "played", 0, 3, 0.1, 2.1)
    with pytest.raises(RejectedFile) as info:
        validate_source_records([good, late], [], season="2020-2021", name="u.json")
    detail = info.value.detail
    assert "ExpectColumnValuesToBeBetween(days_into_season) failed: 1 unexpected: match 2: " in (
        detail
    )
    assert "match 2: date 2099-01-01" in detail and "28957" not in detail
    assert "season 2020-2021 holds matches from 2020-06-01 to 2021-08-31" in detail


def test_a_shot_is_named_by_its_id() -> None:
    from sabiscore_ml.validation import validate_source_records

    shot = {"source_shot_id": "9", "x": 1.8, "y": 0.5, "xg": 0.1, "minute": 4, "side": "h"}
    with pytest.raises(RejectedFile) as info:
        validate_source_records([], [shot], season="2020-2021", name="s.csv")
    assert "ExpectColumnValuesToBeBetween(x) failed: 1 unexpected: shot 9: x 1.8" in (
        info.value.detail
    )


def test_many_failing_rows_name_the_first_five_and_count_the_others() -> None:
    # every Understat match of the 2020 page given the same id
    from sabiscore_ml.validation import validate_source_records

    season, fixtures = understat_fixtures(real_file("understat", "league_epl.html"))
    same = [dataclasses.replace(f, source_match_id="14086") for f in fixtures]
    with pytest.raises(RejectedFile) as info:
        validate_source_records(same, [], season=season, name="league_epl.html")
    detail = info.value.detail
    assert "ExpectColumnValuesToBeUnique(source_match_id) failed: 380 unexpected: " in detail
    assert detail.count("match 14086: source_match_id 14086") == 5
    assert "and 375 more" in detail


# ------------------------------------------------------------ the window of acceptable seasons


def test_one_window_of_seasons_from_the_archive_to_next_season() -> None:
    from sabiscore_ml.leagues import accepted_seasons

    window = accepted_seasons(dt.date(2026, 12, 6))
    assert (window.first, window.last) == ("1993-1994", "2027-2028")
    # 31 May is still the season that started the summer before
    assert accepted_seasons(dt.date(2027, 5, 31)).last == "2027-2028"
    assert accepted_seasons(dt.date(2027, 6, 1)).last == "2028-2029"


def test_one_season_calendar_with_two_named_notions_of_over() -> None:
    from sabiscore_ml.leagues import (
        dating_window_over,
        last_match_date,
        season_nominal_end,
        season_of,
        season_over_since,
        season_played_out,
        season_start,
    )

    assert season_start("2019-2020") == dt.date(2019, 6, 1)
    assert season_nominal_end("2019-2020") == dt.date(2020, 5, 31)
    assert season_of(season_nominal_end("2019-2020")) == "2019-2020"
    assert season_of(season_nominal_end("2019-2020") + dt.timedelta(days=1)) == "2020-2021"
    assert last_match_date("2019-2020") == dt.date(2020, 8, 31)
    # the dating window: matches may still come until 31 August of the second year
    assert not dating_window_over("2019-2020", dt.date(2020, 8, 31))
    assert dating_window_over("2019-2020", dt.date(2020, 9, 1))
    # played out: the later of the last match day and the nominal end, plus a margin
    assert season_over_since("2019-2020", dt.date(2020, 5, 23)) == dt.date(2020, 5, 31)
    assert season_over_since("2019-2020", dt.date(2020, 8, 23)) == dt.date(2020, 8, 23)
    week = dt.timedelta(days=7)
    last = dt.date(2020, 5, 23)
    assert not season_played_out("2019-2020", last, today=dt.date(2020, 6, 7), margin=week)
    assert season_played_out("2019-2020", last, today=dt.date(2020, 6, 8), margin=week)


def test_a_source_season_beyond_the_next_is_rejected_naming_the_match_and_date() -> None:
    from sabiscore_ml.validation import validate_source_records
    from sabiscore_ml.warehouse.source_loaders import SourceFixture

    # a whole file in 2099: inside its own season, outside the window
    fixture = SourceFixture("7", dt.date(2099, 9, 12), "Fulham", "Arsenal", "played", 0, 3, 0.1, 2)
    taken = dt.date(2026, 12, 6)
    with pytest.raises(RejectedFile) as info:
        validate_source_records([fixture], [], season="2099-2100", name="u.json", as_of=taken)
    detail = info.value.detail
    assert "ExpectColumnValuesToBeBetween(season_year) failed: 1 unexpected: match 7: date " in (
        detail
    )
    assert "2099-09-12; accepted: seasons 1993-1994 to 2027-2028" in detail
    # next season's fixture is accepted
    soon = dataclasses.replace(fixture, match_date=dt.date(2027, 9, 12))
    validate_source_records([soon], [], season="2027-2028", name="u.json", as_of=taken)


def test_the_archive_s_first_season_is_inside_the_window() -> None:
    validate_football_data(parsed(real_file("football-data", "E0_1993-1994.csv").read_bytes()))


# ------------------------------------------------------------ the dating window of a season

E0_1920 = (SAMPLE_DIR / "E0" / "2019-2020.csv").read_bytes()
# the real last match of 2019-20 (restarted after the COVID stop): E0,26/07/2020,16:00,...
LAST_ROW_1920 = b"E0,26/07/2020,16:00,West Ham,Aston Villa,1,1,D,"


def test_a_match_on_the_last_day_of_a_season_ending_in_a_leap_year_passes() -> None:
    # 2019-20's dating window runs to 31 August 2020, 457 days after 1 June 2019 (2020 is a
    # leap year): the last match moved to that day is still one of the season's
    from sabiscore_ml.leagues import last_match_date

    assert last_match_date("2019-2020") == dt.date(2020, 8, 31)
    assert LAST_ROW_1920 in E0_1920
    moved = E0_1920.replace(LAST_ROW_1920, LAST_ROW_1920.replace(b"26/07/2020", b"31/08/2020"))
    result = parsed(moved)
    assert result.season == "2019-2020" and result.matches[-1].match_date == dt.date(2020, 8, 31)
    validate_football_data(result)
    # a day later it is not
    late = E0_1920.replace(LAST_ROW_1920, LAST_ROW_1920.replace(b"26/07/2020", b"01/09/2020"))
    with pytest.raises(RejectedFile) as info:
        validate_football_data(parsed(late))
    assert "ExpectColumnValuesToBeBetween(days_into_season) failed: 1 unexpected: " in (
        info.value.detail
    )
    assert "season 2019-2020 holds matches from 2019-06-01 to 2020-08-31" in info.value.detail


def test_a_source_match_on_the_last_day_of_a_leap_season_passes() -> None:
    from sabiscore_ml.validation import validate_source_records
    from sabiscore_ml.warehouse.source_loaders import SourceFixture

    # the real last match of 2019-20 (West Ham 1-1 Aston Villa, 26 July 2020) as a source's
    # match, moved to the last day of the season's dating window
    last = SourceFixture("1", dt.date(2020, 8, 31), "West Ham", "Aston Villa", "played", 1, 1)
    validate_source_records([last], [], season="2019-2020", name="u.json")
    late = dataclasses.replace(last, source_match_id="2", match_date=dt.date(2020, 9, 1))
    with pytest.raises(RejectedFile) as info:
        validate_source_records([last, late], [], season="2019-2020", name="u.json")
    assert "match 2: date 2020-09-01" in info.value.detail
