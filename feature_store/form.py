"""Form: rolling and exponentially weighted means of each team's recent matches.

For every team the played league matches are ordered by date; after each match
the rolling means over its last 3/5/10/20 matches (and an exponentially weighted
mean with a half-life of four matches) are computed, and a fixture reads the
state its two teams had after their previous match (:func:`state_before`).
Windows run across seasons and divisions (a promoted team keeps its form).  A
statistic the source lacks for some matches is averaged over the matches that
have it; a team with no earlier match gets nulls, never zeros.

Columns: ``form_home_<stat>_<agg>`` for the home team, ``form_away_...`` for
the away team, ``form_diff_...`` home minus away for the core statistics, and
``form_home_venue_...`` / ``form_away_venue_...`` computed over the home team's
home matches only and the away team's away matches only.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from feature_store.common import (
    BEFORE_KICKOFF_RESULTS,
    SIDES,
    Family,
    FeatureDef,
    side_features,
    state_before,
    team_rows,
)
from feature_store.inputs import TEAM_STATS, Inputs

EWM_HALF_LIFE = 4.0

# (statistic, source, description)
_STATS: dict[str, tuple[str, str]] = {
    "goals_for": ("football-data", "goals scored"),
    "goals_against": ("football-data", "goals conceded"),
    "points": ("football-data", "league points (3 win, 1 draw)"),
    "xg_for": ("understat", "expected goals (Understat)"),
    "xg_against": ("understat", "expected goals conceded (Understat)"),
    "npxg_for": ("understat", "non-penalty expected goals (Understat)"),
    "npxg_against": ("understat", "non-penalty expected goals conceded (Understat)"),
    "deep_for": ("understat", "deep completions (passes completed near the opponent's goal)"),
    "deep_against": ("understat", "opponents' deep completions"),
    "ppda": ("understat", "passes allowed per defensive action (pressing; lower presses more)"),
    "ppda_allowed": ("understat", "opponents' passes per defensive action against the team"),
    "fbxg_for": ("fbref", "expected goals (FBref)"),
    "fbxg_against": ("fbref", "expected goals conceded (FBref)"),
    "shots_for": ("football-data", "shots"),
    "shots_against": ("football-data", "shots conceded"),
    "sot_for": ("football-data", "shots on target"),
    "sot_against": ("football-data", "shots on target conceded"),
    "corners_for": ("football-data", "corners won"),
    "corners_against": ("football-data", "corners conceded"),
    "fouls_for": ("football-data", "fouls committed"),
    "fouls_against": ("football-data", "fouls suffered"),
    "yellow_for": ("football-data", "yellow cards"),
    "yellow_against": ("football-data", "opponents' yellow cards"),
    "red_for": ("football-data", "red cards"),
}

# statistic group -> (statistics, aggregations); an aggregation is a window or "ewm".
_CORE = ("goals_for", "goals_against", "points", "xg_for", "xg_against")
_GROUPS: tuple[tuple[tuple[str, ...], tuple[int | str, ...]], ...] = (
    (_CORE, (3, 5, 10, 20, "ewm")),
    (
        (
            "shots_for",
            "shots_against",
            "sot_for",
            "sot_against",
            "corners_for",
            "corners_against",
            "npxg_for",
            "npxg_against",
            "deep_for",
            "deep_against",
            "ppda",
            "ppda_allowed",
            "fbxg_for",
            "fbxg_against",
        ),
        (5, 10, "ewm"),
    ),
    (("fouls_for", "fouls_against", "yellow_for", "yellow_against", "red_for"), (10,)),
)
_VENUE = (("goals_for", "goals_against", "points", "xg_for"), (5, 10))


def _suffix(agg: int | str) -> str:
    return "ewm" if agg == "ewm" else f"r{agg}"


def _agg_expr(stat: str, agg: int | str) -> pl.Expr:
    column = pl.col(stat).cast(pl.Float64)
    if agg == "ewm":
        expr = column.ewm_mean(half_life=EWM_HALF_LIFE, ignore_nulls=True)
        # the weighted mean carries forward over missing values: null until a first value
        expr = pl.when(column.is_not_null().cum_sum() > 0).then(expr)
    else:
        expr = column.rolling_mean(int(agg), min_samples=1)
    return expr.over("team_id").alias(f"{stat}_{_suffix(agg)}")


def _aggregates() -> list[tuple[str, int | str]]:
    return [(stat, agg) for stats, aggs in _GROUPS for stat in stats for agg in aggs]


def _describe(stat: str, agg: int | str) -> str:
    what = _STATS[stat][1]
    if agg == "ewm":
        return f"exponentially weighted mean of {what} (half-life {EWM_HALF_LIFE:g} matches)"
    return f"mean of {what} over the last {agg} matches"


def _definitions() -> tuple[FeatureDef, ...]:
    defs: list[FeatureDef] = []
    for side in SIDES:
        defs.append(
            FeatureDef(
                f"form_{side}_n",
                pl.Int32,
                "form",
                f"{side} team: league matches played before this one (all seasons)",
                ("football-data",),
                BEFORE_KICKOFF_RESULTS,
            )
        )
        for stat, agg in _aggregates():
            defs.append(
                FeatureDef(
                    f"form_{side}_{stat}_{_suffix(agg)}",
                    pl.Float64,
                    "form",
                    f"{side} team: {_describe(stat, agg)}",
                    (_STATS[stat][0],),
                    BEFORE_KICKOFF_RESULTS,
                )
            )
    for stat in _CORE:
        for agg in _GROUPS[0][1]:
            defs.append(
                FeatureDef(
                    f"form_diff_{stat}_{_suffix(agg)}",
                    pl.Float64,
                    "form",
                    f"home minus away: {_describe(stat, agg)}",
                    (_STATS[stat][0],),
                    BEFORE_KICKOFF_RESULTS,
                )
            )
    stats, windows = _VENUE
    for side, venue in (("home", "home"), ("away", "away")):
        for stat in stats:
            for window in windows:
                defs.append(
                    FeatureDef(
                        f"form_{side}_venue_{stat}_r{window}",
                        pl.Float64,
                        "form",
                        f"{side} team, its {venue} matches only: {_describe(stat, window)}",
                        (_STATS[stat][0],),
                        BEFORE_KICKOFF_RESULTS,
                    )
                )
    return tuple(defs)


def with_side_xg(inputs: Inputs) -> pl.DataFrame:
    """The matches with per-side xG columns: ``xg`` (Understat), ``npxg``, ``fbxg`` (FBref)."""
    matches = inputs.matches
    for source, stem in (("understat", "xg"), ("fbref", "fbxg")):
        part = inputs.xg.filter(pl.col("source") == source).select(
            "match_id",
            pl.col("home_xg").alias(f"home_{stem}"),
            pl.col("away_xg").alias(f"away_{stem}"),
        )
        matches = matches.join(part, on="match_id", how="left")
    return matches.join(inputs.npxg, on="match_id", how="left")


def with_team_stats(rows: pl.DataFrame, inputs: Inputs) -> pl.DataFrame:
    """Add Understat's per team-match figures; its own npxG wins over the shots' sum."""
    stats = inputs.team_stats.rename({c: f"_{c}" for c in TEAM_STATS})
    joined = rows.join(stats, on=["team_id", "match_date"], how="left")
    return joined.with_columns(
        pl.coalesce("_npxg_for", "npxg_for").alias("npxg_for"),
        pl.coalesce("_npxg_against", "npxg_against").alias("npxg_against"),
        *(pl.col(f"_{c}").alias(c) for c in TEAM_STATS if not c.startswith("npxg")),
    ).drop(f"_{c}" for c in TEAM_STATS)


def _form_states(played: pl.DataFrame, aggregates: Sequence[tuple[str, int | str]]) -> pl.DataFrame:
    """Per team and date, the rolling aggregates including that day's match."""
    return played.select(
        "team_id",
        "match_date",
        pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("team_id").alias("n"),
        *(_agg_expr(stat, agg) for stat, agg in aggregates),
    )


