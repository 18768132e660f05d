"""great-expectations contracts on parsed football-data files."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import SAMPLE_DIR

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
