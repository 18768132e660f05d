"""Publishing runs: the warehouse history (SQLite and PostgreSQL) and the real Redis."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import redis
from conftest import REPO, table_snapshot
from sqlalchemy import Engine, insert, inspect, text

import sabiscore_ml.publish as publish_module
import sabiscore_ml.publish.redis_store as redis_store
import sabiscore_ml.publish.warehouse as publish_warehouse
from sabiscore_ml.betting.edges import ValueBetRules, match_edges
from sabiscore_ml.betting.kelly import StakingRules, size_stakes
from sabiscore_ml.models.score_grid import CORRECT_SCORE_LABELS, joint_markets
from sabiscore_ml.publish import (
    InvalidRun,
    PublishedRun,
    RedisTtls,
    RunConflict,
    current_run_id,
    document_key,
    encode_document,
    latest_run,
    publish,
    publish_to_redis,
    publish_to_warehouse,
    read_document,
    run_documents,
    run_info,
    run_prediction,
    run_predictions,
    run_value_bets,
    warehouse_document,
    warehouse_leagues,
)
from sabiscore_ml.publish.contract import CORRECT_SCORE_KEYS, correct_score_markets
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import alembic_config
from sabiscore_ml.warehouse.models import Match, RawFile, Season, Team

REDIS_URL = "redis://127.0.0.1:6379/0"
T0 = dt.datetime(2024, 3, 1, 9, 0)
SATURDAY, SUNDAY = dt.date(2024, 3, 2), dt.date(2024, 3, 3)
VALUE_BET_RULES = {**ValueBetRules().describe(), "price": "best"}
STAKING = {
    "portfolio": "strategy:value",
    "bankroll": 1000.0,
    "peak_bankroll": 1000.0,
    "unit": "units",
    **StakingRules(max_stake_per_league=None, max_stake_per_matchday=None).describe(),
}
RUN_TABLES = ("run_predictions", "run_edges", "run_stakes", "prediction_runs")
TABLE_ORDER = {
    "prediction_runs": "run_id",
    "run_predictions": "run_id, match_id",
    "run_edges": "run_id, match_id, market, outcome",
    "run_stakes": "run_id, match_id, market, outcome, portfolio",
}


# --- Fixtures and data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """A match row added to the warehouse, as the job would describe it."""

    match_id: int
    league_code: str
    match_date: dt.date
    kickoff_utc: dt.datetime | None
    home_team: str
    away_team: str


def add_fixtures(engine: Engine, per_league: int = 3) -> list[Fixture]:
    """``per_league`` E0 fixtures on SATURDAY and SP1 fixtures on SUNDAY (no results)."""
    fixtures = []
    with engine.begin() as connection:
        connection.execute(insert(Season).values(code="2023-2024", start_year=2023))
        connection.execute(
            insert(RawFile).values(
                sha256="e" * 64,
                source="test",
                uri="test://fixtures",
                size_bytes=0,
                archive_path="-",
                first_seen_at=T0,
            )
        )
        for league, country, day, names in (
            (
                "E0",
                "England",
                SATURDAY,
                ["Arsenal", "Everton", "Fulham", "Luton", "Wolves", "Spurs"],
            ),
            (
                "SP1",
                "Spain",
                SUNDAY,
                ["Atlético Madrid", "Cádiz", "Girona", "Betis", "Getafe", "Celta"],
            ),
        ):
            for i in range(per_league):
                home, away = names[(2 * i) % len(names)], names[(2 * i + 1) % len(names)]
                home, away = f"{home} {i}", f"{away} {i}"
                ids = [
                    connection.execute(
                        insert(Team).values(country=country, name=name)
                    ).inserted_primary_key[0]
                    for name in (home, away)
                ]
                # Kick-offs out of id order; the last match of each league has none.
                kickoff = (
                    None
                    if i == per_league - 1
                    else dt.datetime.combine(day, dt.time(20 - 2 * i, 0))
                )
                match_id = connection.execute(
                    insert(Match).values(
                        league_code=league,
                        season_code="2023-2024",
                        match_date=day,
                        kickoff_utc=kickoff,
                        home_team_id=ids[0],
                        away_team_id=ids[1],
                        raw_sha256="e" * 64,
                    )
                ).inserted_primary_key[0]
                fixtures.append(Fixture(match_id, league, day, kickoff, home, away))
    return fixtures


def loose_fixtures(per_league: int = 3) -> list[Fixture]:
    """Fixtures as :func:`add_fixtures` makes them, for tests without a warehouse."""
    fixtures = []
    for league, day, first in (("E0", SATURDAY, 1), ("SP1", SUNDAY, 1 + per_league)):
        for i in range(per_league):
            kickoff = None if i == per_league - 1 else dt.datetime.combine(day, dt.time(20 - 2 * i))
            fixtures.append(Fixture(first + i, league, day, kickoff, f"Home {i}", f"Away {i}"))
    return fixtures


def scored_run(
    run_id: str,
    fixtures: list[Fixture],
    *,
    created_at: dt.datetime = T0,
    shift: float = 0.0,
    mode: str = "live",
) -> PublishedRun:
    """A run scored by the real edge and stake code: every other match holds a value bet.

    ``shift`` moves probability from the draw to the home side, so runs differ.  From
    the third match on, the markets are a bundle's: one score grid matched to the 1X2,
    with its correct scores.
    """
    rows = []
    for i, f in enumerate(fixtures):
        p_home = 0.40 + 0.02 * (i % 6) + shift
        p_away = 0.25
        rows.append(
            {
                "match_id": f.match_id,
                "league_code": f.league_code,
                "season_code": "2023-2024",
                "match_date": f.match_date,
                "kickoff_utc": f.kickoff_utc,
                "home_team": f.home_team,
                "away_team": f.away_team,
                "p_home": p_home,
                "p_draw": 1.0 - p_home - p_away,
                "p_away": p_away,
                "p_over25": None if i == 0 else 0.5 + 0.01 * i,
                "p_btts": 0.48,
                "xg_home": 1.4 + 0.1 * i + shift,
                "xg_away": None if i == 0 else 1.1,
                "drivers": None
                if i == 1
                else json.dumps([{"feature": "elo_diff", "value": 31.123456789 + i}]),
                "correct_score": None,
            }
        )
        if i >= 2:
            rows[-1].update(grid_markets_of(p_home, p_away))
    predictions = pl.DataFrame(rows)
    # Even matches: the home side priced 10%, 20% or 30% above the model's fair price (a value
    # bet); every other price 5% below it.
    prices = pl.DataFrame(
        [
            {
                "match_id": f.match_id,
                "bookmaker": book,
                "price_home": (1.1 + 0.05 * (i % 6) if i % 2 == 0 else 0.95)
                / (0.40 + 0.02 * (i % 6))
                + step,
                "price_draw": 0.95 / (0.35 - 0.02 * (i % 6)) + step,
                "price_away": 0.95 / 0.25 + step,
            }
            for i, f in enumerate(fixtures)
            for book, step in (("pinnacle", 0.0), ("b365", -0.05), ("bwin", -0.02))
        ]
    )
    scored = predictions.select(
        "match_id", "match_date", "league_code", "p_home", "p_draw", "p_away"
    )
    edges = match_edges(scored, prices)
    rules = StakingRules(max_stake_per_league=None, max_stake_per_matchday=None)
    staked = size_stakes(edges, 1000.0, 1000.0, rules).to_frame()
    stakes = pl.concat(
        [
            staked.with_columns(pl.lit("strategy:value").alias("portfolio")),
            staked.head(2).with_columns(
                pl.lit("user:alice").alias("portfolio"), (pl.col("stake") / 2).round(2)
            ),
        ]
    )
    return PublishedRun(
        run_id=run_id,
        model_name="sabiscore-1x2",
        model_version="7",
        created_at=created_at,
        as_of=dt.date(2024, 3, 1),
        mode=mode,
        predictions=predictions,
        edges=edges,
        stakes=stakes,
        value_bet_rules=VALUE_BET_RULES,
        staking=STAKING,
    )


def grid_markets_of(p_home: float, p_away: float) -> dict[str, object]:
    """The goals markets, expected goals and correct scores of the grid giving this 1X2."""
    joint = joint_markets(np.array([p_home]), np.array([p_away]), -0.06, np.ones(1), np.ones(1))
    assert joint["residual"][0] < 1e-9
    scores = dict(zip(CORRECT_SCORE_LABELS, joint["correct_score"][0].tolist(), strict=True))
    return {
        **{k: float(joint[k][0]) for k in ("p_over25", "p_btts", "xg_home", "xg_away")},
        "correct_score": json.dumps(scores),
    }


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    return {table: table_snapshot(engine, table, TABLE_ORDER[table]) for table in RUN_TABLES}


@pytest.fixture
def cache() -> Iterator[tuple[redis.Redis, str]]:
    """The real Redis, and a key prefix of this test's own (its keys deleted afterwards)."""
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"sabiscore-test-{uuid.uuid4().hex[:10]}"
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def fixtures(warehouse: Engine) -> list[Fixture]:
    return add_fixtures(warehouse)


