"""Replays see nothing from their as-of date on; the next matchday is found per league."""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import pytest
from conftest import SAMPLE_DIR
from polars.testing import assert_frame_equal
from sqlalchemy import text
from typer.testing import CliRunner

from feature_store.api import features_as_of, training_frame
from feature_store.offline import read_partitions
from sabiscore_ml.cli import app
from sabiscore_ml.jobs.predict import PredictRequest, next_matchday
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine

runner = CliRunner()
AS_OF = dt.date(2023, 3, 1)
UNTIL = dt.date(2023, 3, 12)


def invoke(*args: str) -> None:
    result = runner.invoke(app, list(args), catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output


@pytest.fixture
def e0_sample(sabiscore_home):
    get_engine.cache_clear()
    invoke("ingest", "football-data", "--from-dir", str(SAMPLE_DIR), "--league", "E0")
    yield get_engine()
    get_engine.cache_clear()


def test_next_matchday_per_league(e0_sample):
    windows = next_matchday(e0_sample, AS_OF, days=4)
    assert windows == {"E0": (AS_OF, dt.date(2023, 3, 4))}
    # the season's end: no fixture within the horizon
    assert next_matchday(e0_sample, dt.date(2024, 6, 1)) == {}
    assert PredictRequest(as_of="2023-03-01").mode == "replay"
    assert PredictRequest().mode == "live"
    assert PredictRequest(as_of="2023-03-01", replay=False).mode == "live"


@pytest.mark.slow
def test_features_as_of_equal_those_of_a_warehouse_that_ends_that_morning(
    e0_sample, sabiscore_home, tmp_path, monkeypatch
):
    invoke("features", "build")
    replay = features_as_of(AS_OF, UNTIL, leagues=["E0"], engine=e0_sample)
    assert replay.height == 22  # Wednesday 1 March (2 games), 4-5 March (10), 11-12 March (10)
    assert replay["result"].null_count() == replay.height
    assert replay["match_date"].min() == AS_OF and replay["match_date"].max() <= UNTIL
    # the played frame knows those results; the replay hides them from later rows
    full = training_frame(["E0"], ["2022-2023"], engine=e0_sample).filter(
        pl.col("match_date").is_between(AS_OF, UNTIL)
    )
    assert full.height == 22
    later = replay["match_date"] > AS_OF
    assert (
        not replay.filter(later)
        .select("form_home_points_r3")
        .equals(full.sort("match_date", "match_id").filter(later).select("form_home_points_r3"))
    )

    # the same warehouse with every result and statistic from that morning on erased
    other = tmp_path / "erased"
    other.mkdir()
    shutil.copy(sabiscore_home / "warehouse.sqlite", other / "warehouse.sqlite")
    monkeypatch.setenv("SABISCORE_HOME", str(other))
    clear_settings_cache()
    get_engine.cache_clear()
    engine = get_engine()
    stats = [
        "home_goals",
        "away_goals",
        "result",
        "ht_home_goals",
        "ht_away_goals",
        "home_shots",
        "away_shots",
        "home_shots_on_target",
        "away_shots_on_target",
        "home_fouls",
        "away_fouls",
        "home_corners",
        "away_corners",
        "home_yellow_cards",
        "away_yellow_cards",
        "home_red_cards",
        "away_red_cards",
        "attendance",
    ]
    with engine.begin() as connection:
        erased = connection.execute(
            text(
                f"UPDATE matches SET {', '.join(f'{c} = NULL' for c in stats)} "
                "WHERE match_date >= :day"
            ),
            {"day": AS_OF.isoformat()},
        ).rowcount
        connection.execute(text("DELETE FROM feature_partitions"))
    assert erased > 22
    invoke("features", "build", "--full")
    rebuilt = training_frame(["E0"], ["2022-2023"], engine=engine)  # played rows only: none
    assert rebuilt.filter(pl.col("match_date") >= AS_OF).is_empty()
    expected = (
        read_partitions(engine, leagues=["E0"], seasons=["2022-2023"])
        .filter(pl.col("match_date").is_between(AS_OF, UNTIL))
        .sort("match_date", "match_id")
    )
    assert_frame_equal(replay, expected)
