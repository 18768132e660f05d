"""Feature store: the catalogue, every family on real data, and the leakage guard."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, text

from feature_store import fatigue, form, market
from feature_store.build import build_frame
from feature_store.catalog import FAMILIES, feature_names, frame_schema
from feature_store.common import BEFORE_KICKOFF_RESULTS, Family, FeatureDef, team_rows
from feature_store.inputs import Inputs, load_inputs
from feature_store.leakage import LeakageError, check_point_in_time
from feature_store.market import shin_probabilities
from sabiscore_ml.jobs.football_data import ingest_football_data_file
from sabiscore_ml.jobs.sources import run_source_item
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine, migrate

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A SQLite warehouse holding real EPL 2019-21 and Championship 2019-20 data,
    Understat's EPL 2020-21 league page and shots, and Transfermarkt squad values."""
    home = tmp_path_factory.mktemp("features-home")
    url = f"sqlite:///{home / 'warehouse.sqlite'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SABISCORE_HOME", str(home))
        patch.setenv("SABISCORE_DATABASE_URL", url)
        clear_settings_cache()
        get_engine.cache_clear()
        migrate(url)
        engine = get_engine(url)
        for league, season in (
            ("E1", "2018-2019"),
            ("E1", "2019-2020"),
            ("E0", "2019-2020"),
            ("E0", "2020-2021"),
        ):
            path = SAMPLES / "football-data" / league / f"{season}.csv"
            assert ingest_football_data_file(path, engine=engine).status == "loaded"
        for source, path in (
            ("understat", SAMPLES / "understat" / "league_epl.html"),
            ("understat", next((SAMPLES / "understat" / "E0").glob("*.csv"))),
            (
                "transfermarkt",
                SAMPLES / "transfermarkt" / "E0" / "premier_league_squad_values_2020_2024.csv",
            ),
        ):
            item = {"kind": "file", "source": source, "path": str(path), "league": "E0"}
            assert run_source_item(item, engine=engine).status == "loaded", path
        clear_settings_cache()
        yield engine
    engine.dispose()
    get_engine.cache_clear()


@pytest.fixture(scope="module")
def inputs(loaded: Engine) -> Inputs:
    return load_inputs(loaded)


@pytest.fixture(scope="module")
def frame(inputs: Inputs) -> pl.DataFrame:
    return build_frame(inputs)


# ----------------------------------------------------------------- catalogue


def test_catalog_is_consistent_and_rich():
    names = feature_names()
    assert len(names) == len(set(names))
    assert len(names) >= 200
    for family in FAMILIES:
        for definition in family.definitions:
            assert definition.description and definition.availability and definition.sources
            assert definition.name.split("_")[0] in {
                "form",
                "fatigue",
                "home",
                "mkt",
                "mv",
                "squad",
                "ctx",
                "elo",
                "pi",
                "dc",
            }, definition.name


def test_no_feature_is_a_closing_price():
    assert not [n for n in feature_names() if "close" in n or "closing" in n]


def test_frame_has_catalog_columns_in_order(frame: pl.DataFrame, inputs: Inputs):
    assert frame.columns == list(frame_schema())
    assert frame.height == inputs.matches.height == 380 * 2 + 552 * 2
    assert frame["match_id"].is_unique().all()
    float_columns = [n for n, t in frame.schema.items() if t.is_float()]
    assert frame.select(pl.col(float_columns).is_nan().any()).row(0) == (False,) * len(
        float_columns
    )


def test_family_output_must_match_its_definitions(inputs: Inputs):
    broken = Family(
        "broken",
        (FeatureDef("broken_x", pl.Float64, "broken", "x", ("test",), BEFORE_KICKOFF_RESULTS),),
        lambda i: i.matches.select("match_id", pl.lit(1.0).alias("broken_y")),
    )
    with pytest.raises(ValueError, match="broken"):
        build_frame(inputs, (broken,))


# ----------------------------------------------------------------- values by hand


def _match(frame: pl.DataFrame, inputs: Inputs, date: str, home: str, away: str, loaded):
    with loaded.connect() as connection:
        ids = dict(connection.execute(text("SELECT name, id FROM teams")).all())
    row = frame.filter(
        (pl.col("match_date") == dt.date.fromisoformat(date))
        & (pl.col("home_team_id") == ids[home])
        & (pl.col("away_team_id") == ids[away])
    )
    assert row.height == 1
    return row.row(0, named=True), ids


