"""Scoring predictions against the results and, paired on the same matches, against the market.

The market baselines are read through the price layer (:mod:`sabiscore_ml.prices`)
with the margin removed proportionally: Pinnacle's closing and pre-closing prices and
the market average (pre-closing and closing).  Closing prices are read here
only, to score: they never reach a feature or a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from sqlalchemy import Engine

from sabiscore_ml import prices
from sabiscore_ml.models.metrics import (
    PairedDifference,
    Scores,
    outcome_index,
    paired_difference,
    reliability,
    rps_per_match,
    score,
)
from sabiscore_ml.models.walkforward import PREDICTION_COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Market baselines: name -> (bookmaker, timing).
MARKETS = {
    "pinnacle_close": ("pinnacle", "close"),
    "pinnacle_preclose": ("pinnacle", "preclose"),
    "market_avg_preclose": ("market_avg", "preclose"),
    "market_avg_close": ("market_avg", "close"),
}
#: The reference every model is paired against.
REFERENCE = "pinnacle_close"
_SIDES = ("home", "draw", "away")


def market_probabilities(engine: Engine, match_ids: Sequence[int]) -> pl.DataFrame:
    """Margin-free 1X2 probabilities of each market baseline, one row per match.

    Columns ``<market>_p_home/_p_draw/_p_away``; null where that price was not
    published or incomplete.
    """
    ids = sorted({int(m) for m in match_ids})
    books = sorted({book for book, _ in MARKETS.values()})
    quotes = prices.read_quotes(
        engine, ids, timings=(prices.PRECLOSE, prices.CLOSE), bookmakers=books
    )
    out = pl.DataFrame({"match_id": ids}, schema={"match_id": pl.Int64})
    for name, (book, timing) in MARKETS.items():
        fair = prices.market_probabilities(quotes, book, timing)
        out = out.join(
            fair.select("match_id", *(pl.col(f"p_{s}").alias(f"{name}_p_{s}") for s in _SIDES)),
            on="match_id",
            how="left",
        )
    return out


def with_markets(engine: Engine, predictions: pl.DataFrame) -> pl.DataFrame:
    """``predictions`` with the market baselines' probabilities joined on ``match_id``."""
    markets = market_probabilities(engine, predictions["match_id"].to_list())
    return predictions.join(markets, on="match_id", how="left")


def _probs(frame: pl.DataFrame, prefix: str) -> np.ndarray:
    columns = PREDICTION_COLUMNS if prefix == "" else [f"{prefix}_p_{s}" for s in _SIDES]
    return frame.select(columns).to_numpy().astype(np.float64)


@dataclass(frozen=True)
class Comparison:
    """A model's scores, and its RPS paired against each market on the matches both priced."""

    scores: Scores
    market_scores: dict[str, Scores]
    model_vs: dict[str, PairedDifference]  # model − market, on matches with that market
    market_vs_reference: dict[str, PairedDifference]  # market − Pinnacle closing

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat figures for MLflow: scores, then paired differences and their errors."""
        out = self.scores.as_dict(prefix)
        for name, diff in self.model_vs.items():
            out[f"{prefix}rps_minus_{name}"] = diff.mean
            out[f"{prefix}rps_minus_{name}_se"] = diff.se
            out[f"{prefix}n_with_{name}"] = float(diff.n)
        for name, s in self.market_scores.items():
            out[f"{prefix}{name}_rps"] = s.rps
        return out


def compare(frame: pl.DataFrame) -> Comparison:
    """Score the model columns of ``frame`` and pair them with every market column present."""
    outcome = outcome_index(frame["result"].to_list())
    model = _probs(frame, "")
    model_rps = rps_per_match(model, outcome)
    market_scores, model_vs, market_vs = {}, {}, {}
    reference_rps = None
    if f"{REFERENCE}_p_home" in frame.columns:
        reference_rps = rps_per_match(_probs(frame, REFERENCE), outcome)
    for name in MARKETS:
        if f"{name}_p_home" not in frame.columns:
            continue
        probs = _probs(frame, name)
        have = ~np.isnan(probs).any(axis=1)
        if not have.any():
            continue
        market_scores[name] = score(probs[have], outcome[have])
        market_rps = np.where(have, rps_per_match(np.nan_to_num(probs), outcome), np.nan)
        model_vs[name] = paired_difference(np.where(have, model_rps, np.nan), market_rps)
        if reference_rps is not None and name != REFERENCE:
            market_vs[name] = paired_difference(market_rps, reference_rps)
    return Comparison(score(model, outcome), market_scores, model_vs, market_vs)


def by_group(
    frame: pl.DataFrame, keys: Sequence[str] = ("league_code", "season_code")
) -> pl.DataFrame:
    """Per-group RPS of the model and each market, and the paired difference to Pinnacle closing."""
    rows = []
    for key, part in frame.group_by(list(keys), maintain_order=True):
        result = compare(part)
        row = dict(zip(keys, key, strict=True)) | {
            "n": result.scores.n,
            "rps": result.scores.rps,
            "log_loss": result.scores.log_loss,
            "ece": result.scores.ece,
        }
        for name, s in result.market_scores.items():
            row[f"{name}_rps"] = s.rps
        if REFERENCE in result.model_vs:
            diff = result.model_vs[REFERENCE]
            row |= {"minus_close": diff.mean, "minus_close_se": diff.se, "n_close": diff.n}
        rows.append(row)
    return pl.DataFrame(rows).sort(list(keys))


def comparison_lines(result: Comparison, label: str = "model") -> list[str]:
    """Human-readable lines: the model's scores and where it stands against the market."""
    s = result.scores
    lines = [
        f"{label}: {s.n:,} matches  RPS {s.rps:.4f}  log loss {s.log_loss:.4f}  "
        f"Brier {s.brier:.4f}  accuracy {s.accuracy:.3f}  ECE {s.ece:.4f}"
    ]
    for name, diff in result.model_vs.items():
        market = result.market_scores[name]
        line = f"  {label} − {name}: RPS {diff}  ({name} alone {market.rps:.4f})"
        if name in result.market_vs_reference:
            line += f"; {name} − {REFERENCE}: {result.market_vs_reference[name]}"
        lines.append(line)
    return lines


