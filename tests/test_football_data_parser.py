"""The football-data parser on real published files (and on broken copies of them)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.sources.football_data import (
    MatchRecord,
    ParsedFile,
    parse_football_data,
    parse_football_data_fixtures,
)

# Matches per file, from the per-file manifest in the provenance notes.
EXPECTED_ROWS = {
    "E0/2019-2020.csv": 380,
    "E0/2020-2021.csv": 380,
    "E0/2021-2022.csv": 380,
    "E0/2022-2023.csv": 380,
    "E0/2023-2024.csv": 380,
    "E1/2015-2016.csv": 552,
    "E1/2016-2017.csv": 552,
    "E1/2017-2018.csv": 552,
    "E1/2018-2019.csv": 552,
    "E1/2019-2020.csv": 552,
    "E0_1993-1994.csv": 462,
    "D1_2000-2001.csv": 306,
    "E0_2004-2005.csv": 380,
    "E0_2015-2016.csv": 380,
    "G1_2000-2001.csv": 240,
    "EC_2005-2006.csv": 462,
    "T1_2010-2011.csv": 306,
    "EC_2020-2021_partial.csv": 173,
    "SP1_2019-2020_reserialized.csv": 380,
}
TODAY = dt.date(2026, 1, 1)


def _path(name: str):
    return (SAMPLE_DIR if "/" in name else FOOTBALL_DATA_FIXTURES) / name


def parse(name: str, raw: bytes | None = None) -> ParsedFile:
    return parse_football_data(
        raw if raw is not None else _path(name).read_bytes(), name, today=TODAY
    )


def find(parsed: ParsedFile, day: dt.date, home: str) -> MatchRecord:
    return next(m for m in parsed.matches if m.match_date == day and m.home_team == home)


def price(match: MatchRecord, bookmaker: str, market: str, outcome: str, timing: str) -> float:
    (quote,) = [
        q
        for q in match.odds
        if (q.bookmaker, q.market, q.outcome, q.timing) == (bookmaker, market, outcome, timing)
    ]
    return quote.price


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_every_bundled_file_parses_with_its_row_count(name: str) -> None:
    parsed = parse(name)
    assert len(parsed.matches) == EXPECTED_ROWS[name]
    assert all(m.home_goals is not None and m.away_goals is not None for m in parsed.matches)
    assert len({(m.match_date, m.home_team, m.away_team) for m in parsed.matches}) == len(
        parsed.matches
    )


def test_modern_file_values_match_the_csv_text() -> None:
    # E0,09/08/2019,20:00,Liverpool,Norwich,4,1,H,4,0,H,M Oliver,... B365H=1.14, PSH=1.15,
    # PSD=9.59, PSA=18.05, PSCH=1.14, PSCD=10.43, PSCA=19.63, AHh=-2.25, PAHH=1.97, PC<2.5=3.44
    parsed = parse("E0/2019-2020.csv")
    assert (parsed.league, parsed.season) == ("E0", "2019-2020")
    first = parsed.matches[0]
    assert first.match_date == dt.date(2019, 8, 9)
    assert first.kickoff_time == dt.time(20, 0)
    assert (first.home_team, first.away_team) == ("Liverpool", "Norwich")
    assert (first.home_goals, first.away_goals, first.result) == (4, 1, "H")
    assert (first.ht_home_goals, first.ht_away_goals) == (4, 0)
    assert first.referee == "M Oliver"
    assert first.stats["home_shots"] == 15 and first.stats["away_shots"] == 12
    assert price(first, "b365", "1x2", "home", "preclose") == 1.14
    assert price(first, "pinnacle", "1x2", "draw", "preclose") == 9.59
    assert price(first, "pinnacle", "1x2", "away", "preclose") == 18.05
    assert price(first, "pinnacle", "1x2", "home", "close") == 1.14
    assert price(first, "pinnacle", "1x2", "draw", "close") == 10.43
    assert price(first, "pinnacle", "1x2", "away", "close") == 19.63
    assert price(first, "pinnacle", "ou", "under", "close") == 3.44
    (ah,) = [
        q
        for q in first.odds
        if (q.bookmaker, q.market, q.outcome, q.timing) == ("pinnacle", "ah", "home", "preclose")
    ]
    assert (ah.line, ah.price) == (-2.25, 1.97)
    # 8 books x 3 outcomes x 2 timings (1X2) are all present on this row
    assert len({(q.bookmaker, q.timing) for q in first.odds if q.market == "1x2"}) == 16


def test_season_comes_from_the_first_date_not_row_by_row() -> None:
    parsed = parse("E0/2019-2020.csv")
    july = [m for m in parsed.matches if m.match_date.month == 7]
    assert len(july) == 66  # the COVID restart ran to 26 July 2020
    assert {m.season for m in parsed.matches} == {"2019-2020"}


def test_last_row_of_2023_24() -> None:
    parsed = parse("E0/2023-2024.csv")
    last = find(parsed, dt.date(2024, 5, 19), "Sheffield United")
    assert last.away_team == "Tottenham" and (last.home_goals, last.away_goals) == (0, 3)
    assert price(last, "pinnacle", "1x2", "home", "close") == 7.99
    assert price(last, "market_max", "1x2", "away", "close") == 1.38


def test_padded_header_and_comma_rows_results_only() -> None:
    parsed = parse("E0_1993-1994.csv")
    assert parsed.season == "1993-1994"
    first = parsed.matches[0]
    assert (first.match_date, first.home_team, first.away_team) == (
        dt.date(1993, 8, 14),
        "Arsenal",
        "Coventry",
    )
    assert (first.home_goals, first.away_goals) == (0, 3)
    assert parsed.odds_count == 0
    assert first.kickoff_time is None


def test_latin1_file_decodes() -> None:
    parsed = parse("D1_2000-2001.csv")
    assert parsed.encoding == "cp1252"
    assert parsed.matches[0].referee == "Jörg Kessler"
    assert parsed.matches[0].attendance == 61000


def test_cp1252_apostrophe_in_team_names() -> None:
    parsed = parse("EC_2020-2021_partial.csv")
    assert "King\u2019s Lynn" in {m.home_team for m in parsed.matches}


def test_non_breaking_space_is_stripped() -> None:
    parsed = parse("E0_2004-2005.csv")
    match = find(parsed, dt.date(2005, 4, 23), "Aston Villa")
    assert match.referee == "U Rennie"


def test_pinnacle_closing_appended_at_the_row_end() -> None:
    # E0,08/08/15,Bournemouth,Aston Villa,0,1,... ,PSCH=1.82,PSCD=3.88,PSCA=4.7 (last 3 fields)
    parsed = parse("E0_2015-2016.csv")
    match = find(parsed, dt.date(2015, 8, 8), "Bournemouth")
    assert price(match, "pinnacle", "1x2", "home", "close") == 1.82
    assert price(match, "pinnacle", "1x2", "draw", "close") == 3.88
    assert price(match, "pinnacle", "1x2", "away", "close") == 4.7
    assert price(match, "pinnacle", "1x2", "home", "preclose") == 1.95
    assert price(match, "market_avg", "1x2", "home", "preclose") == 1.96


def test_ht_at_team_columns() -> None:
    parsed = parse("G1_2000-2001.csv")
    assert parsed.league == "G1"
    assert all(m.home_team and m.away_team for m in parsed.matches)


def test_published_result_disagreeing_with_score_keeps_the_score() -> None:
    parsed = parse("EC_2005-2006.csv")
    match = find(parsed, dt.date(2006, 4, 25), "Exeter")
    assert (match.home_goals, match.away_goals, match.result) == (4, 0, "H")
    assert any("3 published result(s) disagree" in w for w in parsed.warnings)


def test_malformed_odds_value_is_dropped_with_a_warning() -> None:
    parsed = parse("T1_2010-2011.csv")
    match = find(parsed, dt.date(2011, 5, 21), "Gaziantepspor")
    assert not [q for q in match.odds if q.bookmaker == "stan_james" and q.outcome == "draw"]
    assert any("SJD='3.53.75'" in w for w in parsed.warnings)


def test_reserialized_file_over_under_names_and_float_numbers() -> None:
    parsed = parse("SP1_2019-2020_reserialized.csv")
    first = parsed.matches[0]
    assert (first.home_team, first.away_team, first.home_goals, first.away_goals) == (
        "Ath Bilbao",
        "Barcelona",
        1,
        0,
    )
    assert price(first, "b365", "ou", "over", "preclose") == 1.8
    assert price(first, "b365", "ou", "under", "preclose") == 2.0
    assert price(first, "pinnacle", "1x2", "home", "close") == 5.34
    assert first.stats["home_shots"] == 11


def test_utf8_bom_and_line_endings_do_not_change_the_result() -> None:
    raw = _path("E0_2015-2016.csv").read_bytes()
    assert b"\r\n" in raw
    baseline = parse("E0_2015-2016.csv", raw).matches
    assert parse("bom", b"\xef\xbb\xbf" + raw).matches == baseline
    assert parse("lf", raw.replace(b"\r\n", b"\n")).matches == baseline


def _reject(raw: bytes) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        parse("bad.csv", raw)
    assert "bad.csv" in str(info.value)
    return info.value


def test_rejects_an_empty_file() -> None:
    assert _reject(b"").check == "empty"
    assert _reject(b"\n\n").check == "empty"


def test_rejects_a_header_without_matches() -> None:
    header = _path("E0/2023-2024.csv").read_bytes().splitlines(keepends=True)[0]
    assert _reject(header).check == "empty"


def test_rejects_a_truncated_download() -> None:
    raw = _path("E0/2023-2024.csv").read_bytes()
    error = _reject(raw[: len(raw) // 2])
    assert error.check == "truncated"


def test_rejects_a_row_cut_inside_the_mandatory_fields() -> None:
    raw = _path("E0/2023-2024.csv").read_bytes()
    lines = raw.splitlines(keepends=True)
    cut = b"".join(lines[:10]) + lines[10][:20] + b"\r\n"
    assert _reject(cut).check in {"mandatory_values", "goals"}


def test_rejects_an_html_page_saved_as_csv() -> None:
    page = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
    assert _reject(page).check == "not_csv"
    assert _reject(b"\r\n  <html><body>404 Not Found</body></html>").check == "not_csv"


def test_rejects_a_renamed_mandatory_column() -> None:
    raw = _path("E0/2023-2024.csv").read_bytes().replace(b",FTHG,", b",HomeGoals,", 1)
    error = _reject(raw)
    assert error.check == "mandatory_columns"
    assert "FTHG" in error.detail


def test_rejects_a_wrong_encoding() -> None:
    raw = _path("E0/2023-2024.csv").read_bytes().decode("ascii").encode("utf-16")
    assert _reject(raw).check == "encoding"


def test_rejects_a_future_dated_result() -> None:
    raw = _path("E0/2023-2024.csv").read_bytes().replace(b"E0,11/08/2023,", b"E0,11/08/2027,", 1)
    error = _reject(raw)
    assert error.check in {"future_result", "season_span"}
    # the same row inside the season window but after "today" is a future result
    with pytest.raises(RejectedFile) as info:
        parse_football_data(_path("E0/2023-2024.csv").read_bytes(), "x", today=dt.date(2024, 1, 1))
    assert info.value.check == "future_result"


def test_rejects_two_divisions_in_one_file() -> None:
    raw = _path("E0/2023-2024.csv").read_bytes().replace(b"\nE0,", b"\nE1,", 1)
    assert _reject(raw).check == "single_division"


def test_rejects_a_bad_date() -> None:
    raw = _path("E0/2023-2024.csv").read_bytes().replace(b"E0,11/08/2023,", b"E0,2023-08-11,", 1)
    assert _reject(raw).check == "date_format"


def test_rejects_a_duplicated_match() -> None:
    lines = _path("E0/2023-2024.csv").read_bytes().splitlines(keepends=True)
    assert _reject(b"".join([*lines, lines[1]])).check == "duplicate_match"


# ------------------------------------------------------------------ fixtures.csv

FIXTURES_FILE = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
FIXTURES_TODAY = dt.date(2024, 8, 8)  # the day the file stands for (see PROVENANCE.md)


def parse_fixtures(raw: bytes | None = None, *, today: dt.date = FIXTURES_TODAY):
    raw = FIXTURES_FILE.read_bytes() if raw is None else raw
    return parse_football_data_fixtures(raw, "fixtures.csv", today=today)


def _fixtures_lines() -> list[bytes]:
    return FIXTURES_FILE.read_bytes().splitlines(keepends=True)


def test_fixtures_are_grouped_per_league_season_without_results() -> None:
    parsed = parse_fixtures()
    assert [(f.league, f.season, len(f.matches)) for f in parsed.files] == [
        ("E0", "2024-2025", 10),
        ("SP1", "2024-2025", 10),
    ]
    assert parsed.skipped_divisions == {"X9": 2}
    assert parsed.warnings == ["skipped division(s) that are not known leagues: X9 (2 fixture(s))"]
    matches = [m for f in parsed.files for m in f.matches]
    assert all(m.home_goals is None and m.away_goals is None and m.result is None for m in matches)
    assert {q.timing for m in matches for q in m.odds} == {"preclose"}
    assert parsed.files[0].name == "fixtures.csv [E0 2024-2025]"
    assert parsed.matches == 20 and parsed.odds_count == 800  # 40 quotes a row, as written

    # E0,09/08/2024,20:00,Burnley,Man City,C Pawson,8,5.5,1.33,...,AHh 1.5, PAHH 1.86
    burnley = find(parsed.files[0], dt.date(2024, 8, 9), "Burnley")
    assert (burnley.away_team, burnley.kickoff_time, burnley.referee) == (
        "Man City",
        dt.time(20, 0),
        "C Pawson",
    )
    assert price(burnley, "b365", "1x2", "home", "preclose") == 8.0
    assert price(burnley, "market_avg", "ou", "under", "preclose") == 2.27
    (pinnacle_ah,) = [
        q for q in burnley.odds if (q.bookmaker, q.market, q.outcome) == ("pinnacle", "ah", "home")
    ]
    assert (pinnacle_ah.line, pinnacle_ah.price) == (1.5, 1.86)
    # SP1 rows carry no referee; their handicap line 0 is a line, not a missing value
    almeria = find(parsed.files[1], dt.date(2024, 8, 9), "Almeria")
    assert almeria.referee is None and price(almeria, "pinnacle", "1x2", "home", "preclose") == 2.62
    assert {q.line for q in almeria.odds if q.market == "ah"} == {0.0}


def test_fixtures_bom_and_line_endings_do_not_change_the_result() -> None:
    raw = FIXTURES_FILE.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw

    def matches(parsed):
        return [(f.league, f.season, f.matches) for f in parsed.files]

    baseline = matches(parse_fixtures())
    assert matches(parse_fixtures(raw[3:])) == baseline
    assert matches(parse_fixtures(raw.replace(b"\r\n", b"\n"))) == baseline


def test_fixtures_season_comes_from_each_date() -> None:
    # a late fixture of the old season and the new season's first, in one file
    raw = FIXTURES_FILE.read_bytes().replace(b"E0,09/08/2024,", b"E0,28/05/2024,", 1)
    parsed = parse_fixtures(raw, today=dt.date(2024, 5, 27))
    assert [(f.league, f.season, len(f.matches)) for f in parsed.files] == [
        ("E0", "2023-2024", 1),
        ("E0", "2024-2025", 9),
        ("SP1", "2024-2025", 10),
    ]


def test_fixtures_a_little_before_today_are_kept_older_ones_reject_the_copy() -> None:
    # the first fixtures are on 9 August: three days later they are still listed ...
    assert parse_fixtures(today=dt.date(2024, 8, 12)).matches == 20
    # ... four days later the copy is not current
    with pytest.raises(RejectedFile) as info:
        parse_fixtures(today=dt.date(2024, 8, 13))
    assert info.value.check == "stale_fixtures"
    assert "fixtures.csv" in str(info.value) and "Burnley v Man City" in info.value.detail


def test_a_header_without_fixtures_is_an_empty_list() -> None:
    parsed = parse_fixtures(_fixtures_lines()[0])
    assert parsed.files == [] and parsed.matches == 0
    assert parsed.warnings == ["no fixture of a known league in the file"]


def test_fixtures_closing_prices_are_ignored_with_a_warning() -> None:
    lines = _fixtures_lines()
    # fill Bet365's closing 1X2 of the first row (the closing block follows the 47 others)
    cells = lines[1].decode().rstrip("\r\n").split(",")
    cells[47:50] = ["7.5", "5.25", "1.36"]
    parsed = parse_fixtures(b"".join([lines[0], (",".join(cells) + "\r\n").encode(), *lines[2:]]))
    assert {q.timing for f in parsed.files for m in f.matches for q in m.odds} == {"preclose"}
    assert "closing prices in a fixtures file ignored on 1 row(s): line 2" in parsed.warnings


def test_fixtures_malformed_odds_are_dropped_with_a_warning() -> None:
    raw = FIXTURES_FILE.read_bytes().replace(b",C Pawson,8,5.5,", b",C Pawson,8,5.55.5,", 1)
    parsed = parse_fixtures(raw)
    burnley = find(parsed.files[0], dt.date(2024, 8, 9), "Burnley")
    assert [q.bookmaker for q in burnley.odds if q.market == "1x2"].count("b365") == 2
    assert any("B365D='5.55.5'" in w for w in parsed.warnings)


def _reject_fixtures(raw: bytes) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        parse_fixtures(raw)
    assert str(info.value).startswith("fixtures.csv: rejected by check ")
    return info.value


def test_fixtures_rejects_a_row_with_a_result() -> None:
    lines = _fixtures_lines()
    header = lines[0].replace(b",AwayTeam,", b",AwayTeam,FTHG,FTAG,")
    rows = lines[1:]
    filled = [re_add(row, b"0,3," if i == 4 else b",,") for i, row in enumerate(rows)]
    error = _reject_fixtures(b"".join([header, *filled]))
    assert error.check == "fixtures_only" and "line 6" in error.detail
    # the same columns left empty are a valid fixtures file
    empty = [re_add(row, b",,") for row in rows]
    assert parse_fixtures(b"".join([header, *empty])).matches == 20


def re_add(row: bytes, cells: bytes) -> bytes:
    """Insert ``cells`` after the fifth field (AwayTeam) of a CSV row."""
    fields = row.split(b",", 5)
    return b",".join(fields[:5]) + b"," + cells + fields[5]


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda raw: b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "not_csv"),
        (lambda raw: raw[: len(raw) // 2], "truncated"),
        (
            lambda raw: raw.replace(b"\xef\xbb\xbfDiv,", b"\xef\xbb\xbfDivision,", 1),
            "mandatory_columns",
        ),
        (lambda raw: raw.replace(b"SP1,09/08/2024,", b"SP1,2024-08-09,", 1), "date_format"),
        (lambda raw: raw.replace(b",20:00,Burnley,", b",8pm,Burnley,", 1), "time_format"),
        (lambda raw: raw.replace(b"Burnley,Man City", b"Man City,Man City", 1), "distinct_teams"),
        (lambda raw: raw + raw.splitlines(keepends=True)[5], "duplicate_match"),
        (
            lambda raw: raw.replace(b"E0,10/08/2024,12:30,Arsenal", b"E0,10/08/2024,12:30,", 1),
            "mandatory_values",
        ),
    ],
)
def test_fixtures_rejects_a_malformed_copy(change, check) -> None:
    assert _reject_fixtures(change(FIXTURES_FILE.read_bytes())).check == check
