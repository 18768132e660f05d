"""The leakage guard: features of a match must not change when the future does.

:func:`check_point_in_time` builds the features twice, from the inputs and
from a copy in which every result, statistic, odds quote, xG figure, squad
value and game dated on or after ``cutoff`` is changed or deleted, and every
odds snapshot taken at or after its match's kick-off is moved
(:func:`~feature_store.inputs.perturbed_after`).  Every feature of every match
dated up to and including ``cutoff`` must come out bit-for-bit identical: the
matches of the cut-off day itself check that no feature uses its own match's
result.  Any difference is a feature that looked ahead, and raises
:class:`LeakageError` naming it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from feature_store.build import build_frame
from feature_store.catalog import TARGET_COLUMNS
from feature_store.inputs import Inputs, perturbed_after


class LeakageError(AssertionError):
    """A feature of a match depends on something dated on or after the match day."""

    def __init__(self, cutoff: dt.date, columns: dict[str, list[int]]) -> None:
        self.cutoff = cutoff
        self.columns = columns
        shown = ", ".join(
            f"{name} (e.g. match {ids[:3]})" for name, ids in list(columns.items())[:10]
        )
        super().__init__(
            f"{len(columns)} feature(s) of matches up to {cutoff} change when data dated on or "
            f"after it changes: {shown}"
        )


def check_point_in_time(
    inputs: Inputs,
    cutoff: dt.date,
    *,
    build: Callable[[Inputs], pl.DataFrame] = build_frame,
) -> int:
    """Raise :class:`LeakageError` unless features before ``cutoff`` ignore the future.

    Returns the number of matches compared.
    """
    earlier = pl.col("match_date") <= cutoff
    original = build(inputs).filter(earlier).sort("match_id")
    perturbed = build(perturbed_after(inputs, cutoff)).filter(earlier).sort("match_id")
    if original["match_id"].to_list() != perturbed["match_id"].to_list():
        raise LeakageError(cutoff, {"<rows>": []})
    changed: dict[str, list[int]] = {}
    for name in original.columns:
        if name in TARGET_COLUMNS:  # the outcome itself, not a feature
            continue
        left, right = original[name], perturbed[name]
        if left.equals(right, check_names=True, null_equal=True):
            continue
        differs = (left.ne_missing(right)).fill_null(True)
        changed[name] = original.filter(differs)["match_id"].head(5).to_list()
    if changed:
        raise LeakageError(cutoff, changed)
    return original.height