def redis_state(client: redis.Redis, prefix: str) -> dict[str, tuple[bytes, str]]:
    """Every string key under the prefix: its value and TTL class (by the TTL left)."""
    state = {}
    for key in sorted(client.scan_iter(f"{prefix}:pub:*")):
        ttl = client.ttl(key)
        band = (
            "none" if ttl == -1 else "odds" if ttl <= 900 else "static" if ttl <= 3600 else "long"
        )
        state[key.decode()] = (client.get(key), band)
    return state


def expected_documents(prefix: str, run: PublishedRun) -> dict[str, bytes]:
    return {document_key(prefix, run.run_id, d.kind, d.key): d.body for d in run_documents(run)}


# --- The run and its documents ------------------------------------------------------------------


def test_a_run_is_checked_and_put_in_canonical_form():
    fixtures = [
        Fixture(7, "E0", SATURDAY, None, "Arsenal", "Everton"),
        Fixture(3, "E0", SATURDAY, dt.datetime(2024, 3, 2, 15), "Fulham", "Luton"),
    ]
    run = scored_run("r-1", fixtures, created_at=dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC))
    assert run.created_at == dt.datetime(2024, 3, 1, 10) and run.created_at.tzinfo is None
    assert run.predictions["match_id"].to_list() == [3, 7]
    assert run.edges.filter(pl.col("match_id") == 3)["outcome"].to_list() == [
        "home",
        "draw",
        "away",
    ]
    assert run.records.predictions[1]["drivers"] == [{"feature": "elo_diff", "value": 31.123457}]
    assert run.records.n_value_bets == 1  # match 7 (the first row given) is priced as a value

    bare = PublishedRun(
        "r-2",
        "m",
        "1",
        T0,
        SATURDAY,
        "replay",
        run.predictions.drop("kickoff_utc", "p_over25", "p_btts", "xg_home", "xg_away", "drivers"),
        pl.DataFrame(),
        pl.DataFrame(),
    )
    assert bare.predictions["drivers"].null_count() == 2 and bare.edges.height == 0

    def rebuilt(**changes) -> PublishedRun:
        fields = {
            "run_id": "r-3",
            "model_name": "m",
            "model_version": "1",
            "created_at": T0,
            "as_of": SATURDAY,
            "mode": "live",
            "predictions": run.predictions,
            "edges": run.edges,
            "stakes": run.stakes,
        }
        return PublishedRun(**{**fields, **changes})

    refused = {
        "run id": {"run_id": "a:b"},
        "reserved": {"run_id": "current"},
        "mode": {"mode": "backtest"},
        "missing columns ['p_draw']": {"predictions": run.predictions.drop("p_draw")},
        "repeat the key": {"predictions": pl.concat([run.predictions, run.predictions])},
        "not summing to 1": {"predictions": run.predictions.with_columns(pl.col("p_home") + 0.1)},
        "nulls in the columns ['home_team']": {
            "predictions": run.predictions.with_columns(pl.lit(None, pl.String).alias("home_team"))
        },
        "is not JSON": {"predictions": run.predictions.with_columns(pl.lit("{").alias("drivers"))},
        "'all' is not a league": {
            "predictions": run.predictions.with_columns(pl.lit("all").alias("league_code"))
        },
        "edges of matches without a prediction": {
            "edges": run.edges.with_columns(pl.col("match_id").replace(3, 99))
        },
        "value bets without a price": {
            "edges": run.edges.with_columns(
                pl.lit(True).alias("is_value"), pl.lit(None).alias("price")
            )
        },
        "stakes: missing columns ['portfolio']": {"stakes": run.stakes.drop("portfolio")},
        "expected type": {"edges": run.edges.with_columns(pl.lit("x").alias("price"))},
    }
    for message, change in refused.items():
        with pytest.raises(InvalidRun, match=re.escape(message)):
            rebuilt(**change)


