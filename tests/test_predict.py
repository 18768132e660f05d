"""Replays see nothing from their as-of date on; the next matchday is found per league.

Live runs score football-data's fixtures.csv: the fixture copy of 8 August 2024
(``tests/fixtures/football-data/fixtures_2024-08-08.csv``) on top of the bundled
Premier League history.
"""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import pytest
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR
from polars.testing import assert_frame_equal
from sqlalchemy import text
from typer.testing import CliRunner

from feature_store.api import features_as_of, training_frame
from feature_store.offline import read_partitions
from sabiscore_ml.cli import app
from sabiscore_ml.jobs.predict import PredictRequest, next_matchday
from sabiscore_ml.prices import preclose_prices
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine

runner = CliRunner()
AS_OF = dt.date(2023, 3, 1)
UNTIL = dt.date(2023, 3, 12)
FIXTURES = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
FIXTURES_TAKEN_ON = dt.date(2024, 8, 8)


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


def _load_fixtures() -> None:
    invoke(
        "ingest",
        "football-data",
        "--fixtures-file",
        str(FIXTURES),
        "--taken-on",
        FIXTURES_TAKEN_ON.isoformat(),
    )


def _fixture_ids(engine, league: str, start: dt.date, end: dt.date) -> list[int]:
    with engine.connect() as connection:
        return [
            row[0]
            for row in connection.execute(
                text(
                    "SELECT id FROM matches WHERE league_code = :league AND result IS NULL "
                    "AND match_date BETWEEN :start AND :end ORDER BY id"
                ),
                {"league": league, "start": start.isoformat(), "end": end.isoformat()},
            )
        ]


def test_live_matchday_takes_the_fixtures_with_their_current_odds(e0_sample):
    # the history ends on 19 May 2024: nothing to predict live on 8 August ...
    assert next_matchday(e0_sample, FIXTURES_TAKEN_ON) == {}
    _load_fixtures()
    # ... until fixtures.csv brings the first matchday of 2024-25 (Friday to Monday)
    window = (dt.date(2024, 8, 9), dt.date(2024, 8, 12))
    assert next_matchday(e0_sample, FIXTURES_TAKEN_ON) == {"E0": window, "SP1": window}
    ids = _fixture_ids(e0_sample, "E0", *window)
    assert len(ids) == 10

    quotes = preclose_prices(e0_sample, ids)
    books = {"b365", "bwin", "interwetten", "pinnacle", "william_hill", "bet_victor"}
    assert set(quotes["bookmaker"]) == books | {"market_max", "market_avg"}
    assert quotes.height == 80 and quotes.null_count().sum_horizontal().item() == 0
    # E0,09/08/2024,20:00,Burnley,Man City: B365 8 / 5.5 / 1.33, Pinnacle 8.58 / 5.51 / 1.37
    burnley = quotes.filter(pl.col("match_id") == ids[0]).sort("bookmaker")
    assert burnley.filter(pl.col("bookmaker") == "b365").row(0)[2:] == (8.0, 5.5, 1.33)
    assert burnley.filter(pl.col("bookmaker") == "pinnacle").row(0)[2:] == (8.58, 5.51, 1.37)


@pytest.mark.slow
def test_live_prediction_scores_the_fixtures_at_their_current_odds(e0_sample):
    from feature_store.api import online_features
    from sabiscore_ml.jobs.predict import predict
    from sabiscore_ml.jobs.training import TrainRequest, train

    _load_fixtures()
    invoke("features", "build", "--as-of", FIXTURES_TAKEN_ON.isoformat())
    window = (dt.date(2024, 8, 9), dt.date(2024, 8, 12))
    ids = _fixture_ids(e0_sample, "E0", *window)
    # the fixtures have online vectors, dated and keyed as in the warehouse
    online = online_features(ids, engine=e0_sample)
    assert online["match_id"].to_list() == ids

    trained = train(TrainRequest(leagues=("E0",), as_of=FIXTURES_TAKEN_ON.isoformat()))
    assert trained.alias == "champion"
    # live, as the DAG asks for it: the run's day, results not hidden
    run = predict(
        PredictRequest(as_of=FIXTURES_TAKEN_ON.isoformat(), replay=False, leagues=("E0",)),
        engine=e0_sample,
    )
    assert run.mode == "live" and run.as_of == FIXTURES_TAKEN_ON
    assert sorted(run.predictions["match_id"].to_list()) == ids
    first = run.predictions.sort("match_date", "match_id").row(0, named=True)
    assert (first["home_team"], first["away_team"]) == ("Burnley", "Man City")
    assert first["p_home"] + first["p_draw"] + first["p_away"] == pytest.approx(1.0)
    # the edges are taken at the fixtures' prices: the best pre-closing price on offer
    edges = run.edges.filter(pl.col("match_id") == first["match_id"])
    assert edges.height == 3
    assert set(edges.columns) >= {"outcome", "price", "bookmaker", "edge"}
    best = {row["outcome"]: row["price"] for row in edges.to_dicts()}
    assert best == {"home": 9.5, "draw": 5.68, "away": 1.39}  # the highest quotes of the row
    # the run says by which rules: value bets, and the bankroll its stakes were sized against
    assert run.value_bet_rules["edge_threshold"] == 0.042 and run.value_bet_rules["price"] == "best"
    assert run.value_bet_rules["max_price"] == 10.0 and run.value_bet_rules["min_bookmakers"] == 3
    staking = run.staking
    assert (staking["portfolio"], staking["bankroll"], staking["unit"]) == (
        "default",
        1000.0,
        "units",
    )
    assert staking["kelly_multiplier"] == 0.125 and staking["max_stake_per_bet"] == 0.02
    assert all(
        (row["excluded_by"] is None) == row["is_value"] for row in run.edges.iter_rows(named=True)
    )
