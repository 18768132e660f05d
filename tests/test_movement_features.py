"""Market movement features from the odds snapshots, on SQLite and PostgreSQL.

The data: the bundled Premier League 2023-24 season file and copies of the real
``fixtures_2024-08-08.csv`` rows (see its provenance note) taken at four moments,
the later ones with some bookmakers' prices moved.  Burnley v Man City kicks off on
Friday 9 August 2024 at 20:00 BST (19:00 UTC); the last copy is taken at that very
moment, so it is in Burnley's future but before Arsenal v Nott'm Forest (Saturday
12:30 BST).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import statistics

import polars as pl
import pytest
from conftest import FOOTBALL_DATA_FIXTURES, SAMPLE_DIR
from fixtures_copies import with_prices
from sqlalchemy import Engine, text

from feature_store import movement
from feature_store.api import build_features, scoring_features
from feature_store.build import build_frame
from feature_store.catalog import feature_names
from feature_store.common import Family
from feature_store.inputs import Inputs, hidden_from, load_inputs
from feature_store.leakage import LeakageError, check_point_in_time
from feature_store.offline import plan_build
from sabiscore_ml.jobs.football_data import (
    ingest_football_data_bytes,
    ingest_football_data_fixtures_bytes,
)
from sabiscore_ml.warehouse.engine import get_engine

FIXTURES_FILE = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
SEASON_FILE = SAMPLE_DIR / "E0" / "2023-2024.csv"
T1 = dt.datetime(2024, 8, 8, 9, 0)  # naive UTC
T2 = T1 + dt.timedelta(hours=1)
T3 = T1 + dt.timedelta(hours=30)  # Friday 9 August, 15:00
T4 = dt.datetime(2024, 8, 9, 19, 0)  # Burnley v Man City's kick-off
BURNLEY_KICKOFF = T4
# the moves of each copy: column -> factor on the first copy's price
MOVES: dict[dt.datetime, dict[str, float]] = {
    T1: {},
    T2: {"PSH": 0.95, "PSD": 1.05, "PSA": 1.05, "B365H": 0.95},
    T3: {"PSH": 0.90, "PSD": 1.08, "PSA": 1.08, "B365H": 0.92, "WHH": 0.96, "VCA": 1.04},
    T4: {"PSH": 0.88, "PSD": 1.2, "PSA": 1.2, "B365H": 0.9, "BWH": 0.95},
}
BOOKS = ("B365", "BW", "IW", "PS", "WH", "VC")  # football-data's column prefixes
OUTCOMES = ("home", "draw", "away")
SUFFIX = {"home": "H", "draw": "D", "away": "A"}


def rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(FIXTURES_FILE.read_bytes().decode("utf-8-sig"))))


def moved(raw: bytes, factors: dict[str, float]) -> bytes:
    """The copy with each named column's price times its factor (two decimals, as published)."""
    return with_prices(raw, factors)


def ingest_copy(engine: Engine, taken_at: dt.datetime) -> None:
    raw = moved(FIXTURES_FILE.read_bytes(), MOVES[taken_at])
    outcome = ingest_football_data_fixtures_bytes(
        raw, "fixtures.csv", engine=engine, today=taken_at.date(), taken_at=taken_at
    )
    assert outcome.status == "loaded", outcome.message


def load(engine: Engine, moments: tuple[dt.datetime, ...] = (T1, T2, T3, T4)) -> Inputs:
    outcome = ingest_football_data_bytes(
        SEASON_FILE.read_bytes(), "E0/2023-2024.csv", engine=engine
    )
    assert outcome.status == "loaded", outcome.message
    for moment in moments:
        ingest_copy(engine, moment)
    return load_inputs(engine)


def fixture_id(engine: Engine, home: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT m.id FROM matches m JOIN teams t ON t.id = m.home_team_id "
                    "WHERE t.name = :home AND m.result IS NULL"
                ),
                {"home": home},
            ).scalar_one()
        )


# ----------------------------------------------------------------- by hand


def probabilities(row: dict[str, str], taken_at: dt.datetime) -> dict[str, dict[str, float]]:
    """Per bookmaker, its proportional probabilities in the copy taken at ``taken_at``."""
    factors = MOVES[taken_at]
    out = {}
    for book in BOOKS:
        prices = {}
        for o in OUTCOMES:
            column = book + SUFFIX[o]
            prices[o] = float(
                f"{float(row[column]) * factors[column]:.2f}" if column in factors else row[column]
            )
        inverse = sum(1 / p for p in prices.values())
        out[book] = {o: (1 / prices[o]) / inverse for o in OUTCOMES}
    return out


