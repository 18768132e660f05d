"""Odds snapshots: every copy of every quote kept with the moment it was taken.

The fixtures copies are the real ``fixtures_2024-08-08.csv`` rows (see its provenance
note), taken at several moments, with Pinnacle's and Bet365's prices moved by a few per
cent in the later copies; the season file is the bundled Premier League 2023-24.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR
from fixtures_copies import rewritten, with_prices
from sqlalchemy import Engine, text

from sabiscore_ml import prices
from sabiscore_ml.jobs.football_data import (
    fixtures_taken_at,
    ingest_football_data_bytes,
    ingest_football_data_fixtures_bytes,
)
from sabiscore_ml.jobs.sources import replay_items, run_replay_item
from sabiscore_ml.warehouse.engine import alembic_config
from sabiscore_ml.warehouse.snapshots import (
    LOOKBACK,
    partition_name,
    partitions,
    season_quote_time,
)

FIXTURES_FILE = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
TODAY = dt.date(2024, 8, 8)
T1 = dt.datetime(2024, 8, 8, 9, 0)  # naive UTC
T2 = T1 + dt.timedelta(hours=1)
SEASON_FILE = SAMPLE_DIR / "E0" / "2023-2024.csv"


def moved(raw: bytes, home: float = 0.95, other: float = 1.05) -> bytes:
    """The copy with Pinnacle's home price times ``home`` and its draw and away times ``other``,
    Bet365's home price times ``home``: the market moving towards the home sides."""
    return with_prices(raw, {"PSH": home, "PSD": other, "PSA": other, "B365H": home})


def ingest(raw: bytes, engine: Engine, taken_at: dt.datetime):
    outcome = ingest_football_data_fixtures_bytes(
        raw, "fixtures.csv", engine=engine, today=taken_at.date(), taken_at=taken_at
    )
    assert outcome.status == "loaded", outcome.message
    return outcome


def count(engine: Engine, sql: str, **params) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def match_id(engine: Engine, home: str) -> int:
    return count(
        engine,
        "SELECT m.id FROM matches m JOIN teams t ON t.id = m.home_team_id "
        "WHERE t.name = :home AND m.result IS NULL",
        home=home,
    )


def pinnacle_home(frame: pl.DataFrame, match: int) -> float:
    row = frame.filter(
        (pl.col("match_id") == match)
        & (pl.col("bookmaker") == "pinnacle")
        & (pl.col("outcome") == "home")
    )
    assert row.height == 1
    return float(row["price"][0])


def test_a_copy_loaded_twice_adds_nothing_two_copies_an_hour_apart_two_snapshots(
    warehouse: Engine,
) -> None:
    first = ingest(FIXTURES_FILE.read_bytes(), warehouse, T1)
    quotes = count(warehouse, "SELECT COUNT(*) FROM odds")
    assert first.odds == quotes == 800
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == 800
    ingest(FIXTURES_FILE.read_bytes(), warehouse, T1)  # the same copy again
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == 800

    ingest(moved(FIXTURES_FILE.read_bytes()), warehouse, T2)
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == 1600
    assert count(warehouse, "SELECT COUNT(DISTINCT taken_at) FROM odds_snapshots") == 2
    # the current price is the latest snapshot's; nothing of the first copy is lost
    assert count(warehouse, "SELECT COUNT(*) FROM odds") == 800
    burnley = match_id(warehouse, "Burnley")
    now = prices.preclose_quotes(warehouse, [burnley])
    assert pinnacle_home(now, burnley) == round(8.58 * 0.95, 2)
    then = prices.read_quotes(warehouse, [burnley], as_of=T1 + dt.timedelta(minutes=30))
    assert pinnacle_home(then, burnley) == 8.58
    later = prices.read_quotes(warehouse, [burnley], as_of=T2)
    assert later.equals(now)
    assert prices.read_quotes(warehouse, [burnley], as_of=T1 - dt.timedelta(seconds=1)).is_empty()

    every = prices.read_snapshots(warehouse, [burnley], bookmakers=["pinnacle"])
    assert every.select("taken_at", "outcome", "price").rows() == [
        (T1, "away", 1.37),
        (T1, "draw", 5.51),
        (T1, "home", 8.58),
        (T2, "away", round(1.37 * 1.05, 2)),
        (T2, "draw", round(5.51 * 1.05, 2)),
        (T2, "home", round(8.58 * 0.95, 2)),
    ]
    assert prices.read_snapshots(warehouse, [burnley], before=T2)[
        "taken_at"
    ].unique().to_list() == [T1]
    seen = prices.last_seen(warehouse, [burnley])
    assert set(seen["last_update"]) == {T2}
    assert set(prices.last_seen(warehouse, [burnley], as_of=T1)["last_update"]) == {T1}


