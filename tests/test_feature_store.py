"""Offline and online stores, the point-in-time API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import polars as pl
import pytest
import redis
from conftest import FOOTBALL_DATA_FIXTURES
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, text

from feature_store.api import (
    build_features,
    features_as_of,
    fixture_ids,
    online_features,
    scoring_features,
    training_frame,
)
from feature_store.catalog import frame_schema
from feature_store.offline import plan_build, read_index
from feature_store.online import read_online, refresh_online
from sabiscore_ml.jobs.football_data import (
    ingest_football_data_file,
    ingest_football_data_fixtures_file,
)
from sabiscore_ml.settings import clear_settings_cache

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "football-data"
LAST_MATCHDAY = dt.date(2024, 5, 19)


def _load(engine: Engine, *files: str) -> None:
    for name in files:
        assert ingest_football_data_file(SAMPLES / name, engine=engine).status == "loaded"


@pytest.fixture
def redis_prefix(monkeypatch: pytest.MonkeyPatch):
    """A real Redis with a key prefix of this test's own (deleted afterwards)."""
    prefix = f"sabiscore-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("SABISCORE_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SABISCORE_REDIS_PREFIX", prefix)
    clear_settings_cache()
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_build_is_incremental_per_country(warehouse: Engine):
    _load(warehouse, "E0/2022-2023.csv", "E0/2023-2024.csv", "SP1/2023-2024_reserialized.csv")
    first = build_features(engine=warehouse, as_of=LAST_MATCHDAY)
    assert sorted(first.offline.written) == [
        ("E0", "2022-2023", 380),
        ("E0", "2023-2024", 380),
        ("SP1", "2023-2024", 380),
    ]
    index = read_index(warehouse)
    assert {entry.rows for entry in index.values()} == {380}
    assert all(Path(entry.path).is_file() for entry in index.values())

    again = build_features(engine=warehouse, as_of=LAST_MATCHDAY)
    assert again.offline.partitions == 0 and again.offline.fresh == 3

    # a corrected result in E0 2022-23: that season and the next are stale, Spain is not
    with warehouse.begin() as connection:
        connection.execute(
            text(
                "UPDATE matches SET home_goals = home_goals + 1 WHERE id = "
                "(SELECT MIN(id) FROM matches WHERE league_code = 'E0' "
                "AND season_code = '2022-2023')"
            )
        )
    plan = plan_build(warehouse)
    assert plan.reasons == {
        ("E0", "2022-2023"): "data changed",
        ("E0", "2023-2024"): "follows an earlier stale season",
    }
    third = build_features(engine=warehouse, as_of=LAST_MATCHDAY)
    assert sorted(third.offline.written) == [("E0", "2022-2023", 380), ("E0", "2023-2024", 380)]
    assert (
        read_index(warehouse)[("SP1", "2023-2024")].built_at == index[("SP1", "2023-2024")].built_at
    )


def test_full_rebuild_gives_the_same_files(warehouse: Engine):
    _load(warehouse, "E0/2022-2023.csv", "E0/2023-2024.csv")
    build_features(engine=warehouse, as_of=LAST_MATCHDAY)
    before = {k: v.file_sha256 for k, v in read_index(warehouse).items()}
    build_features(engine=warehouse, as_of=LAST_MATCHDAY, full=True)
    after = {k: v.file_sha256 for k, v in read_index(warehouse).items()}
    assert before == after  # deterministic: same data, same bytes


def test_training_frame_and_online_features_share_columns(warehouse: Engine):
    _load(warehouse, "E0/2022-2023.csv", "E0/2023-2024.csv")
    build = build_features(engine=warehouse, as_of=dt.date(2024, 5, 11))
    # 11-19 May 2024: the last 23 matches of the season (football-data E0 2023-24)
    assert build.online.backend == "warehouse" and build.online.matches == 23

    train = training_frame(["E0"], None, dt.date(2024, 5, 11), engine=warehouse)
    assert train.height == 760 - 23
    assert train["match_date"].max() < dt.date(2024, 5, 11)
    assert train["result"].null_count() == 0

    upcoming = training_frame(["E0"], ["2023-2024"], engine=warehouse).filter(
        pl.col("match_date") >= dt.date(2024, 5, 11)
    )
    ids = upcoming["match_id"].to_list()[::-1]
    online = online_features([*ids, 999_999], engine=warehouse)
    assert online.columns == train.columns == list(frame_schema())
    assert online.schema == train.schema
    assert online["match_id"].to_list() == ids  # request order, unknown ids left out
    assert online.sort("match_id").equals(upcoming.sort("match_id"))