def expected(row: dict[str, str], first: dt.datetime, reference: dt.datetime, latest: dt.datetime):
    start, recent, end = (probabilities(row, t) for t in (first, reference, latest))
    values: dict[str, float | int] = {}
    tv = 0.0
    together = 0
    for o in OUTCOMES:
        s = [start[b][o] for b in BOOKS]
        e = [end[b][o] for b in BOOKS]
        move = statistics.mean(e) - statistics.mean(s)
        values[f"mv_p_{o}_since_first"] = move
        values[f"mv_p_{o}_24h"] = statistics.mean(e) - statistics.mean(
            [recent[b][o] for b in BOOKS]
        )
        values[f"mv_dispersion_change_{o}"] = statistics.stdev(e) - statistics.stdev(s)
        values[f"mv_books_together_{o}"] = sum(
            (b - a) * move > 0 for a, b in zip(s, e, strict=True)
        )
        tv += abs(move) / 2
        together += int(values[f"mv_books_together_{o}"])
    values["mv_panic"] = tv * together / (3 * len(BOOKS))
    return values


def test_movement_values_by_hand_and_snapshots_from_kick_off_on_ignored(warehouse: Engine):
    inputs = load(warehouse)
    frame = build_frame(inputs)
    names = [d.name for d in movement.FAMILY.definitions]
    assert set(names) <= set(feature_names())
    burnley = fixture_id(warehouse, "Burnley")
    arsenal = fixture_id(warehouse, "Arsenal")
    source = {row["HomeTeam"]: row for row in rows()}

    row = frame.filter(pl.col("match_id") == burnley).row(0, named=True)
    # T4 is Burnley's kick-off: not strictly before it, so not seen; 24 hours before the
    # kick-off (Thursday 19:00) the latest copy was T2's
    assert row["mv_n_snapshots"] == 3
    want = expected(source["Burnley"], T1, T2, T3)
    for name, value in want.items():
        assert row[name] == pytest.approx(value, abs=1e-12), name
    # Pinnacle, Bet365, William Hill and VC Bet moved (Bwin and Interwetten did not): all
    # four towards the home side and away from the away side; VC Bet's draw went up
    assert row["mv_books_together_home"] == row["mv_books_together_away"] == 4
    assert row["mv_books_together_draw"] == 3
    assert row["mv_p_home_since_first"] > 0 and row["mv_panic"] > 0

    # Arsenal kicks off the day after: all four copies count, the 24 hours from T2 too
    row = frame.filter(pl.col("match_id") == arsenal).row(0, named=True)
    assert row["mv_n_snapshots"] == 4
    for name, value in expected(source["Arsenal"], T1, T2, T4).items():
        assert row[name] == pytest.approx(value, abs=1e-12), name

    # the season's matches have one pre-closing snapshot before kick-off: no movement
    played = frame.filter(pl.col("season_code") == "2023-2024")
    assert played.height == 380
    assert played.select(pl.col(names).is_null().all()).row(0) == (True,) * len(names)
    # every fixture of the copies (ten of the Premier League, ten of La Liga) moved
    fixtures = frame.filter(pl.col("season_code") == "2024-2025")
    assert fixtures.height == 20 and fixtures["mv_n_snapshots"].min() == 3


def test_a_single_copy_gives_no_movement_and_a_replay_sees_only_earlier_copies(
    warehouse: Engine,
):
    inputs = load(warehouse, (T1,))
    assert inputs.snapshots.is_empty()  # one moment per match: nothing read
    frame = build_frame(inputs)
    names = [d.name for d in movement.FAMILY.definitions]
    assert frame.select(pl.col(names).is_null().all()).row(0) == (True,) * len(names)

    for moment in (T2, T3):
        ingest_copy(warehouse, moment)
    inputs = load_inputs(warehouse)
    burnley = fixture_id(warehouse, "Burnley")
    # a replay on 8 August sees the copies of that day (T1 and T2), not Friday's
    replay = build_frame(hidden_from(inputs, T1.date()))
    row = replay.filter(pl.col("match_id") == burnley).row(0, named=True)
    assert row["mv_n_snapshots"] == 2
    want = expected({r["HomeTeam"]: r for r in rows()}["Burnley"], T1, T1, T2)
    assert row["mv_p_home_since_first"] == pytest.approx(want["mv_p_home_since_first"], abs=1e-12)
    # both copies are 24 hours or more before the kick-off: the latest of them is the
    # reference, and nothing moved since
    assert row["mv_p_home_24h"] == 0.0
    assert build_frame(inputs).filter(pl.col("match_id") == burnley)["mv_n_snapshots"][0] == 3