def test_the_published_correct_scores_give_every_published_market():
    run = scored_run("r-1", loose_fixtures())
    documents = {(d.kind, d.key): json.loads(d.body) for d in run_documents(run)}
    insights = [d for (kind, _), d in documents.items() if kind == "prediction"]
    graded = [d for d in insights if d["correct_score"] is not None]
    assert (len(insights), len(graded)) == (6, 4)
    # 41 probabilities rounded to 6 decimals each, the market itself once more
    rounding = len(CORRECT_SCORE_KEYS) * 5e-7
    for insight in graded:
        scores = insight["correct_score"]
        assert list(scores) == sorted(CORRECT_SCORE_KEYS)
        assert sum(scores.values()) == pytest.approx(1.0, abs=rounding)
        for market, value in correct_score_markets(scores).items():
            assert value == pytest.approx(insight[market], abs=rounding + 5e-7), market
    # the markets differ from match to match, so the check above is no coincidence
    assert len({d["p_over25"] for d in graded}) == 4
    # the compact lists stay compact
    assert all("correct_score" not in m for m in documents[("upcoming", "all")])


def test_a_correct_score_grid_contradicting_its_markets_is_refused():
    run = scored_run("r-1", loose_fixtures())
    match_id = run.predictions.filter(pl.col("correct_score").is_not_null())["match_id"][0]
    row = pl.col("match_id") == match_id
    scores = json.loads(run.predictions.filter(row)["correct_score"][0])

    def with_scores(value: object) -> pl.DataFrame:
        text = value if isinstance(value, str) else json.dumps(value)
        return run.predictions.with_columns(
            pl.when(row)
            .then(pl.lit(text))
            .otherwise(pl.col("correct_score"))
            .alias("correct_score")
        )

    # a home win moved to a draw: 1X2 contradicted, the goals markets not
    shifted = {**scores, "1-0": scores["1-0"] - 0.01, "1-1": scores["1-1"] + 0.01}
    refused = {
        f"correct_score of match {match_id} is not JSON": with_scores("{"),
        "a JSON object of the 41 scores 0-0 ... other_away": with_scores(
            {k: v for k, v in scores.items() if k != "other_draw"}
        ),
        "probabilities in [0, 1]": with_scores(
            {**scores, "5-5": -0.001, "0-0": scores["0-0"] + 0.001}
        ),
        "sums to 1.01": with_scores({**scores, "0-0": scores["0-0"] + 0.01}),
        "gives p_home": with_scores(shifted),
        "gives p_over25": run.predictions.with_columns(
            pl.when(row).then(pl.col("p_over25") + 0.01).otherwise(pl.col("p_over25"))
        ),
        "the prediction none": run.predictions.with_columns(
            pl.when(row).then(None).otherwise(pl.col("p_btts")).alias("p_btts")
        ),
    }
    for message, predictions in refused.items():
        with pytest.raises(InvalidRun, match=re.escape(message)):
            PublishedRun("r-9", "m", "1", T0, SATURDAY, "live", predictions, run.edges, run.stakes)
    # the grid as given passes, and its markets are published from it
    accepted = PublishedRun(
        "r-9", "m", "1", T0, SATURDAY, "live", with_scores(scores), run.edges, run.stakes
    )
    assert sum(p["correct_score"] is not None for p in accepted.records.predictions) == 4


