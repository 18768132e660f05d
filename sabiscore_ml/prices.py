"""The price layer: bookmakers' quotes read from the warehouse, in one shape.

Every reader of prices goes through here, so the live predictions
(:mod:`sabiscore_ml.jobs.predict`), the bankroll backtest
(:mod:`sabiscore_ml.betting.backtest`) and the evaluation against the market
(:mod:`sabiscore_ml.models.evaluation`) take the same prices of the same
matches.

**The shape.**  :func:`read_quotes` answers one *long* frame, a row per quote:
``match_id``, ``market``, ``outcome``, ``bookmaker``, ``timing``, ``price``
(:data:`QUOTE_SCHEMA`).  The helpers below build on it:

- :func:`preclose_quotes`: the pre-closing 1X2 quotes, the prices bets are
  taken at; the live predictions (:func:`~sabiscore_ml.jobs.predict.priced_edges`)
  and the bankroll backtest give them, long, to
  :func:`~sabiscore_ml.betting.edges.match_edges`, whose edges stay long (a row
  per match and outcome) through the stakes to the published documents;
- :func:`per_bookmaker`: one row per match and bookmaker (or any other key), a
  price column per outcome, for reading; :func:`preclose_prices` is that pivot
  of the pre-closing quotes;
- :func:`best_prices` and :func:`average_prices`: per match and outcome, the
  best price on offer (a named bookmaker preferred at equal prices) and the
  market average (the published one, else the bookmakers' mean);
- :func:`fair_quotes` (long in, long out) and :func:`fair_probabilities` (on
  wide rows): the margin removed from complete quotes by any
  method of :mod:`sabiscore_ml.odds`; :func:`market_probabilities` (one bookmaker at
  one timing) and :func:`closing_fair_prices` apply it to named bookmakers.

Bookmaker ids are the warehouse's; ``market_max`` and ``market_avg`` are the
aggregates football-data publishes and are rows like the bookmakers'.  Closing
prices (``timing = 'close'``) are for evaluation and the closing-line value
only: the feature store reads its odds itself (:mod:`feature_store.inputs`,
pre-closing only), never through :func:`read_quotes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine, func, select

from sabiscore_ml.odds import implied_probabilities
from sabiscore_ml.warehouse.models import Match, Odds, OddsSnapshot
from sabiscore_ml.warehouse.snapshots import earliest_snapshot

OUTCOMES: tuple[str, ...] = ("home", "draw", "away")
PRECLOSE, CLOSE = "preclose", "close"
MARKET_MAX, MARKET_AVG = "market_max", "market_avg"
AGGREGATES: tuple[str, ...] = (MARKET_MAX, MARKET_AVG)
#: ``bookmaker`` of an average price that is the bookmakers' mean (no published average).
MEAN = "avg"
#: The long shape of quotes, in column order.
QUOTE_SCHEMA: dict[str, Any] = {
    "match_id": pl.Int64,
    "market": pl.String,
    "outcome": pl.String,
    "bookmaker": pl.String,
    "timing": pl.String,
    "price": pl.Float64,
}

#: :data:`QUOTE_SCHEMA` and the moment each quote was taken (odds snapshots).
SNAPSHOT_SCHEMA: dict[str, Any] = {**QUOTE_SCHEMA, "taken_at": pl.Datetime("us")}

_CHUNK = 20_000  # match ids per query: below every database's parameter limit


def read_quotes(
    engine: Engine,
    match_ids: Sequence[int],
    *,
    market: str = "1x2",
    timings: Sequence[str] = (PRECLOSE,),
    bookmakers: Sequence[str] | None = None,
    outcomes: Sequence[str] = OUTCOMES,
    as_of: dt.datetime | None = None,
) -> pl.DataFrame:
    """The quotes of ``match_ids`` in ``market`` at ``timings``, long (:data:`QUOTE_SCHEMA`).

    Only the ``outcomes`` given and, when given, the ``bookmakers``; sorted by
    match, timing, bookmaker and outcome.  Without ``as_of``, the current
    prices (``odds``, each quote's latest snapshot); with it (naive UTC), the
    prices as they stood then: per match and timing, the quotes of the latest
    snapshot taken at or before ``as_of`` (:func:`quotes_as_of`).
    """
    if as_of is not None:
        frame = quotes_as_of(
            engine,
            match_ids,
            as_of,
            market=market,
            timings=timings,
            bookmakers=bookmakers,
            outcomes=outcomes,
        )
        return frame.drop("taken_at")
    rows = _select_quotes(engine, Odds, match_ids, market, timings, bookmakers, outcomes)
    return pl.DataFrame(rows, schema=QUOTE_SCHEMA, orient="row").sort(
        "match_id", "timing", "bookmaker", "outcome"
    )


def _select_quotes(
    engine: Engine,
    table: type[Odds] | type[OddsSnapshot],
    match_ids: Sequence[int],
    market: str,
    timings: Sequence[str],
    bookmakers: Sequence[str] | None,
    outcomes: Sequence[str],
    before: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[Any]:
    """Rows in :data:`QUOTE_SCHEMA` order (and ``taken_at`` for snapshots), by chunks of ids."""
    columns: list[Any] = [
        table.match_id,
        table.market,
        table.outcome,
        table.bookmaker,
        table.timing,
        table.price,
    ]
    if table is OddsSnapshot:
        columns.append(OddsSnapshot.taken_at)
    ids = sorted({int(m) for m in match_ids})
    rows: list[Any] = []
    with engine.connect() as connection:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = (
                select(*columns)
                .where(table.match_id.in_(chunk))
                .where(table.market == market)
                .where(table.timing.in_(list(timings)))
                .where(table.outcome.in_(list(outcomes)))
            )
            if bookmakers is not None:
                query = query.where(table.bookmaker.in_(list(bookmakers)))
            if table is OddsSnapshot:
                # no snapshot is older than the look-back before its match day: on
                # PostgreSQL this bound leaves out the months the read cannot touch
                first = connection.execute(
                    select(func.min(Match.match_date)).where(Match.id.in_(chunk))
                ).scalar_one()
                if first is None:
                    continue
                query = query.where(OddsSnapshot.taken_at >= earliest_snapshot(first))
            if before is not None:
                query = query.where(OddsSnapshot.taken_at < before)
            if until is not None:
                query = query.where(OddsSnapshot.taken_at <= until)
            rows += connection.execute(query).all()
    return rows


def read_snapshots(
    engine: Engine,
    match_ids: Sequence[int],
    *,
    market: str = "1x2",
    timings: Sequence[str] = (PRECLOSE,),
    bookmakers: Sequence[str] | None = None,
    outcomes: Sequence[str] = OUTCOMES,
    before: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> pl.DataFrame:
    """Every snapshot of the quotes of ``match_ids``, long (:data:`SNAPSHOT_SCHEMA`).

    Only snapshots taken strictly before ``before`` and at or before ``until``,
    when given (naive UTC).  Sorted by match, timing, moment, bookmaker and outcome.
    """
    rows = _select_quotes(
        engine, OddsSnapshot, match_ids, market, timings, bookmakers, outcomes, before, until
    )
    return pl.DataFrame(rows, schema=SNAPSHOT_SCHEMA, orient="row").sort(
        "match_id", "timing", "taken_at", "bookmaker", "outcome"
    )


def quotes_as_of(
    engine: Engine,
    match_ids: Sequence[int],
    as_of: dt.datetime,
    *,
    market: str = "1x2",
    timings: Sequence[str] = (PRECLOSE,),
    bookmakers: Sequence[str] | None = None,
    outcomes: Sequence[str] = OUTCOMES,
) -> pl.DataFrame:
    """The prices as they stood at ``as_of``, with when each was taken (:data:`SNAPSHOT_SCHEMA`).

    Per match and timing, every quote of the latest snapshot moment at or before
    ``as_of``: a copy replaces the whole price set before it, as it does in
    ``odds`` (a bookmaker a later copy no longer lists is gone).
    """
    every = read_snapshots(
        engine,
        match_ids,
        market=market,
        timings=timings,
        bookmakers=bookmakers,
        outcomes=outcomes,
        until=as_of,
    )
    latest = every.group_by("match_id", "timing").agg(pl.col("taken_at").max())
    return every.join(latest, on=["match_id", "timing", "taken_at"]).sort(
        "match_id", "timing", "bookmaker", "outcome"
    )


def last_seen(
    engine: Engine,
    match_ids: Sequence[int],
    *,
    market: str = "1x2",
    as_of: dt.datetime | None = None,
) -> pl.DataFrame:
    """When each bookmaker's pre-closing price of a match was last seen.

    Columns ``match_id``, ``bookmaker``, ``last_update`` (naive UTC; at or
    before ``as_of`` when given).
    """
    every = read_snapshots(engine, match_ids, market=market, until=as_of)
    return (
        every.group_by("match_id", "bookmaker")
        .agg(pl.col("taken_at").max().alias("last_update"))
        .sort("match_id", "bookmaker")
    )


def per_bookmaker(
    long: pl.DataFrame,
    index: Sequence[str] = ("match_id", "bookmaker"),
    prefix: str = "price_",
    outcomes: Sequence[str] = OUTCOMES,
) -> pl.DataFrame:
    """One row per ``index``, a ``<prefix><outcome>`` column per outcome (null if not quoted)."""
    index = list(index)
    if long.is_empty():
        wide = long.select(index)
    else:
        wide = long.pivot(on="outcome", index=index, values="price", aggregate_function="first")
    wide = wide.with_columns(
        pl.lit(None, pl.Float64).alias(o) for o in outcomes if o not in wide.columns
    )
    return wide.select(*index, *(pl.col(o).alias(f"{prefix}{o}") for o in outcomes)).sort(index)


def preclose_quotes(engine: Engine, match_ids: Sequence[int]) -> pl.DataFrame:
    """Pre-closing 1X2 quotes, long (:data:`QUOTE_SCHEMA`): the prices a bet is taken at.

    What the live predictions and the bankroll backtest give
    :func:`~sabiscore_ml.betting.edges.match_edges`, in this shape.
    """
    return read_quotes(engine, match_ids, timings=(PRECLOSE,))


def preclose_prices(engine: Engine, match_ids: Sequence[int]) -> pl.DataFrame:
    """:func:`preclose_quotes` per bookmaker: one row per match and bookmaker (to read).

    Columns ``match_id``, ``bookmaker``, ``price_home``, ``price_draw``,
    ``price_away``; null where the bookmaker did not quote an outcome.  The
    aggregates ``market_max`` and ``market_avg`` are rows like the others.
    """
    return per_bookmaker(preclose_quotes(engine, match_ids))


def average_prices(long: pl.DataFrame) -> pl.DataFrame:
    """Per match and outcome: the market average, else the bookmakers' mean price.

    ``long`` holds valid quotes (``match_id``, ``bookmaker``, ``outcome``,
    ``price``) of one market and timing; ``bookmaker`` of the answer is
    ``market_avg`` or :data:`MEAN`.
    """
    books = pl.col("bookmaker").is_in(AGGREGATES).not_()
    return long.group_by("match_id", "outcome").agg(
        pl.when((pl.col("bookmaker") == MARKET_AVG).any())
        .then(pl.col("price").filter(pl.col("bookmaker") == MARKET_AVG).first())
        .otherwise(pl.col("price").filter(books).sort().mean())
        .alias("price"),
        pl.when((pl.col("bookmaker") == MARKET_AVG).any())
        .then(pl.lit(MARKET_AVG))
        .otherwise(pl.lit(MEAN))
        .alias("bookmaker"),
    )


def best_prices(long: pl.DataFrame) -> pl.DataFrame:
    """Per match and outcome: the highest price and who quotes it.

    The market maximum counts, the market average does not; at equal prices a
    named bookmaker is preferred to the maximum, then the first by name.
    """
    candidates = long.filter(pl.col("bookmaker") != MARKET_AVG)
    return (
        candidates.sort(
            ["match_id", "outcome", "price", pl.col("bookmaker").is_in(AGGREGATES), "bookmaker"],
            descending=[False, False, True, False, False],
        )
        .group_by("match_id", "outcome", maintain_order=True)
        .first()
        .select("match_id", "outcome", "price", "bookmaker")
    )


def fair_probabilities(
    wide: pl.DataFrame,
    method: str = "multiplicative",
    *,
    key: str | Sequence[str] = "match_id",
    outcomes: Sequence[str] = OUTCOMES,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Margin-free probabilities of the complete rows of ``wide`` by ``method``.

    ``columns`` are the rows' price columns, one per outcome (default: the
    outcomes' names).  Answers ``key`` and a column per outcome; a row with a
    price missing is left out, a row with an invalid price (not above 1) is NaN.
    """
    columns = list(columns or outcomes)
    keys = [key] if isinstance(key, str) else list(key)
    wide = wide.drop_nulls(columns)
    prices = wide.select(columns).to_numpy().astype(float).reshape(len(wide), len(columns))
    p = implied_probabilities(prices, method).probabilities
    return wide.select(keys).with_columns(
        pl.Series(o, np.asarray(p[:, i], dtype=float)) for i, o in enumerate(outcomes)
    )


def fair_quotes(
    long: pl.DataFrame,
    method: str = "multiplicative",
    *,
    by: Sequence[str] = ("match_id", "bookmaker"),
    outcomes: Sequence[str] = OUTCOMES,
) -> pl.DataFrame:
    """Margin-free probabilities of long quotes by ``method``, long too.

    ``long`` holds valid prices (``price`` above 1), at most one per ``by`` and
    outcome.  A group of ``by`` quoting every one of ``outcomes`` gives a row per
    outcome: the ``by`` columns, ``outcome`` and ``p``; other groups are left
    out.  The same numbers as :func:`fair_probabilities` on the rows of
    :func:`per_bookmaker`, without pivoting: the prices of each group, in outcome
    order, are one row of the array the margin comes off.
    """
    keys = list(by)
    k = len(outcomes)
    rank = {o: i for i, o in enumerate(outcomes)}
    quoted = long.filter(pl.col("outcome").is_in(list(outcomes)) & pl.col("price").is_not_null())
    complete = (
        quoted.with_columns(
            pl.col("outcome").replace_strict(rank, return_dtype=pl.Int32).alias("_o"),
            pl.len().over(keys).alias("_n"),
        )
        .filter(pl.col("_n") == k)
        .sort(*keys, "_o")
    )
    prices = complete["price"].to_numpy().astype(float).reshape(-1, k)
    p = implied_probabilities(prices, method).probabilities
    return complete.select(*keys, "outcome").with_columns(
        pl.Series("p", np.asarray(p, dtype=float).reshape(-1))
    )


def market_probabilities(
    long: pl.DataFrame, bookmaker: str, timing: str, method: str = "multiplicative"
) -> pl.DataFrame:
    """One bookmaker's margin-free 1X2 probabilities at ``timing``, one row per complete match.

    ``long``: quotes as :func:`read_quotes` gives them.  Columns ``match_id``,
    ``p_home``, ``p_draw``, ``p_away``; a match with a price missing or not
    above 1 is left out.
    """
    part = long.filter((pl.col("bookmaker") == bookmaker) & (pl.col("timing") == timing))
    fair = fair_probabilities(per_bookmaker(part, ["match_id"], ""), method)
    return fair.drop_nans().select("match_id", *(pl.col(o).alias(f"p_{o}") for o in OUTCOMES))


def closing_fair_prices(engine: Engine, match_ids: Sequence[int]) -> pl.DataFrame:
    """Margin-free closing prices per match, for the CLV of bets (never to choose them).

    Pinnacle's closing prices with the margin removed multiplicatively (fair
    price ``1 / p``); the market average's closing prices the same way where
    Pinnacle's are missing or incomplete.  Columns ``match_id``,
    ``closing_source`` (``pinnacle`` or ``market_avg``), ``closing_home``,
    ``closing_draw``, ``closing_away``; matches with neither are left out.
    """
    long = read_quotes(engine, match_ids, timings=(CLOSE,), bookmakers=("pinnacle", MARKET_AVG))
    fair = fair_probabilities(per_bookmaker(long, prefix=""), key=["match_id", "bookmaker"])
    fair = fair.drop_nans().select(
        "match_id",
        pl.col("bookmaker").alias("closing_source"),
        *((1.0 / pl.col(o)).alias(f"closing_{o}") for o in OUTCOMES),
    )
    rank = pl.when(pl.col("closing_source") == "pinnacle").then(0).otherwise(1)
    return fair.sort("match_id", rank).unique("match_id", keep="first", maintain_order=True)