# --- plots ---------------------------------------------------------------------------


def reliability_figure(frame: pl.DataFrame, title: str = "Reliability") -> Figure:
    """A reliability diagram (forecast vs observed frequency per outcome) of the model columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcome = outcome_index(frame["result"].to_list())
    table = reliability(_probs(frame, ""), outcome)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    for k, label in enumerate(("home", "draw", "away")):
        mask = table.outcome == k
        ax.plot(table.mean_forecast[mask], table.observed[mask], marker="o", label=label)
    ax.set(
        xlabel="forecast probability",
        ylabel="observed frequency",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend()
    fig.tight_layout()
    return fig


def by_month(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`by_group` per season and calendar month (``month`` = ``YYYY-MM``) of the matches."""
    months = frame.with_columns(pl.col("match_date").dt.strftime("%Y-%m").alias("month"))
    return by_group(months, ("season_code", "month"))


def _rps_lines(ax: Axes, labels: list[str], table: pl.DataFrame) -> None:
    """The model's RPS and each market's present in ``table``, one line each over ``labels``."""
    ax.plot(labels, table["rps"], marker="o", label="model")
    for name in MARKETS:
        if f"{name}_rps" in table.columns:
            ax.plot(labels, table[f"{name}_rps"], marker=".", linestyle=":", label=name)


def rps_by_season_figure(by_season: pl.DataFrame, months: pl.DataFrame | None = None) -> Figure:
    """RPS of the model next to each market's: per season walked forward, then per month.

    ``by_season`` is :func:`by_group` by season (every season the walk covers,
    each a point); ``months`` (:func:`by_month`) adds a panel of the months of
    those seasons, so a walk over one season still shows how the model and the
    market compare through it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 if months is None or months.is_empty() else 2
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(8 if panels == 1 else 13, 4.5),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 2.5][:panels]},
    )
    seasons = by_season["season_code"].to_list()
    matches = by_season["n"].to_list()
    ax = axes[0][0]
    _rps_lines(ax, seasons, by_season)
    ax.set(
        xlabel="season (matches)",
        ylabel="RPS (lower is better)",
        title=f"RPS by season, walk-forward over {len(seasons)} season(s)",
    )
    ax.set_xticks(
        range(len(seasons)), [f"{s}\n({n})" for s, n in zip(seasons, matches, strict=True)]
    )
    if len(seasons) == 1:
        ax.set_xlim(-0.5, 0.5)
    ax.legend(fontsize="small")
    if months is not None and panels == 2:
        ax = axes[0][1]
        _rps_lines(ax, months["month"].to_list(), months)
        ax.set(xlabel="month", ylabel="RPS", title="RPS by month of the seasons walked forward")
        ax.tick_params(axis="x", rotation=60, labelsize="small")
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series[float], top: int = 25) -> Figure:
    """Horizontal bars of the ``top`` most important features."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(head) + 1))
    ax.barh(list(head.index), list(head.values))
    ax.set(xlabel="mean normalised importance", title=f"Top {len(head)} features")
    fig.tight_layout()
    return fig
