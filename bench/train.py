"""Benchmark: walk-forward quality of the 1X2 model against the market, and full-retrain time.

Usage: python bench/train.py [--seasons 2015-2016:2023-2024] [--pooled-seasons A:B]
                             [--weights stacking|design] [--anchor none|market]
                             [--output-dir DIR] [--skip-pooled] [--skip-retrain]
       python bench/train.py --compare A.csv B.csv ... [--blend]

``--anchor`` chooses the 1X2 model: ``market`` (the default, the market-anchored ensemble)
or ``none`` (the unanchored tree ensemble, the default before 2026-12-07).
``--output-dir`` writes each walk's predictions in the ``sabiscore backtest --output``
format.  ``--compare`` reads such files and prints every model's RPS paired against
Pinnacle's pre-closing and closing prices, and against the first file, on the matches all
of them predicted; ``--blend`` adds each model pooled with the pre-closing market by
weights learnt walking forward (each season from the earlier seasons' predictions).

Reads the warehouse and the offline feature store of ``SABISCORE_HOME`` (build
them first: ``sabiscore ingest football-data --from-dir .../football-data`` then
``sabiscore features build``).

1. Premier League, walk-forward over ``--seasons`` (each season predicted by a
   model fitted on every earlier match of the English divisions): the model's
   RPS minus Pinnacle's closing RPS, paired on the same matches with its
   standard error, beside the pre-closing market's and the Elo ordered logit's.
2. Pooled over La Liga, Bundesliga, Serie A and Ligue 1 (each with its own
   country's divisions as history), over ``--pooled-seasons``.
3. A full retrain without tuning (the 1X2 model and the goals model) on five
   top flights' history (E0, SP1, D1, I1, F1 from ``history_from``): wall time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import minimize
from scipy.special import log_softmax

from sabiscore_ml.jobs.backtest import csv_frame, history_leagues, season_range
from sabiscore_ml.models.config import ModelConfig
from sabiscore_ml.models.data import load_training_set
from sabiscore_ml.models.estimators import EloOrderedLogit
from sabiscore_ml.models.evaluation import REFERENCE, compare, with_markets
from sabiscore_ml.models.metrics import outcome_index, paired_difference, rps_per_match
from sabiscore_ml.models.walkforward import PREDICTION_COLUMNS, walk_forward
from sabiscore_ml.warehouse.engine import get_engine

BIG5 = ("E0", "SP1", "D1", "I1", "F1")


def _walk(engine, leagues, seasons, make, history_from, label, output=None):
    started = time.perf_counter()
    training = load_training_set(
        engine, leagues=history_leagues(leagues), history_from=history_from
    )
    preds = walk_forward(
        training,
        make,
        leagues=leagues,
        seasons=seasons,
        progress=lambda b: print(
            f"  {label} {b.season}: {b.rows} matches, trained on "
            f"{b.train_rows:,} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        ),
    )
    preds = with_markets(engine, preds)
    print(f"  {label}: walk-forward {time.perf_counter() - started:.0f} s wall", flush=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        csv_frame(engine, preds).write_csv(output)
        print(f"  wrote {output}")
    return preds


def read_predictions(path: str) -> pl.DataFrame:
    """A predictions CSV, every probability column as floats (a column may be all empty)."""
    frame = pl.read_csv(path, infer_schema_length=None)
    return frame.with_columns(
        pl.col(c).cast(pl.Float64) for c in frame.columns if c.startswith("p_") or "_p_" in c
    )


def compare_files(paths: list[str], blend: bool = False) -> None:
    """RPS of each file's model paired against Pinnacle and the first file, same matches."""
    frames = [read_predictions(p) for p in paths]
    common = set(frames[0]["match_id"].to_list())
    for frame in frames[1:]:
        common &= set(frame["match_id"].to_list())
    frames = [f.filter(pl.col("match_id").is_in(list(common))).sort("match_id") for f in frames]
    first = frames[0]
    sides = ("home", "draw", "away")
    outcome = outcome_index(first["result"].to_list())
    pre = first.select(f"pinnacle_preclose_p_{s}" for s in sides).to_numpy()
    close = first.select(f"{REFERENCE}_p_{s}" for s in sides).to_numpy()
    have = ~np.isnan(pre).any(axis=1) & ~np.isnan(close).any(axis=1)
    print(f"{len(common):,} matches in every file, {int(have.sum()):,} with both Pinnacle prices")
    reference = rps_per_match(first.select(PREDICTION_COLUMNS).to_numpy()[have], outcome[have])
    rps_pre = rps_per_match(pre[have], outcome[have])
    rps_close = rps_per_match(close[have], outcome[have])
    print(f"  Pinnacle pre-closing RPS {rps_pre.mean():.5f}, closing {rps_close.mean():.5f}")
    print(f"  pre-closing − closing {paired_difference(rps_pre, rps_close)}")
    print(f"  {'model':<44} {'RPS':>8} {'− Pinnacle pre':>22} {'− Pinnacle close':>22}")
    rows = []
    for path, frame in zip(paths, frames, strict=True):
        assert frame["match_id"].to_list() == first["match_id"].to_list()
        probs = frame.select(PREDICTION_COLUMNS).to_numpy()
        rows.append((Path(path).name, probs))
        if blend:
            seasons = frame["season"].to_numpy().astype(str)
            rows.append((f"  {Path(path).name} ⊕ market", _blend(probs, pre, outcome, seasons)))
    for name, probs in rows:
        rps = rps_per_match(probs[have], outcome[have])
        print(
            f"  {name:<44} {rps.mean():8.5f} {str(paired_difference(rps, rps_pre)):>22}"
            f" {str(paired_difference(rps, rps_close)):>22}   − first "
            f"{paired_difference(rps, reference)}"
        )


