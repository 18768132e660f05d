"""Context: where the match stands in its league and season.

League tier; days since the league-season's first match (the fixture list is
known in advance); each team's league games, points per game, goal difference
per game and table position so far this season; whether the team played in a
lower (promoted) or higher (relegated) division of the same country last
season, unknown when the archive does not hold the team's previous season.
"""

from __future__ import annotations

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
from feature_store.inputs import ColumnType, Inputs

_SRC = ("football-data",)


def _definitions() -> tuple[FeatureDef, ...]:
    def define(
        name: str,
        description: str,
        dtype: ColumnType = pl.Float64,
        when: str = BEFORE_KICKOFF_RESULTS,
    ) -> FeatureDef:
        return FeatureDef(name, dtype, "context", description, _SRC, when)

    defs = [
        define("ctx_tier", "league tier (1 = top division)", pl.Int32, SCHEDULE),
        define(
            "ctx_days_into_season", "days since the league-season's first match", pl.Int32, SCHEDULE
        ),
    ]
    for side in SIDES:
        defs += [
            define(
                f"ctx_{side}_season_games",
                f"{side} team: league games so far this season",
                pl.Int32,
            ),
            define(f"ctx_{side}_ppg", f"{side} team: points per game so far this season"),
            define(f"ctx_{side}_gd_pg", f"{side} team: goal difference per game this season"),
            define(
                f"ctx_{side}_position",
                f"{side} team: league position before the match day (points, goal "
                "difference, goals)",
                pl.Int32,
            ),
            define(
                f"ctx_{side}_promoted",
                f"{side} team: played in a lower division last season (null: unknown)",
                pl.Int8,
                SCHEDULE,
            ),
            define(
                f"ctx_{side}_relegated",
                f"{side} team: played in a higher division last season (null: unknown)",
                pl.Int8,
                SCHEDULE,
            ),
        ]
    defs.append(define("ctx_ppg_diff", "home minus away points per game this season"))
    return tuple(defs)


def _season_states(rows: pl.DataFrame) -> pl.DataFrame:
    """Per team, league-season and date: cumulative games, points, goals after that day."""
    played = rows.filter(pl.col("played")).sort("match_date", "match_id")
    key = ("team_id", "league_code", "season_code")
    return played.select(
        *key,
        "match_date",
        pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(key).alias("games"),
        pl.col("points").cum_sum().over(key).alias("pts"),
        (pl.col("goals_for") - pl.col("goals_against")).cum_sum().over(key).alias("gd"),
        pl.col("goals_for").cum_sum().over(key).alias("gf"),
    )


def _positions(rows: pl.DataFrame, states: pl.DataFrame) -> pl.DataFrame:
    """League position of each team before each match day of its league-season."""
    key = ["league_code", "season_code"]
    first_seen = rows.group_by(*key, "team_id").agg(pl.col("match_date").min().alias("first_seen"))
    days = rows.select(*key, "match_date").unique()
    field = days.join(first_seen, on=key).filter(pl.col("first_seen") <= pl.col("match_date"))
    table = state_before(field, states, by=["team_id", *key]).with_columns(
        pl.col(c).fill_null(0) for c in ("pts", "gd", "gf")
    )
    order = pl.struct(pl.col("pts"), pl.col("gd"), pl.col("gf"))
    table = table.with_columns(
        order.rank("min", descending=True).over(*key, "match_date").cast(pl.Int32).alias("position")
    )
    return table.select(*key, "match_date", "team_id", "position")


def _previous_tier(rows: pl.DataFrame) -> pl.DataFrame:
    """Each team's tier in the previous season of its country, where the archive has it."""
    seasons = rows.select(
        "team_id",
        "country",
        "season_code",
        pl.col("season_code").str.slice(0, 4).cast(pl.Int32).alias("start"),
        "tier",
    ).unique()
    previous = (
        seasons.select(
            "team_id",
            "country",
            (pl.col("start") + 1).alias("start"),
            pl.col("tier").alias("previous_tier"),
        )
        .group_by("team_id", "country", "start")
        .agg(pl.col("previous_tier").min())
    )
    held = (
        seasons.select("country", (pl.col("start") + 1).alias("start"), "tier")
        .unique()
        .group_by("country", "start")
        .agg(pl.col("tier").alias("held"))
    )
    out = seasons.join(previous, on=["team_id", "country", "start"], how="left").join(
        held, on=["country", "start"], how="left"
    )
    # Absent last season although its own division (and the one above) is held:
    # the team came up from a division the archive does not hold.
    came_up = (
        pl.col("previous_tier").is_null()
        & pl.col("held").list.contains(pl.col("tier")).fill_null(False)
        & (
            (pl.col("tier") == 1)
            | pl.col("held").list.contains(pl.col("tier") - 1).fill_null(False)
        )
    )
    known = pl.col("previous_tier").is_not_null()
    return out.select(
        "team_id",
        "season_code",
        "country",
        pl.when(known)
        .then((pl.col("previous_tier") > pl.col("tier")).cast(pl.Int8))
        .when(came_up)
        .then(pl.lit(1, dtype=pl.Int8))
        .alias("promoted"),
        pl.when(known)
        .then((pl.col("previous_tier") < pl.col("tier")).cast(pl.Int8))
        .when(came_up)
        .then(pl.lit(0, dtype=pl.Int8))
        .alias("relegated"),
    )


def compute(inputs: Inputs) -> pl.DataFrame:
    """Context features of every match in ``inputs``."""
    matches = inputs.matches
    rows = team_rows(matches)
    states = _season_states(rows)
    key = ["team_id", "league_code", "season_code"]
    targets = rows.select("match_id", *key, "match_date", "country")
    season = state_before(targets, states, by=key).with_columns(
        pl.col("games").fill_null(0),
    )
    per_team = (
        season.join(_positions(rows, states), on=[*key, "match_date"], how="left")
        .join(_previous_tier(rows), on=["team_id", "season_code", "country"], how="left")
        .select(
            "match_id",
            "team_id",
            pl.col("games").alias("season_games"),
            pl.when(pl.col("games") > 0).then(pl.col("pts") / pl.col("games")).alias("ppg"),
            pl.when(pl.col("games") > 0).then(pl.col("gd") / pl.col("games")).alias("gd_pg"),
            "position",
            "promoted",
            "relegated",
        )
    )
    names = ["season_games", "ppg", "gd_pg", "position", "promoted", "relegated"]
    out = side_features(matches, per_team, names).rename(
        {f"{s}_{n}": f"ctx_{s}_{n}" for s in SIDES for n in names}
    )
    season_start = matches.group_by("league_code", "season_code").agg(
        pl.col("match_date").min().alias("season_start")
    )
    base = matches.join(season_start, on=["league_code", "season_code"]).select(
        "match_id",
        pl.col("tier").alias("ctx_tier"),
        (pl.col("match_date") - pl.col("season_start"))
        .dt.total_days()
        .alias("ctx_days_into_season"),
    )
    return base.join(out, on="match_id").with_columns(
        (pl.col("ctx_home_ppg") - pl.col("ctx_away_ppg")).alias("ctx_ppg_diff")
    )


FAMILY = Family("context", _definitions(), compute)
