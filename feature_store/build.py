"""Build the feature frame from :class:`~feature_store.inputs.Inputs`.

:func:`build_frame` runs every family and assembles one row per match: key
columns, targets, then the features in catalogue order.  It is a pure function
of its inputs, which is what the leakage guard relies on.
"""

from __future__ import annotations

import logging
import time

import polars as pl

from feature_store.catalog import FAMILIES, KEY_COLUMNS, frame_schema
from feature_store.common import Family, checked
from feature_store.inputs import Inputs

log = logging.getLogger(__name__)


def targets(matches: pl.DataFrame) -> pl.DataFrame:
    """Keys and outcome of every match (result ``H``/``D``/``A``, null if not played)."""
    return matches.select(
        *KEY_COLUMNS,
        "home_goals",
        "away_goals",
        pl.when(pl.col("home_goals") > pl.col("away_goals"))
        .then(pl.lit("H"))
        .when(pl.col("home_goals") == pl.col("away_goals"))
        .then(pl.lit("D"))
        .when(pl.col("home_goals") < pl.col("away_goals"))
        .then(pl.lit("A"))
        .alias("result"),
    )


def build_frame(inputs: Inputs, families: tuple[Family, ...] = FAMILIES) -> pl.DataFrame:
    """Every feature of every match in ``inputs``: one row per match, in date order."""
    base = targets(inputs.matches)
    ids = base.select("match_id")
    parts = []
    for family in families:
        started = time.perf_counter()
        parts.append(checked(family.compute(inputs), family, ids))
        log.debug("%s: %.2f s", family.name, time.perf_counter() - started)
    frame = pl.concat([base, *(part.drop("match_id") for part in parts)], how="horizontal")
    schema = frame_schema(families)
    # a mean over no values is missing, not NaN: missing data stays null everywhere
    columns = [
        pl.col(name).cast(dtype).fill_nan(None) if dtype.is_float() else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    ]
    return frame.select(columns).sort("match_date", "match_id")