def test_online_vectors_in_redis(warehouse: Engine, redis_prefix):
    client, prefix = redis_prefix
    _load(warehouse, "E0/2023-2024.csv")
    build = build_features(engine=warehouse, as_of=dt.date(2024, 5, 11))
    assert build.online.backend == "redis" and build.online.matches == 23
    run = client.hgetall(f"{prefix}:features:online")
    ids = json.loads(run[b"match_ids"])
    assert len(ids) == 23 and run[b"as_of"] == b"2024-05-11"
    key = f"{prefix}:features:match:{ids[0]}"
    assert 0 < client.ttl(key) <= 7 * 24 * 3600
    assert len(client.hkeys(key)) == len(frame_schema())
    with warehouse.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM online_features")).scalar() == 0

    vectors = online_features(ids, engine=warehouse)
    offline = training_frame(["E0"], engine=warehouse).filter(pl.col("match_id").is_in(ids))
    assert vectors.sort("match_id").equals(offline.sort("match_id"))

    # the next run replaces the set atomically: old vectors outside the new horizon go
    later = training_frame(["E0"], engine=warehouse).filter(pl.col("match_date") == LAST_MATCHDAY)
    refresh = refresh_online(warehouse, later, as_of=LAST_MATCHDAY)
    assert refresh.matches == 10
    kept = set(json.loads(client.hget(f"{prefix}:features:online", "match_ids")))
    assert kept == set(later["match_id"].to_list())
    gone = [m for m in ids if m not in kept]
    assert gone and not any(client.exists(f"{prefix}:features:match:{m}") for m in gone)
    assert read_online(warehouse, gone).is_empty()


def test_stale_catalog_is_refused(warehouse: Engine):
    _load(warehouse, "E0/2023-2024.csv")
    build_features(engine=warehouse, as_of=LAST_MATCHDAY)
    with warehouse.begin() as connection:
        connection.execute(text("UPDATE feature_partitions SET catalog_version = 'old'"))
    with pytest.raises(RuntimeError, match="older feature definitions"):
        training_frame(["E0"], engine=warehouse)
    assert plan_build(warehouse).reasons == {("E0", "2023-2024"): "feature definitions changed"}


def test_input_snapshots_are_used_and_invalidated(warehouse: Engine):
    from feature_store.offline import fingerprints
    from feature_store.snapshots import cached_inputs

    _load(warehouse, "E0/2022-2023.csv", "E0/2023-2024.csv")
    digests = fingerprints(warehouse)
    pairs = sorted(digests)
    cold, read = cached_inputs(warehouse, pairs, digests)
    assert read == 2
    warm, read = cached_inputs(warehouse, pairs, digests)
    assert read == 0
    for kind in ("matches", "odds", "xg", "npxg", "team_games", "squad_values"):
        assert getattr(warm, kind).equals(getattr(cold, kind)), kind
    with warehouse.begin() as connection:
        connection.execute(
            text(
                "UPDATE matches SET home_shots = home_shots + 1 WHERE id = (SELECT MIN(id) "
                "FROM matches WHERE season_code = '2023-2024')"
            )
        )
    digests = fingerprints(warehouse)
    changed, read = cached_inputs(warehouse, pairs, digests)
    assert read == 1  # only 2023-24 is read again
    assert changed.matches["home_shots"].sum() == cold.matches["home_shots"].sum() + 1


# --- the online vectors a prediction scores ---------------------------------------------

FIXTURES_FILE = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
TAKEN_ON = dt.date(2024, 8, 8)  # the first matchday of 2024-25: Friday 9 to Monday 12 August
FIRST_MATCHDAY = (TAKEN_ON, dt.date(2024, 8, 12))


