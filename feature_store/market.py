"""Market: what the bookmakers' pre-closing prices say about a match.

Only pre-closing quotes reach this module (:mod:`feature_store.inputs` never
reads closing odds).  For Pinnacle, Bet365 and the market average, the 1X2
prices become probabilities with the margin removed two ways: proportionally
("multiplicative") and by Shin's method (Shin 1993; Štrumbelj 2014;
:mod:`sabiscore_ml.odds`), which allows for insider trading and shifts margin
towards long shots.  Across all bookmakers quoting the match: the consensus
probabilities, their dispersion, and how far the best price stands above the
average one.  Over/under 2.5 and the Asian handicap line complete the picture.
"""

from __future__ import annotations

import polars as pl

from feature_store.common import BEFORE_KICKOFF_ODDS, Family, FeatureDef
from feature_store.inputs import ColumnType, Inputs
from sabiscore_ml.odds import implied_probabilities, shin_probabilities
from sabiscore_ml.prices import average_prices

BOOKMAKERS = ("pinnacle", "b365", "market_avg")
OUTCOMES = ("home", "draw", "away")
_AGGREGATES = ("market_avg", "market_max")  # aggregates, not bookmakers, for dispersion
_SRC = ("football-data",)


def _definitions() -> tuple[FeatureDef, ...]:
    def define(name: str, description: str, dtype: ColumnType = pl.Float64) -> FeatureDef:
        return FeatureDef(name, dtype, "market", description, _SRC, BEFORE_KICKOFF_ODDS)

    defs = []
    for book in BOOKMAKERS:
        label = book.replace("_", " ")
        defs += [
            define(f"mkt_{book}_p_{o}", f"{label}: {o} probability, margin removed proportionally")
            for o in OUTCOMES
        ]
        defs += [
            define(f"mkt_{book}_shin_{o}", f"{label}: {o} probability by Shin's method")
            for o in OUTCOMES
        ]
        defs.append(define(f"mkt_{book}_overround", f"{label}: 1X2 overround (sum of 1/price)"))
    defs += [
        define(f"mkt_consensus_p_{o}", f"mean {o} probability over every bookmaker quoting")
        for o in OUTCOMES
    ]
    defs += [
        define(f"mkt_dispersion_{o}", f"standard deviation of the bookmakers' {o} probability")
        for o in OUTCOMES
    ]
    defs += [
        define(
            f"mkt_best_gap_{o}",
            f"best {o} price over the average price, minus one (value on offer at the best book)",
        )
        for o in OUTCOMES
    ]
    defs += [
        define("mkt_n_bookmakers", "bookmakers quoting 1X2 before kick-off", pl.Int32),
        define("mkt_p_over25", "over 2.5 goals probability (market average, else Bet365)"),
        define("mkt_ou_overround", "over/under 2.5 overround of the same prices"),
        define("mkt_ah_line", "Asian handicap line for the home team (market average, else any)"),
        define("mkt_ah_p_home", "home probability on that Asian handicap line, margin removed"),
    ]
    return tuple(defs)


def _one_x_two(odds: pl.DataFrame) -> pl.DataFrame:
    """Complete 1X2 quotes: one row per match and bookmaker with price_home/draw/away."""
    quotes = odds.filter(pl.col("market") == "1x2").select(
        "match_id", "bookmaker", *(pl.col(o).alias(f"price_{o}") for o in OUTCOMES)
    )
    complete = pl.all_horizontal(pl.col(f"price_{o}") > 1.0 for o in OUTCOMES)
    return quotes.filter(complete.fill_null(False))


def _book_columns(wide: pl.DataFrame) -> pl.DataFrame:
    """Margin-free probabilities of the named bookmakers, one row per match."""
    out = wide.select("match_id").unique()
    for book in BOOKMAKERS:
        part = wide.filter(pl.col("bookmaker") == book)
        prices = part.select(f"price_{o}" for o in OUTCOMES).to_numpy().astype(float)
        proportional = implied_probabilities(prices.reshape(-1, len(OUTCOMES)), "multiplicative")
        shin, _ = shin_probabilities(prices) if len(prices) else (prices, None)
        columns = {"match_id": part["match_id"], f"mkt_{book}_overround": proportional.overround}
        for i, outcome in enumerate(OUTCOMES):
            columns[f"mkt_{book}_p_{outcome}"] = proportional.probabilities[:, i]
            columns[f"mkt_{book}_shin_{outcome}"] = shin[:, i]
        out = out.join(pl.DataFrame(columns), on="match_id", how="left")
    return out


