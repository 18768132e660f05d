"""Confirmed edges: how much of a stated edge the closing line has confirmed.

A model's *stated* edge (``p_model × price − 1``) is what the model claims; the
closing-line value of the same bet (``price × p_close − 1``, ``p_close`` the
margin-free Pinnacle closing probability) is what the market confirmed by
kick-off.  On the model's walk-forward value bets the two differ about
six-fold (``bench/README.md``), so stakes sized on the stated edge are six
times too large.

:class:`EdgeModel` learns, from earlier seasons only, the closing-line value
to expect of an outcome given two things known before the bet: its stated edge
and its *market edge* (``price × p_market − 1``, the price taken against the
margin-free pre-closing probability of the market, Pinnacle's by default).  It
is a least-squares regression of CLV on both, fitted once over every training
outcome and once per price band, each band's coefficients pulled towards the
overall ones (partial pooling: a Gaussian prior centred on the overall fit and
worth :data:`POOLING` outcomes of the band), so a thin band borrows from the
others and a thick one speaks for itself.  Both features and the CLV are
clipped (:data:`FEATURE_CLIP`, :data:`CLV_CLIP`) so that a few stale long-shot
prices do not steer the fit.  Where the market probability is missing the
stated edge alone is used (a second fit of the same form).

The *confirmed edge* of an outcome is that prediction; it decides the value
bets and sizes the stakes (:class:`~sabiscore_ml.betting.edges.ValueBetRules`
with an ``edge_model``).  The evidence is ``supported`` only when the training
outcomes' CLV is positive by two standard errors; otherwise nothing is a value
bet (``excluded_by = "no_evidence"``).

The model is a small JSON document (:meth:`EdgeModel.to_dict`,
:func:`save_edge_model`, :func:`load_edge_model`): the bankroll backtest learns
it from the walk-forward predictions of the model and stores it in the home
(:func:`edge_model_path`), where the live prediction job reads it.  The mapping
speaks for the model whose predictions were walked (the document's ``context``
names the file, leagues, seasons and model version when given): after a
retrain that changes the model, walk it again before trusting the stored one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

#: Lower bounds of the price bands after ``[1,1.5)`` (from the last: ``>=5``).
PRICE_BANDS = (1.5, 2.0, 3.0, 5.0)
#: The prior weight of the overall fit in each price band's, in outcomes.
POOLING = 2000.0
#: Features (stated and market edge) and CLV are clipped to these before fitting.
FEATURE_CLIP = (-0.2, 0.5)
CLV_CLIP = (-0.5, 1.0)
#: Standard errors by which the training CLV must be positive for the evidence to count.
EVIDENCE_SE = 2.0
#: The JSON document's version.
FORMAT = 1


def price_band_labels() -> list[str]:
    """``[1,1.5)``, ``[1.5,2)``, ``[2,3)``, ``[3,5)``, ``>=5``."""
    inner = [f"[{lo:g},{hi:g})" for lo, hi in zip(PRICE_BANDS, PRICE_BANDS[1:], strict=False)]
    return [f"[1,{PRICE_BANDS[0]:g})", *inner, f">={PRICE_BANDS[-1]:g}"]


PRICE_BAND_LABELS = price_band_labels()


def price_band_expr(column: str = "price") -> pl.Expr:
    """The price band of ``column`` as a polars expression (left-closed bands)."""
    expr: pl.Expr = pl.lit(PRICE_BAND_LABELS[0])
    for bound, label in zip(PRICE_BANDS, PRICE_BAND_LABELS[1:], strict=True):
        expr = pl.when(pl.col(column) >= bound).then(pl.lit(label)).otherwise(expr)
    return expr


@dataclass(frozen=True)
class EdgeFit:
    """One regression of CLV: ``intercept + stated × stated_edge (+ market × market_edge)``."""

    intercept: float
    stated: float
    market: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """The coefficients as JSON values."""
        return {
            "intercept": self.intercept,
            "stated": self.stated,
            "market": self.market,
            "n": self.n,
        }

    @staticmethod
    def from_dict(values: dict[str, Any]) -> EdgeFit:
        """From :meth:`to_dict`."""
        return EdgeFit(
            float(values["intercept"]),
            float(values["stated"]),
            float(values["market"]),
            int(values["n"]),
        )


@dataclass(frozen=True)
class EdgeModel:
    """The learned mapping from stated (and market) edge to the edge the close confirms.

    ``overall`` and ``bands`` (price band label → fit) use both edges;
    ``stated_only`` and ``stated_bands`` the stated edge alone, for outcomes
    without a market probability.  ``seasons``: the seasons learned from;
    ``n``: training outcomes; ``clv_mean`` and ``clv_se``: their CLV.
    """

    seasons: tuple[str, ...]
    n: int
    clv_mean: float
    clv_se: float
    overall: EdgeFit
    bands: tuple[tuple[str, EdgeFit], ...]
    stated_only: EdgeFit
    stated_bands: tuple[tuple[str, EdgeFit], ...]
    pooling: float = POOLING

    @property
    def supported(self) -> bool:
        """Whether the training outcomes beat the close by :data:`EVIDENCE_SE` standard errors."""
        return bool(
            math.isfinite(self.clv_mean)
            and math.isfinite(self.clv_se)
            and self.clv_mean - EVIDENCE_SE * self.clv_se > 0.0
        )

    def statement(self) -> str:
        """One sentence on the evidence, for the published rules."""
        span = f"{self.seasons[0]} to {self.seasons[-1]}" if self.seasons else "no season"
        verdict = "supports an edge" if self.supported else "does not support an edge"
        return (
            f"closing-line value of {self.n:,} earlier outcomes ({span}): "
            f"{self.clv_mean:+.2%} ± {self.clv_se:.2%}, which {verdict}"
        )

    def confirmed(self, frame: pl.DataFrame) -> pl.Series:
        """The confirmed edge of each row (``edge``, ``price``, ``p_market``); null: no price."""
        stated = pl.col("edge").clip(*FEATURE_CLIP)
        market = (pl.col("price") * pl.col("p_market") - 1.0).clip(*FEATURE_CLIP)
        band = price_band_expr("price")
        with_market = _predict(stated, market, band, self.overall, self.bands)
        without = _predict(stated, pl.lit(0.0), band, self.stated_only, self.stated_bands)
        expr = (
            pl.when(pl.col("edge").is_null() | pl.col("price").is_null())
            .then(None)
            .when(pl.col("p_market").is_null())
            .then(without)
            .otherwise(with_market)
        )
        return frame.select(expr.cast(pl.Float64).alias("confirmed_edge")).to_series()

    def describe(self) -> dict[str, Any]:
        """What the published rules say of the model (a JSON object)."""
        return {
            "basis": "closing-line value learned on earlier seasons",
            "seasons": list(self.seasons),
            "n": self.n,
            "clv_mean": self.clv_mean,
            "clv_se": self.clv_se,
            "supported": self.supported,
            "statement": self.statement(),
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole model as a JSON object (:func:`edge_model_from_dict` reads it back)."""
        return {
            "format": FORMAT,
            "seasons": list(self.seasons),
            "n": self.n,
            "clv_mean": self.clv_mean,
            "clv_se": self.clv_se,
            "pooling": self.pooling,
            "overall": self.overall.to_dict(),
            "bands": {k: v.to_dict() for k, v in self.bands},
            "stated_only": self.stated_only.to_dict(),
            "stated_bands": {k: v.to_dict() for k, v in self.stated_bands},
        }


