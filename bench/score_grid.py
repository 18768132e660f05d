"""Benchmark: one score grid for every market, on real predictions.

Usage: python bench/score_grid.py [--league E0] [--seasons 2021-2022:2023-2024]
                                  [--history-from 2008-2009]

Reads the warehouse (read-only) and the offline feature store of
``SABISCORE_HOME``.  For each season of ``--seasons``, the 1X2 model
(``ModelConfig()``'s calibrated tree ensemble) and the goals model are fitted on
every earlier match of the league's country, then the season's matches are
scored three ways:

- the goals model alone (what the bundle published before: its over 2.5, BTTS
  and xG, next to the ensemble's 1X2, from a different grid);
- one grid per match (``joint_markets``): the rates that reproduce the
  ensemble's 1X2, from the goals model's rates and with its rho;
- the residual: how far each grid's 1X2 is from the ensemble's;
- for comparison, the alternative the bundle does not take: total goals kept at
  the goals model's and only the split matched (``anchored_total``).

It prints the residual's distribution, how far the goals model's 1X2 was from
the ensemble's (the contradiction the grid removes), the log loss and Brier
score of over 2.5 and BTTS both ways against the results, paired with their
standard errors, how far the rates moved, and the time ``joint_markets`` takes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import polars as pl
from sqlalchemy import create_engine

from sabiscore_ml.jobs.backtest import history_leagues, season_range
from sabiscore_ml.models.config import ModelConfig
from sabiscore_ml.models.data import load_training_set
from sabiscore_ml.models.metrics import outcome_index, paired_difference, rps_per_match
from sabiscore_ml.models.score_grid import grid_markets, joint_markets, score_matrix
from sabiscore_ml.settings import get_core_settings


def anchored_total(
    p_home: np.ndarray, p_away: np.ndarray, rho: float, lam_h: np.ndarray, lam_a: np.ndarray
) -> dict[str, np.ndarray]:
    """The alternative: total goals kept at the goals model's, the split matching p_home - p_away.

    One equation for one unknown (bisection on the home share of the total): the
    grid's home-minus-away is the ensemble's, its draw is whatever the total gives.
    """
    total = lam_h + lam_a
    low, high = np.full_like(total, 0.005), np.full_like(total, 0.995)
    target = p_home - p_away
    for _ in range(50):
        mid = (low + high) / 2
        m = grid_markets(score_matrix(mid * total, (1 - mid) * total, rho))
        above = m["p_home"] - m["p_away"] > target
        high, low = np.where(above, mid, high), np.where(above, low, mid)
    share = (low + high) / 2
    return grid_markets(score_matrix(share * total, (1 - share) * total, rho))


def _binary_scores(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)), (p - y) ** 2


def main() -> None:
    """Fit, score and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--league", default="E0")
    parser.add_argument("--seasons", default="2021-2022:2023-2024")
    parser.add_argument("--history-from", default="2008-2009")
    args = parser.parse_args()
    path = get_core_settings().home_dir / "warehouse.sqlite"
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    training = load_training_set(
        engine, leagues=history_leagues([args.league]), history_from=args.history_from
    )
    config = ModelConfig()
    rows = []
    for season in season_range(args.seasons):
        start = dt.date(int(season[:4]), 6, 1)  # the season calendar starts on 1 June
        frame = training.frame
        past = training.where(pl.col("match_date") < start)
        test = frame.filter(
            (pl.col("league_code") == args.league) & (pl.col("season_code") == season)
        )
        if test.is_empty():
            continue
        began = time.perf_counter()
        outcome = config.outcome_model().fit(past.X(), past.y())
        goals = config.goals_model()
        assert goals is not None
        goals.fit(past.X(), past.goals())
        fitted = time.perf_counter() - began
        X = training.X(test)
        ensemble = outcome.predict_proba(X)
        own = goals.predict_markets(X)
        lam_h, lam_a = goals.rates(X)
        began = time.perf_counter()
        joint = joint_markets(ensemble[:, 0], ensemble[:, 2], goals.rho_, lam_h, lam_a)
        solve = time.perf_counter() - began
        anchored = anchored_total(ensemble[:, 0], ensemble[:, 2], goals.rho_, lam_h, lam_a)
        hg, ag = test["home_goals"].to_numpy(), test["away_goals"].to_numpy()
        print(
            f"{args.league} {season}: {test.height} matches, trained on {past.height:,} "
            f"({fitted:.0f} s), rho {goals.rho_:+.4f}, joint_markets {solve * 1000:.0f} ms",
            flush=True,
        )
        rows.append(
            {
                "ensemble": ensemble,
                "own": own,
                "joint": joint,
                "anchored": anchored,
                "result": outcome_index(test["result"].to_list()),
                "lam": (lam_h, lam_a),
                "over": (hg + ag > 2.5).astype(float),
                "btts": ((hg > 0) & (ag > 0)).astype(float),
            }
        )
    ensemble = np.concatenate([r["ensemble"] for r in rows])
    residual = np.concatenate([r["joint"]["residual"] for r in rows])
    n = len(residual)
    print(f"\n{n} matches of {args.league} {args.seasons}")
    print(
        "residual of the grid's 1X2 vs the ensemble's: "
        f"max {residual.max():.2e}, 99th pct {np.quantile(residual, 0.99):.2e}, "
        f"median {np.median(residual):.2e}; rows above 1e-6: {(residual > 1e-6).sum()}"
    )
    own_1x2 = np.concatenate([r["own"][["p_home", "p_draw", "p_away"]].to_numpy() for r in rows])
    gap = np.abs(own_1x2 - ensemble).max(axis=1)
    print(
        "goals model's own 1X2 vs the ensemble's (the contradiction removed): "
        f"mean max-gap {gap.mean():.4f}, 90th pct {np.quantile(gap, 0.9):.4f}, max {gap.max():.4f}"
    )
    result = np.concatenate([r["result"] for r in rows])
    anchored_1x2 = np.stack(
        [np.concatenate([r["anchored"][k] for r in rows]) for k in ("p_home", "p_draw", "p_away")],
        axis=1,
    )
    rps_gap = paired_difference(
        rps_per_match(anchored_1x2, result), rps_per_match(ensemble, result)
    )
    anchored_gap = np.abs(anchored_1x2 - ensemble).max(axis=1)
    print(
        "alternative, total goals anchored to the goals model's: its 1X2 vs the ensemble's "
        f"mean max-gap {anchored_gap.mean():.4f}, max {anchored_gap.max():.4f}; "
        f"RPS {rps_per_match(anchored_1x2, result).mean():.5f} vs the ensemble's "
        f"{rps_per_match(ensemble, result).mean():.5f} (difference {rps_gap.mean:+.5f}, "
        f"se {rps_gap.se:.5f})"
    )
    for market in ("p_over25", "p_btts"):
        y = np.concatenate([r["over" if market == "p_over25" else "btts"] for r in rows])
        before = np.concatenate([r["own"][market].to_numpy() for r in rows])
        ll_b, br_b = _binary_scores(before, y)
        print(
            f"{market}: base rate {y.mean():.3f}; goals model log loss {ll_b.mean():.4f} "
            f"Brier {br_b.mean():.4f}"
        )
        for name in ("joint", "anchored"):
            after = np.concatenate([r[name][market] for r in rows])
            ll_a, br_a = _binary_scores(after, y)
            ll, br = paired_difference(ll_a, ll_b), paired_difference(br_a, br_b)
            label = "one grid, 1X2 matched" if name == "joint" else "one grid, total anchored"
            print(
                f"  {label}: log loss {ll_a.mean():.4f} Brier {br_a.mean():.4f}; minus the "
                f"goals model: log loss {ll.mean:+.4f} (se {ll.se:.4f}), Brier {br.mean:+.4f} "
                f"(se {br.se:.4f}); mean |change| {np.abs(after - before).mean():.4f}"
            )
    lam_h = np.concatenate([r["lam"][0] for r in rows])
    lam_a = np.concatenate([r["lam"][1] for r in rows])
    xg_h = np.concatenate([r["joint"]["xg_home"] for r in rows])
    xg_a = np.concatenate([r["joint"]["xg_away"] for r in rows])
    print(
        f"rates: goals model total {np.mean(lam_h + lam_a):.3f}, one grid total "
        f"{np.mean(xg_h + xg_a):.3f}; mean |change| home {np.abs(xg_h - lam_h).mean():.3f}, "
        f"away {np.abs(xg_a - lam_a).mean():.3f}"
    )


if __name__ == "__main__":
    main()
