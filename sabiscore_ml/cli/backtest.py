"""``sabiscore backtest``: the model walked forward through past seasons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sabiscore_ml.cli.common import (
    HistoryFrom,
    LeagueList,
    SeasonRange,
    comparison_table,
    console,
    walk_progress,
)
from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.leagues import normalize_season


def backtest(
    league: LeagueList,
    seasons: SeasonRange,
    output: Annotated[Path, typer.Option("--output", help="CSV (or .parquet) of the predictions")],
    weights: Annotated[str, typer.Option("--weights", help="stacking or design")] = "stacking",
    step: Annotated[str, typer.Option("--step", help="season or matchweek refits")] = "season",
    history_from: HistoryFrom = None,
) -> None:
    """Walk-forward backtest: each season predicted by a model fitted only on earlier matches.

    Example:
    [bold]sabiscore backtest --league E0 --seasons 2015-2016:2023-2024 --output preds.csv[/]
    """
    from sabiscore_ml.jobs.backtest import backtest as run_backtest
    from sabiscore_ml.jobs.backtest import season_range
    from sabiscore_ml.models.config import ModelConfig

    try:
        result = run_backtest(
            league,
            season_range(seasons),
            config=ModelConfig(weights=weights),
            history_from=normalize_season(history_from) if history_from else None,
            step=step,
            progress=walk_progress,
        )
    except ValueError as error:
        raise SabiscoreError(str(error)) from error
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".parquet":
        result.predictions.write_parquet(output)
    else:
        result.predictions.write_csv(output)
    console.print(f"wrote {result.predictions.height:,} matches to {output}")
    console.print(comparison_table(result.comparison, "Walk-forward against the market"))
