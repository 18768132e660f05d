"""Bulk upserts on both dialects, through both PostgreSQL paths (VALUES pages and COPY)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from sabiscore_ml.warehouse.models import IngestionRun, Team
from sabiscore_ml.warehouse.upsert import upsert

AWKWARD = ["tab\there", "new\nline", "back\\slash", 'quote\'d "x"', "N\\N", "caf\u00e9", "\\N"]


@pytest.mark.parametrize("rows", [10, 2500], ids=["values", "copy"])
def test_upsert_round_trips_awkward_text_and_updates(warehouse: Engine, rows: int) -> None:
    names = [f"{AWKWARD[i % len(AWKWARD)]} {i}" for i in range(rows)]
    rows_in = [{"country": "X", "name": n} for n in names]
    with warehouse.begin() as connection:
        for _ in range(2):  # the second pass conflicts on every row and changes nothing
            upsert(connection, Team.__table__, rows_in, ["country", "name"], update=[])
    with warehouse.connect() as connection:
        stored = connection.execute(select(Team.name).where(Team.country == "X")).scalars().all()
    assert sorted(stored) == sorted(names)


@pytest.mark.parametrize("rows", [10, 2500], ids=["values", "copy"])
def test_upsert_keeps_nulls_dates_and_overwrites_on_conflict(warehouse: Engine, rows: int) -> None:
    when = dt.datetime(2024, 5, 19, 16, 0)

    def batch(status: str) -> list[dict]:
        return [
            {
                "id": i + 1,
                "source": "s",
                "uri": f"u{i}",
                "sha256": None,
                "status": status,
                "started_at": when,
                "fetched_at": None,
                "loaded_at": when,
                "league_code": None,
                "season_code": None,
                "rows_read": i,
                "matches_loaded": 0,
                "odds_loaded": 0,
                "check_failed": None,
                "message": None,
            }
            for i in range(rows)
        ]

    with warehouse.begin() as connection:
        upsert(connection, IngestionRun.__table__, batch("loaded"), ["id"])
        upsert(connection, IngestionRun.__table__, batch("rejected"), ["id"])
    with warehouse.connect() as connection:
        got = connection.execute(select(IngestionRun).order_by(IngestionRun.id)).all()
    assert len(got) == rows
    assert {r.status for r in got} == {"rejected"}
    assert got[-1].rows_read == rows - 1
    assert got[0].started_at == when and got[0].fetched_at is None and got[0].sha256 is None


@pytest.mark.parametrize("rows", [10, 2500], ids=["values", "copy"])
def test_upsert_newer_only_replaces_rows_of_an_older_rank(warehouse: Engine, rows: int) -> None:
    def batch(status: str, started: dt.datetime) -> list[dict]:
        return [
            {
                "id": i + 1,
                "source": "s",
                "uri": f"u{i}",
                "status": status,
                "started_at": started,
                "rows_read": 0,
                "matches_loaded": 0,
                "odds_loaded": 0,
            }
            for i in range(rows)
        ]

    old, new = dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1)
    with warehouse.begin() as connection:
        upsert(
            connection, IngestionRun.__table__, batch("newer", new), ["id"], newer=["started_at"]
        )
        upsert(
            connection, IngestionRun.__table__, batch("older", old), ["id"], newer=["started_at"]
        )
        upsert(connection, IngestionRun.__table__, batch("tie", new), ["id"], newer=["started_at"])
    with warehouse.connect() as connection:
        assert set(connection.execute(select(IngestionRun.status)).scalars()) == {"newer"}
    with warehouse.begin() as connection:
        newest = batch("newest", dt.datetime(2026, 1, 1))
        upsert(connection, IngestionRun.__table__, newest, ["id"], newer=["started_at", "uri"])
    with warehouse.connect() as connection:
        assert set(connection.execute(select(IngestionRun.status)).scalars()) == {"newest"}