def test_an_older_copy_loaded_later_keeps_the_current_prices(warehouse: Engine) -> None:
    ingest(moved(FIXTURES_FILE.read_bytes()), warehouse, T2)
    older = ingest(FIXTURES_FILE.read_bytes(), warehouse, T1)
    assert any("taken after this one" in w for w in older.warnings), older.warnings
    burnley = match_id(warehouse, "Burnley")
    assert pinnacle_home(prices.preclose_quotes(warehouse, [burnley]), burnley) == round(
        8.58 * 0.95, 2
    )
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == 1600
    assert pinnacle_home(prices.read_quotes(warehouse, [burnley], as_of=T1), burnley) == 8.58


def test_a_later_copy_without_a_bookmaker_drops_it_from_the_prices_as_of_then(
    warehouse: Engine,
) -> None:
    ingest(FIXTURES_FILE.read_bytes(), warehouse, T1)

    def without_bet365(header: list[str], row: list[str]) -> None:
        for column in ("B365H", "B365D", "B365A"):
            row[header.index(column)] = ""

    ingest(rewritten(FIXTURES_FILE.read_bytes(), without_bet365), warehouse, T2)
    burnley = match_id(warehouse, "Burnley")
    as_of_t2 = prices.read_quotes(warehouse, [burnley], as_of=T2)
    assert "b365" not in set(as_of_t2["bookmaker"])
    assert as_of_t2.equals(prices.preclose_quotes(warehouse, [burnley]))  # as ``odds`` has it
    assert "b365" in set(prices.read_quotes(warehouse, [burnley], as_of=T1)["bookmaker"])


def test_a_season_file_keeps_its_pre_closing_and_closing_blocks_as_snapshots(
    warehouse: Engine,
) -> None:
    outcome = ingest_football_data_bytes(
        SEASON_FILE.read_bytes(), "E0/2023-2024.csv", engine=warehouse
    )
    assert outcome.status == "loaded", outcome.message
    quotes = count(warehouse, "SELECT COUNT(*) FROM odds")
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == quotes > 25_000
    ingest_football_data_bytes(SEASON_FILE.read_bytes(), "E0/2023-2024.csv", engine=warehouse)
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == quotes
    # Burnley v Man City, Friday 11 August 2023 at 20:00 (BST): the pre-closing prices
    # were collected that Friday afternoon, the closing ones at the kick-off
    with warehouse.connect() as connection:
        times = dict(
            connection.execute(
                text(
                    "SELECT s.timing, MIN(s.taken_at) FROM odds_snapshots s "
                    "JOIN matches m ON m.id = s.match_id JOIN teams t ON t.id = m.home_team_id "
                    "WHERE t.name = 'Burnley' AND m.match_date = :day GROUP BY s.timing"
                ),
                {"day": dt.date(2023, 8, 11)},
            ).all()
        )
    as_datetime = {
        k: v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)
        for k, v in times.items()
    }
    assert as_datetime == {
        "preclose": dt.datetime(2023, 8, 11, 14, 0),
        "close": dt.datetime(2023, 8, 11, 19, 0),
    }
    if warehouse.dialect.name == "postgresql":
        with warehouse.connect() as connection:
            months = partitions(connection)
        assert {partition_name(2023, 8), partition_name(2024, 5)} <= months
        assert len(months) == 10  # August to May


