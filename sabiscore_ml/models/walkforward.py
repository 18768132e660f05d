"""Walk-forward evaluation: each block of matches predicted by a model fitted only on earlier ones.

There are no shuffled folds anywhere in Sabiscore.  The evaluated matches are
cut into blocks (a season, or a week inside a season when ``step="matchweek"``);
for each block a fresh model is fitted on every played match (of any league in
the training set) dated before the block's first match, then predicts the block.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from sabiscore_ml.models.bundle import Estimator
from sabiscore_ml.models.data import TrainingSet

PREDICTION_COLUMNS = ("p_home", "p_draw", "p_away")
_KEEP = (
    "match_id",
    "league_code",
    "season_code",
    "match_date",
    "home_team_id",
    "away_team_id",
    "home_goals",
    "away_goals",
    "result",
)


@dataclass(frozen=True)
class Block:
    """One walk-forward step: the matches predicted and where training stopped."""

    season: str
    start: dt.date
    rows: int
    train_rows: int


def _blocks(evaluated: pl.DataFrame, step: str) -> list[tuple[str, dt.date, pl.DataFrame]]:
    if step not in ("season", "matchweek"):
        raise ValueError(f"step must be season or matchweek, not {step!r}")
    out: list[tuple[str, dt.date, pl.DataFrame]] = []
    for (season,), part in evaluated.group_by(["season_code"], maintain_order=True):
        if step == "season":
            out.append((str(season), _first_day(part), part))
            continue
        week = pl.col("match_date").dt.truncate("1w")
        for _, chunk in part.with_columns(week.alias("_week")).group_by(
            "_week", maintain_order=True
        ):
            out.append((str(season), _first_day(chunk), chunk.drop("_week")))
    return sorted(out, key=lambda b: b[1])


def _first_day(block: pl.DataFrame) -> dt.date:
    day = block["match_date"].min()
    assert isinstance(day, dt.date)  # a block has rows, all dated
    return day


def walk_forward(
    training: TrainingSet,
    make_model: Callable[[], Estimator],
    *,
    leagues: Sequence[str],
    seasons: Sequence[str],
    step: str = "season",
    progress: Callable[[Block], None] | None = None,
    extra: Callable[[Estimator, TrainingSet], dict[str, np.ndarray]] | None = None,
) -> pl.DataFrame:
    """Walk-forward predictions of ``leagues``' matches in ``seasons``.

    ``make_model()`` returns an unfitted estimator for each block.  Returns one
    row per evaluated match: keys, goals, result, ``p_home/p_draw/p_away`` and
    ``trained_until`` (the last training match's date).  ``extra(model, block)``
    may add columns computed from each block's fitted model.
    """
    frame = training.frame
    evaluated = frame.filter(
        pl.col("league_code").is_in(list(leagues)) & pl.col("season_code").is_in(list(seasons))
    ).sort("match_date", "match_id")
    if evaluated.is_empty():
        raise ValueError(f"no played matches with features in {list(leagues)} {list(seasons)}")
    parts = []
    for season, start, block in _blocks(evaluated, step):
        history = training.where(pl.col("match_date") < start)
        if history.height < 200:
            raise ValueError(
                f"only {history.height} matches before {start} ({season}): too little history"
            )
        model = make_model()
        _fit(model, history)
        probs = model.predict_proba(training.X(block))
        if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(f"{type(model).__name__} gave probabilities that do not sum to 1")
        columns = {name: probs[:, i] for i, name in enumerate(PREDICTION_COLUMNS)}
        if extra is not None:
            columns |= extra(model, TrainingSet(block, training.features))
        parts.append(
            block.select(_KEEP).with_columns(
                *(pl.Series(k, v) for k, v in columns.items()),
                pl.lit(history.frame["match_date"].max()).alias("trained_until"),
            )
        )
        if progress is not None:
            progress(Block(season, start, block.height, history.height))
    return pl.concat(parts).sort("match_date", "match_id")


def _fit(model: Estimator, training: TrainingSet) -> None:
    if getattr(model, "fits_goals", False):
        model.fit(training.X(), training.goals())
    else:
        model.fit(training.X(), training.y())