def _live_world(engine: Engine) -> list[int]:
    """E0 2023-24, the fixtures.csv of 8 August 2024, features built that day; E0's fixtures."""
    _load(engine, "E0/2023-2024.csv")
    outcome = ingest_football_data_fixtures_file(FIXTURES_FILE, engine=engine, today=TAKEN_ON)
    assert outcome.status == "loaded"
    build_features(engine=engine, as_of=TAKEN_ON)
    return fixture_ids(engine, *FIRST_MATCHDAY, ["E0"])


def _scored(engine: Engine):
    return scoring_features(*FIRST_MATCHDAY, leagues=["E0"], engine=engine)


def _recomputation(engine: Engine) -> pl.DataFrame:
    return features_as_of(*FIRST_MATCHDAY, leagues=["E0"], engine=engine)


def test_scoring_reads_the_online_vectors_equal_to_a_recomputation(warehouse: Engine):
    ids = _live_world(warehouse)
    assert len(ids) == 10
    features = _scored(warehouse)
    assert features.source == "online", features.reason
    stored = online_features(ids, engine=warehouse).sort("match_date", "match_id")
    assert_frame_equal(features.frame, stored)
    assert_frame_equal(features.frame, _recomputation(warehouse))
    assert features.frame["result"].null_count() == 10


def test_scoring_reads_the_online_vectors_in_redis(warehouse: Engine, redis_prefix):
    client, prefix = redis_prefix
    ids = _live_world(warehouse)
    assert json.loads(client.hget(f"{prefix}:features:online", "inputs")).keys() >= {"England"}
    features = _scored(warehouse)
    assert features.source == "online", features.reason
    assert_frame_equal(features.frame, _recomputation(warehouse))
    # vectors of an older refresh (keys left without their run record) are not used
    client.delete(f"{prefix}:features:online")
    assert len(read_online(warehouse, ids)) == 10
    stale = _scored(warehouse)
    assert stale.source == "recomputed" and "10 of 10 fixture(s) have no online vector" in (
        stale.reason
    )


def test_a_stale_online_store_is_not_used(warehouse: Engine):
    ids = _live_world(warehouse)
    stored = online_features(ids, engine=warehouse).sort("match_date", "match_id")
    # newer prices for Burnley v Man City after the build: the vectors know the old ones
    with warehouse.begin() as connection:
        changed = connection.execute(
            text(
                "UPDATE odds SET price = price * 1.25 WHERE timing = 'preclose' AND match_id = :m"
            ),
            {"m": ids[0]},
        ).rowcount
    assert changed > 0
    stale = _scored(warehouse)
    assert stale.source == "recomputed"
    assert "England changed since the online vectors were built" in stale.reason
    assert_frame_equal(stale.frame, _recomputation(warehouse))
    assert not stale.frame.equals(stored)
    # the next build brings them up to date
    build_features(engine=warehouse, as_of=TAKEN_ON)
    assert _scored(warehouse).source == "online"

    with warehouse.begin() as connection:
        connection.execute(text("UPDATE online_features SET catalog_version = 'old'"))
    older = _scored(warehouse)
    assert (older.source, older.reason) == (
        "recomputed",
        "10 online vector(s) built with other feature definitions",
    )
    with warehouse.begin() as connection:
        connection.execute(text("DELETE FROM online_features"))
    assert _scored(warehouse).reason == "10 of 10 fixture(s) have no online vector"


def test_a_replay_recomputes_what_the_online_vectors_know_too_early(warehouse: Engine):
    _load(warehouse, "E0/2023-2024.csv")
    build_features(engine=warehouse, as_of=dt.date(2024, 5, 11))
    window = (dt.date(2024, 5, 11), LAST_MATCHDAY)  # the last 23 matches, played
    ids = fixture_ids(warehouse, *window, ["E0"])
    assert len(online_features(ids, engine=warehouse)) == len(ids) == 23
    replay = scoring_features(*window, leagues=["E0"], engine=warehouse)
    assert replay.source == "recomputed"
    assert replay.reason.startswith("the warehouse holds facts dated from 2024-05-11 on (matches")
    assert_frame_equal(replay.frame, features_as_of(*window, leagues=["E0"], engine=warehouse))
    assert replay.frame["result"].null_count() == 23
