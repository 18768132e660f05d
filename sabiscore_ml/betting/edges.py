"""Edges: what a model's probabilities are worth at the prices on offer.

**The edge** of a bet is its expected value per unit staked at the price we
would actually take::

    edge = p_model × price − 1

``price`` is the decimal price chosen by :class:`PriceChoice`: the best one on
offer, the market average, or one named bookmaker's.  A positive edge means the
bet makes money on average if the model's probability is right; it already
accounts for the bookmaker's margin, since it is computed at the price paid.

Reported next to it, ``prob_edge = p_model − p_market``: how far the model's
probability stands from the margin-free market probability
(:class:`MarketProbability`: which prices, and which de-margining method of
:mod:`sabiscore_ml.odds`).  ``prob_edge`` measures disagreement with the
market; only ``edge`` decides whether a bet is worth making.

**A value bet** is an outcome whose edge is at least the threshold (default
0.042) and which passes the guards of :class:`ValueBetRules`: the model's
probability at least ``min_probability`` (long shots are where models and
markets are least reliable), the price at most ``max_price``, and at least
``min_bookmakers`` bookmakers quoting the outcome.  An outcome that is not a
value bet names the first rule it fails, in this order (``excluded_by``, with
that rule's value in ``rule_value``): ``no_price`` (nothing quoted),
``edge_threshold``, ``max_price``, ``min_probability``, ``min_bookmakers``.
A +20% edge at a price of 13 is thus ``excluded_by = "max_price"``,
``rule_value = 10``.

**Confirmed edges.**  A stated edge is what the model claims; on the model's
walk-forward value bets the closing line confirmed about a sixth of it.  Rules
with an ``edge_model`` (:class:`~sabiscore_ml.betting.confirmed.EdgeModel`,
learned on earlier seasons' closing-line value) add ``confirmed_edge`` (the
edge the evidence supports) and ``p_confirmed = (1 + confirmed_edge) / price``
(the probability stakes are sized on); the threshold then applies to the
confirmed edge, the stated edge must be positive, and when the model's
evidence does not support an edge at all (:attr:`EdgeModel.supported`) no
outcome is a value bet: ``excluded_by = "no_evidence"``, checked right after
``no_price``.  Rules with ``require_evidence`` and no model publish no value
bet either (no evidence is no support).  ``edge`` stays the stated edge.

Bookmaker ids are the warehouse's (``odds.bookmaker``): ``pinnacle``, ``b365``,
``william_hill``... and two aggregates football-data publishes,
``market_max`` (the best price across many books) and ``market_avg`` (their
average).  The aggregates are never counted as bookmakers quoting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import polars as pl

from sabiscore_ml.betting.confirmed import EdgeModel, edge_model_path, load_edge_model
from sabiscore_ml.odds import METHODS
from sabiscore_ml.prices import (
    AGGREGATES,
    MEAN,
    OUTCOMES,
    PRECLOSE,
    average_prices,
    best_prices,
    fair_quotes,
)

if TYPE_CHECKING:
    import pandas as pd

    #: A polars or a pandas data frame: the betting functions take either.
    Frame: TypeAlias = pl.DataFrame | pd.DataFrame

#: The kind of frame given, which :func:`match_edges` answers in.
F = TypeVar("F", "pl.DataFrame", "pd.DataFrame")

BEST, AVERAGE, CONSENSUS = "best", MEAN, "consensus"
NO_PRICE = "no_price"
NO_EVIDENCE = "no_evidence"
# The rules in the order an outcome is checked against them (the first failed is reported).
EXCLUSION_ORDER: tuple[str, ...] = (
    NO_PRICE,
    "edge_threshold",
    "max_price",
    "min_probability",
    "min_bookmakers",
)


@dataclass(frozen=True)
class PriceChoice:
    """Where the price of a bet is taken.

    ``best``: the highest price quoted, by a bookmaker or as the market
    maximum (at equal prices a named bookmaker is preferred).  ``avg``: the
    published market average, else the mean over the bookmakers quoting.
    Any other value is a bookmaker id (``pinnacle``, ``b365``...): that
    bookmaker's price only.
    """

    source: str = BEST

    def __post_init__(self) -> None:
        if not self.source:
            raise ValueError("a price choice needs a source: best, avg or a bookmaker id")


@dataclass(frozen=True)
class MarketProbability:
    """Which prices give the market's probability, and how the margin comes off.

    ``source``: ``avg`` (the average prices, as for :class:`PriceChoice`),
    ``consensus`` (each bookmaker de-margined, then averaged) or a bookmaker
    id.  ``method``: one of :data:`sabiscore_ml.odds.METHODS`.
    """

    source: str = AVERAGE
    method: str = "multiplicative"

    def __post_init__(self) -> None:
        if self.source == BEST or not self.source:
            raise ValueError("the market probability comes from avg, consensus or a bookmaker")
        if self.method not in METHODS:
            raise ValueError(f"unknown de-margining method {self.method!r}")


@dataclass(frozen=True)
class ValueBetRules:
    """When an outcome is a value bet: edge at least ``edge_threshold``, and the guards.

    ``edge_model``: the edge the closing line confirmed decides and sizes
    (module notes); ``require_evidence`` without a model: no value bet.
    """

    edge_threshold: float = 0.042
    min_probability: float = 0.10
    max_price: float = 10.0
    min_bookmakers: int = 3
    edge_model: EdgeModel | None = None
    require_evidence: bool = False

    @property
    def uses_evidence(self) -> bool:
        """Whether value bets rest on the closing line's evidence (a model, or its absence)."""
        return self.edge_model is not None or self.require_evidence

    @property
    def edge_supported(self) -> bool:
        """Whether the rules may publish value bets at all (False: no evidence of an edge)."""
        if self.edge_model is not None:
            return self.edge_model.supported
        return not self.require_evidence

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_probability <= 1.0:
            raise ValueError("min_probability must be within [0, 1]")
        if self.max_price <= 1.0 or self.min_bookmakers < 0:
            raise ValueError("max_price must be above 1 and min_bookmakers not negative")

    def describe(
        self,
        price_choice: PriceChoice | None = None,
        market_probability: MarketProbability | None = None,
    ) -> dict[str, Any]:
        """The rules as a run publishes them (a JSON object), with where prices come from."""
        price_choice = price_choice or PriceChoice()
        market_probability = market_probability or MarketProbability()
        described: dict[str, Any] = {
            "edge_threshold": float(self.edge_threshold),
            "min_probability": float(self.min_probability),
            "max_price": float(self.max_price),
            "min_bookmakers": int(self.min_bookmakers),
            "price": price_choice.source,
            "market_probability": {
                "source": market_probability.source,
                "method": market_probability.method,
            },
            "edge": "p_model * price - 1",
            "excluded_by": list(EXCLUSION_ORDER),
        }
        if self.uses_evidence:
            described["excluded_by"].insert(1, NO_EVIDENCE)
            described["threshold_on"] = "confirmed_edge"
            described["edge_supported"] = self.edge_supported
            described["evidence"] = (
                self.edge_model.describe()
                if self.edge_model is not None
                else {"supported": False, "statement": "no closing-line evidence learned"}
            )
        return described

    def exclusion(self) -> tuple[pl.Expr, pl.Expr]:
        """Expressions of the first rule an outcome fails (null: a value bet) and its value."""
        failed: list[tuple[pl.Expr, str, float | None]] = [
            (pl.col("price").is_null() | pl.col("edge").is_null(), NO_PRICE, None),
        ]
        if self.uses_evidence:
            failed.append((pl.lit(not self.edge_supported), NO_EVIDENCE, None))
        failed += [
            (self.edge_failed(), "edge_threshold", self.edge_threshold),
            (pl.col("price") > self.max_price, "max_price", self.max_price),
            (pl.col("p_model") < self.min_probability, "min_probability", self.min_probability),
            (
                pl.col("n_bookmakers") < self.min_bookmakers,
                "min_bookmakers",
                float(self.min_bookmakers),
            ),
        ]
        rule: pl.Expr = pl.lit(None, pl.String)
        value = pl.lit(None, pl.Float64)
        for condition, name, limit in reversed(failed):
            rule = pl.when(condition).then(pl.lit(name)).otherwise(rule)
            value = pl.when(condition).then(pl.lit(limit, pl.Float64)).otherwise(value)
        return rule, value

    def edge_failed(self) -> pl.Expr:
        """An edge below the threshold: the confirmed one with a model, else the stated one."""
        if self.edge_model is None:
            return pl.col("edge") < self.edge_threshold
        return (
            pl.col("confirmed_edge").is_null()
            | (pl.col("confirmed_edge") < self.edge_threshold)
            | (pl.col("edge") <= 0.0)
        )

    def value_expr(self) -> pl.Expr:
        """Whether an outcome is a value bet (null inputs: no)."""
        is_value = (
            self.edge_failed().not_()
            & (pl.col("p_model") >= self.min_probability)
            & (pl.col("price") <= self.max_price)
            & (pl.col("n_bookmakers") >= self.min_bookmakers)
        )
        if self.uses_evidence and not self.edge_supported:
            is_value = pl.lit(False)
        return is_value.fill_null(False)


