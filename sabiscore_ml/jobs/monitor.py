"""Monitoring of what was published: the job of the ``monitor`` DAG and ``sabiscore monitor``.

Once results and closing prices are in, :func:`monitor` scores every published
prediction and value bet whose match is settled, per model version, league
(and every league together, ``all``) and window (every settled match, ``all``,
and the last ``SABISCORE_MONITOR_WINDOW_DAYS`` days of them, ending at the
latest one):

- **predictions**: the model's realised RPS, log loss and ECE, and Pinnacle's
  margin-free (multiplicative) pre-closing and closing probabilities scored on
  the same matches, with the paired per-match RPS differences (model − market)
  and their standard errors.  A match published in several runs of a version
  counts once, as its latest published run gave it.
- **value bets**: the closing-line value of each published value bet (the
  price at publication against Pinnacle's margin-free closing price, else the
  market average's; ``price / closing − 1``), their flat-stake profit (one unit
  each) and the profit of the stakes the runs sized (every portfolio), with
  the turnover and ROI.  A bet published again by a later run of the version
  counts once, as the latest run gave it.
- **early CLV**: the same price against the latest pre-closing prices seen
  after the run and before kick-off (Pinnacle's margin-free, else the market
  average's; ``price / latest − 1``), known as soon as a later copy of the
  prices is loaded, before the match is played or its closing prices are in:
  ``early_clv`` (mean, ``early_clv_se``, ``n_early_clv``) over every published
  bet, played or not.  Every run's bets with both CLVs are kept in
  ``run_bet_clv`` (:func:`bet_clv`).
- **input drift**: the population stability index of the model's most
  important features (those published with each prediction as its drivers,
  with their importance) between the published matches and the offline
  feature rows of the same leagues over the ``drift_reference_days`` before
  the version's first published run — the rows its training snapshot was cut
  from.  Reference quantile bins; a missing value is a bin of its own.

Every figure is stored in ``monitor_figures`` (one row per computation, model
version, league, window and figure) and, unless told not to, logged to MLflow
(experiment ``sabiscore-monitor``, a run per model version, tagged with it; the
version gets ``monitor.*`` tags).  Thresholds come from
:class:`~sabiscore_ml.settings.MonitorSettings`; a figure resting on too few
matches or bets is never a breach.  Breaches are added to the alert stream
(``<prefix>:alerts``, ``kind`` ``monitor_breach``) when Redis is configured,
then :class:`MonitorBreach` is raised naming each league, figure and threshold.
The figures are stored before that, so a failed check still leaves them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine, delete, insert, select

from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.prices import MARKET_AVG
from sabiscore_ml.publish.performance import ALL
from sabiscore_ml.settings import MonitorSettings, get_model_settings, get_monitor_settings
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import (
    Match,
    MonitorFigure,
    PredictionRun,
    RunBetClv,
    RunEdge,
    RunPrediction,
    RunStake,
)
from sabiscore_ml.warehouse.queries import AnySelect

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

PUBLISHED = "published"
BREACH_KIND = "monitor_breach"  # the ``kind`` of a monitor entry in the alert stream
_SIDE = {"home": "H", "draw": "D", "away": "A"}
_OUTCOMES = ("home", "draw", "away")
_SMOOTHING = 0.5  # added to every PSI bin's count: an empty bin would make the index infinite
MARKET, CLOSE = "pinnacle_preclose", "pinnacle_close"


class MonitorBreach(SabiscoreError):
    """A monitored figure crossed its threshold; the message names each breach."""

    def __init__(self, breaches: Sequence[Breach], report: MonitorReport | None = None) -> None:
        self.breaches = tuple(breaches)
        self.report = report  # what the run computed, stored and alerted
        super().__init__(
            f"{len(self.breaches)} monitor threshold(s) crossed: "
            + "; ".join(b.message for b in self.breaches)
        )


@dataclass(frozen=True)
class MonitorRequest:
    """What to monitor (the DAG's Params, the CLI's options)."""

    leagues: tuple[str, ...] = ()  # empty: every league published
    model_version: str | None = None  # None: every version published
    window_days: int | None = None  # None: SABISCORE_MONITOR_WINDOW_DAYS
    log_mlflow: bool = True
    fail_on_breach: bool = True

    @staticmethod
    def from_dict(values: dict[str, Any]) -> MonitorRequest:
        """From XCom / Params (null and empty mean the defaults)."""
        known = {k: v for k, v in values.items() if k in MonitorRequest.__dataclass_fields__}
        known["leagues"] = tuple(known.get("leagues") or ())
        for name in ("model_version", "window_days"):
            if known.get(name) in ("", None):
                known[name] = None
        return MonitorRequest(**known)


@dataclass(frozen=True)
class Figure:
    """One figure of a model version, league and window."""

    model_version: str
    league_code: str
    window: str
    window_start: dt.date | None
    window_end: dt.date | None
    figure: str
    value: float | None
    n: int
    threshold: float | None = None
    breached: bool = False


@dataclass(frozen=True)
class Breach:
    """A figure over (or under) its threshold."""

    model_version: str
    league_code: str
    window: str
    figure: str
    value: float
    threshold: float
    n: int
    direction: str  # "above" (a maximum) or "below" (a minimum)

    @property
    def message(self) -> str:
        """What crossed which threshold, where."""
        limit = "maximum" if self.direction == "above" else "minimum"
        return (
            f"league {self.league_code}, window {self.window}, model v{self.model_version}: "
            f"{self.figure} {self.value:.4f} is {self.direction} its {limit} "
            f"{self.threshold:.4f} (n {self.n})"
        )


@dataclass
class MonitorReport:
    """What a monitor run computed and did."""

    computed_at: dt.datetime
    figures: list[Figure]
    breaches: list[Breach]
    settled_matches: int
    value_bets: int
    alerts: int = 0
    mlflow_runs: dict[str, str] = field(default_factory=dict)  # version -> run id

    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary (XCom)."""
        return {
            "computed_at": self.computed_at.isoformat(),
            "figures": len(self.figures),
            "settled_matches": self.settled_matches,
            "value_bets": self.value_bets,
            "breaches": [b.message for b in self.breaches],
            "alerts": self.alerts,
            "mlflow_runs": self.mlflow_runs,
        }

    def value(self, figure: str, league: str = ALL, window: str = ALL) -> float | None:
        """A figure of the report (of the only model version, or the first one)."""
        for f in self.figures:
            if (f.figure, f.league_code, f.window) == (figure, league, window):
                return f.value
        return None


