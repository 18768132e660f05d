"""Warehouse schema, loads and idempotence, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR, warehouse_snapshot
from sqlalchemy import Engine, inspect, select, text

from sabiscore_ml.jobs.football_data import ingest_football_data_bytes, ingest_football_data_file
from sabiscore_ml.settings import get_core_settings
from sabiscore_ml.warehouse.engine import current_revision, migrate
from sabiscore_ml.warehouse.models import IngestionRun, Match, Odds, Team

E0_2324 = SAMPLE_DIR / "E0" / "2023-2024.csv"


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def runs(engine: Engine) -> list[IngestionRun]:
    with engine.connect() as connection:
        return list(connection.execute(select(IngestionRun).order_by(IngestionRun.id)))


def test_migration_creates_the_schema(warehouse: Engine) -> None:
    tables = set(inspect(warehouse).get_table_names())
    assert {
        "leagues",
        "seasons",
        "teams",
        "team_aliases",
        "raw_files",
        "ingestion_runs",
        "matches",
        "odds",
        "odds_snapshots",
        "match_xg",
        "shots",
        "squad_values",
        "model_versions",
        "predictions",
        "stakes",
        "portfolios",
        "portfolio_bets",
        "bankroll_ledger",
        "prediction_runs",
        "run_predictions",
        "run_edges",
        "run_stakes",
        "api_keys",
        "alembic_version",
    } <= tables
    assert current_revision(str(warehouse.url.render_as_string(hide_password=False))) == "0016"
    columns = {c["name"] for c in inspect(warehouse).get_columns("run_predictions")}
    assert {"p_over25", "p_btts", "drivers_json", "correct_score_json"} <= columns
    assert count(warehouse, "leagues") == 22
    migrate(warehouse.url.render_as_string(hide_password=False))  # a second run is a no-op
    assert count(warehouse, "leagues") == 22


def test_load_one_file(warehouse: Engine) -> None:
    outcome = ingest_football_data_file(E0_2324, engine=warehouse)
    assert outcome.ok, outcome.message
    assert (outcome.league, outcome.season, outcome.matches) == ("E0", "2023-2024", 380)
    assert count(warehouse, "matches") == 380
    assert count(warehouse, "teams") == 20
    assert count(warehouse, "odds") == outcome.odds > 380 * 40
    with warehouse.connect() as connection:
        burnley = connection.execute(select(Team.id).where(Team.name == "Burnley")).scalar_one()
        match = connection.execute(
            select(Match).where(
                Match.home_team_id == burnley, Match.match_date == dt.date(2023, 8, 11)
            )
        ).one()
        assert (match.home_goals, match.away_goals, match.result) == (0, 3, "A")
        assert match.kickoff_time == dt.time(20, 0)
        # 20:00 UK summer time is 19:00 UTC
        assert match.kickoff_utc == dt.datetime(2023, 8, 11, 19, 0)
        assert match.raw_sha256 == outcome.sha256
        prices = dict(
            connection.execute(
                select(Odds.timing, Odds.price).where(
                    Odds.match_id == match.id,
                    Odds.bookmaker == "pinnacle",
                    Odds.market == "1x2",
                    Odds.outcome == "home",
                )
            ).all()
        )
        assert prices == {"preclose": 8.58, "close": 9.62}
    (run,) = runs(warehouse)
    assert (run.status, run.matches_loaded, run.odds_loaded, run.sha256) == (
        "loaded",
        380,
        outcome.odds,
        outcome.sha256,
    )
    archived = get_core_settings().raw_archive_dir / "football-data" / "E0" / "2023-2024"
    assert (archived / f"{outcome.sha256}.csv").read_bytes() == E0_2324.read_bytes()
    assert (archived / f"{outcome.sha256}.json").exists()


def test_loading_the_same_file_twice_changes_nothing(warehouse: Engine) -> None:
    for path in (E0_2324, FOOTBALL_DATA_FIXTURES / "E0_2015-2016.csv"):
        assert ingest_football_data_file(path, engine=warehouse).ok
    before = warehouse_snapshot(warehouse)
    for path in (E0_2324, FOOTBALL_DATA_FIXTURES / "E0_2015-2016.csv"):
        assert ingest_football_data_file(path, engine=warehouse).ok
    assert warehouse_snapshot(warehouse) == before
    assert [run.status for run in runs(warehouse)] == ["loaded"] * 4


def test_teams_are_shared_across_seasons_and_case_insensitive(warehouse: Engine) -> None:
    first = SAMPLE_DIR / "E0" / "2022-2023.csv"
    assert ingest_football_data_file(first, engine=warehouse).ok
    assert ingest_football_data_file(E0_2324, engine=warehouse).ok
    # 20 teams in 2022-23, three promoted sides new in 2023-24
    assert count(warehouse, "teams") == 23
    raw = E0_2324.read_bytes().replace(b",Man City,", b",MAN CITY,")
    outcome = ingest_football_data_bytes(raw, "shouting.csv", engine=warehouse)
    assert outcome.ok
    assert count(warehouse, "teams") == 23
    assert count(warehouse, "matches") == 760


BAD_INPUTS = {
    "empty": b"",
    "truncated": E0_2324.read_bytes()[:50_000],
    "not_csv": b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
    "mandatory_columns": E0_2324.read_bytes().replace(b",FTAG,", b",AwayGoals,", 1),
    "encoding": E0_2324.read_bytes().decode("ascii").encode("utf-16"),
    "future_result": E0_2324.read_bytes().replace(b"E0,19/05/2024,", b"E0,19/06/2099,"),
}


@pytest.mark.parametrize("check", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_and_nothing_is_written(
    warehouse: Engine, check: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ingest_football_data_file(SAMPLE_DIR / "E0" / "2022-2023.csv", engine=warehouse).ok
    before = warehouse_snapshot(warehouse)
    outcome = ingest_football_data_bytes(
        BAD_INPUTS[check], f"{check}.csv", engine=warehouse, today=dt.date(2026, 1, 1)
    )
    expected = "season_span" if check == "future_result" else check
    assert (outcome.status, outcome.check) == ("rejected", expected)
    assert f"{check}.csv" in outcome.message
    assert warehouse_snapshot(warehouse) == before
    last = runs(warehouse)[-1]
    assert (last.status, last.check_failed, last.uri) == ("rejected", expected, f"{check}.csv")
    # the raw bytes are kept for replay
    kept = get_core_settings().raw_archive_dir / "football-data" / "_quarantine"
    assert (kept / f"{outcome.sha256}.csv").read_bytes() == BAD_INPUTS[check]
    manifest = json.loads((kept / f"{outcome.sha256}.json").read_text())
    assert manifest["quarantined"]["check"] == expected


def test_future_result_inside_the_season_window(warehouse: Engine) -> None:
    outcome = ingest_football_data_bytes(
        E0_2324.read_bytes(), "early.csv", engine=warehouse, today=dt.date(2024, 1, 1)
    )
    assert (outcome.status, outcome.check) == ("rejected", "future_result")
    assert count(warehouse, "matches") == 0


def test_unreadable_path_is_reported(warehouse: Engine, tmp_path: Path) -> None:
    outcome = ingest_football_data_file(tmp_path / "missing.csv", engine=warehouse)
    assert (outcome.status, outcome.check) == ("rejected", "readable")
    assert "missing.csv" in outcome.message