def _spread_columns(wide: pl.DataFrame) -> pl.DataFrame:
    """Consensus, dispersion and best-price gap over every bookmaker of a match."""
    books = wide.filter(~pl.col("bookmaker").is_in(_AGGREGATES))
    inverse_sum = sum(1.0 / pl.col(f"price_{o}") for o in OUTCOMES)
    books = books.with_columns(
        ((1.0 / pl.col(f"price_{o}")) / inverse_sum).alias(f"p_{o}") for o in OUTCOMES
    )
    # Values are sorted inside each group before summing: a float sum depends on
    # its order, and a parallel group-by does not promise one.  Sorted, the
    # figures are bit-for-bit reproducible.
    stats = books.group_by("match_id").agg(
        pl.len().cast(pl.Int32).alias("mkt_n_bookmakers"),
        *(pl.col(f"p_{o}").sort().alias(f"p_{o}") for o in OUTCOMES),
    )
    stats = stats.select(
        "match_id",
        "mkt_n_bookmakers",
        *(pl.col(f"p_{o}").list.mean().alias(f"mkt_consensus_p_{o}") for o in OUTCOMES),
        *(pl.col(f"p_{o}").list.std().alias(f"mkt_dispersion_{o}") for o in OUTCOMES),
    )
    # best price: the published market maximum where there is one, else the best bookmaker
    best = wide.group_by("match_id").agg(
        *(
            pl.when((pl.col("bookmaker") == "market_max").any())
            .then(pl.col(f"price_{o}").filter(pl.col("bookmaker") == "market_max").first())
            .otherwise(pl.col(f"price_{o}").filter(~pl.col("bookmaker").is_in(_AGGREGATES)).max())
            .alias(f"best_{o}")
            for o in OUTCOMES
        ),
    )
    # the average price: the published market average, else the bookmakers' mean (as edges take it)
    long = wide.unpivot(
        index=["match_id", "bookmaker"], variable_name="outcome", value_name="price"
    ).with_columns(pl.col("outcome").str.strip_prefix("price_"))
    average = average_prices(long).pivot(on="outcome", index="match_id", values="price")
    best = best.join(
        average.select("match_id", *(pl.col(o).alias(f"avg_{o}") for o in OUTCOMES)),
        on="match_id",
        how="left",
    )
    best = best.select(
        "match_id",
        *(
            (pl.col(f"best_{o}") / pl.col(f"avg_{o}") - 1.0).alias(f"mkt_best_gap_{o}")
            for o in OUTCOMES
        ),
    )
    return stats.join(best, on="match_id", how="full", coalesce=True)


def _first_available(frame: pl.DataFrame, preference: tuple[str, ...]) -> pl.DataFrame:
    """One row per match: the row of the most preferred bookmaker present."""
    rank = pl.col("bookmaker").replace_strict(
        {book: i for i, book in enumerate(preference)}, default=len(preference)
    )
    return (
        frame.with_columns(rank.alias("_rank"))
        .sort("match_id", "_rank", "bookmaker")
        .unique("match_id", keep="first", maintain_order=True)
    )


def _totals_columns(odds: pl.DataFrame) -> pl.DataFrame:
    """Over/under 2.5 and Asian handicap columns."""
    ou = odds.filter(
        (pl.col("market") == "ou")
        & (pl.col("line") == 2.5)
        & (pl.col("over") > 1.0)
        & (pl.col("under") > 1.0)
    )
    ou = _first_available(ou, ("market_avg", "b365", "pinnacle"))
    inverse = 1.0 / pl.col("over") + 1.0 / pl.col("under")
    ou = ou.select(
        "match_id",
        ((1.0 / pl.col("over")) / inverse).alias("mkt_p_over25"),
        inverse.alias("mkt_ou_overround"),
    )
    ah = odds.filter((pl.col("market") == "ah") & (pl.col("home") > 1.0) & (pl.col("away") > 1.0))
    ah = _first_available(ah, ("market_avg", "b365", "pinnacle"))
    inverse = 1.0 / pl.col("home") + 1.0 / pl.col("away")
    ah = ah.select(
        "match_id",
        pl.col("line").alias("mkt_ah_line"),
        ((1.0 / pl.col("home")) / inverse).alias("mkt_ah_p_home"),
    )
    return ou.join(ah, on="match_id", how="full", coalesce=True)


def compute(inputs: Inputs) -> pl.DataFrame:
    """Market features of every match in ``inputs`` that has pre-closing odds."""
    odds = inputs.odds
    wide = _one_x_two(odds)
    out = inputs.matches.select("match_id")
    for part in (_book_columns(wide), _spread_columns(wide), _totals_columns(odds)):
        out = out.join(part, on="match_id", how="left")
    return out


FAMILY = Family(
    "market",
    _definitions(),
    compute,
    notes="pre-closing odds only (the latest quote of each book); movement: feature_store.movement",
)