# --- reading the published history -------------------------------------------------------------


def published_predictions(
    engine: Engine, *, model_name: str, leagues: Sequence[str] = (), version: str | None = None
) -> pl.DataFrame:
    """Every published prediction, the latest run's per model version and match.

    Columns ``model_version``, ``run_id``, ``created_at``, ``as_of``,
    ``match_id``, ``league_code``, ``match_date``, ``p_home``, ``p_draw``, ``p_away``,
    ``drivers_json`` and the match's ``result`` (null while unplayed).
    """
    query = (
        select(
            PredictionRun.model_version,
            PredictionRun.run_id,
            PredictionRun.created_at,
            PredictionRun.as_of,
            RunPrediction.match_id,
            RunPrediction.league_code,
            RunPrediction.match_date,
            RunPrediction.p_home,
            RunPrediction.p_draw,
            RunPrediction.p_away,
            RunPrediction.drivers_json,
            Match.result,
        )
        .join(RunPrediction, RunPrediction.run_id == PredictionRun.run_id)
        .join(Match, Match.id == RunPrediction.match_id)
        .where(PredictionRun.status == PUBLISHED, PredictionRun.model_name == model_name)
    )
    schema = {
        "model_version": pl.String,
        "run_id": pl.String,
        "created_at": pl.Datetime("us"),
        "as_of": pl.Date,
        "match_id": pl.Int64,
        "league_code": pl.String,
        "match_date": pl.Date,
        "p_home": pl.Float64,
        "p_draw": pl.Float64,
        "p_away": pl.Float64,
        "drivers_json": pl.String,
        "result": pl.String,
    }
    return _latest_rows(
        engine, query, schema, ["model_version", "match_id"], leagues=leagues, version=version
    )


def _latest_rows(
    engine: Engine,
    query: AnySelect,
    schema: dict[str, Any],
    keys: list[str],
    *,
    leagues: Sequence[str],
    version: str | None,
) -> pl.DataFrame:
    """A query's rows over published runs as a frame, the latest run's per ``keys``.

    Only ``leagues`` and the model ``version`` when given.
    """
    if leagues:
        query = query.where(RunPrediction.league_code.in_(list(leagues)))
    if version is not None:
        query = query.where(PredictionRun.model_version == version)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    return _latest_run(frame, keys)


