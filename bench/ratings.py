"""Benchmark: rating features (Elo, pi-ratings, Dixon-Coles) over a football-data archive.

Usage: python bench/ratings.py [DATA_DIR] [--repeat N]

Parses every CSV below DATA_DIR (default /work/shared/data/football-data) with the
football-data parser, builds the rating input (team ids by country and name, a
match published twice kept once), then times ``rating_features`` (best of
``--repeat`` runs) and measures its peak Python allocation with tracemalloc in a
separate run.  Quality: log loss and Brier score of the pre-match probabilities
against the base rate (the outcome frequencies of the evaluated matches
themselves, a baseline that knows the future and so favours itself), over every
played match with features and over the Premier League 2020-21 to 2023-24.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import polars as pl

from feature_store.ratings import football_data_input, rating_features
from sabiscore_ml.sources.football_data import iter_csv_files, parse_football_data

DEFAULT_DIR = Path("/work/shared/data/football-data")
E0_SEASONS = ("2020-2021", "2021-2022", "2022-2023", "2023-2024")
EPS = 1e-15


def load(data_dir: Path) -> pl.DataFrame:
    files = iter_csv_files([str(data_dir)])
    started = time.perf_counter()
    parsed = [parse_football_data(Path(f).read_bytes(), f, today=dt.date.today()) for f in files]
    frame = football_data_input(parsed)
    print(
        f"parsed {len(files)} files, {frame.height:,} distinct matches "
        f"({frame['home_goals'].is_not_null().sum():,} played) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return frame


def log_loss_1x2(probs: np.ndarray, outcome: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(outcome)), outcome], EPS, 1))))


def brier_1x2(probs: np.ndarray, outcome: np.ndarray) -> float:
    onehot = np.eye(3)[outcome]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def soft_log_loss(p: np.ndarray, target: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(target * np.log(p) + (1 - target) * np.log(1 - p)))


def report(name: str, frame: pl.DataFrame) -> None:
    goals_h, goals_a = frame["home_goals"].to_numpy(), frame["away_goals"].to_numpy()
    outcome = np.where(goals_h > goals_a, 0, np.where(goals_h == goals_a, 1, 2))
    base = np.bincount(outcome, minlength=3) / len(outcome)
    base_probs = np.tile(base, (len(outcome), 1))
    print(f"\n{name}: {frame.height:,} played matches with probabilities")
    print(f"  {'forecast':<28}{'log loss':>10}{'Brier':>10}")
    print(
        f"  {'1X2 base rate':<28}{log_loss_1x2(base_probs, outcome):>10.4f}"
        f"{brier_1x2(base_probs, outcome):>10.4f}"
    )
    for system in ("dc", "pi"):
        probs = frame.select(f"{system}_p_home", f"{system}_p_draw", f"{system}_p_away")
        probs = probs.to_numpy()
        print(
            f"  {system + ' 1X2':<28}{log_loss_1x2(probs, outcome):>10.4f}"
            f"{brier_1x2(probs, outcome):>10.4f}"
        )
    score = np.where(goals_h > goals_a, 1.0, np.where(goals_h == goals_a, 0.5, 0.0))
    elo = frame["elo_p_home"].to_numpy()
    mean_score = np.full_like(score, score.mean())
    for label, p in (("home score base rate", mean_score), ("elo expected home score", elo)):
        brier = float(np.mean((p - score) ** 2))
        print(f"  {label:<28}{soft_log_loss(p, score):>10.4f}{brier:>10.4f}")
    for label, column, event in (
        ("over 2.5", "dc_p_over25", goals_h + goals_a > 2),
        ("both teams score", "dc_p_btts", (goals_h > 0) & (goals_a > 0)),
    ):
        hit = event.astype(float)
        p = frame[column].to_numpy()
        rate = np.full_like(hit, hit.mean())
        print(
            f"  {label + ' base rate':<28}{soft_log_loss(rate, hit):>10.4f}"
            f"{float(np.mean((rate - hit) ** 2)):>10.4f}"
        )
        print(
            f"  {'dc ' + label:<28}{soft_log_loss(p, hit):>10.4f}"
            f"{float(np.mean((p - hit) ** 2)):>10.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, nargs="?", default=DEFAULT_DIR)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best is printed)")
    args = parser.parse_args()

    matches = load(args.data_dir)
    inputs = matches.drop("home_team", "away_team")
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        features = rating_features(inputs)
        timings.append(time.perf_counter() - started)
    print(
        f"rating_features: {inputs.height:,} matches in {min(timings):.2f} s "
        f"(best of {args.repeat}; all: {', '.join(f'{t:.2f}' for t in timings)}); "
        f"{features.width - 1} features"
    )
    tracemalloc.start()
    rating_features(inputs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak Python allocation {peak / 2**20:.0f} MiB; process peak RSS {max_rss:.0f} MiB")

    played = matches.join(features, on="match_id").filter(
        pl.col("home_goals").is_not_null() & pl.col("dc_p_home").is_not_null()
    )
    report("all divisions, all seasons", played)
    report(
        "all divisions, both teams with 38+ rated matches",
        played.filter(pl.min_horizontal("elo_home_n_matches", "elo_away_n_matches") >= 38),
    )
    report(
        "Premier League 2020-21 to 2023-24",
        played.filter(pl.col("league_code") == "E0", pl.col("season_code").is_in(E0_SEASONS)),
    )


if __name__ == "__main__":
    main()