def test_documents_are_deterministic_compact_json():
    assert encode_document({"b": 1.23456789, "a": [dt.date(2024, 3, 2), -0.0000001, None]}) == (
        b'{"a":["2024-03-02",0.0,null],"b":1.234568}'
    )
    assert (
        encode_document({"name": "Cádiz", "x": float("nan")})
        == '{"name":"Cádiz","x":null}'.encode()
    )
    fixtures = [
        Fixture(1, "E0", SATURDAY, dt.datetime(2024, 3, 2, 20), "A", "B"),
        Fixture(2, "E0", SATURDAY, None, "C", "D"),
        Fixture(3, "E0", SATURDAY, dt.datetime(2024, 3, 2, 12, 30), "E", "F"),
        Fixture(4, "SP1", SUNDAY, dt.datetime(2024, 3, 3, 18), "G", "H"),
    ]
    run = scored_run("r-1", fixtures)
    documents = {(d.kind, d.key): d for d in run_documents(run)}
    assert set(documents) == {
        ("meta", None),
        ("leagues", None),
        ("value-bets", None),
        ("withdrawn", None),
        ("upcoming", "all"),
        ("upcoming", "E0"),
        ("upcoming", "SP1"),
        *(("prediction", str(i)) for i in (1, 2, 3, 4)),
    }
    assert [d.body for d in run_documents(scored_run("r-1", fixtures))] == [
        d.body for d in run_documents(run)
    ]
    classes = {key: d.ttl_class for key, d in documents.items()}
    assert {k for k, c in classes.items() if c == "odds"} == {
        ("value-bets", None),
        ("withdrawn", None),
        *(("prediction", str(i)) for i in (1, 2, 3, 4)),
    }
    upcoming = json.loads(documents["upcoming", "all"].body)
    assert [p["match_id"] for p in upcoming] == [3, 1, 2, 4]  # by kickoff; none last on its day
    assert [p["match_id"] for p in json.loads(documents["upcoming", "E0"].body)] == [3, 1, 2]
    assert json.loads(documents["leagues", None].body) == [
        {"league_code": "E0", "n_predictions": 3},
        {"league_code": "SP1", "n_predictions": 1},
    ]
    value_bets = json.loads(documents["value-bets", None].body)
    assert [v["edge"] for v in value_bets] == sorted((v["edge"] for v in value_bets), reverse=True)
    assert {v["match_id"] for v in value_bets} == {1, 3}
    assert all(v["run_id"] == "r-1" and v["stakes"]["strategy:value"] > 0 for v in value_bets)
    meta = json.loads(documents["meta", None].body)
    assert meta == {
        "run_id": "r-1",
        "model_name": "sabiscore-1x2",
        "model_version": "7",
        "created_at": "2024-03-01T09:00:00Z",
        "as_of": "2024-03-01",
        "mode": "live",
        "value_bet_rules": VALUE_BET_RULES,
        "staking": STAKING,
        "n_predictions": 4,
        "n_value_bets": 2,
        "content_sha256": run.content_sha256,
    }
    insight = json.loads(documents["prediction", "1"].body)
    assert insight["run_id"] == "r-1" and insight["home_team"] == "A"
    assert [(e["outcome"], e["is_value"]) for e in insight["edges"]] == [
        ("home", True),
        ("draw", False),
        ("away", False),
    ]
    assert [v["outcome"] for v in insight["value_bets"]] == ["home"]
    assert {s["portfolio"] for s in insight["stakes"]} == {"strategy:value", "user:alice"}
    # The digest ignores the creation time, not the content.
    later = scored_run("r-1", fixtures, created_at=T0 + dt.timedelta(hours=1))
    assert later.content_sha256 == run.content_sha256
    assert scored_run("r-1", fixtures, shift=0.01).content_sha256 != run.content_sha256


# --- Warehouse ----------------------------------------------------------------------------------


def test_migration_adds_the_run_tables_and_goes_back(warehouse: Engine):
    from alembic import command

    tables = set(inspect(warehouse).get_table_names())
    assert set(RUN_TABLES) | {"predictions", "stakes"} <= tables
    url = warehouse.url.render_as_string(hide_password=False)
    config = alembic_config(url)
    with warehouse.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    tables = set(inspect(warehouse).get_table_names())
    assert not set(RUN_TABLES) & tables and {"predictions", "stakes"} <= tables
    with warehouse.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert set(RUN_TABLES) <= set(inspect(warehouse).get_table_names())


def test_publish_to_warehouse_then_read(warehouse: Engine, fixtures: list[Fixture]):
    run = scored_run("run-a", fixtures)
    published = publish_to_warehouse(warehouse, run)
    assert published.inserted and published.run_id == "run-a"
    assert published.run.n_predictions == 6 and published.run.n_value_bets == 3
    assert published.run.status == "published" and published.run.created_at == T0
    assert published.n_stakes == run.stakes.height > 0
    assert latest_run(warehouse) == published.run == run_info(warehouse, "run-a")
    # a stored run is the run's header (rules read back) plus its publication
    assert published.run.header == run.header

    e0 = [f.match_id for f in fixtures if f.league_code == "E0"]
    listed = run_predictions(warehouse, "run-a")
    assert len(listed) == 6 and all(p["run_id"] == "run-a" for p in listed)
    assert [p["match_id"] for p in run_predictions(warehouse, "run-a", league="E0")] == [
        e0[1],
        e0[0],
        e0[2],
    ]
    assert {p["league_code"] for p in run_predictions(warehouse, "run-a", date=SUNDAY)} == {"SP1"}
    assert run_predictions(warehouse, "run-a", league="E0", date=SUNDAY) == []
    assert run_predictions(warehouse, "no-such-run") == []

    value_bets = run_value_bets(warehouse, "run-a")
    assert len(value_bets) == 3
    edges = sorted(v["edge"] for v in value_bets)
    assert [v["edge"] for v in run_value_bets(warehouse, "run-a", min_edge=edges[1])] == [
        edges[2],
        edges[1],
    ]
    assert {v["league_code"] for v in run_value_bets(warehouse, "run-a", league="SP1")} == {"SP1"}
    assert len(run_value_bets(warehouse, "run-a", league="SP1")) == 1

    insight = run_prediction(warehouse, "run-a", fixtures[0].match_id)
    assert insight is not None
    assert insight["home_team"] == fixtures[0].home_team and len(insight["edges"]) == 3
    assert {s["portfolio"] for s in insight["stakes"]} == {"strategy:value", "user:alice"}
    assert insight["drivers"] == [{"feature": "elo_diff", "value": 31.123457}]
    assert run_prediction(warehouse, "run-a", 10**9) is None
    assert warehouse_leagues(warehouse, "run-a") == [
        {"league_code": "E0", "n_predictions": 3},
        {"league_code": "SP1", "n_predictions": 3},
    ]
    # The warehouse rebuilds the very bytes Redis would hold.
    for document in run_documents(run):
        assert warehouse_document(warehouse, "run-a", document.kind, document.key) == document.body
    assert warehouse_document(warehouse, "run-a", "upcoming", "D1") is None
    assert warehouse_document(warehouse, "no-such-run", "meta") is None


