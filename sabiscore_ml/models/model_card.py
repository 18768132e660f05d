"""The model card: a markdown page logged with every trained version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import polars as pl

from sabiscore_ml.models.config import ModelConfig
from sabiscore_ml.models.evaluation import REFERENCE, Comparison


@dataclass(frozen=True)
class TrainingFacts:
    """What the card says about the training run: its data and its fit."""

    leagues: Sequence[str]
    matches: int
    data_hash: str
    evaluation_seasons: Sequence[str]
    fit_seconds: float


def model_card(
    facts: TrainingFacts,
    config: ModelConfig,
    comparison: Comparison,
    by_league: pl.DataFrame,
    importance: pd.Series[float],
) -> str:
    """Markdown describing what the model is, what it was trained on and how well it does."""
    s = comparison.scores
    blend = (
        "a multinomial logistic regression stacked on out-of-fold probabilities"
        if config.weights == "stacking"
        else "fixed weights 40% RandomForest, 35% XGBoost, 25% LightGBM"
    )
    lines = [
        "# Sabiscore 1X2 model",
        "",
        f"Home/draw/away probabilities for {', '.join(facts.leagues)} from the members "
        f"{', '.join(config.members)}, blended by {blend}, calibrated "
        f"({config.calibration or 'none'}) on the latest {config.calibration_fraction:.0%} of "
        "the training matches"
        + (
            "; over/under 2.5 and both-teams-to-score from an expected-goals score grid."
            if config.goals
            else "."
        ),
        "",
        "## Training data",
        "",
        f"- {facts.matches:,} played matches, data hash `{facts.data_hash}`",
        f"- evaluation (walk-forward, never trained on): {', '.join(facts.evaluation_seasons)}",
        f"- fit time: {facts.fit_seconds} s",
        "- every feature was computed from what was known before the match day; closing odds "
        "are never features",
        "",
        "## Evaluation",
        "",
        "| forecaster | matches | RPS | log loss | Brier | ECE |",
        "|---|---|---|---|---|---|",
        f"| this model | {s.n:,} | {s.rps:.4f} | {s.log_loss:.4f} | {s.brier:.4f} | {s.ece:.4f} |",
    ]
    for name, m in comparison.market_scores.items():
        lines.append(
            f"| {name} | {m.n:,} | {m.rps:.4f} | {m.log_loss:.4f} | {m.brier:.4f} | {m.ece:.4f} |"
        )
    lines += ["", "Paired on the same matches (model minus market, RPS; standard error):", ""]
    for name, diff in comparison.model_vs.items():
        lines.append(f"- − {name}: {diff}")
    if "minus_close" in by_league.columns:
        lines += [
            "",
            f"## By league and season (RPS minus {REFERENCE})",
            "",
            "| league | season | matches | RPS | minus close | se |",
            "|---|---|---|---|---|---|",
        ]
        for row in by_league.iter_rows(named=True):
            minus = row.get("minus_close")
            lines.append(
                f"| {row['league_code']} | {row['season_code']} | {row['n']} | {row['rps']:.4f} | "
                + (
                    f"{minus:+.4f} | {row['minus_close_se']:.4f} |"
                    if minus is not None
                    else "— | — |"
                )
            )
    if len(importance):
        lines += ["", "## Most important features", ""]
        lines += [
            f"{i}. `{name}` ({value:.3f})"
            for i, (name, value) in enumerate(importance.head(15).items(), start=1)
        ]
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on league matches only; cup and European ties are not predicted.",
        "- The probabilities are as good as the pre-match data of the match day: team news "
        "after the last odds snapshot is not seen.",
        "",
    ]
    return "\n".join(lines)