def test_form_values_by_hand(frame, inputs, loaded):
    # Liverpool's five league matches before 2020-10-24 (EPL 2020-21 CSV):
    # 12 Sep Leeds 4-3 (W), 20 Sep at Chelsea 2-0 (W), 28 Sep Arsenal 3-1 (W),
    # 4 Oct at Aston Villa 7-2 (L), 17 Oct at Everton 2-2 (D).
    row, _ = _match(frame, inputs, "2020-10-24", "Liverpool", "Sheffield United", loaded)
    assert row["form_home_goals_for_r5"] == pytest.approx((4 + 2 + 3 + 2 + 2) / 5)
    assert row["form_home_goals_against_r5"] == pytest.approx((3 + 0 + 1 + 7 + 2) / 5)
    assert row["form_home_points_r3"] == pytest.approx((3 + 0 + 1) / 3)
    assert row["form_home_n"] == 38 + 5  # all of 2019-20 plus five matches
    # Sheffield United: played four, lost all but a 1-1? (they drew none: 0 points).
    assert row["ctx_away_season_games"] == 5
    assert row["ctx_home_season_games"] == 5
    assert row["ctx_home_ppg"] == pytest.approx(10 / 5)


def test_promoted_team_flags_and_cold_start(frame, inputs, loaded):
    # Leeds came up from the Championship 2019-20 (in the sample), Liverpool did not.
    row, _ = _match(frame, inputs, "2020-09-12", "Liverpool", "Leeds", loaded)
    assert row["ctx_away_promoted"] == 1 and row["ctx_home_promoted"] == 0
    assert row["ctx_away_relegated"] == 0
    assert row["ctx_home_season_games"] == 0 and row["ctx_home_ppg"] is None
    assert row["ctx_home_position"] == 1  # nobody has a point yet: all share first place
    # Leeds' form carries over from the Championship
    assert row["form_away_n"] == 46 + 46  # two Championship seasons in the fixture


def test_first_match_of_every_team_has_no_form(frame):
    stacked = pl.concat(
        [
            frame.select(
                "match_id",
                "match_date",
                pl.col(f"{side}_team_id").alias("team"),
                pl.col(f"form_{side}_n").alias("n"),
                *(
                    pl.col(c).alias(c.replace(f"form_{side}_", "x_"))
                    for c in frame.columns
                    if c.startswith(f"form_{side}_")
                    and not c.startswith(f"form_{side}_venue")
                    and c != f"form_{side}_n"
                ),
            )
            for side in ("home", "away")
        ]
    )
    first = stacked.sort("match_date", "match_id").group_by("team", maintain_order=True).first()
    assert first.height == frame.select("home_team_id").n_unique() or first.height > 40
    assert (first["n"] == 0).all()
    value_columns = [c for c in first.columns if c.startswith("x_")]
    assert first.select(pl.col(value_columns).is_null().all()).row(0) == (True,) * len(
        value_columns
    )


def test_fatigue_counts_days_and_games(frame, inputs, loaded):
    row, _ = _match(frame, inputs, "2020-10-24", "Liverpool", "Sheffield United", loaded)
    # Liverpool's previous league game: 17 Oct 2020 at Everton
    assert row["fatigue_home_days_rest"] == 7
    assert row["fatigue_home_games_7d"] == 1  # the window is [d - 7 days, d): 17 Oct is in it
    assert row["fatigue_home_games_14d"] == 1
    assert row["fatigue_home_games_28d"] == 3


def test_market_probabilities(frame):
    played = frame.filter(pl.col("mkt_b365_p_home").is_not_null())
    assert played.height > 1000
    for book in ("pinnacle", "b365", "market_avg"):
        for method in ("p", "shin"):
            total = played.select(
                sum(pl.col(f"mkt_{book}_{method}_{o}") for o in ("home", "draw", "away"))
            ).to_series()
            assert ((total - 1).abs().drop_nulls() < 1e-9).all()
    assert ((played["mkt_b365_overround"] > 1.0) & (played["mkt_b365_overround"] < 1.4)).all()


def test_shin_matches_published_example():
    # Prices 1.5 / 4.0 / 7.0 (overround 1.0952): Shin pushes margin onto the long shot,
    # so the favourite gains and the outsider loses relative to proportional removal.
    prices = [[1.5, 4.0, 7.0]]
    import numpy as np

    shin, z = shin_probabilities(np.array(prices))
    proportional = (1 / np.array(prices[0])) / (1 / np.array(prices[0])).sum()
    assert shin.sum() == pytest.approx(1.0)
    assert 0 < z[0] < 0.1
    assert shin[0][0] > proportional[0] and shin[0][2] < proportional[2]
    # Shin's identity: sqrt(z^2 + 4(1-z) q_i^2/Q) = z + 2(1-z) p_i for every outcome
    q = 1 / np.array(prices[0])
    lhs = np.sqrt(z[0] ** 2 + 4 * (1 - z[0]) * q**2 / q.sum())
    assert lhs == pytest.approx(z[0] + 2 * (1 - z[0]) * shin[0], rel=1e-6)


