"""Walk-forward backtest of the 1X2 model over historical seasons (``sabiscore backtest``).

Every evaluated season is predicted by a model fitted only on matches dated
before it.  History comes from the evaluated leagues and, by default, every
other division of their countries (a promoted side's Championship games inform
its first Premier League season).  The output has one row per match, with the
market's margin-free probabilities alongside for a paired comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine, select

from sabiscore_ml.betting.walk import RENAMES, WALKED_PREDICTION_COLUMNS
from sabiscore_ml.leagues import LEAGUES, get_league, normalize_season
from sabiscore_ml.models.config import ModelConfig
from sabiscore_ml.models.data import load_training_set
from sabiscore_ml.models.evaluation import Comparison, by_group, compare, with_markets
from sabiscore_ml.models.walkforward import Block, walk_forward
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import Team


def season_range(text: str) -> list[str]:
    """``2015-2016:2023-2024`` (or one season) -> every season code in between."""
    first, _, last = text.partition(":")
    first = normalize_season(first.strip())
    last = normalize_season((last or first).strip())
    start, end = int(first[:4]), int(last[:4])
    if end < start:
        raise ValueError(f"season range {text!r} runs backwards")
    return [f"{year}-{year + 1}" for year in range(start, end + 1)]


def history_leagues(leagues: Sequence[str]) -> list[str]:
    """The evaluated leagues and every other division of their countries."""
    countries = {get_league(code).country for code in leagues}
    return sorted(
        {c for c, league in LEAGUES.items() if league.country in countries} | set(leagues)
    )


@dataclass(frozen=True)
class Backtest:
    """Walk-forward predictions (CSV-ready) and their comparison with the market."""

    predictions: pl.DataFrame
    comparison: Comparison
    by_season: pl.DataFrame


def backtest(
    leagues: Sequence[str],
    seasons: Sequence[str],
    *,
    config: ModelConfig | None = None,
    history: Sequence[str] | None = None,
    history_from: str | None = None,
    step: str = "season",
    engine: Engine | None = None,
    progress: Callable[[Block], None] | None = None,
) -> Backtest:
    """Predict ``leagues``' ``seasons`` walking forward; pair with the market on those matches."""
    engine = engine or get_engine()
    config = config or ModelConfig()
    training = load_training_set(
        engine, leagues=list(history or history_leagues(leagues)), history_from=history_from
    )
    preds = walk_forward(
        training,
        config.outcome_model,
        leagues=leagues,
        seasons=seasons,
        step=step,
        progress=progress,
    )
    preds = with_markets(engine, preds)
    return Backtest(csv_frame(engine, preds), compare(preds), by_group(preds, ("season_code",)))


def csv_frame(engine: Engine, preds: pl.DataFrame) -> pl.DataFrame:
    """Walk-forward predictions with the markets joined, as ``--output`` writes them."""
    ids = sorted(set(preds["home_team_id"].to_list()) | set(preds["away_team_id"].to_list()))
    with engine.connect() as connection:
        names = dict(connection.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all())
    team = pl.DataFrame(
        {"team_id": list(names), "name": list(names.values())},
        schema={"team_id": pl.Int64, "name": pl.String},
    )
    out = (
        preds.join(team.rename({"team_id": "home_team_id", "name": "home_team"}), on="home_team_id")
        .join(team.rename({"team_id": "away_team_id", "name": "away_team"}), on="away_team_id")
        .rename(RENAMES)
        .sort("date", "match_id")
    )
    rest = [
        c
        for c in out.columns
        if c not in WALKED_PREDICTION_COLUMNS and c not in ("home_team_id", "away_team_id")
    ]
    return out.select(*WALKED_PREDICTION_COLUMNS, *rest)
