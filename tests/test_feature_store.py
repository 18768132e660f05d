"""Offline and online stores, the point-in-time API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import polars as pl
import pytest
import redis
from sqlalchemy import Engine, text

from feature_store.api import build_features, online_features, training_frame
from feature_store.catalog import frame_schema
from feature_store.offline import plan_build, read_index
from feature_store.online import read_online, refresh_online
from sabiscore_ml.jobs.football_data import ingest_football_data_file
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
