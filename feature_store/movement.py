"""Movement: how the bookmakers' prices of a match moved before its kick-off.

Built from the odds snapshots (:attr:`~feature_store.inputs.Inputs.snapshots`):
every copy of a match's pre-closing 1X2 quotes, each with the moment it was
taken.  A match's features use only its snapshots taken **strictly before its
as-of moment** (its kick-off, else the start of its match day:
:func:`~feature_store.inputs.as_of_moment`); closing prices never enter.

Definitions, per match and outcome ``o`` (home, draw, away):

* A bookmaker's probability of ``o`` at a moment is its 1X2 price made
  margin-free proportionally (:func:`sabiscore_ml.odds.implied_probabilities`,
  ``multiplicative``), from a complete quote (three prices above 1).  The
  aggregates ``market_max``/``market_avg`` are not bookmakers and take no part.
* The snapshot moments are the distinct ``taken_at`` of those quotes; *first*
  and *latest* are the earliest and the latest of them.
* ``mv_p_{o}_since_first``: the consensus probability at the latest moment
  minus the one at the first, the consensus being the mean probability over
  the bookmakers quoting at **both** moments (a fixed panel, so that a
  bookmaker joining or leaving is not a move).
* ``mv_p_{o}_24h``: the same from the *reference* moment, the latest snapshot
  taken at or before the as-of moment minus 24 hours, to the latest one; null
  when no snapshot is that old, zero when none was taken since.
* ``mv_dispersion_change_{o}``: the standard deviation (``ddof = 1``) of the
  panel's probabilities at the latest moment minus the one at the first (null
  with fewer than two bookmakers in the panel).
* ``mv_books_together_{o}``: how many bookmakers of the panel moved ``o`` in
  the direction the consensus moved (a strictly positive product of the two
  moves; none when the consensus did not move).
* ``mv_n_snapshots``: the number of snapshot moments.
* ``mv_panic``, the market panic indicator: ``TV × S``, where ``TV =
  ½ Σ_o |consensus_latest(o) − consensus_first(o)|`` is the total-variation
  distance between the first and the latest consensus distributions (each
  sums to one), and ``S = Σ_o books_together(o) / (3 × panel size)`` is the
  share of (bookmaker, outcome) pairs moving with the consensus.  It lies in
  ``[0, 1]``: large when the market moved far and the bookmakers moved as one.

Every feature is null where the match has fewer than two snapshot moments
before its as-of moment: the usual case for season-file history, whose only
pre-closing snapshot before kick-off is football-data's collection.  The
panel features are also null where no bookmaker quoted at both moments.
"""

from __future__ import annotations

import polars as pl

from feature_store.common import BEFORE_KICKOFF_SNAPSHOTS, Family, FeatureDef
from feature_store.inputs import ColumnType, Inputs, as_of_moment
from sabiscore_ml.odds import implied_probabilities

OUTCOMES = ("home", "draw", "away")
WINDOW = pl.duration(hours=24)
_SRC = ("football-data",)


def _definitions() -> tuple[FeatureDef, ...]:
    def define(name: str, description: str, dtype: ColumnType = pl.Float64) -> FeatureDef:
        return FeatureDef(name, dtype, "movement", description, _SRC, BEFORE_KICKOFF_SNAPSHOTS)

    defs = [
        define(
            f"mv_p_{o}_since_first",
            f"consensus {o} probability (margin removed proportionally, bookmakers quoting at "
            "both moments) at the latest snapshot before kick-off minus at the first",
        )
        for o in OUTCOMES
    ]
    defs += [
        define(
            f"mv_p_{o}_24h",
            f"consensus {o} probability at the latest snapshot minus at the latest snapshot "
            "taken 24 hours or more before kick-off (null if none)",
        )
        for o in OUTCOMES
    ]
    defs += [
        define(
            f"mv_dispersion_change_{o}",
            f"standard deviation of the bookmakers' {o} probability at the latest snapshot "
            "minus at the first",
        )
        for o in OUTCOMES
    ]
    defs += [
        define(
            f"mv_books_together_{o}",
            f"bookmakers whose {o} probability moved (first to latest snapshot) in the "
            "direction of the consensus",
            pl.Int32,
        )
        for o in OUTCOMES
    ]
    defs += [
        define("mv_n_snapshots", "distinct snapshot moments before kick-off", pl.Int32),
        define(
            "mv_panic",
            "market panic indicator: total-variation distance between the first and latest "
            "consensus distributions times the share of bookmaker-outcome pairs moving with it",
        ),
    ]
    return tuple(defs)


def _probabilities(inputs: Inputs) -> pl.DataFrame:
    """Each bookmaker's margin-free probabilities at each moment before the match's as-of moment.

    Columns ``match_id, bookmaker, taken_at, as_of, p_home, p_draw, p_away``.
    """
    moments = inputs.matches.select("match_id", as_of_moment().alias("as_of"))
    complete = pl.all_horizontal(pl.col(o) > 1.0 for o in OUTCOMES).fill_null(False)
    quotes = (
        inputs.snapshots.join(moments, on="match_id", how="inner")
        .filter((pl.col("taken_at") < pl.col("as_of")) & complete)
        .sort("match_id", "taken_at", "bookmaker")
    )
    prices = quotes.select(OUTCOMES).to_numpy().astype(float).reshape(-1, len(OUTCOMES))
    probabilities = implied_probabilities(prices, "multiplicative").probabilities
    return quotes.select(
        "match_id",
        "bookmaker",
        "taken_at",
        "as_of",
        *(
            pl.Series(f"p_{o}", probabilities[:, i], dtype=pl.Float64)
            for i, o in enumerate(OUTCOMES)
        ),
    )


