"""Squad value: Transfermarkt market values as they stood before the match day.

For each team the latest squad value dated strictly before the match day is
used (with its age in days, so a stale figure can be discounted), the value 90
days earlier gives the recent change, and the team's rank by value among the
teams of its league-season that have appeared by that day gives its standing.
"""

from __future__ import annotations

import polars as pl

from feature_store.common import (
    BEFORE_KICKOFF_VALUES,
    SIDES,
    Family,
    FeatureDef,
    side_features,
    state_before,
    team_rows,
)
from feature_store.inputs import ColumnType, Inputs

CHANGE_DAYS = 90
_SRC = ("transfermarkt",)


def _definitions() -> tuple[FeatureDef, ...]:
    def define(name: str, description: str, dtype: ColumnType = pl.Float64) -> FeatureDef:
        return FeatureDef(name, dtype, "squad", description, _SRC, BEFORE_KICKOFF_VALUES)

    defs = []
    for side in SIDES:
        defs += [
            define(f"squad_{side}_log_value", f"{side} team: natural log of squad value in EUR m"),
            define(
                f"squad_{side}_change_{CHANGE_DAYS}d",
                f"{side} team: log change of squad value over the {CHANGE_DAYS} days before",
            ),
            define(
                f"squad_{side}_rank",
                f"{side} team: rank by squad value in its league-season (1 = richest)",
                pl.Int32,
            ),
            define(
                f"squad_{side}_value_age_days",
                f"{side} team: days between the squad value's date and the match",
                pl.Int32,
            ),
        ]
    defs.append(define("squad_log_ratio", "log of home over away squad value"))
    return tuple(defs)


def _values_before(
    targets: pl.DataFrame, values: pl.DataFrame, shift_days: int = 0
) -> pl.DataFrame:
    shifted = targets.with_columns(pl.col("match_date") - pl.duration(days=shift_days))
    joined = state_before(shifted, values, states_on="as_of")
    return joined.select(
        "match_id",
        "team_id",
        pl.col("market_value_eur").alias("value"),
        pl.col("as_of"),
    )


def compute(inputs: Inputs) -> pl.DataFrame:
    """Squad-value features of every match in ``inputs``."""
    values = (
        inputs.squad_values.filter(pl.col("market_value_eur") > 0)
        .group_by("team_id", "as_of")
        .agg(pl.col("market_value_eur").max())
        .sort("as_of")
    )
    matches = inputs.matches
    rows = team_rows(matches)
    targets = rows.select("match_id", "team_id", "match_date")
    now = _values_before(targets, values)
    then = _values_before(targets, values, CHANGE_DAYS).select(
        "match_id", "team_id", pl.col("value").alias("value_then")
    )
    # rank among the league-season's teams that had appeared by the match day
    # only teams with a value can be ranked: leave the others out of the cross product
    first_seen = (
        rows.join(values.select("team_id").unique(), on="team_id", how="semi")
        .group_by("league_code", "season_code", "team_id")
        .agg(pl.col("match_date").min().alias("first_seen"))
    )
    days = matches.select("league_code", "season_code", "match_date").unique()
    field = days.join(first_seen, on=["league_code", "season_code"]).filter(
        pl.col("first_seen") <= pl.col("match_date")
    )
    field = state_before(
        field.with_columns(pl.lit(0, dtype=pl.Int64).alias("match_id")), values, states_on="as_of"
    ).with_columns(
        pl.col("market_value_eur")
        .rank("min", descending=True)
        .over("league_code", "season_code", "match_date")
        .cast(pl.Int32)
        .alias("rank")
    )
    ranks = rows.select("match_id", "team_id", "league_code", "season_code", "match_date").join(
        field.select("league_code", "season_code", "match_date", "team_id", "rank"),
        on=["league_code", "season_code", "match_date", "team_id"],
        how="left",
    )
    per_team = (
        targets.join(now, on=["match_id", "team_id"], how="left")
        .join(then, on=["match_id", "team_id"], how="left")
        .join(ranks.select("match_id", "team_id", "rank"), on=["match_id", "team_id"], how="left")
        .select(
            "match_id",
            "team_id",
            (pl.col("value") / 1e6).log().alias("log_value"),
            (pl.col("value") / pl.col("value_then")).log().alias(f"change_{CHANGE_DAYS}d"),
            "rank",
            (pl.col("match_date") - pl.col("as_of"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("value_age_days"),
        )
    )
    names = ["log_value", f"change_{CHANGE_DAYS}d", "rank", "value_age_days"]
    out = side_features(matches, per_team, names).rename(
        {f"{s}_{n}": f"squad_{s}_{n}" for s in SIDES for n in names}
    )
    return out.with_columns(
        (pl.col("squad_home_log_value") - pl.col("squad_away_log_value")).alias("squad_log_ratio")
    )


FAMILY = Family("squad", _definitions(), compute)
