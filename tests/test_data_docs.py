"""great-expectations Data Docs built from the validation results of real files."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from conftest import SAMPLE_DIR

from sabiscore_ml.data_docs import build_data_docs, file_label
from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.sources.football_data import parse_football_data
from sabiscore_ml.validation import validate_football_data

E0_2324 = SAMPLE_DIR / "E0" / "2023-2024.csv"
GOALS_ROW = b"E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,"


def validate(raw: bytes, name: str) -> None:
    validate_football_data(parse_football_data(raw, name, today=dt.date(2026, 1, 1)))


def validate_good_and_bad() -> None:
    """E0 2023-24 as published (passes) and with 31 away goals in one row (fails)."""
    raw = E0_2324.read_bytes()
    validate(raw, "football-data/E0/2023-2024.csv")
    bad = raw.replace(GOALS_ROW, GOALS_ROW.replace(b",0,3,A,0,2,", b",0,31,A,0,2,"))
    with pytest.raises(RejectedFile):
        validate(bad, "downloads/E0/2023-2024_bad.csv")


def listed_runs(index: Path) -> set[tuple[str, str]]:
    """(run name, passed/failed) of every validation result the index lists."""
    html = index.read_text()
    pages = re.findall(
        r"validations/[\w./-]+/(\w[\w.-]*)/\d{8}T\d{6}\.\d{6}Z/(passed|failed)", html
    )
    return set(pages)


def test_index_lists_passed_and_failed_results_with_their_pages(sabiscore_home: Path) -> None:
    validate_good_and_bad()
    docs = build_data_docs()
    assert docs is not None
    assert docs.index == sabiscore_home / "data_docs" / "index.html"
    # matches and odds of the good file; the bad file stops at its matches
    assert (docs.results, docs.failed, docs.rendered) == (3, 1, 3)
    assert listed_runs(docs.index) == {
        ("E0_2023-2024.csv", "passed"),
        ("E0_2023-2024_bad.csv", "failed"),
    }
    (failed_page,) = docs.index.parent.glob("validations/football_data/matches/*/*/failed.html")
    page = failed_page.read_text()
    assert "downloads/E0/2023-2024_bad.csv" in page  # the data asset is the file
    # the failed expectation and its unexpected value
    assert "away_goals" in page and "1 unexpected values found" in page
    assert '<div class="show-scrollbars">31.0</div>' in page
    assert (docs.index.parent / "expectations" / "football_data" / "odds.html").exists()
    # a second build renders nothing again and lists the same results
    again = build_data_docs()
    assert again is not None and (again.results, again.rendered) == (3, 0)
    assert listed_runs(again.index) == listed_runs(docs.index)


def test_results_are_kept_failed_first_up_to_the_limit(
    sabiscore_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validate_good_and_bad()
    monkeypatch.setenv("SABISCORE_DATA_DOCS_MAX_RESULTS", "2")
    clear_settings_cache()
    docs = build_data_docs()
    assert docs is not None and (docs.results, docs.failed) == (2, 1)
    runs = listed_runs(docs.index)
    assert ("E0_2023-2024_bad.csv", "failed") in runs and len(runs) == 2
    stored = list((sabiscore_home / "data_docs" / "results").rglob("*.json"))
    assert len(stored) == 2
    assert {json.loads(p.read_text())["success"] for p in stored} == {True, False}


def test_data_docs_can_be_turned_off(sabiscore_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SABISCORE_DATA_DOCS_MAX_RESULTS", "0")
    clear_settings_cache()
    validate_good_and_bad()
    assert build_data_docs() is None
    assert not (sabiscore_home / "data_docs").exists()


def test_file_labels_are_safe_folder_names() -> None:
    assert file_label("/data/football-data/E0/2023-2024.csv") == "E0_2023-2024.csv"
    assert file_label("https://www.football-data.co.uk/mmz4281/2324/E0.csv") == "2324_E0.csv"
    assert file_label("C:\\data\\understat\\league epl.html") == "understat_league_epl.html"


def test_an_unwritable_data_docs_folder_does_not_stop_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the Data Docs folder should go")
    monkeypatch.setenv("SABISCORE_DATA_DOCS_DIR", str(blocker / "data_docs"))
    clear_settings_cache()
    validate(E0_2324.read_bytes(), "football-data/E0/2023-2024.csv")
    assert "not recorded for the Data Docs" in caplog.text


def test_the_data_docs_take_the_suites_from_their_module_not_from_validation() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sabiscore_ml import data_docs, expectation_suites\n"
        "assert data_docs.SUITES is expectation_suites.SUITES\n"
        "print(sorted(m for m in ('sabiscore_ml.validation', 'great_expectations')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