def test_season_quote_times_follow_football_data_collection_days() -> None:
    saturday, sunday, monday = dt.date(2024, 1, 13), dt.date(2024, 1, 14), dt.date(2024, 1, 15)
    tuesday, wednesday = dt.date(2024, 1, 16), dt.date(2024, 1, 17)
    friday = dt.datetime(2024, 1, 12, 15, 0)  # GMT: UK time is UTC in January
    for day in (saturday, sunday, monday):
        assert season_quote_time(day, None, "preclose") == friday
    assert season_quote_time(wednesday, None, "preclose") == dt.datetime(2024, 1, 16, 15, 0)
    # a Tuesday lunchtime kick-off: an hour before it at the latest
    noon = dt.datetime(2024, 1, 16, 12, 0)
    assert season_quote_time(tuesday, noon, "preclose") == noon - dt.timedelta(hours=1)
    assert season_quote_time(tuesday, noon, "close") == noon
    assert season_quote_time(saturday, None, "close") == dt.datetime(2024, 1, 13, 12, 0)
    # British Summer Time: 15:00 in London is 14:00 UTC
    assert season_quote_time(dt.date(2024, 8, 17), None, "preclose") == dt.datetime(
        2024, 8, 16, 14, 0
    )


def test_the_moment_of_a_copy() -> None:
    fetched = dt.datetime(2024, 8, 8, 9, 30, 12)
    assert fixtures_taken_at(fetched_at=fetched) == fetched
    assert fixtures_taken_at(fetched_at=fetched, today=fetched.date()) == fetched
    # a copy dated by its day only is taken at that day's start
    assert fixtures_taken_at(today=dt.date(2024, 8, 8)) == dt.datetime(2024, 8, 8)
    aware = dt.datetime(2024, 8, 8, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert fixtures_taken_at(taken_at=aware) == dt.datetime(2024, 8, 8, 9, 0)


def test_a_replay_keeps_each_copy_at_the_moment_it_was_taken(warehouse: Engine) -> None:
    ingest(FIXTURES_FILE.read_bytes(), warehouse, T1)
    ingest(moved(FIXTURES_FILE.read_bytes()), warehouse, T2)
    items = [i for i in replay_items(["football-data"]) if i.get("taken_at")]
    assert [dt.datetime.fromisoformat(i["taken_at"]) for i in items] == [T1, T2]
    with warehouse.begin() as connection:
        connection.execute(text("DELETE FROM odds_snapshots"))
        connection.execute(text("DELETE FROM odds"))
    for item in items:
        assert run_replay_item(item, engine=warehouse).status == "loaded"
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == 1600
    burnley = match_id(warehouse, "Burnley")
    assert pinnacle_home(prices.preclose_quotes(warehouse, [burnley]), burnley) == round(
        8.58 * 0.95, 2
    )


def test_the_migration_copies_the_quotes_already_loaded(warehouse: Engine) -> None:
    from alembic import command

    ingest_football_data_bytes(SEASON_FILE.read_bytes(), "E0/2023-2024.csv", engine=warehouse)
    ingest(FIXTURES_FILE.read_bytes(), warehouse, T1)
    with warehouse.connect() as connection:
        before = connection.execute(
            text("SELECT COUNT(*), MIN(taken_at), MAX(taken_at) FROM odds_snapshots")
        ).one()
    config = alembic_config(warehouse.url.render_as_string(hide_password=False))
    with warehouse.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    with warehouse.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with warehouse.connect() as connection:
        after = connection.execute(
            text("SELECT COUNT(*), MIN(taken_at), MAX(taken_at) FROM odds_snapshots")
        ).one()
    assert after[0] == before[0] == count(warehouse, "SELECT COUNT(*) FROM odds")
    # the season file's moments are recomputed exactly; the fixtures copy's is the moment
    # its bytes were first archived (the copy's own moment is not in ``odds``)
    assert after[1] == before[1]


def test_a_copy_pricing_fixtures_months_ahead_is_rejected(warehouse: Engine) -> None:
    """No snapshot is older than the look-back before its match day: readers rely on it."""
    early = T1 - LOOKBACK - dt.timedelta(days=1)
    outcome = ingest_football_data_fixtures_bytes(
        FIXTURES_FILE.read_bytes(), "fixtures.csv", engine=warehouse, today=TODAY, taken_at=early
    )
    assert (outcome.status, outcome.check) == ("rejected", "snapshot_window"), outcome.message
    assert f"more than {LOOKBACK.days} days after the copy was taken" in outcome.message
    assert count(warehouse, "SELECT COUNT(*) FROM odds_snapshots") == 0
    assert count(warehouse, "SELECT COUNT(*) FROM matches") == 0