def test_publishing_a_run_again_changes_nothing(warehouse: Engine, fixtures: list[Fixture]):
    run = scored_run("run-a", fixtures)
    first = publish_to_warehouse(warehouse, run)
    before = snapshot(warehouse)
    assert all(before[table] for table in RUN_TABLES)
    retry = scored_run("run-a", fixtures, created_at=T0 + dt.timedelta(minutes=5))
    again = publish_to_warehouse(warehouse, retry)
    assert not again.inserted and again.run == first.run  # the first creation time stays
    assert snapshot(warehouse) == before
    with pytest.raises(RunConflict, match="run-a is already published"):
        publish_to_warehouse(warehouse, scored_run("run-a", fixtures, shift=0.01))
    assert snapshot(warehouse) == before


def test_two_publishers_of_one_run_insert_it_once(warehouse: Engine, fixtures: list[Fixture]):
    run = scored_run("run-a", fixtures)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def publisher() -> None:
        barrier.wait()
        try:
            results.append(publish_to_warehouse(warehouse, run).inserted)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publisher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sorted(results) == [False, True]
    assert len(snapshot(warehouse)["run_predictions"]) == 6


def test_a_failed_transaction_leaves_no_row(
    warehouse: Engine, fixtures: list[Fixture], monkeypatch: pytest.MonkeyPatch
):
    previous = publish_to_warehouse(warehouse, scored_run("run-a", fixtures)).run
    before = snapshot(warehouse)

    def fail(connection, run, status) -> None:
        # Everything but the run row is written in this transaction by now.
        count = connection.execute(
            text("SELECT COUNT(*) FROM run_predictions WHERE run_id = 'run-b'")
        ).scalar_one()
        assert count == 6
        raise RuntimeError("killed before the run row")

    newer = scored_run("run-b", fixtures, created_at=T0 + dt.timedelta(hours=1), shift=0.01)
    with monkeypatch.context() as patched, pytest.raises(RuntimeError, match="killed"):
        patched.setattr(publish_warehouse, "_insert_run_row", fail)
        publish_to_warehouse(warehouse, newer)
    assert snapshot(warehouse) == before
    assert latest_run(warehouse) == previous
    assert run_predictions(warehouse, "run-b") == [] and run_info(warehouse, "run-b") is None

    # A match the warehouse does not know fails midway (foreign key): nothing either.
    stray = scored_run(
        "run-c",
        [*fixtures, Fixture(10**9, "E0", SATURDAY, None, "X", "Y")],
        created_at=T0 + dt.timedelta(hours=2),
    )
    with pytest.raises(Exception, match="(?i)foreign key"):
        publish_to_warehouse(warehouse, stray)
    assert snapshot(warehouse) == before
    assert latest_run(warehouse) == previous


def test_latest_run_never_shows_a_run_still_being_written(
    warehouse: Engine, fixtures: list[Fixture]
):
    previous = publish_to_warehouse(warehouse, scored_run("run-a", fixtures)).run
    newer = scored_run("run-b", fixtures, created_at=T0 + dt.timedelta(hours=1), shift=0.01)
    with warehouse.connect() as writer:
        transaction = writer.begin()
        publish_warehouse._write(writer, newer)  # every row, the run row last; not committed
        assert latest_run(warehouse) == previous
        assert run_predictions(warehouse, "run-b") == []
        transaction.commit()
    assert latest_run(warehouse).run_id == "run-b"


def test_latest_run_by_mode(warehouse: Engine, fixtures: list[Fixture]):
    assert latest_run(warehouse) is None
    for run_id, hours, mode in (
        ("live-1", 0, "live"),
        ("replay-1", 2, "replay"),
        ("live-2", 1, "live"),
    ):
        run = scored_run(run_id, fixtures, created_at=T0 + dt.timedelta(hours=hours), mode=mode)
        publish_to_warehouse(warehouse, run)
    assert latest_run(warehouse).run_id == "replay-1"
    assert latest_run(warehouse, mode="live").run_id == "live-2"
    assert latest_run(warehouse, mode="replay").run_id == "replay-1"


def test_publish_without_redis(warehouse: Engine, fixtures: list[Fixture]):
    report = publish(scored_run("run-a", fixtures), engine=warehouse, redis_client=None)
    assert report.redis is None and report.warehouse.inserted and report.run_id == "run-a"
    assert latest_run(warehouse).run_id == "run-a"
    assert len(run_predictions(warehouse, "run-a")) == 6


# --- Redis --------------------------------------------------------------------------------------


def test_publish_writes_every_key_under_the_run_then_switches(
    warehouse: Engine, fixtures: list[Fixture], cache
):
    client, prefix = cache
    run = scored_run("run-a", fixtures)
    report = publish(run, engine=warehouse, redis_client=client, prefix=prefix)
    assert report.warehouse.inserted
    assert report.redis is not None
    assert (report.redis.current, report.redis.switched, report.redis.alerts) == ("run-a", True, 3)
    assert current_run_id(client, prefix) == "run-a"
    assert client.ttl(f"{prefix}:pub:current") == -1

    expected = expected_documents(prefix, run)
    state = redis_state(client, prefix)
    assert set(state) == {*expected, f"{prefix}:pub:current", f"{prefix}:pub:run-a:alerted"}
    for key, body in expected.items():
        assert state[key][0] == body
        kind = key.split(":")[3]
        assert state[key][1] == (
            "odds" if kind in ("prediction", "value-bets", "withdrawn") else "static"
        ), key
    assert 900 - 5 < client.ttl(f"{prefix}:pub:run-a:value-bets") <= 900
    assert 3600 - 5 < client.ttl(f"{prefix}:pub:run-a:meta") <= 3600
    # The serving tier's reader, and the warehouse giving the same bytes.
    for document in run_documents(run):
        body = read_document(client, prefix, "run-a", document.kind, document.key)
        assert body == document.body
        assert warehouse_document(warehouse, "run-a", document.kind, document.key) == body
    assert read_document(client, prefix, "run-a", "upcoming", "D1") is None
    with pytest.raises(ValueError, match="needs a key"):
        read_document(client, prefix, "run-a", "prediction")

    # The alert stream: one entry per value bet, the webapp group, nothing read yet.
    entries = client.xrange(f"{prefix}:alerts")
    assert len(entries) == 3
    fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
    best = json.loads(read_document(client, prefix, "run-a", "value-bets"))[0]
    assert fields["run_id"] == "run-a" and fields["mode"] == "live"
    assert int(fields["match_id"]) == best["match_id"] and fields["outcome"] == best["outcome"]
    assert float(fields["price"]) == best["price"] and float(fields["edge"]) == best["edge"]
    assert json.loads(fields["stakes"]) == best["stakes"]
    groups = client.xinfo_groups(f"{prefix}:alerts")
    assert [g["name"] for g in groups] == [b"webapp"] and groups[0]["pending"] == 0