def compute(inputs: Inputs) -> pl.DataFrame:
    """Form features of every match in ``inputs``."""
    matches = with_side_xg(inputs)
    rows = with_team_stats(team_rows(matches, extra=("xg", "npxg", "fbxg")), inputs)
    played = rows.filter(pl.col("played"))
    aggregates = _aggregates()
    names = ["n", *(f"{stat}_{_suffix(agg)}" for stat, agg in aggregates)]
    per_team = state_before(
        rows.select("match_id", "team_id", "match_date"), _form_states(played, aggregates)
    ).with_columns(pl.col("n").fill_null(0))
    out = side_features(matches, per_team, names).rename(
        {f"{side}_{name}": f"form_{side}_{name}" for side in SIDES for name in names}
    )
    out = out.with_columns(
        (
            pl.col(f"form_home_{stat}_{_suffix(agg)}") - pl.col(f"form_away_{stat}_{_suffix(agg)}")
        ).alias(f"form_diff_{stat}_{_suffix(agg)}")
        for stat in _CORE
        for agg in _GROUPS[0][1]
    )
    stats, windows = _VENUE
    venue_aggs = [(stat, window) for stat in stats for window in windows]
    venue_names = [f"{stat}_r{window}" for stat, window in venue_aggs]
    for side, is_home in (("home", True), ("away", False)):
        states = _form_states(played.filter(pl.col("is_home") == is_home), venue_aggs)
        targets = rows.filter(pl.col("is_home") == is_home).select(
            "match_id", "team_id", "match_date"
        )
        venue = state_before(targets, states.drop("n")).select(
            "match_id", *(pl.col(n).alias(f"form_{side}_venue_{n}") for n in venue_names)
        )
        out = out.join(venue, on="match_id", how="left")
    return out


FAMILY = Family(
    "form",
    _definitions(),
    compute,
    notes="rolling windows across seasons; means over the matches that have the statistic",
)
