"""Shared building blocks of the feature families: feature definitions and the time rule.

**The time rule.**  Kick-off times are missing from much of the archive, so the
feature store works at the granularity of a day: a match's features may use
facts dated *strictly before* its match date.  A team never plays twice on one
day, so for anything computed from a team's own games this is the same as
"before kick-off"; for league-wide figures it is slightly conservative.
:func:`state_before` is the one join that applies the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from feature_store.inputs import MATCH_STATS, ColumnType, Inputs

# What a feature may use, relative to the match it describes.
BEFORE_KICKOFF_RESULTS = "results and statistics of matches on earlier dates"
BEFORE_KICKOFF_ODDS = "pre-closing odds, quoted before kick-off (never closing odds)"
BEFORE_KICKOFF_SNAPSHOTS = (
    "pre-closing odds snapshots taken before kick-off (the match day's start when the "
    "kick-off is unknown); never closing odds"
)
BEFORE_KICKOFF_VALUES = "squad market values dated before the match date"
BEFORE_KICKOFF_GAMES = "games in any competition on earlier dates"
SCHEDULE = "the fixture itself: league, season, date and teams (known in advance)"

SIDES = ("home", "away")


@dataclass(frozen=True, slots=True)
class FeatureDef:
    """One feature column: what it is, where it comes from, and what it may know."""

    name: str
    dtype: ColumnType
    family: str
    description: str
    sources: tuple[str, ...]
    availability: str


@dataclass(frozen=True)
class Family:
    """A family of features: its definitions and the function computing them.

    ``compute`` takes the :class:`~feature_store.inputs.Inputs` and returns one
    row per input match: ``match_id`` plus exactly the defined columns.
    """

    name: str
    definitions: tuple[FeatureDef, ...]
    compute: Callable[[Inputs], pl.DataFrame]
    notes: str = ""


def team_rows(matches: pl.DataFrame, *, extra: Sequence[str] = ()) -> pl.DataFrame:
    """Two rows per match, one from each team's point of view.

    Columns: ``match_id, match_date, league_code, season_code, country, tier,
    team_id, opponent_id, is_home, played``, ``<stat>_for`` / ``<stat>_against``
    for every match statistic, ``points`` (3/1/0, null if not played), and the
    ``extra`` per-side columns given as ``home_<x>``/``away_<x>`` pairs.
    """
    keys = ["match_id", "match_date", "league_code", "season_code", "country", "tier"]
    frames = []
    for side, other in (("home", "away"), ("away", "home")):
        columns = [
            *keys,
            pl.col(f"{side}_team_id").alias("team_id"),
            pl.col(f"{other}_team_id").alias("opponent_id"),
            pl.lit(side == "home").alias("is_home"),
            pl.col("home_goals").is_not_null().alias("played"),
        ]
        for stem, (home_column, away_column) in MATCH_STATS.items():
            mine, theirs = (
                (home_column, away_column) if side == "home" else (away_column, home_column)
            )
            columns += [pl.col(mine).alias(f"{stem}_for"), pl.col(theirs).alias(f"{stem}_against")]
        for stem in extra:
            columns += [
                pl.col(f"{side}_{stem}").alias(f"{stem}_for"),
                pl.col(f"{other}_{stem}").alias(f"{stem}_against"),
            ]
        frames.append(matches.select(columns))
    rows = pl.concat(frames)
    return rows.with_columns(
        pl.when(pl.col("goals_for") > pl.col("goals_against"))
        .then(3)
        .when(pl.col("goals_for") == pl.col("goals_against"))
        .then(1)
        .when(pl.col("goals_for") < pl.col("goals_against"))
        .then(0)
        .cast(pl.Int32)
        .alias("points")
    ).sort("match_date", "match_id", "is_home")


def state_before(
    targets: pl.DataFrame,
    states: pl.DataFrame,
    *,
    by: str | Sequence[str] = "team_id",
    on: str = "match_date",
    states_on: str | None = None,
) -> pl.DataFrame:
    """Join each target row to the latest state of its ``by`` key dated strictly earlier.

    ``states`` holds a post-event state per key and date (the state *after*
    that day's events).  Exact date matches are not allowed, so a target only
    ever sees what was known before its day.
    """
    right_on = states_on or on
    return targets.sort(on).join_asof(
        states.sort(right_on),
        left_on=on,
        right_on=right_on,
        by=by,
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )


def side_features(
    matches: pl.DataFrame, per_team: pl.DataFrame, columns: Sequence[str]
) -> pl.DataFrame:
    """Spread per-(match, team) values into ``home_<c>``/``away_<c>`` columns by match."""
    out = matches.select("match_id", "home_team_id", "away_team_id")
    for side in SIDES:
        part = per_team.select(
            "match_id",
            pl.col("team_id").alias(f"{side}_team_id"),
            *(pl.col(c).alias(f"{side}_{c}") for c in columns),
        )
        out = out.join(part, on=["match_id", f"{side}_team_id"], how="left")
    return out.drop("home_team_id", "away_team_id")


def checked(frame: pl.DataFrame, family: Family, match_ids: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly the family's columns, in order and type, one row per match.

    Raises ``ValueError`` when a family computes a column it does not define or
    misses one it does: the catalogue and the computation cannot drift apart.
    """
    wanted = [d.name for d in family.definitions]
    produced = [c for c in frame.columns if c != "match_id"]
    missing, extra = set(wanted) - set(produced), set(produced) - set(wanted)
    if missing or extra:
        raise ValueError(
            f"feature family {family.name!r}: missing {sorted(missing)[:8]}, "
            f"undefined {sorted(extra)[:8]}"
        )
    if frame["match_id"].is_duplicated().any():
        raise ValueError(f"feature family {family.name!r}: several rows for one match")
    casts = [pl.col(d.name).cast(d.dtype) for d in family.definitions]
    return match_ids.join(frame.select("match_id", *casts), on="match_id", how="left")