def _blend(probs, market, outcome, seasons):
    """A walk-forward log-linear pool of a model and the market, season by season.

    ``p ∝ model^a · market^b``: each season's two weights are fitted by log
    loss on the earlier seasons' (walk-forward) predictions only, without
    intercepts (one season of draws is too few to learn a draw rate from); the
    first season takes the geometric mean.  Matches without a pre-closing price
    keep the model's probabilities.
    """
    out = probs.copy()
    quoted = ~np.isnan(market).any(axis=1)
    logp = np.log(np.clip(np.stack([probs, np.nan_to_num(market, nan=1.0 / 3)]), 1e-6, 1.0))

    def pooled(weights, rows):
        return log_softmax(np.tensordot(weights, logp[:, rows], axes=1), axis=1)

    for season in sorted(set(seasons)):
        now, before = (seasons == season) & quoted, (seasons < season) & quoted
        weights = np.array([0.5, 0.5])
        if before.sum() >= 200:
            labels = outcome[before]

            def loss(w, rows=before, labels=labels):
                return -pooled(w, rows)[np.arange(len(labels)), labels].mean()

            weights = minimize(loss, weights, method="L-BFGS-B").x
        out[now] = np.exp(pooled(weights, now))
    return out


def _rps_vs_close(frame: pl.DataFrame, prefix: str = ""):
    outcome = outcome_index(frame["result"].to_list())
    cols = (
        PREDICTION_COLUMNS if not prefix else [f"{prefix}_p_{s}" for s in ("home", "draw", "away")]
    )
    probs = frame.select(cols).to_numpy()
    close = frame.select(f"{REFERENCE}_p_{s}" for s in ("home", "draw", "away")).to_numpy()
    have = ~np.isnan(close).any(axis=1) & ~np.isnan(probs).any(axis=1)
    return paired_difference(
        np.where(have, rps_per_match(np.nan_to_num(probs), outcome), np.nan),
        np.where(have, rps_per_match(np.nan_to_num(close), outcome), np.nan),
    )


