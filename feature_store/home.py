"""Home advantage and crowds.

Per team: its own recent home advantage, the mean goal difference (and xG
difference) of its last ten home matches minus that of its last ten away
matches.  Per league: the mean home goal difference and home win rate of the
league's matches in the 365 days before the match day.  Attendance: the home
team's mean home attendance over its last five home matches where a source
records it (football-data's ``Attendance``, FBref fixtures).  Matches played
without crowds (the 2020-21 pandemic periods, per country, kept as reviewed
data in ``feature_store/data/closed_doors.csv``) are flagged.
"""

from __future__ import annotations

from importlib import resources

import polars as pl

from feature_store.common import (
    BEFORE_KICKOFF_RESULTS,
    SCHEDULE,
    SIDES,
    Family,
    FeatureDef,
    side_features,
    state_before,
    team_rows,
)
from feature_store.form import with_side_xg
from feature_store.inputs import ColumnType, Inputs

WINDOW = 10
LEAGUE_DAYS = 365


def closed_doors() -> pl.DataFrame:
    """The reviewed periods of matches without crowds: country, start, end (inclusive)."""
    text = resources.files("feature_store").joinpath("data/closed_doors.csv").read_bytes()
    return pl.read_csv(text, try_parse_dates=True).select(
        "country", pl.col("start").cast(pl.Date), pl.col("end").cast(pl.Date)
    )


def _definitions() -> tuple[FeatureDef, ...]:
    def define(
        name: str,
        description: str,
        sources: tuple[str, ...] = ("football-data",),
        dtype: ColumnType = pl.Float64,
        when: str = BEFORE_KICKOFF_RESULTS,
    ) -> FeatureDef:
        return FeatureDef(name, dtype, "home", description, sources, when)

    defs = []
    for side in SIDES:
        defs.append(
            define(
                f"home_{side}_adv_gd",
                f"{side} team: mean goal difference of its last {WINDOW} home matches minus "
                f"its last {WINDOW} away matches",
            )
        )
        defs.append(
            define(
                f"home_{side}_adv_xgd",
                f"{side} team: the same home-minus-away difference in xG difference",
                ("understat",),
            )
        )
    defs += [
        define("home_league_gd_365d", f"league: mean home goal difference over {LEAGUE_DAYS} days"),
        define("home_league_win_rate_365d", f"league: home win rate over {LEAGUE_DAYS} days"),
        define(
            "home_attendance_r5",
            "home team: mean attendance of its last five home matches with a figure",
            ("football-data", "fbref"),
        ),
        define(
            "home_no_crowd",
            "match played behind closed doors (pandemic periods per country)",
            ("reviewed data",),
            pl.Int8,
            SCHEDULE,
        ),
    ]
    return tuple(defs)


def _team_advantage(inputs: Inputs) -> pl.DataFrame:
    rows = team_rows(with_side_xg(inputs), extra=("xg",))
    played = rows.filter(pl.col("played")).with_columns(
        (pl.col("goals_for") - pl.col("goals_against")).cast(pl.Float64).alias("gd"),
        (pl.col("xg_for") - pl.col("xg_against")).alias("xgd"),
    )
    targets = rows.select("match_id", "team_id", "match_date")
    per_team = targets
    for venue, is_home in (("h", True), ("a", False)):
        states = played.filter(pl.col("is_home") == is_home).select(
            "team_id",
            "match_date",
            *(
                pl.col(c).rolling_mean(WINDOW, min_samples=1).over("team_id").alias(f"{c}_{venue}")
                for c in ("gd", "xgd")
            ),
        )
        joined = state_before(targets, states).select(
            "match_id", "team_id", f"gd_{venue}", f"xgd_{venue}"
        )
        per_team = per_team.join(joined, on=["match_id", "team_id"], how="left")
    per_team = per_team.select(
        "match_id",
        "team_id",
        (pl.col("gd_h") - pl.col("gd_a")).alias("adv_gd"),
        (pl.col("xgd_h") - pl.col("xgd_a")).alias("adv_xgd"),
    )
    return side_features(inputs.matches, per_team, ["adv_gd", "adv_xgd"]).rename(
        {f"{s}_{c}": f"home_{s}_{c}" for s in SIDES for c in ("adv_gd", "adv_xgd")}
    )


def _league_advantage(matches: pl.DataFrame) -> pl.DataFrame:
    """League home advantage over the year before each match day (cumulative sums)."""
    days = (
        matches.filter(pl.col("home_goals").is_not_null())
        .group_by("league_code", "match_date")
        .agg(
            pl.len().alias("n"),
            (pl.col("home_goals") - pl.col("away_goals")).sum().alias("gd"),
            (pl.col("home_goals") > pl.col("away_goals")).sum().alias("wins"),
        )
        .sort("league_code", "match_date")
        .with_columns(pl.col(c).cum_sum().over("league_code") for c in ("n", "gd", "wins"))
    )
    targets = matches.select("match_id", "league_code", "match_date")
    now = state_before(targets, days, by="league_code")
    year_ago = state_before(
        targets.with_columns(pl.col("match_date") - pl.duration(days=LEAGUE_DAYS)),
        days,
        by="league_code",
    )
    both = now.join(year_ago.drop("league_code", "match_date"), on="match_id", suffix="_0")
    n = pl.col("n") - pl.col("n_0").fill_null(0)
    return both.select(
        "match_id",
        pl.when(n > 0)
        .then((pl.col("gd") - pl.col("gd_0").fill_null(0)) / n)
        .alias("home_league_gd_365d"),
        pl.when(n > 0)
        .then((pl.col("wins") - pl.col("wins_0").fill_null(0)) / n)
        .alias("home_league_win_rate_365d"),
    )


def _attendance(matches: pl.DataFrame) -> pl.DataFrame:
    known = matches.filter(pl.col("attendance").is_not_null() & (pl.col("attendance") > 0)).select(
        pl.col("home_team_id").alias("team_id"),
        "match_date",
        pl.col("attendance")
        .cast(pl.Float64)
        .rolling_mean(5, min_samples=1)
        .over("home_team_id")
        .alias("home_attendance_r5"),
    )
    targets = matches.select("match_id", pl.col("home_team_id").alias("team_id"), "match_date")
    return state_before(targets, known).select("match_id", "home_attendance_r5")


def _no_crowd(matches: pl.DataFrame) -> pl.DataFrame:
    periods = closed_doors()
    flagged = (
        matches.select("match_id", "country", "match_date")
        .join(periods, on="country", how="inner")
        .filter(pl.col("match_date").is_between(pl.col("start"), pl.col("end")))
        .select("match_id")
        .unique()
    )
    return matches.select(
        "match_id",
        pl.col("match_id")
        .is_in(flagged["match_id"].implode())
        .cast(pl.Int8)
        .alias("home_no_crowd"),
    )


def compute(inputs: Inputs) -> pl.DataFrame:
    """Home-advantage and crowd features of every match in ``inputs``."""
    out = _team_advantage(inputs)
    for part in (
        _league_advantage(inputs.matches),
        _attendance(inputs.matches),
        _no_crowd(inputs.matches),
    ):
        out = out.join(part, on="match_id", how="left")
    return out


FAMILY = Family("home", _definitions(), compute)