def test_xg_form_from_understat(frame, inputs, loaded):
    row, _ = _match(frame, inputs, "2020-10-24", "Liverpool", "Sheffield United", loaded)
    assert row["form_home_xg_for_r5"] is not None and 0 < row["form_home_xg_for_r5"] < 5
    # Understat's team histories: non-penalty xG, deep completions and PPDA of
    # Man United's five league matches before 7 March 2021
    row, ids = _match(frame, inputs, "2021-03-07", "Man City", "Man United", loaded)
    history = (
        inputs.team_stats.filter(
            (pl.col("team_id") == ids["Man United"]) & (pl.col("match_date") < dt.date(2021, 3, 7))
        )
        .sort("match_date")
        .tail(5)
    )
    assert history.height == 5
    assert history["match_date"].to_list()[-1] == dt.date(2021, 3, 3)  # Palace 0-0 United
    for stat in ("npxg_for", "deep_for", "ppda", "ppda_allowed"):
        assert row[f"form_away_{stat}_r5"] == pytest.approx(history[stat].mean()), stat
    assert row["form_away_n"] == 38 + 27
    # before Understat's season there is no xG form: missing, not zero
    row, _ = _match(frame, inputs, "2019-08-10", "Burnley", "Southampton", loaded)
    assert row["form_home_xg_for_r5"] is None


def test_squad_value_features(frame, inputs, loaded):
    row, _ = _match(frame, inputs, "2020-10-24", "Liverpool", "Sheffield United", loaded)
    assert row["squad_home_rank"] is not None and row["squad_home_rank"] <= 3
    assert row["squad_log_ratio"] > 1.0
    assert math.isclose(
        row["squad_log_ratio"], row["squad_home_log_value"] - row["squad_away_log_value"]
    )


def test_no_crowd_flag_follows_the_reviewed_periods(frame):
    # England: no crowds from 13 March 2020 to 16 May 2021 (closed_doors.csv)
    e0 = frame.filter(pl.col("league_code") == "E0")
    expected = e0["match_date"].is_between(dt.date(2020, 3, 13), dt.date(2021, 5, 16))
    assert (e0["home_no_crowd"] == expected.cast(pl.Int8)).all()
    last_season = e0.filter(pl.col("season_code") == "2020-2021")["home_no_crowd"]
    assert last_season.sum() == 360  # the last 20 matches had limited crowds again


# ----------------------------------------------------------------- leakage guard


@pytest.mark.parametrize("cutoff", ["2019-12-26", "2020-07-01", "2021-01-01"])
def test_features_before_a_cutoff_ignore_everything_after_it(inputs, cutoff):
    compared = check_point_in_time(inputs, dt.date.fromisoformat(cutoff))
    assert compared > 300


def _leaky(name: str, expr_builder) -> Family:
    definition = FeatureDef(name, pl.Float64, "leaky", name, ("test",), BEFORE_KICKOFF_RESULTS)

    def compute(inputs: Inputs) -> pl.DataFrame:
        rows = team_rows(inputs.matches).filter(pl.col("is_home"))
        return rows.select("match_id", expr_builder().alias(name))

    return Family("leaky", (definition,), compute)


@pytest.mark.parametrize(
    "leaky",
    [
        # the team's next match: one match ahead
        lambda: pl.col("goals_for").cast(pl.Float64).shift(-1).over("team_id"),
        # a rolling mean that includes the match itself (its own result)
        lambda: pl.col("goals_for").cast(pl.Float64).rolling_mean(5, min_samples=1).over("team_id"),
        # a season average: the whole season, future included
        lambda: pl.col("goals_for").cast(pl.Float64).mean().over("team_id", "season_code"),
    ],
    ids=["next-match", "own-result", "season-mean"],
)
def test_leaky_features_are_caught(inputs, leaky):
    families = (*FAMILIES, _leaky("leaky_x", leaky))
    with pytest.raises(LeakageError, match="leaky_x"):
        check_point_in_time(inputs, dt.date(2020, 1, 1), build=lambda i: build_frame(i, families))


def test_closing_odds_never_reach_the_features(loaded, inputs, frame):
    with loaded.begin() as connection:
        changed = connection.execute(
            text("UPDATE odds SET price = price * 3 + 1 WHERE timing = 'close'")
        ).rowcount
    try:
        assert changed > 1000
        again = build_frame(load_inputs(loaded))
        assert again.equals(frame)
    finally:
        with loaded.begin() as connection:
            connection.execute(
                text("UPDATE odds SET price = (price - 1) / 3 WHERE timing = 'close'")
            )


def test_form_windows_and_fatigue_are_defined(inputs):
    # each family can be built on its own
    for family in (form.FAMILY, fatigue.FAMILY, market.FAMILY):
        out = family.compute(inputs)
        assert out.height == inputs.matches.height
