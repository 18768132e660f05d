"""The ``sabiscore`` command line, end to end on the embedded default and over real HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from cli_support import (
    fresh_engines,  # noqa: F401 - autouse: an engine per test
    invoke,
    runner,
    scalar,
)
from conftest import SAMPLE_DIR
from http_server import ScriptedServer

from sabiscore_ml.cli import app
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine


def test_help_lists_the_commands_with_examples() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("init", "ingest", "export", "run"):
        assert command in result.output
    ingest_help = invoke("ingest", "football-data", "--help").output
    assert "--from-dir" in ingest_help and "sabiscore ingest football-data" in ingest_help


def test_from_dir_loads_good_files_and_names_the_rejected_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "E0").mkdir(parents=True)
    shutil.copy(SAMPLE_DIR / "E0" / "2023-2024.csv", data / "E0" / "2023-2024.csv")
    shutil.copy(SAMPLE_DIR / "E0" / "2022-2023.csv", data / "E0" / "2022-2023.csv")
    (data / "E0" / "blocked.csv").write_bytes(
        b"<!DOCTYPE html><html><title>Just a moment...</title></html>"
    )
    result = invoke("ingest", "football-data", "--from-dir", str(data))
    assert result.exit_code == 1
    assert "blocked.csv" in result.output and "not_csv" in result.output
    assert scalar("SELECT COUNT(*) FROM matches") == 760
    assert scalar("SELECT COUNT(*) FROM ingestion_runs WHERE status = 'rejected'") == 1


def test_load_tells_each_file_then_the_outcomes(tmp_path: Path) -> None:
    """The job's load step, as ``sabiscore run`` and the ingest commands take it."""
    from sabiscore_ml.jobs import run as job
    from sabiscore_ml.jobs.football_data import plan_football_data
    from sabiscore_ml.warehouse.engine import migrate

    data = tmp_path / "data" / "E0"
    data.mkdir(parents=True)
    shutil.copy(SAMPLE_DIR / "E0" / "2023-2024.csv", data / "2023-2024.csv")
    (data / "blocked.csv").write_bytes(b"<!DOCTYPE html><html><title>Just a moment...</title>")
    migrate()
    events: list[job.RunEvent] = []
    items = plan_football_data(from_dir=str(data.parent))
    loaded = job.load(items, "football-data", events.append)
    assert [type(event) for event in events] == [
        job.ItemsStarted,
        job.ItemDone,
        job.ItemDone,
        job.ItemsFinished,
        job.Loaded,
    ]
    assert events[0] == job.ItemsStarted("football-data", 2)
    assert sorted(event.item for event in events[1:3]) == ["E0/2023-2024.csv", "E0/blocked.csv"]
    assert events[-1] is loaded and loaded.unit == "matches"
    assert sorted(o.status for o in loaded.outcomes) == ["loaded", "rejected"]
    assert loaded.status == 1
    assert scalar("SELECT COUNT(*) FROM matches") == 380


def test_file_option_and_season_filter(tmp_path: Path) -> None:
    result = invoke(
        "ingest",
        "football-data",
        "--from-dir",
        str(SAMPLE_DIR),
        "--league",
        "E1",
        "--season",
        "2018-19",
    )
    assert result.exit_code == 0, result.output
    assert scalar("SELECT COUNT(*) FROM matches") == 552
    result = invoke("ingest", "football-data", "--file", str(SAMPLE_DIR / "E0" / "2021-2022.csv"))
    assert result.exit_code == 0
    assert scalar("SELECT COUNT(*) FROM matches WHERE league_code = 'E0'") == 380


