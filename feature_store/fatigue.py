"""Fatigue: rest days and fixture congestion over every competition known.

A team's games are its league matches plus the rows of its FBref match logs
(cups, European competitions), collapsed to one per date.  For a match on day
``d``: days since the team's previous game, and the number of games it played
in the 7, 14 and 28 days before ``d`` (day ``d`` itself excluded).
"""

from __future__ import annotations

import polars as pl

from feature_store.common import BEFORE_KICKOFF_GAMES, SIDES, Family, FeatureDef, side_features
from feature_store.inputs import Inputs

WINDOWS = (7, 14, 28)
_SOURCES = ("football-data", "fbref")


def _definitions() -> tuple[FeatureDef, ...]:
    defs = []
    for side in SIDES:
        defs.append(
            FeatureDef(
                f"fatigue_{side}_days_rest",
                pl.Int32,
                "fatigue",
                f"{side} team: days since its previous game in any competition known",
                _SOURCES,
                BEFORE_KICKOFF_GAMES,
            )
        )
        defs += [
            FeatureDef(
                f"fatigue_{side}_games_{window}d",
                pl.Int32,
                "fatigue",
                f"{side} team: games in any competition in the {window} days before",
                _SOURCES,
                BEFORE_KICKOFF_GAMES,
            )
            for window in WINDOWS
        ]
    defs += [
        FeatureDef(
            "fatigue_rest_diff",
            pl.Int32,
            "fatigue",
            "home minus away days of rest",
            _SOURCES,
            BEFORE_KICKOFF_GAMES,
        ),
        FeatureDef(
            "fatigue_games_14d_diff",
            pl.Int32,
            "fatigue",
            "home minus away games in the 14 days before",
            _SOURCES,
            BEFORE_KICKOFF_GAMES,
        ),
    ]
    return tuple(defs)


def compute(inputs: Inputs) -> pl.DataFrame:
    """Fatigue features of every match in ``inputs``."""
    games = (
        inputs.team_games.sort("team_id", "match_date")
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("team_id").alias("games_so_far"),
            pl.col("match_date").alias("last_game"),
        )
        .sort("match_date")
    )
    matches = inputs.matches
    targets = pl.concat(
        [
            matches.select("match_id", "match_date", pl.col(f"{side}_team_id").alias("team_id"))
            for side in SIDES
        ]
    ).sort("match_date")

    def before(day: pl.Expr, name: str) -> pl.DataFrame:
        shifted = targets.with_columns(day.alias("at"))
        joined = shifted.sort("at").join_asof(
            games.select("team_id", "match_date", "games_so_far", "last_game"),
            left_on="at",
            right_on="match_date",
            by="team_id",
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,
        )
        return joined.select(
            "match_id",
            "team_id",
            pl.col("games_so_far").fill_null(0).alias(name),
            pl.col("last_game").alias(f"{name}_last"),
        )

    per_team = before(pl.col("match_date"), "now")
    columns = []
    for window in WINDOWS:
        earlier = before(pl.col("match_date") - pl.duration(days=window), f"w{window}")
        per_team = per_team.join(earlier, on=["match_id", "team_id"])
        columns.append((pl.col("now") - pl.col(f"w{window}")).alias(f"games_{window}d"))
    per_team = per_team.join(targets, on=["match_id", "team_id"]).select(
        "match_id",
        "team_id",
        (pl.col("match_date") - pl.col("now_last")).dt.total_days().alias("days_rest"),
        # a team with no known earlier game: unknown congestion, not zero
        *(pl.when(pl.col("now_last").is_not_null()).then(c) for c in columns),
    )
    names = ["days_rest", *(f"games_{w}d" for w in WINDOWS)]
    out = side_features(matches, per_team, names).rename(
        {f"{side}_{name}": f"fatigue_{side}_{name}" for side in SIDES for name in names}
    )
    return out.with_columns(
        (pl.col("fatigue_home_days_rest") - pl.col("fatigue_away_days_rest")).alias(
            "fatigue_rest_diff"
        ),
        (pl.col("fatigue_home_games_14d") - pl.col("fatigue_away_games_14d")).alias(
            "fatigue_games_14d_diff"
        ),
    )


FAMILY = Family("fatigue", _definitions(), compute)