def test_publishing_the_same_run_twice_changes_nothing(
    warehouse: Engine, fixtures: list[Fixture], cache
):
    client, prefix = cache
    publish(scored_run("run-a", fixtures), engine=warehouse, redis_client=client, prefix=prefix)
    redis_before, tables_before = redis_state(client, prefix), snapshot(warehouse)
    stream_before = client.xrange(f"{prefix}:alerts")

    # A retry stamps another creation time: the same bytes are published all the same.
    retry = scored_run("run-a", fixtures, created_at=T0 + dt.timedelta(minutes=3))
    report = publish(retry, engine=warehouse, redis_client=client, prefix=prefix)
    assert not report.warehouse.inserted
    assert (report.redis.switched, report.redis.alerts, report.redis.current) == (False, 0, "run-a")
    assert redis_state(client, prefix) == redis_before
    assert client.xrange(f"{prefix}:alerts") == stream_before
    assert snapshot(warehouse) == tables_before

    # Redis alone, from three publishers at once: still one set of alerts.
    errors: list[Exception] = []
    barrier = threading.Barrier(3)

    def publisher() -> None:
        own = redis.Redis.from_url(REDIS_URL)
        barrier.wait()
        try:
            publish_to_redis(own, prefix, retry)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=publisher) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert redis_state(client, prefix) == redis_before
    assert client.xrange(f"{prefix}:alerts") == stream_before

    with pytest.raises(RunConflict):
        publish_to_redis(client, prefix, scored_run("run-a", fixtures, shift=0.01))
    assert redis_state(client, prefix) == redis_before


def test_the_pointer_only_moves_forward(cache):
    client, prefix = cache
    fixtures = loose_fixtures()
    older = scored_run("run-a", fixtures)
    newer = scored_run("run-b", fixtures, created_at=T0 + dt.timedelta(hours=1), shift=0.01)
    assert publish_to_redis(client, prefix, newer).switched
    late = publish_to_redis(client, prefix, older)  # a late publication of an older run
    assert (late.switched, late.current, late.alerts) == (False, "run-b", 0)
    assert current_run_id(client, prefix) == "run-b"
    assert read_document(client, prefix, "run-a", "meta") is not None  # written, not current
    assert {e[1][b"run_id"] for e in client.xrange(f"{prefix}:alerts")} == {b"run-b"}
    # Equal creation times: the larger run id wins, whatever the order of publication.
    tie = scored_run("run-c", fixtures, created_at=newer.created_at, shift=0.02)
    assert publish_to_redis(client, prefix, tie).switched
    assert not publish_to_redis(client, prefix, newer).switched
    # A current run whose meta expired counts as older than any run.
    client.delete(f"{prefix}:pub:run-c:meta")
    assert publish_to_redis(client, prefix, older).switched
    assert current_run_id(client, prefix) == "run-a"