def test_the_leakage_guard_covers_the_movement_features(warehouse: Engine):
    inputs = load(warehouse)
    cutoff = dt.date(2024, 8, 10)
    assert check_point_in_time(inputs, cutoff) > 380

    # a variant reading every snapshot until a week after kick-off sees T4's copy in
    # Burnley's future: the guard names its features
    def leaky(i: Inputs) -> pl.DataFrame:
        later = i.matches.with_columns(pl.col("kickoff_utc") + dt.timedelta(days=7))
        return movement.compute(dataclasses.replace(i, matches=later))

    family = Family("movement", movement.FAMILY.definitions, leaky)
    with pytest.raises(LeakageError, match="mv_p_home_since_first"):
        check_point_in_time(inputs, cutoff, build=lambda i: build_frame(i, (family,)))


def test_a_new_copy_makes_the_fixtures_partition_and_online_vectors_stale(warehouse: Engine):
    load(warehouse, (T1, T2))
    build_features(engine=warehouse, as_of=T1.date())
    assert plan_build(warehouse).reasons == {}
    until = dt.date(2024, 8, 19)
    online = scoring_features(T1.date(), until, engine=warehouse)
    assert online.source == "online", online.reason
    assert online.frame.height == 20 and online.frame["mv_n_snapshots"].min() == 2
    # the same prices taken again an hour later: no current price changes, a moment is added
    raw = moved(FIXTURES_FILE.read_bytes(), MOVES[T2])
    outcome = ingest_football_data_fixtures_bytes(
        raw, "fixtures.csv", engine=warehouse, today=T2.date(), taken_at=T2 + dt.timedelta(hours=1)
    )
    assert outcome.status == "loaded", outcome.message
    assert plan_build(warehouse).reasons == {
        ("E0", "2024-2025"): "data changed",
        ("SP1", "2024-2025"): "data changed",
    }
    again = scoring_features(T1.date(), until, engine=warehouse)
    assert again.source == "recomputed" and "inputs fingerprint" in again.reason
    assert again.frame["mv_n_snapshots"].min() == 3
    build_features(engine=warehouse, as_of=T1.date())
    rebuilt = scoring_features(T1.date(), until, engine=warehouse)
    assert rebuilt.source == "online" and rebuilt.frame.equals(again.frame)


def test_the_cli_keeps_two_copies_and_lists_the_movement_coverage(tmp_path) -> None:
    """``ingest --fixtures-file --taken-at`` twice, then ``features list`` shows the family."""
    from cli_support import invoke

    assert invoke("init").exit_code == 0
    season = invoke("ingest", "football-data", "--file", str(SEASON_FILE))
    assert season.exit_code == 0, season.output
    for moment in (T1, T2):
        copy = tmp_path / f"fixtures-{moment:%H%M}.csv"
        copy.write_bytes(moved(FIXTURES_FILE.read_bytes(), MOVES[moment]))
        loaded = invoke(
            "ingest",
            "football-data",
            "--fixtures-file",
            str(copy),
            "--taken-at",
            moment.isoformat(),
        )
        assert loaded.exit_code == 0, loaded.output
    with get_engine().connect() as connection:
        moments = connection.execute(
            text("SELECT COUNT(DISTINCT taken_at) FROM odds_snapshots WHERE timing = 'preclose'")
        ).scalar_one()
    assert moments >= 3  # the season file's collection times and the two copies
    assert invoke("features", "build", "--as-of", T1.date().isoformat()).exit_code == 0
    listed = invoke("features", "list")
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if "mv_panic" in line)
    # 20 of the 400 matches (the fixtures) were priced by two copies: 5 %
    assert line.rstrip(" │").endswith(" 5%"), line
    bad = invoke("ingest", "football-data", "--fixtures-file", str(copy), "--taken-at", "noon")
    assert bad.exit_code == 2 and "is not a date-time" in bad.output