def _predict(
    stated: pl.Expr,
    market: pl.Expr,
    band: pl.Expr,
    overall: EdgeFit,
    bands: Sequence[tuple[str, EdgeFit]],
) -> pl.Expr:
    def of(fit: EdgeFit) -> pl.Expr:
        return fit.intercept + fit.stated * stated + fit.market * market

    expr = of(overall)
    for label, fit in bands:
        expr = pl.when(band == label).then(of(fit)).otherwise(expr)
    return expr


def _bands(values: dict[str, Any]) -> tuple[tuple[str, EdgeFit], ...]:
    """Band fits in the order of :data:`PRICE_BAND_LABELS`."""
    unknown = set(values) - set(PRICE_BAND_LABELS)
    if unknown:
        raise ValueError(f"unknown price bands {sorted(unknown)}")
    return tuple((k, EdgeFit.from_dict(values[k])) for k in PRICE_BAND_LABELS if k in values)


def edge_model_from_dict(values: dict[str, Any]) -> EdgeModel:
    """An :class:`EdgeModel` from :meth:`EdgeModel.to_dict`."""
    if values.get("format") != FORMAT:
        raise ValueError(f"edge model format {values.get('format')!r}, expected {FORMAT}")
    return EdgeModel(
        seasons=tuple(values["seasons"]),
        n=int(values["n"]),
        clv_mean=float(values["clv_mean"]),
        clv_se=float(values["clv_se"]),
        overall=EdgeFit.from_dict(values["overall"]),
        bands=_bands(values["bands"]),
        stated_only=EdgeFit.from_dict(values["stated_only"]),
        stated_bands=_bands(values["stated_bands"]),
        pooling=float(values["pooling"]),
    )


def _solve(
    x: np.ndarray, y: np.ndarray, prior: np.ndarray | None, weight: np.ndarray
) -> np.ndarray:
    """Least squares of ``y`` on ``x``; with a prior mean, ridge towards it by ``weight``."""
    a = x.T @ x
    b = x.T @ y
    if prior is not None:
        a = a + weight
        b = b + weight @ prior
    # lstsq: the minimum-norm answer when the two edges are the same column (the market as model)
    solution, *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.asarray(solution, dtype=float)