def _panel(quotes: pl.DataFrame, spans: pl.DataFrame, start: str) -> pl.DataFrame:
    """The bookmakers quoting at a match's ``start`` moment and at its latest one.

    One row per match and bookmaker: ``s_<o>`` the probabilities at ``start``,
    ``e_<o>`` at the latest moment.
    """

    def at(moment: str, prefix: str) -> pl.DataFrame:
        chosen = spans.select("match_id", pl.col(moment).alias("taken_at"))
        return quotes.join(chosen, on=["match_id", "taken_at"], how="inner").select(
            "match_id", "bookmaker", *(pl.col(f"p_{o}").alias(f"{prefix}_{o}") for o in OUTCOMES)
        )

    return at(start, "s").join(at("latest", "e"), on=["match_id", "bookmaker"], how="inner")


def _consensus(panel: pl.DataFrame) -> pl.DataFrame:
    """Per match: the panel's size and, per outcome, mean and deviation at both moments.

    Values are sorted inside each group before they are summed (see
    :mod:`feature_store.market`): the figures are bit-for-bit reproducible.
    """
    lists = panel.group_by("match_id").agg(
        pl.len().alias("books"),
        *(pl.col(f"{k}_{o}").sort() for k in ("s", "e") for o in OUTCOMES),
    )
    return lists.select(
        "match_id",
        "books",
        *(
            pl.col(f"{k}_{o}").list.mean().alias(f"mean_{k}_{o}")
            for k in ("s", "e")
            for o in OUTCOMES
        ),
        *(pl.col(f"{k}_{o}").list.std().alias(f"sd_{k}_{o}") for k in ("s", "e") for o in OUTCOMES),
    )


def compute(inputs: Inputs) -> pl.DataFrame:
    """Movement features of every match in ``inputs`` (null without two snapshot moments)."""
    quotes = _probabilities(inputs)
    spans = (
        quotes.group_by("match_id")
        .agg(
            pl.col("taken_at").n_unique().cast(pl.Int32).alias("mv_n_snapshots"),
            pl.col("taken_at").min().alias("first"),
            pl.col("taken_at").max().alias("latest"),
            pl.col("taken_at")
            .filter(pl.col("taken_at") <= pl.col("as_of") - WINDOW)
            .max()
            .alias("reference"),
        )
        .filter(pl.col("mv_n_snapshots") > 1)
    )
    panel = _panel(quotes, spans, "first")
    since_first = _consensus(panel)
    moves = since_first.select(
        "match_id",
        *((pl.col(f"mean_e_{o}") - pl.col(f"mean_s_{o}")).alias(f"move_{o}") for o in OUTCOMES),
    )
    together = (
        panel.join(moves, on="match_id", how="inner")
        .group_by("match_id")
        .agg(
            (((pl.col(f"e_{o}") - pl.col(f"s_{o}")) * pl.col(f"move_{o}")) > 0)
            .sum()
            .cast(pl.Int32)
            .alias(f"mv_books_together_{o}")
            for o in OUTCOMES
        )
    )
    first = since_first.join(together, on="match_id", how="inner").select(
        "match_id",
        *(
            (pl.col(f"mean_e_{o}") - pl.col(f"mean_s_{o}")).alias(f"mv_p_{o}_since_first")
            for o in OUTCOMES
        ),
        *(
            (pl.col(f"sd_e_{o}") - pl.col(f"sd_s_{o}")).alias(f"mv_dispersion_change_{o}")
            for o in OUTCOMES
        ),
        *(pl.col(f"mv_books_together_{o}") for o in OUTCOMES),
        (
            0.5
            * pl.sum_horizontal(
                (pl.col(f"mean_e_{o}") - pl.col(f"mean_s_{o}")).abs() for o in OUTCOMES
            )
            * pl.sum_horizontal(pl.col(f"mv_books_together_{o}") for o in OUTCOMES)
            / (3 * pl.col("books"))
        ).alias("mv_panic"),
    )
    recent = _consensus(_panel(quotes, spans, "reference")).select(
        "match_id",
        *((pl.col(f"mean_e_{o}") - pl.col(f"mean_s_{o}")).alias(f"mv_p_{o}_24h") for o in OUTCOMES),
    )
    out = inputs.matches.select("match_id")
    for part in (spans.select("match_id", "mv_n_snapshots"), first, recent):
        out = out.join(part, on="match_id", how="left")
    return out


FAMILY = Family(
    "movement",
    _definitions(),
    compute,
    notes="pre-closing 1X2 odds snapshots before kick-off; null with a single snapshot moment",
)
