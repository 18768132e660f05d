"""The bankroll backtest's report: figures per group, the design's claim, text and the figure.

Built on a :class:`~sabiscore_ml.betting.walk.BankrollBacktest` (frames in,
frames or lines out); nothing here reads the warehouse or writes a file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import numpy as np
import polars as pl

from sabiscore_ml.betting.walk import (
    EDGE_BAND_LABELS,
    PRICE_BAND_LABELS,
    BankrollBacktest,
    BankrollSummary,
    mean_se,
    sorted_sum,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: What :meth:`BankrollBacktest.by` groups on.
GROUPS = ("league", "season", "edge_band", "price_band", "bookmaker")
#: The design's claim for the default staking: bankroll growth per season, maximum drawdown.
CLAIMED_GROWTH, CLAIMED_MAX_DRAWDOWN = 0.18, 0.09


def _pct(value: float, *, sign: bool = True) -> str:
    if not math.isfinite(value):
        return "-" if math.isnan(value) else str(value)
    return f"{value:+.2%}" if sign else f"{value:.2%}"


def summary_rows(summary: BankrollSummary) -> list[tuple[str, str]]:
    """Label and formatted value of each figure of ``summary``, for printing."""
    return [
        ("strategy", summary.strategy),
        ("Kelly multiplier", f"{summary.kelly_multiplier:g}"),
        ("seasons / matchdays", f"{summary.seasons} / {summary.matchdays:,}"),
        ("value bets / bets placed", f"{summary.value_bets:,} / {summary.bets:,}"),
        ("turnover", f"{summary.turnover:,.2f}"),
        ("profit", f"{summary.profit:+,.2f}"),
        ("bankroll", f"{summary.starting_bankroll:,.2f} -> {summary.final_bankroll:,.2f}"),
        ("ROI per unit staked", _pct(summary.roi)),
        (
            "ROI at flat stakes (± se)",
            f"{_pct(summary.flat_roi)} ± {_pct(summary.flat_roi_se, sign=False)}",
        ),
        ("log growth", f"{summary.log_growth:+.4f}"),
        ("growth per season", _pct(summary.growth_per_season)),
        ("maximum drawdown", _pct(summary.max_drawdown, sign=False)),
        (
            "longest under water",
            f"{summary.longest_under_water:,} matchdays "
            f"({summary.longest_under_water_days:,} days)",
        ),
        ("share of matchdays under water", _pct(summary.under_water_share, sign=False)),
        (
            "CLV (mean ± se)",
            f"{_pct(summary.clv_mean)} ± {_pct(summary.clv_se, sign=False)} "
            f"over {summary.clv_bets:,} bets",
        ),
        ("hit rate", _pct(summary.hit_rate, sign=False)),
        ("mean price / mean edge", f"{summary.mean_price:.3f} / {_pct(summary.mean_edge)}"),
        ("matchdays throttled", f"{summary.throttled_matchdays:,}"),
    ]


def group_table(result: BankrollBacktest, group: str) -> pl.DataFrame:
    """Figures of a walk per league, season, edge band, price band or bookmaker (:data:`GROUPS`).

    Bets, turnover, profit, ROI, flat ROI, hit rate, mean price and edge, CLV;
    per season also the bankroll's growth over the season and its largest
    drawdown within it (from the season's opening peak).
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; expected one of {GROUPS}")
    table = _group_figures(result.bets, group)
    if group == "season":
        table = table.join(
            _season_paths(result.curve, result.starting_bankroll),
            on="season",
            how="full",
            coalesce=True,
        )
        table = table.with_columns(pl.col("bets").fill_null(0)).sort("season")
    return table


def _group_figures(bets: pl.DataFrame, group: str) -> pl.DataFrame:
    labels = {"edge_band": EDGE_BAND_LABELS, "price_band": PRICE_BAND_LABELS}.get(group)
    rows = []
    keys = sorted(set(bets[group].to_list()), key=(labels.index if labels else None))
    for key in keys:
        part = bets.filter(pl.col(group) == key)
        turnover = sorted_sum(part["stake"].to_numpy())
        profit = sorted_sum(part["pnl"].to_numpy())
        won = part["won"].to_numpy().astype(bool)
        prices = part["price"].to_numpy()
        clv_mean, clv_se = mean_se(part["clv"].drop_nulls().to_numpy())
        flat_roi, flat_roi_se = mean_se(np.where(won, prices - 1.0, -1.0))
        rows.append(
            {
                group: key,
                "bets": part.height,
                "turnover": turnover,
                "profit": profit,
                "roi": profit / turnover if turnover > 0.0 else math.nan,
                "flat_roi": flat_roi,
                "flat_roi_se": flat_roi_se,
                "hit_rate": float(won.mean()),
                "mean_price": mean_se(prices)[0],
                "mean_edge": mean_se(part["edge"].to_numpy())[0],
                "clv_mean": clv_mean,
                "clv_se": clv_se,
                "clv_bets": int(part["clv"].is_not_null().sum()),
            }
        )
    schema = {
        group: pl.String,
        "bets": pl.Int64,
        "turnover": pl.Float64,
        "profit": pl.Float64,
        "roi": pl.Float64,
        "flat_roi": pl.Float64,
        "flat_roi_se": pl.Float64,
        "hit_rate": pl.Float64,
        "mean_price": pl.Float64,
        "mean_edge": pl.Float64,
        "clv_mean": pl.Float64,
        "clv_se": pl.Float64,
        "clv_bets": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def _season_paths(curve: pl.DataFrame, start: float) -> pl.DataFrame:
    """Per season: bankroll at its start and end, growth, largest drawdown within it."""
    rows = []
    opening = start
    for (season,), part in curve.group_by(["season"], maintain_order=True):
        path = np.concatenate([[opening], part["bankroll"].to_numpy()])
        peaks = np.maximum.accumulate(path)
        closing = float(path[-1])
        rows.append(
            {
                "season": season,
                "bankroll_start": opening,
                "bankroll_end": closing,
                "growth": closing / opening - 1.0 if opening > 0 else math.nan,
                "season_max_drawdown": float((1.0 - path / peaks).max()),
            }
        )
        opening = closing
    return pl.DataFrame(
        rows,
        schema={
            "season": pl.String,
            "bankroll_start": pl.Float64,
            "bankroll_end": pl.Float64,
            "growth": pl.Float64,
            "season_max_drawdown": pl.Float64,
        },
    )


# --- several Kelly fractions, and the design's claim -----------------------------------


def kelly_label(multiplier: float) -> str:
    """``full Kelly``, ``1/4 Kelly``, ``1/8 Kelly``, or the multiplier."""
    if multiplier == 1.0:
        return "full Kelly"
    inverse = 1.0 / multiplier
    if abs(inverse - round(inverse)) < 1e-9:
        return f"1/{round(inverse)} Kelly"
    return f"{multiplier:g} Kelly"


def claim_comparison(runs: Mapping[float, BankrollBacktest]) -> pl.DataFrame:
    """The design's claim (+18 % growth per season, 9 % maximum drawdown) beside each run.

    One row per run (Kelly multiplier): growth per season (geometric mean),
    total growth, the best and worst season, the maximum drawdown, and the
    claimed figures.
    """
    rows = []
    for multiplier, run in runs.items():
        seasons = group_table(run, "season")
        growth = seasons["growth"].drop_nulls()
        s = run.summary
        rows.append(
            {
                "staking": kelly_label(multiplier),
                "kelly_multiplier": multiplier,
                "claimed_growth_per_season": CLAIMED_GROWTH,
                "growth_per_season": s.growth_per_season,
                "total_growth": s.final_bankroll / s.starting_bankroll - 1.0,
                "worst_season": float(cast(float, growth.min())) if growth.len() else math.nan,
                "best_season": float(cast(float, growth.max())) if growth.len() else math.nan,
                "claimed_max_drawdown": CLAIMED_MAX_DRAWDOWN,
                "max_drawdown": s.max_drawdown,
                "bets": s.bets,
                "roi": s.roi,
            }
        )
    return pl.DataFrame(rows)


def claim_lines(table: pl.DataFrame) -> list[str]:
    """The claim comparison as printable lines."""
    lines = [
        f"design claim: {CLAIMED_GROWTH:+.0%} bankroll growth per season, "
        f"-{CLAIMED_MAX_DRAWDOWN:.0%} maximum drawdown"
    ]
    for row in table.iter_rows(named=True):
        lines.append(
            f"  {row['staking']:>10}: growth per season {_pct(row['growth_per_season'])} "
            f"(claimed {_pct(row['claimed_growth_per_season'])}; seasons from "
            f"{_pct(row['worst_season'])} to {_pct(row['best_season'])}, "
            f"total {_pct(row['total_growth'])}), maximum drawdown "
            f"-{_pct(row['max_drawdown'], sign=False)} "
            f"(claimed -{_pct(row['claimed_max_drawdown'], sign=False)}), "
            f"{row['bets']:,} bets, ROI {_pct(row['roi'])}"
        )
    return lines


# --- the figure --------------------------------------------------------------------------


def bankroll_figure(curve: pl.DataFrame, title: str = "Bankroll") -> Figure:
    """The bankroll per matchday (log scale) with its running peak, and the drawdown below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    dates = curve["date"].to_list()
    top.plot(
        dates, curve["bankroll"].to_list(), linewidth=1, drawstyle="steps-post", label="bankroll"
    )
    top.plot(
        dates,
        curve["peak"].to_list(),
        linewidth=0.8,
        linestyle=":",
        drawstyle="steps-post",
        label="peak",
    )
    if curve.height and float(cast(float, curve["bankroll"].min())) > 0.0:
        top.set_yscale("log")
    top.set(ylabel="bankroll", title=title)
    top.legend(fontsize="small")
    bottom.fill_between(dates, [-d for d in curve["drawdown"].to_list()], 0.0, step="post")
    bottom.set(ylabel="drawdown", xlabel="date")
    fig.tight_layout()
    return fig


# --- stated against confirmed edges, and the rules side by side -------------------------


def reliability_table(result: BankrollBacktest, group: str = "stated_band") -> pl.DataFrame:
    """Stated edge against confirmed edge, CLV and realised yield, per band.

    ``group``: ``stated_band`` (the band of the model's stated edge, the
    default), ``edge_band`` (of the edge staked on), ``price_band``,
    ``league`` or ``bookmaker``.  Per group: bets, the mean stated edge, the
    mean edge staked on (``confirmed_edge``), the mean CLV (± se) and the flat
    ROI (± se, the realised yield of one unit per bet).
    """
    from sabiscore_ml.betting.walk import edge_bands

    bets = result.bets
    if group == "stated_band":
        bets = bets.with_columns(edge_bands(bets["stated_edge"]).alias("stated_band"))
    labels = EDGE_BAND_LABELS if group in ("stated_band", "edge_band") else None
    if group == "price_band":
        labels = PRICE_BAND_LABELS
    rows = []
    keys = sorted(set(bets[group].to_list()), key=(labels.index if labels else None))
    for key in keys:
        part = bets.filter(pl.col(group) == key)
        won = part["won"].to_numpy().astype(bool)
        flat, flat_se = mean_se(np.where(won, part["price"].to_numpy() - 1.0, -1.0))
        clv, clv_se = mean_se(part["clv"].drop_nulls().to_numpy())
        rows.append(
            {
                group: key,
                "bets": part.height,
                "stated_edge": mean_se(part["stated_edge"].to_numpy())[0],
                "confirmed_edge": mean_se(part["edge"].to_numpy())[0],
                "clv_mean": clv,
                "clv_se": clv_se,
                "flat_roi": flat,
                "flat_roi_se": flat_se,
            }
        )
    schema = {group: pl.String, "bets": pl.Int64}
    schema |= {
        c: pl.Float64
        for c in (
            "stated_edge",
            "confirmed_edge",
            "clv_mean",
            "clv_se",
            "flat_roi",
            "flat_roi_se",
        )
    }
    return pl.DataFrame(rows, schema=schema)


def yield_check(result: BankrollBacktest) -> dict[str, float]:
    """Expected against actual yield at flat stakes, with the t-statistics of the difference.

    ``expected``: the mean edge staked on; ``stated``: the mean stated edge;
    ``actual``: the flat ROI with its standard error; ``t`` and ``t_stated``:
    ``(actual − expected) / se``; ``clv``: the mean CLV.
    """
    s = result.summary
    se = s.flat_roi_se
    ok = math.isfinite(se) and se > 0.0
    return {
        "bets": float(s.bets),
        "expected": s.mean_edge,
        "stated": s.mean_stated_edge,
        "clv": s.clv_mean,
        "actual": s.flat_roi,
        "actual_se": se,
        "t": (s.flat_roi - s.mean_edge) / se if ok else math.nan,
        "t_stated": (s.flat_roi - s.mean_stated_edge) / se if ok else math.nan,
    }


def yield_lines(result: BankrollBacktest) -> list[str]:
    """:func:`yield_check` as printable lines."""
    y = yield_check(result)
    return [
        f"expected yield {_pct(y['expected'])} (stated {_pct(y['stated'])}), "
        f"CLV {_pct(y['clv'])}, actual {_pct(y['actual'])} ± {_pct(y['actual_se'], sign=False)} "
        f"over {int(y['bets']):,} bets: t = {y['t']:+.2f} (against the stated edge "
        f"{y['t_stated']:+.2f})"
    ]


def rule_comparison(runs: Mapping[str, BankrollBacktest]) -> pl.DataFrame:
    """Walks of several value-bet rules side by side (same matches, same staking).

    One row per rule: bets, CLV (mean ± se and stake-weighted), mean stated
    edge and edge staked on, flat ROI ± se, growth per season, maximum drawdown.
    """
    rows = []
    for name, run in runs.items():
        s = run.summary
        rows.append(
            {
                "rule": name,
                "bets": s.bets,
                "clv_mean": s.clv_mean,
                "clv_se": s.clv_se,
                "clv_weighted": s.clv_weighted,
                "stated_edge": s.mean_stated_edge,
                "edge": s.mean_edge,
                "flat_roi": s.flat_roi,
                "flat_roi_se": s.flat_roi_se,
                "growth_per_season": s.growth_per_season,
                "max_drawdown": s.max_drawdown,
            }
        )
    return pl.DataFrame(rows)


def comparison_lines(table: pl.DataFrame) -> list[str]:
    """:func:`rule_comparison` as printable lines."""
    lines = []
    for row in table.iter_rows(named=True):
        lines.append(
            f"  {row['rule']:<28} {row['bets']:>6,} bets, CLV {_pct(row['clv_mean'])} ± "
            f"{_pct(row['clv_se'], sign=False)} (stake-weighted {_pct(row['clv_weighted'])}), "
            f"edge stated {_pct(row['stated_edge'])} / staked {_pct(row['edge'])}, flat ROI "
            f"{_pct(row['flat_roi'])} ± {_pct(row['flat_roi_se'], sign=False)}, growth per "
            f"season {_pct(row['growth_per_season'])}, max drawdown "
            f"{_pct(row['max_drawdown'], sign=False)}"
        )
    return lines
