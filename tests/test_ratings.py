"""Rating features (Elo, pi-ratings, sequential Dixon-Coles) on real and hand-built leagues."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLE_DIR

from feature_store import ratings
from feature_store.ratings import (
    INPUT_COLUMNS,
    RatingParams,
    football_data_input,
    rating_features,
)
from sabiscore_ml.sources.football_data import parse_football_data

PARAMS = RatingParams()
PROBABILITIES = ("elo_p_home", "pi_p_home", "pi_p_draw", "pi_p_away") + tuple(
    f"dc_p_{name}" for name in ("home", "draw", "away", "over25", "btts")
)


@pytest.fixture(scope="module")
def real() -> pl.DataFrame:
    """Championship 2015-16..2019-20 and Premier League 2019-20..2023-24, as published."""
    files = sorted(SAMPLE_DIR.glob("E0/*.csv")) + sorted(SAMPLE_DIR.glob("E1/*.csv"))
    parsed = [parse_football_data(f.read_bytes(), f.name, today=dt.date(2026, 1, 1)) for f in files]
    return football_data_input(parsed)


def features(matches: pl.DataFrame, params: RatingParams = PARAMS) -> pl.DataFrame:
    return rating_features(matches.select(*INPUT_COLUMNS), params)


def by_id(frame: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    return frame.filter(pl.col("match_id").is_in(ids.implode())).sort("match_id")


# --- no leakage -------------------------------------------------------------------------


def perturb_from(matches: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """Every result on or after ``cutoff`` changed, or the match deleted (one in three)."""
    later = pl.col("match_date") >= cutoff
    return matches.filter(~later | (pl.col("match_id") % 3 != 0)).with_columns(
        home_goals=pl.when(later).then(pl.col("away_goals") + 3).otherwise("home_goals"),
        away_goals=pl.when(later).then((pl.col("home_goals") + 1) % 4).otherwise("away_goals"),
    )


def assert_cutoff_guard(matches: pl.DataFrame, cutoff: dt.date) -> int:
    """Features up to ``cutoff`` (that date included) ignore every result from it on."""
    original = features(matches)
    perturbed_input = perturb_from(matches, cutoff)
    perturbed = features(perturbed_input)
    kept = perturbed_input.filter(pl.col("match_date") <= cutoff)["match_id"]
    before, after = by_id(original, kept), by_id(perturbed, kept)
    assert before.equals(after), "features up to the cut-off changed with later results"
    return len(kept)


def busiest_date(matches: pl.DataFrame, season: str) -> dt.date:
    counts = (
        matches.filter(pl.col("league_code") == "E0", pl.col("season_code") == season)
        .group_by("match_date")
        .len()
        .sort("len", "match_date", descending=[True, False])
    )
    return counts["match_date"][0]


def test_features_up_to_a_cutoff_ignore_every_later_result(real: pl.DataFrame) -> None:
    cutoff = busiest_date(real, "2021-2022")
    compared = assert_cutoff_guard(real, cutoff)
    same_day = real.filter(pl.col("match_date") == cutoff).height
    assert same_day >= 5 and compared > 3000
    # Sanity of the perturbation itself: later features do move.
    original, perturbed = features(real), features(perturb_from(real, cutoff))
    later = perturb_from(real, cutoff).filter(pl.col("match_date") > cutoff)["match_id"]
    assert not by_id(original, later).equals(by_id(perturbed, later))


def test_cutoff_guard_catches_a_same_date_leak(
    real: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One match per batch: a match sees the results of earlier-sorted matches of its date.
    monkeypatch.setattr(ratings, "_batch_bounds", lambda day: np.arange(len(day) + 1))
    with pytest.raises(AssertionError, match="features up to the cut-off changed"):
        assert_cutoff_guard(real, busiest_date(real, "2021-2022"))


# --- hand-checked values on a constructed league ---------------------------------------

TIERS = {"E0": 1, "E1": 2}
A, B, C, D = 1, 2, 3, 4


def tiny(*rows: tuple) -> pl.DataFrame:
    """Matches from (date, home, away, home goals, away goals[, league, season]) tuples."""
    records = []
    for match_id, row in enumerate(rows, start=100):
        day, home, away, home_goals, away_goals, *rest = row
        league, season = rest if rest else ("E0", "2020-2021")
        records.append(
            (match_id, league, season, day, TIERS[league], "England", home, away)
            + (home_goals, away_goals)
        )
    return pl.DataFrame(records, schema=INPUT_COLUMNS, orient="row")


def row(frame: pl.DataFrame, match_id: int) -> dict:
    return frame.filter(pl.col("match_id") == match_id).row(0, named=True)


DAY1, DAY2, DAY3 = dt.date(2020, 9, 12), dt.date(2020, 9, 19), dt.date(2020, 9, 26)


def expected_gd(rating: float) -> float:
    """Constantinou & Fenton: expected goal difference of a pi-rating (b = 10, c = 3)."""
    return math.copysign(10 ** (abs(rating) / 3) - 1, rating)


def test_elo_after_one_match_is_the_formula_by_hand() -> None:
    frame = features(tiny((DAY1, A, B, 3, 0), (DAY2, A, C, None, None), (DAY2, B, D, 1, 1)))
    first, second, third = row(frame, 100), row(frame, 101), row(frame, 102)
    assert first["elo_home"] == first["elo_away"] == 1500.0  # tier-1 start
    assert first["elo_p_home"] is None  # no result of the division yet: no home advantage
    expected = 1 / (1 + 10 ** (-60 / 400))  # 60 points of home advantage to start
    delta = 15 * (11 + 3) / 8 * (1 - expected)  # K = 15, three-goal margin: G = 14/8
    assert second["elo_home"] == pytest.approx(1500 + delta, abs=1e-9)
    assert third["elo_home"] == pytest.approx(1500 - delta, abs=1e-9)
    assert second["elo_away"] == 1500.0
    hfa = 60 + 1.0 * (1 - expected)
    assert second["elo_home_advantage"] == pytest.approx(hfa, abs=1e-12)
    assert second["elo_p_home"] == pytest.approx(1 / (1 + 10 ** (-(delta + hfa) / 400)), abs=1e-12)
    assert second["elo_diff"] == pytest.approx(delta, abs=1e-9)
    assert (second["elo_home_n_matches"], second["elo_away_n_matches"]) == (1, 0)


def test_pi_ratings_follow_the_paper_equations_by_hand() -> None:
    # Constantinou & Fenton (2013) with lambda = 0.035, gamma = 0.7, b = 10, c = 3.
    frame = features(
        tiny((DAY1, A, B, 3, 0), (DAY2, A, C, 1, 1), (DAY3, B, A, None, None), (DAY3, C, A, 0, 2))
    )
    lam, gamma = 0.035, 0.7
    # Match 1: both ratings 0, expected GD 0, observed 3.
    step1 = lam * 3 * math.log10(1 + 3)
    a_home, a_away = step1, gamma * step1
    b_home = -gamma * step1  # B's away rating moved by -step1
    m2 = row(frame, 101)
    assert m2["pi_home"] == pytest.approx(a_home, abs=1e-12)
    assert m2["pi_away"] == 0.0
    assert m2["pi_expected_gd"] == pytest.approx(expected_gd(a_home), abs=1e-12)
    # Match 2: A (home) was expected to win by expected_gd(a_home) > 0 and drew: the
    # error pushes A's home rating down and C's away rating up.
    error = abs(0 - expected_gd(a_home))
    step2 = lam * 3 * math.log10(1 + error)
    a_home, a_away = a_home - step2, a_away - gamma * step2
    c_home = gamma * step2  # C's away rating moved by +step2
    m3, m4 = row(frame, 102), row(frame, 103)
    assert m3["pi_home"] == pytest.approx(b_home, abs=1e-12)
    assert m3["pi_away"] == pytest.approx(a_away, abs=1e-12)
    assert m3["pi_expected_gd"] == pytest.approx(
        expected_gd(b_home) - expected_gd(a_away), abs=1e-12
    )
    assert m4["pi_home"] == pytest.approx(c_home, abs=1e-12)
    assert m4["pi_diff"] == pytest.approx(c_home - a_away, abs=1e-12)


def test_dixon_coles_strengths_take_one_poisson_score_step() -> None:
    frame = features(tiny((DAY1, A, B, 3, 0), (DAY2, A, B, 0, 1)))
    eta, eta_league = PARAMS.dc_eta, PARAMS.dc_eta_league
    lam_h, lam_a = 1.5, 1.1  # division starting means; every strength starts at 0
    first, second = row(frame, 100), row(frame, 101)
    assert first["dc_lambda_home"] is None and first["dc_p_home"] is None
    assert first["dc_attack_home"] == 0.0
    att_a, def_b = eta * (3 - lam_h), -eta * (3 - lam_h)
    att_b, def_a = eta * (0 - lam_a), -eta * (0 - lam_a)
    mu = math.log(1.1) + eta_league * ((3 - lam_h) + (0 - lam_a))
    home = math.log(1.5 / 1.1) + eta_league * (3 - lam_h)
    assert second["dc_attack_home"] == pytest.approx(att_a, abs=1e-12)
    assert second["dc_defence_home"] == pytest.approx(def_a, abs=1e-12)
    assert second["dc_attack_away"] == pytest.approx(att_b, abs=1e-12)
    assert second["dc_defence_away"] == pytest.approx(def_b, abs=1e-12)
    assert second["dc_lambda_home"] == pytest.approx(math.exp(mu + home + att_a - def_b))
    assert second["dc_lambda_away"] == pytest.approx(math.exp(mu + att_b - def_a))


def test_seasons_regress_to_the_division_mean_and_clubs_carry_ratings_across_divisions() -> None:
    s1, s2 = "2020-2021", "2021-2022"
    s2_day = dt.date(2021, 8, 14)
    frame = features(
        tiny(
            (DAY1, A, B, 4, 0, "E0", s1),
            (DAY2, B, A, 0, 2, "E0", s1),
            (DAY1, C, D, 2, 0, "E1", s1),
            (s2_day, A, C, None, None, "E0", s2),  # C promoted, keeps its E1 rating
            (s2_day, D, 5, None, None, "E1", s2),  # 5 is new to the data
        )
    )
    day2_a = row(frame, 101)["elo_away"]  # A before its second match
    day2_b = row(frame, 101)["elo_home"]
    # Final Elo after match 2 (expected score of B at home from the features).
    p_b = row(frame, 101)["elo_p_home"]
    final_b = day2_b + 15 * 1.5 * (0 - p_b)  # two-goal away win: G = 1.5
    final_a = day2_a - 15 * 1.5 * (0 - p_b)
    e0_mean = (final_a + final_b) / 2
    start = row(frame, 103)
    assert start["elo_home"] == pytest.approx(e0_mean + 0.8 * (final_a - e0_mean), abs=1e-9)
    # C: last played in E1 2020-21 -> regressed towards the E1 mean, still below E0.
    c_final = row(frame, 102)  # C's only match, first of E1: start 1400, no league history
    delta_c = 15 * 1.5 * (1 - 1 / (1 + 10 ** (-60 / 400)))
    c_after, d_after = 1400 + delta_c, 1400 - delta_c
    e1_mean = (c_after + d_after) / 2
    assert c_final["elo_home"] == 1400.0
    assert start["elo_away"] == pytest.approx(e1_mean + 0.8 * (c_after - e1_mean), abs=1e-9)
    # A newcomer to E1 starts at the mean final rating of E1's previous season.
    newcomer = row(frame, 104)
    assert newcomer["elo_away"] == pytest.approx(e1_mean, abs=1e-9)
    assert newcomer["elo_away_n_matches"] == 0
    # ... in every system: E1's mean final pi away rating after C 2-0 D (both from the
    # tier-2 start -0.25, so the expected goal difference was 0).
    step = 0.035 * 3 * math.log10(1 + 2)
    c_away, d_away = -0.25 + 0.7 * step, -0.25 - step
    assert newcomer["pi_away"] == pytest.approx((c_away + d_away) / 2, abs=1e-12)


# --- real seasons -----------------------------------------------------------------------

E0_EVALUATED = ("2020-2021", "2021-2022", "2022-2023", "2023-2024")


def test_probabilities_are_probabilities(real: pl.DataFrame) -> None:
    frame = features(real)
    assert frame.height == real.height and frame["match_id"].n_unique() == real.height
    for name in PROBABILITIES:
        values = frame[name].drop_nulls()
        assert values.len() > 0.99 * real.height, name
        assert values.min() >= 0.0 and values.max() <= 1.0, name
    for system in ("dc", "pi"):
        total = frame.select(
            pl.col(f"{system}_p_home") + pl.col(f"{system}_p_draw") + pl.col(f"{system}_p_away")
        ).to_series()
        assert (total.drop_nulls() - 1.0).abs().max() < 1e-12
    # Nulls only on the first date of each division in the data (no division results yet).
    first_dates = real.group_by("league_code").agg(pl.col("match_date").min())
    null_rows = real.join(frame.filter(pl.col("dc_p_home").is_null()), on="match_id")
    assert null_rows.join(first_dates, on=["league_code", "match_date"]).height == len(null_rows)
    assert frame["elo_home"].null_count() == frame["pi_home"].null_count() == 0


def log_loss_1x2(probs: np.ndarray, outcome: np.ndarray) -> float:
    return float(-np.mean(np.log(probs[np.arange(len(outcome)), outcome])))


def test_ratings_beat_the_base_rate_on_premier_league_2020_to_2024(real: pl.DataFrame) -> None:
    played = real.join(features(real), on="match_id").filter(
        pl.col("league_code") == "E0", pl.col("season_code").is_in(E0_EVALUATED)
    )
    assert played.height == 4 * 380
    goals_h, goals_a = played["home_goals"].to_numpy(), played["away_goals"].to_numpy()
    outcome = np.where(goals_h > goals_a, 0, np.where(goals_h == goals_a, 1, 2))
    # The base rate knows the outcome frequencies of the evaluated seasons themselves.
    base = np.tile(np.bincount(outcome) / len(outcome), (len(outcome), 1))
    base_loss = log_loss_1x2(base, outcome)
    losses = {}
    for system in ("dc", "pi"):
        probs = played.select(f"{system}_p_home", f"{system}_p_draw", f"{system}_p_away")
        losses[system] = log_loss_1x2(probs.to_numpy(), outcome)
    score = np.where(goals_h > goals_a, 1.0, np.where(goals_h == goals_a, 0.5, 0.0))
    elo_brier = float(np.mean((played["elo_p_home"].to_numpy() - score) ** 2))
    base_brier = float(np.var(score))
    # Measured: base rate 1.063, Dixon-Coles 0.981, pi 0.980; Elo Brier 0.160 against 0.192.
    assert losses["dc"] < base_loss - 0.05
    assert losses["pi"] < base_loss - 0.05
    assert elo_brier < base_brier - 0.02


# --- unplayed matches, row order, one team twice on a date, bad input --------------------


def test_unplayed_matches_get_features_and_change_nothing(real: pl.DataFrame) -> None:
    base = features(real)
    last = real.filter(pl.col("league_code") == "E0").sort("match_date", "match_id").tail(30)
    unplayed = real.with_columns(
        pl.when(pl.col("match_id").is_in(last["match_id"].implode()))
        .then(None)
        .otherwise(pl.col(side))
        .alias(side)
        for side in ("home_goals", "away_goals")
    )
    without = real.filter(~pl.col("match_id").is_in(last["match_id"].implode()))
    with_fixtures, dropped = features(unplayed), features(without)
    others = without["match_id"]
    assert by_id(with_fixtures, others).equals(by_id(dropped, others))
    # The unplayed matches have their own pre-match features: on the block's first date
    # (nothing unplayed before it) the same as when they were played.
    first_day = last.filter(pl.col("match_date") == last["match_date"].min())["match_id"]
    assert len(first_day) >= 2
    assert by_id(with_fixtures, first_day).equals(by_id(base, first_day))
    assert by_id(with_fixtures, last["match_id"])["dc_p_home"].null_count() == 0

    # Fixtures inserted in the middle of a season, one with a club new to the data.
    season = real.filter(pl.col("league_code") == "E0", pl.col("season_code") == "2021-2022")
    picks = season.sort("match_id").gather_every(37)
    inserted = picks.select(
        (pl.col("match_id") + 1_000_000).alias("match_id"),
        *[name for name in INPUT_COLUMNS if name not in ("match_id", "home_team_id")],
        pl.col("away_team_id").shift(1, fill_value=999_999).alias("home_team_id"),
    ).with_columns(home_goals=pl.lit(None, pl.Int32), away_goals=pl.lit(None, pl.Int32))
    inserted = inserted.filter(pl.col("home_team_id") != pl.col("away_team_id"))
    grown = pl.concat([real.select(*INPUT_COLUMNS), inserted.select(*INPUT_COLUMNS)])
    grown_features = features(grown)
    assert by_id(grown_features, real["match_id"]).equals(by_id(base, real["match_id"]))
    new_rows = by_id(grown_features, inserted["match_id"])
    assert new_rows["dc_p_home"].null_count() == 0
    newcomer = new_rows.filter(pl.col("match_id") == inserted["match_id"][0]).row(0, named=True)
    assert newcomer["elo_home_n_matches"] == 0
    # ... at the mean final Elo of the Premier League's previous season in the data.
    assert 1400 < newcomer["elo_home"] < 1600


def test_row_order_does_not_matter(real: pl.DataFrame) -> None:
    shuffled = real.sample(fraction=1.0, shuffle=True, seed=7)
    out = features(shuffled)
    assert out["match_id"].equals(shuffled["match_id"])  # rows come back in input order
    assert out.sort("match_id").equals(features(real).sort("match_id"))


def test_a_team_playing_twice_on_one_date_is_updated_from_one_state() -> None:
    frame = features(tiny((DAY1, A, B, 1, 0), (DAY1, C, A, 0, 0), (DAY2, A, D, None, None)))
    assert row(frame, 100)["elo_home"] == row(frame, 101)["elo_away"] == 1500.0
    expected = 1 / (1 + 10 ** (-60 / 400))
    both = 15 * (1 - expected) - 15 * (0.5 - expected)  # a home win, then an away draw
    assert row(frame, 102)["elo_home"] == pytest.approx(1500 + both, abs=1e-9)
    assert row(frame, 102)["elo_home_n_matches"] == 2


def test_bad_input_is_refused_with_the_reason() -> None:
    frame = tiny((DAY1, A, B, 1, 0), (DAY2, A, C, 2, 2))
    with pytest.raises(ValueError, match="missing input column"):
        rating_features(frame.drop("tier"))
    with pytest.raises(ValueError, match="match_id is not unique"):
        rating_features(pl.concat([frame, frame.head(1)]))
    with pytest.raises(ValueError, match="only one side has a score"):
        rating_features(frame.with_columns(away_goals=pl.lit(None, pl.Int32)))
    with pytest.raises(ValueError, match="negative goals in match 100"):
        rating_features(frame.with_columns(away_goals=pl.lit(-1, pl.Int32)))
    with pytest.raises(ValueError, match="'20-21' is not like 2020-2021"):
        rating_features(frame.with_columns(season_code=pl.lit("20-21")))
    with pytest.raises(ValueError, match="home_team_id has null values"):
        rating_features(frame.with_columns(home_team_id=pl.lit(None, pl.Int64)))