def _fits(
    x: np.ndarray, y: np.ndarray, bands: np.ndarray, pooling: float
) -> tuple[EdgeFit, tuple[tuple[str, EdgeFit], ...]]:
    overall = _solve(x, y, None, np.zeros((x.shape[1], x.shape[1])))
    second_moment = (x.T @ x) / len(x)
    per_band = []
    for label in PRICE_BAND_LABELS:
        mask = bands == label
        if not mask.any():
            continue
        beta = _solve(x[mask], y[mask], overall, pooling * second_moment)
        per_band.append((label, _fit(beta, int(mask.sum()))))
    return _fit(overall, len(x)), tuple(per_band)


def _fit(beta: np.ndarray, n: int) -> EdgeFit:
    market = float(beta[2]) if len(beta) > 2 else 0.0
    return EdgeFit(float(beta[0]), float(beta[1]), market, n)


def fit_edge_model(training: pl.DataFrame, *, pooling: float = POOLING) -> EdgeModel | None:
    """Learn the mapping from outcomes whose CLV is known (None: no such outcome).

    ``training``: one row per outcome with ``season``, ``edge`` (stated),
    ``price``, ``p_market`` (may be null) and ``clv`` (rows without it are
    left out).  The caller chooses the outcomes (those its rules could bet:
    see :func:`training_outcomes`) and the seasons (earlier ones only).
    """
    rows = training.filter(
        pl.col("clv").is_not_null() & pl.col("edge").is_not_null() & pl.col("price").is_not_null()
    )
    if rows.height < 2:
        return None
    rows = rows.with_columns(
        pl.col("edge").clip(*FEATURE_CLIP).alias("_stated"),
        (pl.col("price") * pl.col("p_market") - 1.0).clip(*FEATURE_CLIP).alias("_market"),
        pl.col("clv").clip(*CLV_CLIP).alias("_clv"),
        price_band_expr("price").alias("_band"),
    )
    clv = np.sort(rows["clv"].to_numpy())
    clv_mean = float(clv.mean())
    clv_se = float(clv.std(ddof=1) / math.sqrt(len(clv)))
    full = rows.filter(pl.col("_market").is_not_null())
    if full.height >= 2:
        x = np.column_stack(
            [np.ones(full.height), full["_stated"].to_numpy(), full["_market"].to_numpy()]
        )
        overall, bands = _fits(x, full["_clv"].to_numpy(), full["_band"].to_numpy(), pooling)
    x1 = np.column_stack([np.ones(rows.height), rows["_stated"].to_numpy()])
    stated_only, stated_bands = _fits(
        x1, rows["_clv"].to_numpy(), rows["_band"].to_numpy(), pooling
    )
    if full.height < 2:
        overall, bands = stated_only, stated_bands
    return EdgeModel(
        seasons=tuple(sorted(rows["season"].unique().to_list())),
        n=rows.height,
        clv_mean=clv_mean,
        clv_se=clv_se,
        overall=overall,
        bands=bands,
        stated_only=stated_only,
        stated_bands=stated_bands,
        pooling=pooling,
    )


def training_outcomes(*, min_probability: float, max_price: float, min_bookmakers: int) -> pl.Expr:
    """Which outcomes an edge model learns from: a positive stated edge within the guards.

    A filter on rows of :func:`~sabiscore_ml.betting.edges.match_edges`.
    """
    return (
        (pl.col("edge") > 0.0)
        & (pl.col("p_model") >= min_probability)
        & (pl.col("price") <= max_price)
        & (pl.col("n_bookmakers") >= min_bookmakers)
    )


def with_clv(edges: pl.DataFrame, closing: pl.DataFrame | None) -> pl.DataFrame:
    """``edges`` with ``clv``: ``price / closing − 1`` at the margin-free closing price.

    ``closing``: :func:`sabiscore_ml.prices.closing_fair_prices` (``None`` or
    empty: every CLV null).
    """
    if closing is None or closing.is_empty():
        return edges.with_columns(pl.lit(None, pl.Float64).alias("clv"))
    fair = closing.unpivot(
        index=["match_id"],
        on=[c for c in closing.columns if c.startswith("closing_") and c != "closing_source"],
        variable_name="outcome",
        value_name="_closing",
    ).with_columns(
        pl.col("match_id").cast(pl.Int64), pl.col("outcome").str.strip_prefix("closing_")
    )
    return (
        edges.join(fair, on=["match_id", "outcome"], how="left")
        .with_columns((pl.col("price") / pl.col("_closing") - 1.0).alias("clv"))
        .drop("_closing")
    )


def edge_model_path(home: Path) -> Path:
    """Where the live prediction job finds the learned model: ``<home>/betting/edge_model.json``."""
    return home / "betting" / "edge_model.json"


def save_edge_model(model: EdgeModel, path: Path, **context: Any) -> Path:
    """Write ``model`` (and ``context``: leagues, predictions, model version...) as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**model.to_dict(), "context": context}
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    return path


def load_edge_model(path: Path) -> EdgeModel | None:
    """The model stored at ``path``, or None when there is none."""
    if not path.exists():
        return None
    values = json.loads(path.read_text())
    return edge_model_from_dict(values)