def test_export_matches_gives_the_odds_back(tmp_path: Path) -> None:
    assert invoke("ingest", "football-data", "--from-dir", str(SAMPLE_DIR / "E0")).exit_code == 0
    output = tmp_path / "out" / "e0.csv"
    result = invoke(
        "export", "matches", "--league", "E0", "--season", "2023-2024", "-o", str(output)
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 380
    header = list(rows[0])
    assert header[:8] == [
        "date",
        "kickoff_time",
        "league",
        "season",
        "home_team",
        "away_team",
        "home_goals",
        "away_goals",
    ]
    assert {
        "pinnacle_close_h",
        "pinnacle_preclose_d",
        "b365_preclose_a",
        "market_avg_preclose_h",
    } <= set(header)
    # E0,11/08/2023,20:00,Burnley,Man City,0,3,... PSH=8.58 PSCH=9.62 B365H=8
    first = rows[0]
    assert (first["date"], first["kickoff_time"], first["home_team"], first["away_team"]) == (
        "2023-08-11",
        "20:00",
        "Burnley",
        "Man City",
    )
    assert (first["home_goals"], first["away_goals"]) == ("0", "3")
    assert float(first["pinnacle_preclose_h"]) == 8.58
    assert float(first["pinnacle_close_h"]) == 9.62
    assert float(first["b365_preclose_h"]) == 8.0


@pytest.mark.slow
def test_run_loads_the_bundled_sample_and_prints_the_summary() -> None:
    result = invoke("run")
    assert result.exit_code == 0, result.output
    assert "Warehouse coverage" in result.output
    for season in ("2019-2020", "2023-2024", "2015-2016"):
        assert season in result.output
    # E0 x5, E1 x5, and the re-serialized SP1/F1/D1/I1 league-seasons the other samples need
    assert scalar("SELECT COUNT(*) FROM matches") == 5 * 380 + 5 * 552 + 4 * 380 + 279 + 306
    # the other sources' samples reconciled and loaded
    assert "Other sources, reconciled" in result.output
    assert scalar("SELECT COUNT(*) FROM source_matches WHERE source = 'understat'") == 380
    assert scalar("SELECT COUNT(*) FROM source_matches WHERE source = 'fbref'") == 761
    # the published season tables: 2020-21 .. 2024-25, and 2025-26 at 1 August 2025
    assert scalar("SELECT COUNT(*) FROM squad_values WHERE source = 'transfermarkt'") == 120
    # and the values summed from the players' valuations: the 18 valuations printed
    # "Chelsea FC" on 2004-10-04 (samples/transfermarkt/dcaribou/player_valuations.csv)
    assert (
        scalar(
            "SELECT v.market_value_eur FROM squad_values v JOIN teams t ON t.id = v.team_id "
            "WHERE t.name = 'Chelsea' AND v.source = 'transfermarkt-derived' "
            "AND v.as_of = '2004-10-04'"
        )
        == 248_250_000.0
    )
    assert scalar("SELECT COUNT(*) FROM tm_clubs") == 451
    assert scalar("SELECT COUNT(*) FROM shots WHERE source = 'understat'") > 0
    assert scalar("SELECT COUNT(*) FROM ingestion_runs WHERE status <> 'loaded'") == 0
    # a model trained before the last matchday, registered, promoted, and that
    # matchday replayed and published
    assert "is the champion" in result.output and "pinnacle_close" in result.output
    assert scalar("SELECT alias FROM model_versions WHERE version = '1'") == "champion"
    assert scalar("SELECT mode FROM prediction_runs") == "replay"
    assert scalar("SELECT COUNT(*) FROM run_predictions") == 10


def _mlflow_experiments(sabiscore_home: Path) -> dict[str, tuple[str, str]]:
    """Every experiment of the embedded MLflow store: name -> (lifecycle stage, artifact path)."""
    import mlflow
    from mlflow.entities import ViewType

    client = mlflow.MlflowClient(
        tracking_uri=f"sqlite:///{sabiscore_home / 'mlflow' / 'mlflow.db'}"
    )
    return {
        e.name: (e.lifecycle_stage, e.artifact_location.removeprefix("file://"))
        for e in client.search_experiments(view_type=ViewType.ALL)
    }


def test_init_creates_the_warehouse_and_the_mlflow_store(
    sabiscore_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert (sabiscore_home / "warehouse.sqlite").exists()
    assert (sabiscore_home / "mlflow" / "mlflow.db").exists()
    # no empty experiment; MLflow's Default points inside the store, not at ./mlruns
    experiments = _mlflow_experiments(sabiscore_home)
    assert experiments == {
        "Default": ("deleted", str(sabiscore_home / "mlflow" / "artifacts" / "0"))
    }
    assert list(cwd.iterdir()) == []


def test_init_retires_the_empty_experiments_of_an_older_store(
    sabiscore_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    # a store as older versions left it: a Default under the working directory's
    # ./mlruns and an empty bare experiment, beside one with a run
    monkeypatch.chdir(tmp_path)
    (sabiscore_home / "mlflow").mkdir(parents=True)
    client = mlflow.MlflowClient(
        tracking_uri=f"sqlite:///{sabiscore_home / 'mlflow' / 'mlflow.db'}"
    )
    client.create_experiment("sabiscore")
    kept = client.create_experiment("sabiscore-betting")
    client.create_run(kept)
    assert invoke("init").exit_code == 0
    experiments = _mlflow_experiments(sabiscore_home)
    assert {name: stage for name, (stage, _) in experiments.items()} == {
        "Default": "deleted",
        "sabiscore": "deleted",
        "sabiscore-betting": "active",
    }


def test_download_over_http_with_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    body = (SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes()
    with ScriptedServer() as server:
        server.add("/mmz4281/2324/E0.csv", 503, b"busy", "text/plain")
        server.add("/mmz4281/2324/E0.csv", 200, body)
        monkeypatch.setenv("SABISCORE_FOOTBALL_DATA_BASE_URL", f"{server.url}/mmz4281")
        monkeypatch.setenv("SABISCORE_FETCH_FOOTBALL_DATA_MIN_INTERVAL_SECONDS", "0")
        monkeypatch.setenv("SABISCORE_FETCH_BACKOFF_INITIAL_SECONDS", "0.1")
        clear_settings_cache()
        result = invoke("ingest", "football-data", "--league", "E0", "--season", "2023-2024")
    assert result.exit_code == 0, result.output
    assert scalar("SELECT COUNT(*) FROM matches") == 380
    assert [path for path, _ in server.requests] == ["/mmz4281/2324/E0.csv"] * 2
    assert all(agent.startswith("sabiscore/") for _, agent in server.requests)


def test_download_of_a_block_page_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    page = (
        b"<html><head><title>Just a moment...</title></head>"
        b"<body>Checking your browser</body></html>"
    )
    with ScriptedServer() as server:
        server.add("/mmz4281/2324/E0.csv", 200, page, "text/html; charset=UTF-8")
        server.add("/mmz4281/2223/E0.csv", 200, (SAMPLE_DIR / "E0" / "2022-2023.csv").read_bytes())
        monkeypatch.setenv("SABISCORE_FOOTBALL_DATA_BASE_URL", f"{server.url}/mmz4281")
        monkeypatch.setenv("SABISCORE_FETCH_FOOTBALL_DATA_MIN_INTERVAL_SECONDS", "0")
        monkeypatch.setenv("SABISCORE_FETCH_BACKOFF_INITIAL_SECONDS", "0.1")
        clear_settings_cache()
        result = invoke(
            "ingest",
            "football-data",
            "-l",
            "E0",
            "-s",
            "2023-2024",
            "-s",
            "2022-2023",
        )
    assert result.exit_code == 1
    assert "2324/E0.csv" in result.output and "block or error page" in result.output
    assert scalar("SELECT COUNT(*) FROM matches") == 380


def test_unknown_league_is_a_usage_error() -> None:
    result = runner.invoke(app, ["ingest", "football-data", "-l", "XX", "-s", "2023-2024"])
    assert result.exit_code == 2
    assert "unknown league" in result.output


def test_replay_rebuilds_the_warehouse_from_the_archive(
    sabiscore_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = SAMPLE_DIR.parent
    assert (
        invoke(
            "ingest", "football-data", "--file", str(SAMPLE_DIR / "E0" / "2020-2021.csv")
        ).exit_code
        == 0
    )
    assert (
        invoke("ingest", "understat", "--file", str(samples / "understat" / "match.html")).exit_code
        == 0
    )
    counts = [
        scalar(f"SELECT COUNT(*) FROM {t}") for t in ("matches", "odds", "source_matches", "shots")
    ]
    assert counts[0] == 380 and counts[3] == 19
    # a brand-new warehouse, same archive: no network, no source files
    monkeypatch.setenv("SABISCORE_DATABASE_URL", f"sqlite:///{sabiscore_home / 'rebuilt.sqlite'}")
    clear_settings_cache()
    get_engine.cache_clear()
    result = invoke("replay")
    assert result.exit_code == 0, result.output
    assert [
        scalar(f"SELECT COUNT(*) FROM {t}") for t in ("matches", "odds", "source_matches", "shots")
    ] == counts


def test_teams_check_names_an_unreconciled_file(tmp_path: Path) -> None:
    assert (
        invoke(
            "ingest", "football-data", "--file", str(SAMPLE_DIR / "E0" / "2020-2021.csv")
        ).exit_code
        == 0
    )
    (tmp_path / "E0").mkdir()
    renamed = tmp_path / "E0" / "renamed.json"
    ajax = (
        SAMPLE_DIR.parent.parent / "tests" / "fixtures" / "understat" / "league_ajax.json"
    ).read_bytes()
    renamed.write_bytes(ajax.replace(b"Manchester United", b"Man Utd Red Devils"))
    assert invoke("ingest", "understat", "--file", str(renamed), "--league", "E0").exit_code == 1
    result = invoke("teams", "check")
    assert result.exit_code == 1
    assert "renamed.json" in result.output and "Man Utd Red Devils" in result.output


def _short(raw: bytes, rows: int) -> bytes:
    """A football-data CSV without its last ``rows`` matches."""
    lines = raw.rstrip(b"\r\n").split(b"\r\n")
    return b"\r\n".join(lines[:-rows]) + b"\r\n"


def test_short_finished_season_is_quarantined_and_shown_in_the_data_docs(
    tmp_path: Path, sabiscore_home: Path
) -> None:
    data = tmp_path / "data" / "E0"
    data.mkdir(parents=True)
    shutil.copy(SAMPLE_DIR / "E0" / "2023-2024.csv", data / "2023-2024.csv")
    (data / "2022-2023.csv").write_bytes(
        _short((SAMPLE_DIR / "E0" / "2022-2023.csv").read_bytes(), 3)
    )
    result = invoke("ingest", "football-data", "--from-dir", str(data.parent))
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert (
        "2022-2023.csv" in output
        and "ExpectTableRowCountToBeBetween(matches of the league-season)" in output
    )
    assert "observed 377" in output and "380 expected" in output
    assert scalar("SELECT COUNT(*) FROM matches") == 380  # nothing of the short file
    (manifest,) = (sabiscore_home / "raw" / "football-data" / "_quarantine").glob("*.json")
    assert json.loads(manifest.read_text())["quarantined"]["check"] == "expectation"
    index = sabiscore_home / "data_docs" / "index.html"
    assert f"data docs: {index}" in output and "1 failed" in output
    assert "E0_2022-2023.csv/" in index.read_text()
    docs = invoke("validate", "docs")
    assert docs.exit_code == 0 and str(index) in docs.output


def test_a_download_made_during_the_season_still_loads_on_replay(
    sabiscore_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sabiscore_ml.jobs.football_data import ingest_football_data_bytes
    from sabiscore_ml.warehouse.engine import migrate

    migrate()
    snapshot = _short((SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes(), 30)
    url = "https://www.football-data.co.uk/mmz4281/2324/E0.csv"
    taken = dt.datetime(2024, 4, 20, 9, 0)
    assert ingest_football_data_bytes(snapshot, url, fetched_at=taken).ok
    # the same bytes read today, from a file: first archived mid-season, so still in progress
    (sabiscore_home / "E0.csv").write_bytes(snapshot)
    assert (
        invoke("ingest", "football-data", "--file", str(sabiscore_home / "E0.csv")).exit_code == 0
    )
    monkeypatch.setenv("SABISCORE_DATABASE_URL", f"sqlite:///{sabiscore_home / 'rebuilt.sqlite'}")
    clear_settings_cache()
    get_engine.cache_clear()
    result = invoke("replay")
    assert result.exit_code == 0, result.output
    assert scalar("SELECT COUNT(*) FROM matches") == 350


_FIXTURE_COUNTS = re.compile(
    r"(\d+) rows, (\d+) teams matched, (\d+) matches linked \((\d+) with xG\)"
)


def _teams_check_rows(output: str) -> dict[tuple[str, str, str], tuple[int, ...]]:
    """(source, league, season) -> (teams, matches, linked, with xG) of the printed table."""
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 7 and cells[3].isdigit():
            found[tuple(cells[:3])] = tuple(int(cell) for cell in cells[3:])
    return found


def _filled(path: Path, column: str) -> int:
    return sum(1 for row in csv.DictReader(path.open()) if row[column])


def test_teams_check_and_export_show_what_the_ingest_reported(tmp_path: Path) -> None:
    """The bundled samples loaded as ``sabiscore run`` loads them: the figures each
    whole-season file (Understat's league page, FBref's schedules) or lone match report
    reported are the ones ``teams check`` lists and ``export matches`` fills."""
    from sabiscore_ml.jobs.football_data import bundled_sample_dir, plan_football_data
    from sabiscore_ml.jobs.sources import SOURCES, plan_source
    from sabiscore_ml.jobs.workitems import run_work_item

    invoke("init")
    sample = bundled_sample_dir()
    reported = {}
    for item in plan_football_data(from_dir=str(sample)):
        assert run_work_item(item).ok
    for source in SOURCES:
        for item in plan_source(source, from_dir=str(sample.parent / source)):
            outcome = run_work_item(item)
            assert outcome.ok, outcome.message
            counts = _FIXTURE_COUNTS.search(outcome.message)
            if counts and not outcome.uri.endswith(".csv"):
                reported[Path(outcome.uri).name] = (
                    (source, outcome.league, outcome.season),
                    tuple(int(n) for n in counts.groups()),
                )
    result = invoke("teams", "check")
    assert result.exit_code == 0, result.output
    assert "all reconciled" in result.output
    listed = _teams_check_rows(result.output)
    # (teams, matches, linked, with xG) as the ingest printed "rows, teams, linked (xG)"
    for name in ("league_epl.html", "schedule_FRA-Ligue_1_2021.html.gz", "match_34e95e35.html.gz"):
        key, (rows, teams, linked, with_xg) = reported[name]
        assert listed[key] == (teams, rows, linked, with_xg), name
    assert listed[("understat", "E0", "2020-2021")] == (20, 380, 327, 276)
    assert listed[("fbref", "I1", "2020-2021")] == (2, 1, 1, 1)
    for league, column, source in (
        ("E0", "home_xg", "understat"),
        ("F1", "fbref_home_xg", "fbref"),
        ("I1", "fbref_home_xg", "fbref"),
    ):
        output = tmp_path / f"{league}.csv"
        args = ("export", "matches", "--league", league, "--season", "2020-2021", "-o", str(output))
        assert invoke(*args).exit_code == 0
        assert _filled(output, column) == listed[(source, league, "2020-2021")][3], league


_MISSING_SPELLINGS = re.compile(r"(?:^|,)(?:nan|NaN|NaT|None|<NA>|null)(?:,|$)", re.MULTILINE)


def test_exports_leave_missing_values_empty(warehouse, tmp_path: Path) -> None:
    """E1 2015-16 has no kick-off times; the 2018-19 shot CSV's match is not in the
    warehouse (its shots have no match id) while the 2020-21 one's is."""
    understat = SAMPLE_DIR.parent / "understat" / "E0"
    fixture = SAMPLE_DIR.parent.parent / "tests" / "fixtures" / "understat"
    for path in ("E1/2015-2016.csv", "E0/2019-2020.csv", "E0/2020-2021.csv"):
        assert invoke("ingest", "football-data", "--file", str(SAMPLE_DIR / path)).exit_code == 0
    for path in (
        understat / "shots_epl_20-21_matches_14086_14717.csv",
        fixture / "shots_epl_18-19_match_9486.csv",
    ):
        result = invoke("ingest", "understat", "--file", str(path), "--league", "E0")
        assert result.exit_code == 0, result.output
    outputs = {what: tmp_path / f"{what}.csv" for what in ("matches", "shots", "squad-values")}
    for what, output in outputs.items():
        assert invoke("export", what, "-o", str(output)).exit_code == 0
        assert not _MISSING_SPELLINGS.search(output.read_text()), what
    matches = list(csv.DictReader(outputs["matches"].open()))
    assert {row["kickoff_time"] for row in matches if row["league"] == "E1"} == {""}
    assert matches[-1]["kickoff_time"] and matches[-1]["home_goals"].isdigit()
    shots = list(csv.DictReader(outputs["shots"].open()))
    assert {row["match_id"] == "" for row in shots} == {True, False}
    assert all(row["match_id"].isdigit() for row in shots if row["match_id"])
    assert all(row["minute"].isdigit() for row in shots)