def report(name: str, model: pl.DataFrame, elo: pl.DataFrame | None) -> None:
    """Print the paired table of one evaluation."""
    result = compare(model)
    print(
        f"\n{name}: {result.scores.n:,} matches, model RPS {result.scores.rps:.4f}, "
        f"log loss {result.scores.log_loss:.4f}, ECE {result.scores.ece:.4f}"
    )
    print(f"  {'forecaster':<28} {'RPS − Pinnacle closing':>26}")
    print(f"  {'model':<28} {str(_rps_vs_close(model)):>26}")
    print(f"  {'Pinnacle pre-closing':<28} {str(_rps_vs_close(model, 'pinnacle_preclose')):>26}")
    print(
        f"  {'market average pre-closing':<28} "
        f"{str(_rps_vs_close(model, 'market_avg_preclose')):>26}"
    )
    if elo is not None:
        print(f"  {'Elo + ordered logit':<28} {str(_rps_vs_close(elo)):>26}")
    joined = model.select(
        "match_id",
        *PREDICTION_COLUMNS,
        "result",
        *(f"pinnacle_preclose_p_{s}" for s in ("home", "draw", "away")),
    )
    outcome = outcome_index(joined["result"].to_list())
    pre = joined.select(f"pinnacle_preclose_p_{s}" for s in ("home", "draw", "away")).to_numpy()
    have = ~np.isnan(pre).any(axis=1)
    diff = paired_difference(
        rps_per_match(joined.select(PREDICTION_COLUMNS).to_numpy()[have], outcome[have]),
        rps_per_match(pre[have], outcome[have]),
    )
    print(f"  model − Pinnacle pre-closing: {diff}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seasons", default="2015-2016:2023-2024")
    parser.add_argument("--pooled-seasons", default="2019-2020:2023-2024")
    parser.add_argument("--weights", default="stacking")
    parser.add_argument("--calibration", default="temperature")
    parser.add_argument("--history-from", default="2000-2001")
    parser.add_argument("--skip-pooled", action="store_true")
    parser.add_argument("--skip-retrain", action="store_true")
    parser.add_argument("--skip-e0", action="store_true")
    parser.add_argument("--skip-elo", action="store_true")
    parser.add_argument("--anchor", default="market", choices=("none", "market"))
    parser.add_argument("--output-dir", type=Path)
    parser.add_argument("--label", default="", help="name of the predictions files")
    parser.add_argument("--compare", nargs="+", metavar="CSV")
    parser.add_argument(
        "--blend",
        action="store_true",
        help="with --compare: also each model pooled with the market",
    )
    args = parser.parse_args()
    if args.compare:
        compare_files(args.compare, args.blend)
        return
    engine = get_engine()
    config = ModelConfig(
        weights=args.weights,
        calibration=None if args.calibration == "none" else args.calibration,
        anchor=None if args.anchor == "none" else args.anchor,
    )
    print(f"model: {config.as_params()}")
    label = args.label or ("anchored" if config.anchor else "unanchored")

    def output(league: str, seasons: list[str]) -> Path | None:
        if args.output_dir is None:
            return None
        return args.output_dir / f"{league}-{seasons[0][:4]}-{seasons[-1][5:]}-{label}.csv"

    if not args.skip_e0:
        seasons = season_range(args.seasons)
        model = _walk(
            engine,
            ["E0"],
            seasons,
            config.outcome_model,
            args.history_from,
            "E0",
            output("E0", seasons),
        )
        elo = (
            None
            if args.skip_elo
            else _walk(engine, ["E0"], seasons, EloOrderedLogit, args.history_from, "E0 Elo")
        )
        report(f"Premier League {seasons[0]} to {seasons[-1]}", model, elo)

    if not args.skip_pooled:
        seasons = season_range(args.pooled_seasons)
        models, elos = [], []
        for league in ("SP1", "D1", "I1", "F1"):
            models.append(
                _walk(
                    engine,
                    [league],
                    seasons,
                    config.outcome_model,
                    args.history_from,
                    league,
                    output(league, seasons),
                )
            )
            if not args.skip_elo:
                elos.append(
                    _walk(
                        engine,
                        [league],
                        seasons,
                        EloOrderedLogit,
                        args.history_from,
                        f"{league} Elo",
                    )
                )
        report(
            f"Pooled SP1, D1, I1, F1 {seasons[0]} to {seasons[-1]}",
            pl.concat(models),
            pl.concat(elos) if elos else None,
        )

    if not args.skip_retrain:
        training = load_training_set(engine, leagues=list(BIG5), history_from=args.history_from)
        started = time.perf_counter()
        X = training.X()
        config.outcome_model().fit(X, training.y())
        middle = time.perf_counter()
        goals = config.goals_model()
        if goals is not None:
            goals.fit(X, training.goals())
        done = time.perf_counter()
        print(
            f"\nfull retrain without tuning on {training.height:,} matches of "
            f"{', '.join(BIG5)} ({len(training.features)} features): {done - started:.1f} s "
            f"(1X2 ensemble {middle - started:.1f} s, goals model {done - middle:.1f} s)"
        )


if __name__ == "__main__":
    main()