def confirm_edges(edges: pl.DataFrame, rules: ValueBetRules) -> pl.DataFrame:
    """Edges (rows of :func:`match_edges`) with ``rules``: confirmed edge, value and exclusion.

    With an edge model: ``confirmed_edge`` and ``p_confirmed`` (module notes);
    then ``is_value``, ``excluded_by`` and ``rule_value`` again, by ``rules``.
    """
    if rules.edge_model is not None:
        edges = edges.with_columns(rules.edge_model.confirmed(edges)).with_columns(
            ((1.0 + pl.col("confirmed_edge")) / pl.col("price")).alias("p_confirmed")
        )
    excluded_by, rule_value = rules.exclusion()
    return edges.with_columns(rules.value_expr().alias("is_value")).with_columns(
        pl.when(pl.col("is_value")).then(None).otherwise(excluded_by).alias("excluded_by"),
        pl.when(pl.col("is_value")).then(None).otherwise(rule_value).alias("rule_value"),
    )


#: The market probability confirmed edges are learned and applied with: Pinnacle's pre-closing.
SHARP_MARKET = MarketProbability("pinnacle")


def evidence_rules(edge_threshold: float, home: Path, **guards: Any) -> ValueBetRules:
    """The live rules: confirmed edge at least ``edge_threshold`` by the home's edge model.

    The model is the one the bankroll backtest learned and stored
    (:func:`~sabiscore_ml.betting.confirmed.edge_model_path`); without one the
    rules require evidence they lack, and no outcome is a value bet
    (``excluded_by = "no_evidence"``).  Use them with :data:`SHARP_MARKET`.
    """
    model = load_edge_model(edge_model_path(home))
    return ValueBetRules(
        edge_threshold=edge_threshold, edge_model=model, require_evidence=True, **guards
    )