def test_a_pointer_to_expired_documents_falls_back_to_the_warehouse(
    warehouse: Engine, fixtures: list[Fixture], cache
):
    client, prefix = cache
    run = scored_run("run-a", fixtures)
    publish(run, engine=warehouse, redis_client=client, prefix=prefix, ttl=RedisTtls(2, 2, 60))
    body = read_document(client, prefix, "run-a", "prediction", fixtures[2].match_id)
    assert body is not None
    deadline = time.monotonic() + 5
    while client.exists(document_key(prefix, "run-a", "meta")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert current_run_id(client, prefix) == "run-a"  # the pointer never expires
    assert read_document(client, prefix, "run-a", "prediction", fixtures[2].match_id) is None
    assert warehouse_document(warehouse, "run-a", "prediction", fixtures[2].match_id) == body


def test_ttls_come_from_the_settings(monkeypatch: pytest.MonkeyPatch):
    assert RedisTtls.from_settings() == RedisTtls(odds=900, static=3600, alerted=7 * 24 * 3600)
    monkeypatch.setenv("SABISCORE_PUBLISH_ODDS_TTL_SECONDS", "60")
    monkeypatch.setenv("SABISCORE_PUBLISH_STATIC_TTL_SECONDS", "600")
    clear_settings_cache()
    assert RedisTtls.from_settings() == RedisTtls(odds=60, static=600, alerted=7 * 24 * 3600)
    with pytest.raises(ValueError):
        RedisTtls(odds=0)


# --- Readers during publications ----------------------------------------------------------------


def poll_while(
    prefix: str, expected: dict[str, dict[str, bytes]], publications: Callable[[], None]
) -> tuple[list[str], Counter]:
    """Two readers poll the pointer and every key of the pointed run while ``publications`` runs.

    Returns the problems seen (a key missing, or a document of another run) and
    how many complete polls named each run.
    """
    problems: list[str] = []
    seen: Counter = Counter()
    stop = threading.Event()

    def reader() -> None:
        client = redis.Redis.from_url(REDIS_URL)
        while not stop.is_set():
            run_id = current_run_id(client, prefix)
            if run_id is None:
                continue
            for key, body in expected[run_id].items():
                kind = key.split(":")[3]
                got = client.get(key)  # one round trip per key: publishers interleave
                if got is None:
                    problems.append(f"{run_id}: {key} missing")
                    continue
                if got != body:
                    problems.append(f"{run_id}: {key} differs")
                document = json.loads(got)
                items = document if isinstance(document, list) else [document]
                if kind != "leagues" and any(item["run_id"] != run_id for item in items):
                    problems.append(f"{run_id}: {key} belongs to another run")
            seen[run_id] += 1
        client.close()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        publications()
    finally:
        time.sleep(0.05)
        stop.set()
        for thread in readers:
            thread.join()
    return problems, seen


def many_runs(count: int, per_league: int = 12) -> list[PublishedRun]:
    fixtures = loose_fixtures(per_league)
    return [
        scored_run(f"run-{k}", fixtures, created_at=T0 + dt.timedelta(minutes=k), shift=0.002 * k)
        for k in range(count)
    ]


def test_a_reader_never_sees_two_runs_at_once(cache):
    client, prefix = cache
    runs = many_runs(8)
    expected = {run.run_id: expected_documents(prefix, run) for run in runs}
    publish_to_redis(client, prefix, runs[0])

    def publications() -> None:
        for run in runs[1:]:
            time.sleep(0.03)
            publish_to_redis(client, prefix, run)
            publish_to_redis(client, prefix, run)  # republishing rewrites the same bytes

    problems, seen = poll_while(prefix, expected, publications)
    assert not problems, problems[:5]
    assert len(seen) >= 4, seen  # the readers saw the pointer move run after run
    assert sum(seen.values()) >= 20
    assert current_run_id(client, prefix) == runs[-1].run_id


def test_the_reader_check_catches_a_pointer_switched_too_early(cache):
    """The same check against a publisher that switches first and writes after: it fails."""
    client, prefix = cache
    runs = many_runs(4)
    expected = {run.run_id: expected_documents(prefix, run) for run in runs}
    publish_to_redis(client, prefix, runs[0])

    def careless() -> None:
        for run in runs[1:]:
            time.sleep(0.03)
            client.set(f"{prefix}:pub:current", run.run_id)
            for key, body in expected[run.run_id].items():
                client.set(key, body, ex=60)
                time.sleep(0.001)

    problems, _ = poll_while(prefix, expected, careless)
    assert any("missing" in p for p in problems)


def test_a_publish_failing_midway_leaves_the_previous_run_current(
    cache, monkeypatch: pytest.MonkeyPatch
):
    client, prefix = cache
    fixtures = loose_fixtures()
    previous = scored_run("run-a", fixtures)
    publish_to_redis(client, prefix, previous)
    before = expected_documents(prefix, previous)
    newer = scored_run("run-b", fixtures, created_at=T0 + dt.timedelta(hours=1), shift=0.01)
    real_write = redis_store._write_documents

    def half_then_fail(client_, prefix_, run, documents, ttl) -> None:
        real_write(client_, prefix_, run, documents[: len(documents) // 2], ttl)
        raise redis.ConnectionError("connection lost while writing")

    def fail_switch(*args) -> None:
        raise redis.ConnectionError("connection lost before the switch")

    for stage, patch in (("_write_documents", half_then_fail), ("_switch_pointer", fail_switch)):
        with monkeypatch.context() as patched, pytest.raises(redis.ConnectionError):
            patched.setattr(redis_store, stage, patch)
            publish_to_redis(client, prefix, newer)
        assert current_run_id(client, prefix) == "run-a", stage
        assert {key: client.get(key) for key in before} == before, stage
        assert client.exists(document_key(prefix, "run-b", "meta")) == 1, stage  # partly written
        assert client.xlen(f"{prefix}:alerts") == 3, stage  # run-a's alerts only

    report = publish_to_redis(client, prefix, newer)  # publishing again completes it
    assert (report.switched, report.alerts) == (True, 3)
    after = expected_documents(prefix, newer)
    assert {key: client.get(key) for key in after} == after


_KILLED_PUBLISHER = """
import pickle, sys, time
from pathlib import Path
import redis
import sabiscore_ml.publish.redis_store as redis_store

run = pickle.loads(Path(sys.argv[1]).read_bytes())
prefix, checkpoint = sys.argv[2], Path(sys.argv[3])

def stop_here(*args):
    checkpoint.write_text("documents written")
    time.sleep(60)

redis_store._switch_pointer = stop_here
redis_store.publish_to_redis(redis.Redis.from_url("{url}"), prefix, run)
"""


def test_a_publisher_killed_before_the_switch(cache, tmp_path: Path):
    client, prefix = cache
    fixtures = loose_fixtures()
    previous = scored_run("run-a", fixtures)
    publish_to_redis(client, prefix, previous)
    before = expected_documents(prefix, previous)
    newer = scored_run("run-b", fixtures, created_at=T0 + dt.timedelta(hours=1), shift=0.01)
    (tmp_path / "run.pickle").write_bytes(pickle.dumps(newer))
    checkpoint = tmp_path / "checkpoint"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_PUBLISHER.replace("{url}", REDIS_URL),
            str(tmp_path / "run.pickle"),
            prefix,
            str(checkpoint),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpoint.exists(), "the publisher never reached the switch"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    assert current_run_id(client, prefix) == "run-a"
    assert {key: client.get(key) for key in before} == before
    written = expected_documents(prefix, newer)
    assert {key: client.get(key) for key in written} == written  # all there, not yet current
    report = publish_to_redis(client, prefix, newer)
    assert report.switched and current_run_id(client, prefix) == "run-b"


# --- A publisher killed at each step of a publication ---------------------------------------------

_KILLED_AT_A_STEP = """
import pickle, sys, time
from pathlib import Path
import redis
from sqlalchemy import create_engine
import sabiscore_ml.publish.redis_store as redis_store
import sabiscore_ml.publish.warehouse as warehouse
from sabiscore_ml.publish import publish

run = pickle.loads(Path(sys.argv[1]).read_bytes())
url, prefix, step, checkpoint = sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5])

def stop(name):
    if name == step:
        checkpoint.write_text(name)
        time.sleep(60)

def hook(module, attr, before=None, after=None):
    real = getattr(module, attr)
    def wrapped(*args, **kwargs):
        stop(before)
        result = real(*args, **kwargs)
        stop(after)
        return result
    setattr(module, attr, wrapped)

hook(warehouse, "_insert_run_row", after="warehouse rows written, not committed")
hook(redis_store, "_write_documents", before="warehouse committed")
hook(redis_store, "_switch_pointer", before="redis documents written")
hook(redis_store, "_switch_pointer", after="pointer switched, warehouse not marked")
hook(redis_store, "_send_alerts", before="warehouse marked published")
hook(redis_store, "_send_alerts", after="alerts sent")
publish(run, engine=create_engine(url), redis_client=redis.Redis.from_url("{url}"), prefix=prefix)
stop("published")
"""

# Each step a publication can be killed at, and the run both stores name as current afterwards.
KILL_STEPS = {
    "warehouse rows written, not committed": "run-a",
    "warehouse committed": "run-a",
    "redis documents written": "run-a",
    "pointer switched, warehouse not marked": "run-b",  # Redis only: see the test
    "warehouse marked published": "run-b",
    "alerts sent": "run-b",
    "published": "run-b",
}


def kill_publisher_at(step: str, run: PublishedRun, url: str, prefix: str, tmp_path: Path) -> None:
    """Publish ``run`` in a subprocess and SIGKILL it when it reaches ``step``."""
    (tmp_path / "run.pickle").write_bytes(pickle.dumps(run))
    checkpoint = tmp_path / "checkpoint"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_AT_A_STEP.replace("{url}", REDIS_URL),
            str(tmp_path / "run.pickle"),
            url,
            prefix,
            step,
            str(checkpoint),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpoint.read_text() == step, f"the publisher never reached {step!r}"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()


def current_runs(engine: Engine, client: redis.Redis, prefix: str) -> tuple[str | None, str | None]:
    """The current run as Redis names it, and as the warehouse (the API's fallback) names it."""
    latest = latest_run(engine)
    return current_run_id(client, prefix), None if latest is None else latest.run_id


@pytest.mark.parametrize("step", list(KILL_STEPS))
def test_a_publisher_killed_at_any_step_leaves_one_current_run(
    step: str, warehouse: Engine, fixtures: list[Fixture], cache, tmp_path: Path
):
    client, prefix = cache
    previous = scored_run("run-a", fixtures)
    publish(previous, engine=warehouse, redis_client=client, prefix=prefix)
    newer = scored_run("run-b", fixtures[:-1], created_at=T0 + dt.timedelta(hours=1), shift=0.01)
    url = warehouse.url.render_as_string(hide_password=False)
    kill_publisher_at(step, newer, url, prefix, tmp_path)

    redis_current, warehouse_current = current_runs(warehouse, client, prefix)
    assert redis_current == KILL_STEPS[step]
    if step == "pointer switched, warehouse not marked":
        # Killed between the two stores' writes: the warehouse still has the run pending and
        # names the previous one until the next publication reconciles them, first thing.
        assert warehouse_current == "run-a" and not run_info(warehouse, "run-b").published
        assert publish_module.reconcile(warehouse, client, prefix) == "run-b"
        warehouse_current = latest_run(warehouse).run_id
    assert warehouse_current == redis_current, step
    # Whichever run is current, both stores hold the same bytes of it.
    for kind in ("meta", "value-bets", "withdrawn", "leagues"):
        body = read_document(client, prefix, redis_current, kind)
        assert body == warehouse_document(warehouse, redis_current, kind), (step, kind)

    report = publish(newer, engine=warehouse, redis_client=client, prefix=prefix)  # the re-run
    assert report.redis.current == "run-b" and report.warehouse.run.published
    assert current_runs(warehouse, client, prefix) == ("run-b", "run-b")
    assert {key: client.get(key) for key in expected_documents(prefix, newer)} == (
        expected_documents(prefix, newer)
    )
    alerted = [e for e in client.xrange(f"{prefix}:alerts") if e[1][b"run_id"] == b"run-b"]
    assert len(alerted) == newer.records.n_value_bets  # sent once, by whichever publication
    assert len(run_predictions(warehouse, "run-b")) == len(fixtures) - 1


def test_confirmed_edges_are_published_beside_the_stated_ones(
    warehouse: Engine, fixtures: list[Fixture], cache
):
    """With an edge model the edges carry the confirmed edge, in Redis and the warehouse alike."""
    client, prefix = cache
    plain = scored_run("run-a", fixtures)
    edges = plain.edges.with_columns(
        (pl.col("edge") * 0.25).alias("confirmed_edge"),
        ((1 + pl.col("edge") * 0.25) / pl.col("price")).alias("p_confirmed"),
    )
    run = dataclasses.replace(plain, edges=edges)
    assert run.content_sha256 != plain.content_sha256
    publish(run, engine=warehouse, redis_client=client, prefix=prefix)
    match = next(e["match_id"] for e in run.records.edges if e["is_value"])
    body = read_document(client, prefix, "run-a", "prediction", match)
    assert body is not None
    assert warehouse_document(warehouse, "run-a", "prediction", match) == body
    insight = json.loads(body)
    for edge in insight["edges"]:
        if edge["edge"] is None:
            assert edge["confirmed_edge"] is None
        else:
            assert edge["confirmed_edge"] == pytest.approx(edge["edge"] * 0.25, abs=2e-6)
            assert edge["p_confirmed"] == pytest.approx(
                (1 + edge["confirmed_edge"]) / edge["price"], abs=2e-6
            )
    bets = json.loads(read_document(client, prefix, "run-a", "value-bets"))
    assert bets and all(b["confirmed_edge"] is not None for b in bets)
    # without an edge model the fields are null and the digest is the one runs always had
    assert all(e["confirmed_edge"] is None for e in plain.records.edges)
