"""The DAGs' Params turned into work items, item labels, retry decisions and summaries
(the functions every ingest DAG's tasks call, tested without Airflow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, SAMPLE_DIR

from sabiscore_ml.jobs.football_data import IngestOutcome
from sabiscore_ml.jobs.workitems import (
    plan_from_params,
    should_retry,
    summarize_outcomes,
    work_item_label,
)


def test_live_mode_plans_league_seasons() -> None:
    params = {"mode": "live", "leagues": ["SP1", "F1"], "seasons": ["2023-24"], "refresh": True}
    assert plan_from_params("fbref", params) == [
        {"kind": "live", "source": "fbref", "league": league, "season": "2023-2024", "refresh": "1"}
        for league in ("SP1", "F1")
    ]
    download = {"source": "download", "leagues": ["E0"], "seasons": ["2023-2024"], "refresh": True}
    assert plan_from_params("football-data", download) == [
        {"kind": "remote", "league": "E0", "season": "2023-2024", "refresh": "1"}
    ]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"mode": "live", "leagues": []}, "mode=live needs 'leagues'"),
        ({"mode": "live", "leagues": ["E0"], "source_dir": "x"}, "leave source_dir empty"),
        ({"mode": "stream"}, "unknown mode 'stream'"),
        ({"mode": "files", "leagues": ["E0", "E1"]}, "at most one league"),
        ({"mode": "live", "leagues": ["E1"], "seasons": ["2020-2021"]}, "does not cover E1"),
    ],
)
def test_bad_params_are_refused(params: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        plan_from_params("understat", params)


def test_files_mode_is_the_default() -> None:
    items = plan_from_params("transfermarkt", None)
    sample = REPO / "samples" / "transfermarkt"
    expected = sorted(
        str(path) for path in sample.rglob("*") if path.suffix in (".csv", ".json", ".gz")
    )
    assert sorted(item["path"] for item in items) == expected
    assert {item["kind"] for item in items} == {"file"}
    assert {item["source"] for item in items} == {"transfermarkt"}
    # files under a league folder take its league; the dataset tables name none
    leagues = {Path(item["path"]).parent.name: item.get("league") for item in items}
    assert leagues == {"E0": "E0", "dcaribou": None}


def test_labels() -> None:
    assert work_item_label({"kind": "file", "path": str(SAMPLE_DIR / "E0" / "2023-2024.csv")}) == (
        "E0/2023-2024.csv"
    )
    assert work_item_label({"kind": "file", "source": "fbref", "path": "/a/b/match.html"}) == (
        "match.html"
    )
    assert work_item_label(
        {"kind": "live", "source": "fbref", "league": "F1", "season": "2020-2021"}
    ) == ("F1 2020-2021")
    assert work_item_label({"kind": "live", "source": "transfermarkt", "table": "clubs"}) == (
        "clubs table"
    )


def test_only_a_failed_download_is_retried() -> None:
    assert should_retry(IngestOutcome("u", "loaded")) is None
    assert should_retry(IngestOutcome("u", "skipped")) is None
    assert should_retry(IngestOutcome("u", "rejected", check="fetch")) is True
    for check in ("blocked", "robots", "reconcile", "not_csv"):
        assert should_retry(IngestOutcome("u", "rejected", check=check)) is False
    assert should_retry(IngestOutcome("u", "failed", check="database")) is False


def test_summaries_count_loaded_items_per_league_season() -> None:
    loaded = IngestOutcome("a", "loaded", "s", "E0", "2022-2023", matches=380, odds=9000)
    loaded.warnings = ["w1", "w2"]
    other = IngestOutcome("b", "loaded", "t", "E0", "2023-2024", matches=380, odds=8000)
    skipped = IngestOutcome("c", "skipped", "u", "E0", "2021-2022", message="finished season")
    outcomes = [o.as_dict() for o in (loaded, other, skipped)]
    assert summarize_outcomes("football-data", outcomes) == {
        "per_league_season": {
            "E0 2022-2023": {"files": 1, "matches": 380, "odds": 9000, "warnings": 2},
            "E0 2023-2024": {"files": 1, "matches": 380, "odds": 8000, "warnings": 0},
        },
        "skipped": 1,
        "files": 2,
        "matches": 760,
        "odds": 17000,
        "warnings": 2,
    }
    assert summarize_outcomes("fbref", outcomes) == {
        "per_league_season": {
            "E0 2022-2023": {"files": 1, "rows": 380},
            "E0 2023-2024": {"files": 1, "rows": 380},
        },
        "skipped": 1,
        "files": 2,
        "rows": 760,
    }
    assert summarize_outcomes("understat", [skipped.as_dict()])["per_league_season"] == {}