def as_polars(frame: Frame) -> pl.DataFrame:
    """A polars frame from a polars or pandas one."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if hasattr(frame, "columns") and hasattr(frame, "to_numpy"):
        return pl.from_pandas(frame)
    raise TypeError(f"expected a polars or pandas data frame, got {type(frame).__name__}")


def _quotes(prices: pl.DataFrame, outcomes: tuple[str, ...], market: str) -> pl.DataFrame:
    """Valid quotes, one row per match, bookmaker and outcome.

    ``prices`` in the long shape of :func:`sabiscore_ml.prices.read_quotes` (the
    live path and the backtest) are taken as they are, those of ``market`` and
    ``outcomes``; prices per bookmaker (``price_<outcome>`` columns, frames made
    by hand) are unpivoted once, here.
    """
    if "outcome" in prices.columns and "price" in prices.columns:
        missing = [c for c in ("match_id", "bookmaker") if c not in prices.columns]
        if missing:
            raise ValueError(f"prices lack the columns {missing}")
        if "timing" in prices.columns and prices.filter(pl.col("timing") != PRECLOSE).height:
            raise ValueError("closing prices never choose a bet: pre-closing quotes only")
        if "market" in prices.columns:
            prices = prices.filter(pl.col("market") == market)
        long = prices.select(
            pl.col("match_id").cast(pl.Int64),
            pl.col("bookmaker").cast(pl.String),
            pl.col("outcome").cast(pl.String),
            pl.col("price").cast(pl.Float64),
        ).filter(pl.col("outcome").is_in(list(outcomes)))
        key = ("match_id", "bookmaker", "outcome")
        if long.select(pl.struct(*key).is_duplicated().any()).item():
            raise ValueError("prices hold two quotes for one outcome of a match and bookmaker")
    else:
        needed = ("match_id", "bookmaker", *(f"price_{o}" for o in outcomes))
        missing = [c for c in needed if c not in prices.columns]
        if missing:
            raise ValueError(f"prices lack the columns {missing}")
        if prices.select(pl.struct("match_id", "bookmaker").is_duplicated().any()).item():
            raise ValueError("prices hold two rows for one match and bookmaker")
        long = prices.select(
            pl.col("match_id").cast(pl.Int64),
            pl.col("bookmaker").cast(pl.String),
            *(pl.col(f"price_{o}").cast(pl.Float64).alias(o) for o in outcomes),
        ).unpivot(index=["match_id", "bookmaker"], variable_name="outcome", value_name="price")
    valid = pl.col("price").is_not_null() & pl.col("price").is_finite() & (pl.col("price") > 1.0)
    return long.filter(valid)


def _taken_prices(long: pl.DataFrame, choice: PriceChoice) -> pl.DataFrame:
    """Per match and outcome: the price taken and who quotes it."""
    if choice.source == AVERAGE:
        return average_prices(long).filter(pl.col("price").is_not_null())
    if choice.source == BEST:
        return best_prices(long)
    return long.filter(pl.col("bookmaker") == choice.source).select(
        "match_id", "outcome", "price", "bookmaker"
    )


def _market_probabilities(
    long: pl.DataFrame, market: MarketProbability, outcomes: tuple[str, ...]
) -> pl.DataFrame:
    """Per match and outcome: the margin-free market probability ``p_market``."""
    if market.source == CONSENSUS:
        books = long.filter(pl.col("bookmaker").is_in(AGGREGATES).not_())
        per_book = fair_quotes(books, market.method, outcomes=outcomes)
        # sorted before averaging: a float sum depends on its order
        return per_book.group_by("match_id", "outcome").agg(
            pl.col("p").sort().mean().alias("p_market")
        )
    if market.source == AVERAGE:
        chosen = average_prices(long).filter(pl.col("price").is_not_null())
    else:
        chosen = long.filter(pl.col("bookmaker") == market.source)
    p = fair_quotes(chosen, market.method, by=("match_id",), outcomes=outcomes)
    return p.rename({"p": "p_market"})


def match_edges(
    predictions: F,
    prices: Frame,
    *,
    price_choice: PriceChoice | None = None,
    market_probability: MarketProbability | None = None,
    rules: ValueBetRules | None = None,
    outcomes: tuple[str, ...] = OUTCOMES,
    market: str = "1x2",
) -> F:
    """Edges of the model's probabilities at the prices on offer, per match and outcome.

    ``predictions``: one row per match with ``match_id`` and ``p_<outcome>``
    (``p_home``, ``p_draw``, ``p_away``); other columns (``match_date``,
    ``league_code``...) are carried through.  ``prices``: pre-closing quotes,
    long as :func:`sabiscore_ml.prices.preclose_quotes` gives them (``match_id``,
    ``bookmaker``, ``outcome``, ``price``; ``market`` and ``timing`` when
    present: the rows of ``market``, pre-closing only), or one row per match and
    bookmaker with ``price_<outcome>`` columns; a missing or invalid price (not
    above 1) is no quote.

    Returns a frame of the same kind as ``predictions`` (polars or pandas), one
    row per match and outcome: the carried columns, ``market``, ``outcome``,
    ``p_model``, ``price`` and ``bookmaker`` (the price taken and who quotes
    it; ``avg`` for a mean of bookmakers), ``n_bookmakers`` (bookmakers
    quoting the outcome), ``p_market``, ``edge``, ``prob_edge``,
    ``is_value``, and for an outcome that is no value bet ``excluded_by`` and
    ``rule_value`` (the first rule it fails and that rule's value; null for a
    value bet).  Without a price, the edge is null and the outcome no value
    (``excluded_by = "no_price"``).
    """
    price_choice = price_choice or PriceChoice()
    market_probability = market_probability or MarketProbability()
    rules = rules or ValueBetRules()
    model = as_polars(predictions)
    quotes = as_polars(prices)
    needed = ["match_id", *(f"p_{o}" for o in outcomes)]
    missing = [c for c in needed if c not in model.columns]
    if missing:
        raise ValueError(f"predictions lack the columns {missing}")

    long = _quotes(quotes, outcomes, market)
    count = long.group_by("match_id", "outcome").agg(
        pl.col("bookmaker").is_in(AGGREGATES).not_().sum().cast(pl.Int32).alias("n_bookmakers")
    )
    carried: list[str] = [c for c in model.columns if c not in needed]
    order = {o: i for i, o in enumerate(outcomes)}
    table = (
        model.with_columns(pl.col("match_id").cast(pl.Int64))
        .unpivot(
            index=["match_id", *carried],
            on=[f"p_{o}" for o in outcomes],
            variable_name="outcome",
            value_name="p_model",
        )
        .with_columns(
            pl.col("outcome").str.strip_prefix("p_"),
            pl.col("p_model").cast(pl.Float64),
            pl.lit(market).alias("market"),
        )
        .join(_taken_prices(long, price_choice), on=["match_id", "outcome"], how="left")
        .join(count, on=["match_id", "outcome"], how="left")
        .join(
            _market_probabilities(long, market_probability, outcomes),
            on=["match_id", "outcome"],
            how="left",
        )
        .with_columns(pl.col("n_bookmakers").fill_null(0))
        .with_columns(
            (pl.col("p_model") * pl.col("price") - 1.0).alias("edge"),
            (pl.col("p_model") - pl.col("p_market")).alias("prob_edge"),
        )
    )
    table = confirm_edges(table, rules)
    confirmed = ("confirmed_edge", "p_confirmed") if rules.edge_model is not None else ()
    table = (
        table.with_columns(
            pl.col("outcome").replace_strict(order, return_dtype=pl.Int32).alias("_o")
        )
        .sort("match_id", "_o")
        .select(
            "match_id",
            *carried,
            "market",
            "outcome",
            "p_model",
            "price",
            "bookmaker",
            "n_bookmakers",
            "p_market",
            "edge",
            "prob_edge",
            "is_value",
            "excluded_by",
            "rule_value",
            *confirmed,
        )
    )
    return table if isinstance(predictions, pl.DataFrame) else table.to_pandas()