def _latest_run(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """One row per ``keys``: the one of the run created last (ties: the larger run id)."""
    return (
        frame.sort([*keys, "created_at", "run_id"], descending=[False] * len(keys) + [True, True])
        .unique(keys, keep="first", maintain_order=True)
        .sort(keys)
    )


def published_value_bets(
    engine: Engine,
    *,
    model_name: str,
    leagues: Sequence[str] = (),
    version: str | None = None,
    every_run: bool = False,
) -> pl.DataFrame:
    """Every published 1X2 value bet, the latest run's per model version, match and outcome.

    Columns ``model_version``, ``run_id``, ``created_at``, ``match_id``,
    ``league_code``, ``match_date``, ``kickoff_utc``, ``outcome``,
    ``bookmaker``, ``price``, ``result``.  ``every_run``: the bets of every
    run, not only the latest run's.
    """
    query = (
        select(
            PredictionRun.model_version,
            PredictionRun.run_id,
            PredictionRun.created_at,
            RunEdge.match_id,
            RunPrediction.league_code,
            RunPrediction.match_date,
            Match.kickoff_utc,
            RunEdge.outcome,
            RunEdge.bookmaker,
            RunEdge.price,
            Match.result,
        )
        .join(RunEdge, RunEdge.run_id == PredictionRun.run_id)
        .join(
            RunPrediction,
            (RunPrediction.run_id == RunEdge.run_id) & (RunPrediction.match_id == RunEdge.match_id),
        )
        .join(Match, Match.id == RunEdge.match_id)
        .where(
            PredictionRun.status == PUBLISHED,
            PredictionRun.model_name == model_name,
            RunEdge.is_value.is_(True),
            RunEdge.market == "1x2",
        )
    )
    schema = {
        "model_version": pl.String,
        "run_id": pl.String,
        "created_at": pl.Datetime("us"),
        "match_id": pl.Int64,
        "league_code": pl.String,
        "match_date": pl.Date,
        "kickoff_utc": pl.Datetime("us"),
        "outcome": pl.String,
        "bookmaker": pl.String,
        "price": pl.Float64,
        "result": pl.String,
    }
    return _latest_rows(
        engine,
        query,
        schema,
        ["run_id", "match_id", "outcome"]
        if every_run
        else ["model_version", "match_id", "outcome"],
        leagues=leagues,
        version=version,
    )


def published_stakes(
    engine: Engine, *, model_name: str, leagues: Sequence[str] = (), version: str | None = None
) -> pl.DataFrame:
    """Every published 1X2 stake, the latest run's per version, match, outcome and portfolio."""
    query = (
        select(
            PredictionRun.model_version,
            PredictionRun.run_id,
            PredictionRun.created_at,
            RunStake.match_id,
            RunPrediction.league_code,
            RunPrediction.match_date,
            RunStake.outcome,
            RunStake.portfolio,
            RunStake.price,
            RunStake.stake,
            Match.result,
        )
        .join(RunStake, RunStake.run_id == PredictionRun.run_id)
        .join(
            RunPrediction,
            (RunPrediction.run_id == RunStake.run_id)
            & (RunPrediction.match_id == RunStake.match_id),
        )
        .join(Match, Match.id == RunStake.match_id)
        .where(
            PredictionRun.status == PUBLISHED,
            PredictionRun.model_name == model_name,
            RunStake.market == "1x2",
        )
    )
    schema = {
        "model_version": pl.String,
        "run_id": pl.String,
        "created_at": pl.Datetime("us"),
        "match_id": pl.Int64,
        "league_code": pl.String,
        "match_date": pl.Date,
        "outcome": pl.String,
        "portfolio": pl.String,
        "price": pl.Float64,
        "stake": pl.Float64,
        "result": pl.String,
    }
    return _latest_rows(
        engine,
        query,
        schema,
        ["model_version", "match_id", "outcome", "portfolio"],
        leagues=leagues,
        version=version,
    )


# --- the figures --------------------------------------------------------------------------------


def _mean_se(values: np.ndarray) -> tuple[float | None, float | None]:
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return None, None
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return float(values.mean()), se


def prediction_figures(settled: pl.DataFrame) -> dict[str, tuple[float | None, int]]:
    """The scores of settled predictions (with the market's columns): figure -> (value, n).

    ``settled`` holds ``p_home``/``p_draw``/``p_away``, ``result`` and, from
    :func:`sabiscore_ml.models.evaluation.market_probabilities`, Pinnacle's
    pre-closing and closing probabilities (null where not quoted).
    """
    from sabiscore_ml.models.metrics import (
        expected_calibration_error,
        log_loss_per_match,
        outcome_index,
        rps_per_match,
    )

    n = settled.height
    out: dict[str, tuple[float | None, int]] = {"n": (float(n), n)}
    if n == 0:
        return out
    outcome = outcome_index(settled["result"].to_list())
    model = settled.select("p_home", "p_draw", "p_away").to_numpy().astype(np.float64)
    model_rps = rps_per_match(model, outcome)
    out["rps"] = (float(model_rps.mean()), n)
    out["log_loss"] = (float(log_loss_per_match(model, outcome).mean()), n)
    out["ece"] = (expected_calibration_error(model, outcome), n)
    for name, label in ((MARKET, "market"), (CLOSE, "close")):
        columns = [f"{name}_p_{s}" for s in _OUTCOMES]
        market = settled.select(columns).to_numpy().astype(np.float64)
        have = ~np.isnan(market).any(axis=1)
        k = int(have.sum())
        out[f"n_{label}"] = (float(k), k)
        if k == 0:
            continue
        market_rps = rps_per_match(market[have], outcome[have])
        out[f"{label}_rps"] = (float(market_rps.mean()), k)
        if label == "market":
            out["market_log_loss"] = (
                float(log_loss_per_match(market[have], outcome[have]).mean()),
                k,
            )
        mean, se = _mean_se(model_rps[have] - market_rps)
        out[f"rps_minus_{label}"] = (mean, k)
        out[f"rps_minus_{label}_se"] = (se, k)
    return out


def bet_figures(bets: pl.DataFrame, stakes: pl.DataFrame) -> dict[str, tuple[float | None, int]]:
    """CLV and profit of settled value bets (with ``closing``) and of their stakes."""
    out: dict[str, tuple[float | None, int]] = {"n_bets": (float(bets.height), bets.height)}
    if bets.height:
        won = (bets["outcome"].replace_strict(_SIDE) == bets["result"]).to_numpy()
        price = bets["price"].to_numpy().astype(np.float64)
        profit = np.where(won, price - 1.0, -1.0)
        out["flat_profit"] = (float(profit.sum()), bets.height)
        out["flat_roi"] = (float(profit.mean()), bets.height)
        clv = (bets["price"] / bets["closing"] - 1.0).to_numpy().astype(np.float64)
        k = int((~np.isnan(clv)).sum())
        mean, se = _mean_se(clv)
        out["n_clv"] = (float(k), k)
        out["clv"] = (mean, k)
        out["clv_se"] = (se, k)
    if stakes.height:
        won = (stakes["outcome"].replace_strict(_SIDE) == stakes["result"]).to_numpy()
        price = stakes["price"].to_numpy().astype(np.float64)
        stake = stakes["stake"].to_numpy().astype(np.float64)
        profit = np.where(won, stake * (price - 1.0), -stake)
        turnover = float(stake.sum())
        out["staked_profit"] = (float(profit.sum()), stakes.height)
        out["staked_turnover"] = (turnover, stakes.height)
        out["staked_roi"] = (
            float(profit.sum()) / turnover if turnover > 0 else None,
            stakes.height,
        )
    return out


def early_clv_figures(bets: pl.DataFrame) -> dict[str, tuple[float | None, int]]:
    """The early CLV of value bets (``early_clv`` of :func:`bet_clv`): mean, its se, and n.

    The price taken against the latest pre-closing prices seen after the run,
    before kick-off: known while the matches are still to be played.
    """
    values = bets["early_clv"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    k = int((~np.isnan(values)).sum())
    mean, se = _mean_se(values.astype(np.float64))
    return {"n_early_clv": (float(k), k), "early_clv": (mean, k), "early_clv_se": (se, k)}


def population_stability(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of ``current`` against ``reference``: Σ (c − r) · ln(c / r) over reference bins.

    The bins are the reference's quantiles (``bins`` of them, merged where
    values repeat); a missing value (NaN) is a bin of its own.  Each bin's count
    gets 0.5 added (Jeffreys smoothing) before the shares are taken, so an empty
    bin counts as a small share rather than making the index infinite; on a
    small sample the index is still noisy, which is why a breach needs
    ``SABISCORE_MONITOR_MIN_MATCHES`` published matches.
    """
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    ref_known, cur_known = reference[~np.isnan(reference)], current[~np.isnan(current)]
    inner = (
        np.unique(np.quantile(ref_known, np.linspace(0, 1, bins + 1)[1:-1]))
        if len(ref_known)
        else np.array([])
    )

    def shares(values: np.ndarray, known: np.ndarray) -> np.ndarray:
        counts = np.bincount(np.searchsorted(inner, known, side="right"), minlength=len(inner) + 1)
        counts = np.append(counts, len(values) - len(known)).astype(np.float64)
        return (counts + _SMOOTHING) / (len(values) + _SMOOTHING * len(counts))

    r, c = shares(reference, ref_known), shares(current, cur_known)
    return float(np.sum((c - r) * np.log(c / r)))


def drivers_frame(predictions: pl.DataFrame, top: int) -> tuple[list[str], pl.DataFrame]:
    """The ``top`` most important features published as drivers, and their values per match.

    The importance of a feature is the one its drivers carry (the model's
    global importance) or, for per-match drivers, the mean over the published
    matches of the largest move it gave an outcome's log-probability from the
    market's (``contribution``); answers the names (most important first) and
    ``match_id`` with a column per feature (null where the prediction gave none
    or no value).
    """
    importance: dict[str, float] = {}
    moves: dict[str, list[float]] = {}
    rows: list[dict[str, Any]] = []
    for match_id, text in zip(
        predictions["match_id"].to_list(), predictions["drivers_json"].to_list(), strict=True
    ):
        row: dict[str, Any] = {"match_id": match_id}
        for driver in json.loads(text) if text else []:
            name = driver.get("feature")
            if not isinstance(name, str):
                continue
            weight = driver.get("importance")
            if isinstance(weight, int | float):
                importance[name] = max(importance.get(name, 0.0), float(weight))
            contribution = driver.get("contribution")
            if isinstance(contribution, dict):
                sizes = [abs(v) for v in contribution.values() if isinstance(v, int | float)]
                if sizes:
                    moves.setdefault(name, []).append(max(sizes))
            value = driver.get("value")
            row[name] = float(value) if isinstance(value, int | float) else None
        rows.append(row)
    for name, sizes in moves.items():
        importance.setdefault(name, sum(sizes) / len(predictions))
    names = sorted(importance, key=lambda n: (-importance[n], n))[:top]
    frame = pl.DataFrame(
        [{"match_id": r["match_id"], **{n: r.get(n) for n in names}} for r in rows],
        schema={"match_id": pl.Int64, **dict.fromkeys(names, pl.Float64)},
        orient="row",
    )
    return names, frame


def _reference_rows(
    engine: Engine, leagues: Sequence[str], names: Sequence[str], before: dt.date, days: int
) -> pl.DataFrame:
    """Offline feature rows of ``leagues`` in the ``days`` before ``before`` (the reference)."""
    from feature_store.api import training_frame

    try:
        frame = training_frame(leagues=list(leagues), as_of=before, engine=engine)
    except (OSError, ValueError, RuntimeError, pl.exceptions.PolarsError) as error:
        # no offline store here, or partitions of older feature definitions: no drift figures
        log.warning("drift: no reference feature rows (%s)", error)
        return pl.DataFrame()
    present = [n for n in names if n in frame.columns]
    if frame.is_empty() or not present or "match_date" not in frame.columns:
        log.warning("drift: no reference feature rows of %s before %s", list(leagues), before)
        return pl.DataFrame()
    return frame.filter(pl.col("match_date") >= before - dt.timedelta(days=days)).select(
        "league_code", *(pl.col(n).cast(pl.Float64) for n in present)
    )


def drift_figures(
    current: pl.DataFrame, reference: pl.DataFrame, names: Sequence[str], bins: int
) -> dict[str, tuple[float | None, int]]:
    """``psi:<feature>`` of each feature present in both, and ``psi_max``."""
    out: dict[str, tuple[float | None, int]] = {}
    if current.height == 0 or reference.height == 0:
        return out
    largest: float | None = None
    for name in names:
        if name not in reference.columns or name not in current.columns:
            continue
        psi = population_stability(
            reference[name].to_numpy().astype(np.float64),
            current[name].to_numpy().astype(np.float64),
            bins,
        )
        out[f"psi:{name}"] = (psi, current.height)
        largest = psi if largest is None else max(largest, psi)
    if largest is not None:
        out["psi_max"] = (largest, current.height)
    return out


# --- thresholds ---------------------------------------------------------------------------------


def thresholds(settings: MonitorSettings) -> dict[str, tuple[str, float, str]]:
    """Per figure: (direction, threshold, what its ``n`` must reach: ``matches`` or ``bets``)."""
    return {
        "rps_minus_market": ("above", settings.max_rps_minus_market, "matches"),
        "ece": ("above", settings.max_ece, "matches"),
        "clv": ("below", settings.min_clv, "bets"),
        "psi_max": ("above", settings.max_psi, "matches"),
    }


def _check(figure: Figure, settings: MonitorSettings) -> tuple[Figure, Breach | None]:
    rule = thresholds(settings).get(figure.figure)
    if rule is None or figure.value is None or not math.isfinite(figure.value):
        return figure, None
    direction, limit, unit = rule
    least = settings.min_matches if unit == "matches" else settings.min_bets
    if figure.n < least:
        return figure, None
    crossed = figure.value > limit if direction == "above" else figure.value < limit
    checked = Figure(**{**figure.__dict__, "threshold": limit, "breached": crossed})
    if not crossed:
        return checked, None
    breach = Breach(
        figure.model_version,
        figure.league_code,
        figure.window,
        figure.figure,
        figure.value,
        limit,
        figure.n,
        direction,
    )
    return checked, breach


# --- the job ------------------------------------------------------------------------------------


def _windows(
    settled_dates: pl.Series, days: int
) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """``all`` (every settled match) and ``<days>d`` (the last days up to the latest one)."""
    if settled_dates.is_empty():
        return [(ALL, None, None), (f"{days}d", None, None)]
    first, last = settled_dates.min(), settled_dates.max()
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    return [(ALL, first, last), (f"{days}d", last - dt.timedelta(days=days - 1), last)]


def _in(
    frame: pl.DataFrame, league: str, start: dt.date | None, end: dt.date | None
) -> pl.DataFrame:
    if league != ALL:
        frame = frame.filter(pl.col("league_code") == league)
    if start is not None and end is not None:
        frame = frame.filter(pl.col("match_date").is_between(start, end))
    return frame


def _closing(engine: Engine, bets: pl.DataFrame) -> pl.DataFrame:
    """Margin-free closing prices per match and outcome (``match_id``, ``outcome``, ``closing``)."""
    from sabiscore_ml.prices import closing_fair_prices

    schema = {"match_id": pl.Int64, "outcome": pl.String, "closing": pl.Float64}
    if bets.is_empty():
        return pl.DataFrame(schema=schema)
    closing = closing_fair_prices(engine, bets["match_id"].unique().to_list())
    return (
        closing.unpivot(
            index="match_id",
            on=[f"closing_{o}" for o in _OUTCOMES],
            variable_name="outcome",
            value_name="closing",
        )
        .with_columns(pl.col("outcome").str.strip_prefix("closing_"))
        .select(pl.col(c).cast(t) for c, t in schema.items())
    )


CLV_SCHEMA: dict[str, Any] = {
    "run_id": pl.String,
    "match_id": pl.Int64,
    "market": pl.String,
    "outcome": pl.String,
    "bookmaker": pl.String,
    "price_taken": pl.Float64,
    "latest_source": pl.String,
    "latest_price": pl.Float64,
    "latest_taken_at": pl.Datetime("us"),
    "early_clv": pl.Float64,
    "closing_source": pl.String,
    "closing_price": pl.Float64,
    "clv": pl.Float64,
}
_FAIR_SOURCES = ("pinnacle", MARKET_AVG)  # as for the closing prices: Pinnacle's, else the average


def _latest_fair(engine: Engine, bets: pl.DataFrame) -> pl.DataFrame:
    """Per run, match and outcome: the fair price of the latest pre-closing prices.

    Those seen after the run was made and before kick-off (``latest_source``,
    ``latest_taken_at``, ``latest_price``): Pinnacle's, else the market
    average's, margin removed as for the closing prices.
    """
    from sabiscore_ml.prices import fair_quotes, read_snapshots

    schema: dict[str, Any] = {
        "run_id": pl.String,
        "match_id": pl.Int64,
        "outcome": pl.String,
        "latest_source": pl.String,
        "latest_taken_at": pl.Datetime("us"),
        "latest_price": pl.Float64,
    }
    if bets.is_empty():
        return pl.DataFrame(schema=schema)
    windows = bets.select(
        "run_id",
        "match_id",
        pl.col("created_at").alias("_after"),
        # a match without a kickoff time: the prices seen before its day ends
        pl.coalesce(
            "kickoff_utc", pl.col("match_date").cast(pl.Datetime("us")) + pl.duration(days=1)
        ).alias("_before"),
    ).unique(["run_id", "match_id"])
    snapshots = read_snapshots(
        engine, windows["match_id"].unique().to_list(), bookmakers=_FAIR_SOURCES
    )
    seen = (
        windows.join(snapshots, on="match_id")
        .filter((pl.col("taken_at") > pl.col("_after")) & (pl.col("taken_at") < pl.col("_before")))
        .filter(
            pl.col("taken_at") == pl.col("taken_at").max().over("run_id", "match_id", "bookmaker")
        )
    )
    if seen.is_empty():
        return pl.DataFrame(schema=schema)
    fair = fair_quotes(
        seen.select("run_id", "match_id", "bookmaker", "taken_at", "outcome", "price"),
        by=("run_id", "match_id", "bookmaker", "taken_at"),
    )
    rank = pl.when(pl.col("bookmaker") == "pinnacle").then(0).otherwise(1)
    chosen = (
        fair.select("run_id", "match_id", "bookmaker", "taken_at")
        .unique()
        .sort("run_id", "match_id", rank)
        .unique(["run_id", "match_id"], keep="first", maintain_order=True)
    )
    return fair.join(chosen, on=["run_id", "match_id", "bookmaker", "taken_at"]).select(
        pl.col("run_id").cast(pl.String),
        pl.col("match_id").cast(pl.Int64),
        pl.col("outcome").cast(pl.String),
        pl.col("bookmaker").cast(pl.String).alias("latest_source"),
        pl.col("taken_at").cast(pl.Datetime("us")).alias("latest_taken_at"),
        (1.0 / pl.col("p")).alias("latest_price"),
    )


def bet_clv(
    engine: Engine, *, model_name: str, leagues: Sequence[str] = (), version: str | None = None
) -> pl.DataFrame:
    """The CLV of every published 1X2 value bet of every run (:data:`CLV_SCHEMA`).

    ``early_clv``: ``price_taken / latest_price - 1``, against the latest
    pre-closing prices seen after the run and before kick-off (known as soon as
    a later copy of the prices arrives; null before); ``clv``:
    ``price_taken / closing_price - 1``, the CLV of the monitor's figures
    (null until the closing prices are loaded).  Fair prices as
    :func:`sabiscore_ml.prices.closing_fair_prices` makes them.
    """
    from sabiscore_ml.prices import closing_fair_prices

    bets = published_value_bets(
        engine, model_name=model_name, leagues=leagues, version=version, every_run=True
    )
    if bets.is_empty():
        return pl.DataFrame(schema=CLV_SCHEMA)
    closing = closing_fair_prices(engine, bets["match_id"].unique().to_list())
    closing = closing.unpivot(
        index=["match_id", "closing_source"],
        on=[f"closing_{o}" for o in _OUTCOMES],
        variable_name="outcome",
        value_name="closing_price",
    ).with_columns(pl.col("outcome").str.strip_prefix("closing_"))
    frame = (
        bets.join(_latest_fair(engine, bets), on=["run_id", "match_id", "outcome"], how="left")
        .join(closing, on=["match_id", "outcome"], how="left")
        .with_columns(
            pl.lit("1x2").alias("market"),
            pl.col("price").alias("price_taken"),
            (pl.col("price") / pl.col("latest_price") - 1.0).alias("early_clv"),
            (pl.col("price") / pl.col("closing_price") - 1.0).alias("clv"),
        )
    )
    return frame.select(pl.col(c).cast(t) for c, t in CLV_SCHEMA.items()).sort(
        "run_id", "match_id", "outcome"
    )


def store_bet_clv(engine: Engine, clv: pl.DataFrame, computed_at: dt.datetime) -> int:
    """Replace the ``run_bet_clv`` rows of the runs and matches in ``clv`` (one transaction).

    A computation of some leagues (or one model version) leaves the others' rows.
    """
    if clv.is_empty():
        return 0
    rows = [
        {
            **{
                k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in row.items()
            },
            "computed_at": computed_at,
        }
        for row in clv.iter_rows(named=True)
    ]
    matches = clv.group_by("run_id").agg(pl.col("match_id").unique().sort()).sort("run_id")
    with engine.begin() as connection:
        for run_id, ids in matches.iter_rows():
            connection.execute(
                delete(RunBetClv).where(RunBetClv.run_id == run_id, RunBetClv.match_id.in_(ids))
            )
        connection.execute(insert(RunBetClv), rows)
    return len(rows)


def compute_figures(
    engine: Engine,
    request: MonitorRequest,
    settings: MonitorSettings,
    *,
    model_name: str,
    clv: pl.DataFrame | None = None,
) -> tuple[list[Figure], int, int]:
    """Every figure of every model version, league and window; and the settled counts.

    ``clv``: :func:`bet_clv` (computed here when not given).
    """
    from sabiscore_ml.models.evaluation import market_probabilities

    days = request.window_days or settings.window_days
    leagues, only = request.leagues, request.model_version
    if clv is None:
        clv = bet_clv(engine, model_name=model_name, leagues=leagues, version=only)
    predictions = published_predictions(
        engine, model_name=model_name, leagues=leagues, version=only
    )
    settled = predictions.filter(pl.col("result").is_in(list(_SIDE.values())))
    market_columns = [f"{m}_p_{s}" for m in (MARKET, CLOSE) for s in _OUTCOMES]
    if settled.height:
        markets = market_probabilities(engine, settled["match_id"].unique().to_list())
        settled = settled.join(markets, on="match_id", how="left")
    else:
        settled = settled.with_columns(pl.lit(None, pl.Float64).alias(c) for c in market_columns)
    bets = published_value_bets(
        engine, model_name=model_name, leagues=leagues, version=only
    ).filter(pl.col("result").is_not_null())
    stakes = published_stakes(engine, model_name=model_name, leagues=leagues, version=only).filter(
        pl.col("result").is_not_null()
    )
    bets = bets.join(_closing(engine, bets), on=["match_id", "outcome"], how="left")
    # the early CLV of the bets the figures speak of, the latest run's, played or not
    early = _latest_run(
        clv.join(
            published_value_bets(engine, model_name=model_name, leagues=leagues, version=only),
            on=["run_id", "match_id", "outcome"],
        ),
        ["model_version", "match_id", "outcome"],
    )
    figures: list[Figure] = []
    for version in sorted(predictions["model_version"].unique().to_list()):
        published = predictions.filter(pl.col("model_version") == version)
        scored = settled.filter(pl.col("model_version") == version)
        version_bets = bets.filter(pl.col("model_version") == version)
        version_stakes = stakes.filter(pl.col("model_version") == version)
        version_early = early.filter(pl.col("model_version") == version)
        names, drivers = drivers_frame(published, settings.drift_features)
        current = published.select("match_id", "league_code", "match_date").join(
            drivers, on="match_id", how="left"
        )
        first_as_of = published["as_of"].min()  # the version's first published run
        assert isinstance(first_as_of, dt.date)
        published_leagues = sorted(published["league_code"].unique().to_list())
        reference = (
            _reference_rows(
                engine, published_leagues, names, first_as_of, settings.drift_reference_days
            )
            if names
            else pl.DataFrame()
        )
        groups = [ALL, *published_leagues]
        for window, start, end in _windows(scored["match_date"], days):
            for league in groups:
                values: dict[str, tuple[float | None, int]] = {}
                values |= prediction_figures(_in(scored, league, start, end))
                values |= bet_figures(
                    _in(version_bets, league, start, end), _in(version_stakes, league, start, end)
                )
                # the whole history: every bet published, its match played or not
                bounds = (None, None) if window == ALL else (start, end)
                values |= early_clv_figures(_in(version_early, league, *bounds))
                if reference.height:
                    ref = (
                        reference
                        if league == ALL
                        else reference.filter(pl.col("league_code") == league)
                    )
                    # every published match of the league (settled or not) in the whole
                    # history; the settled ones of the window in a rolling window
                    cur = _in(current, league, *((None, None) if window == ALL else (start, end)))
                    values |= drift_figures(cur, ref, names, settings.drift_bins)
                    values["n_reference"] = (float(ref.height), ref.height)
                for name, (value, n) in values.items():
                    figures.append(Figure(version, league, window, start, end, name, value, n))
    return figures, settled.height, bets.height


def store_figures(
    engine: Engine, figures: Iterable[Figure], computed_at: dt.datetime, model_name: str
) -> int:
    """Insert the figures of one computation in one transaction; returns the rows written."""
    rows = [
        {
            "computed_at": computed_at,
            "model_name": model_name,
            "model_version": f.model_version,
            "league_code": f.league_code,
            "window_name": f.window,
            "window_start": f.window_start,
            "window_end": f.window_end,
            "figure": f.figure,
            "value": None if f.value is None or not math.isfinite(f.value) else float(f.value),
            "n": int(f.n),
            "threshold": f.threshold,
            "breached": f.breached,
        }
        for f in figures
    ]
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(MonitorFigure), rows)
    return len(rows)


def log_to_mlflow(
    figures: Sequence[Figure], breaches: Sequence[Breach], computed_at: dt.datetime, model_name: str
) -> dict[str, str]:
    """A run per model version in the ``monitor`` experiment; ``monitor.*`` tags on the version.

    Metrics are named ``<league>.<window>.<figure>`` (``:`` of ``psi:<feature>``
    written ``.``); returns version -> MLflow run id.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from sabiscore_ml.models import registry

    registry.use_mlflow_store()
    experiment_id = registry.experiment("monitor")
    runs: dict[str, str] = {}
    stamp = computed_at.isoformat(timespec="seconds") + "Z"
    for version in sorted({f.model_version for f in figures}):
        mine = [f for f in figures if f.model_version == version]
        crossed = [b.message for b in breaches if b.model_version == version]
        metrics = {
            f"{f.league_code}.{f.window}.{f.figure.replace(':', '.')}": float(f.value)
            for f in mine
            if f.value is not None and math.isfinite(f.value)
        }
        tags = {
            "sabiscore.job": "monitor",
            "model.name": model_name,
            "model.version": version,
            "monitor.computed_at": stamp,
            "monitor.breaches": str(len(crossed)),
        }
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"monitor v{version} {stamp}", tags=tags
        ) as run:
            mlflow.log_metrics(metrics)
            if crossed:
                mlflow.log_text("\n".join(crossed) + "\n", "breaches.txt")
            runs[version] = run.info.run_id
        try:
            client = registry.client()
            client.set_model_version_tag(model_name, version, "monitor.computed_at", stamp)
            client.set_model_version_tag(model_name, version, "monitor.run_id", run.info.run_id)
            client.set_model_version_tag(model_name, version, "monitor.breaches", str(len(crossed)))
        except MlflowException as error:  # a version registered elsewhere (or deleted)
            log.warning("monitor: model version %s not tagged: %s", version, error)
    return runs


def breach_entries(breaches: Sequence[Breach], computed_at: dt.datetime) -> list[dict[str, str]]:
    """The alert-stream entries of the breaches.

    Field values as text, and ``document``: the breach as an encoded JSON object
    (what ``GET /v1/stream`` sends as a ``monitor_breach`` event).
    """
    from sabiscore_ml.publish.contract import EVENT_DOCUMENT, encode_document

    stamp = computed_at.isoformat(timespec="seconds") + "Z"
    return [
        {
            EVENT_DOCUMENT: encode_document(
                {
                    "kind": BREACH_KIND,
                    "league_code": b.league_code,
                    "window": b.window,
                    "figure": b.figure,
                    "value": b.value,
                    "threshold": b.threshold,
                    "direction": b.direction,
                    "n": b.n,
                    "model_version": b.model_version,
                    "computed_at": stamp,
                    "message": b.message,
                }
            ).decode(),
            "kind": BREACH_KIND,
            "league_code": b.league_code,
            "window": b.window,
            "figure": b.figure,
            "value": f"{b.value:.6f}",
            "threshold": f"{b.threshold:.6f}",
            "direction": b.direction,
            "n": str(b.n),
            "model_version": b.model_version,
            "computed_at": stamp,
            "message": b.message,
        }
        for b in breaches
    ]


def send_alerts(
    client: Any, prefix: str, breaches: Sequence[Breach], computed_at: dt.datetime
) -> int:
    """Add one alert-stream entry per breach (``XADD`` with the stream's ``MAXLEN``)."""
    from sabiscore_ml.publish.contract import alerts_key
    from sabiscore_ml.settings import get_publish_settings

    maxlen = get_publish_settings().alerts_maxlen
    entries = breach_entries(breaches, computed_at)
    if not entries:
        return 0
    pipe = client.pipeline(transaction=True)
    for entry in entries:
        pipe.xadd(alerts_key(prefix), entry, maxlen=maxlen, approximate=True)
    pipe.execute()
    return len(entries)


def monitor(
    request: MonitorRequest | None = None,
    *,
    engine: Engine | None = None,
    redis_client: Any = None,
    progress: Progress | None = None,
) -> MonitorReport:
    """Score what was published, store and log the figures, alert and fail on a breach.

    ``redis_client``: where breaches are alerted (default: a client of
    ``SABISCORE_REDIS_URL`` when it is set, none otherwise).  Raises
    :class:`MonitorBreach` after storing, logging and alerting when a figure
    crossed its threshold and ``request.fail_on_breach``.
    """
    request = request or MonitorRequest()
    say = progress or (lambda message: log.info(message))
    engine = engine or get_engine()
    settings = get_monitor_settings()
    model_name = get_model_settings().name
    computed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clv = bet_clv(
        engine, model_name=model_name, leagues=request.leagues, version=request.model_version
    )
    stored_clv = store_bet_clv(engine, clv, computed_at)
    raw, settled, n_bets = compute_figures(
        engine, request, settings, model_name=model_name, clv=clv
    )
    figures: list[Figure] = []
    breaches: list[Breach] = []
    for figure in raw:
        checked, breach = _check(figure, settings)
        figures.append(checked)
        if breach is not None:
            breaches.append(breach)
    written = store_figures(engine, figures, computed_at, model_name)
    say(
        f"monitor: {settled} settled published prediction(s), {n_bets} value bet(s); "
        f"{written} figure(s) and the CLV of {stored_clv} published bet(s) stored as of "
        f"{computed_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    report = MonitorReport(computed_at, figures, breaches, settled, n_bets)
    if request.log_mlflow and figures:
        report.mlflow_runs = log_to_mlflow(figures, breaches, computed_at, model_name)
    if breaches:
        report.alerts = _alert(breaches, computed_at, redis_client)
        for breach in breaches:
            say(f"monitor: breach: {breach.message}")
        if request.fail_on_breach:
            raise MonitorBreach(breaches, report)
    return report


def _alert(breaches: Sequence[Breach], computed_at: dt.datetime, redis_client: Any) -> int:
    from sabiscore_ml.settings import get_redis_settings

    prefix = get_redis_settings().redis_prefix
    if redis_client is not None:
        return send_alerts(redis_client, prefix, breaches, computed_at)
    from feature_store.online import redis_client as configured_client

    client = configured_client()
    if client is None:
        log.warning("monitor: no Redis configured; %d breach(es) not alerted", len(breaches))
        return 0
    try:
        return send_alerts(client, prefix, breaches, computed_at)
    finally:
        client.close()
