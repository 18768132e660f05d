"""The feature catalogue: every feature family, in a fixed column order.

The catalogue is the contract between the builders, the stores and the
models: :func:`feature_names` is the column order of every frame the feature
store returns, and :data:`CATALOG_VERSION` (a hash of the definitions) changes
whenever a definition does, which makes the offline store rebuild.
"""

from __future__ import annotations

import hashlib

import polars as pl

from feature_store import context, fatigue, form, home, market, movement, ratings, squad
from feature_store.common import Family, FeatureDef

FAMILIES: tuple[Family, ...] = (
    ratings.FAMILY,
    form.FAMILY,
    fatigue.FAMILY,
    home.FAMILY,
    market.FAMILY,
    movement.FAMILY,
    squad.FAMILY,
    context.FAMILY,
)

# Identify the match; targets are the outcome (null for fixtures not played).
KEY_COLUMNS: dict[str, pl.DataType] = {
    "match_id": pl.Int64(),
    "league_code": pl.String(),
    "season_code": pl.String(),
    "match_date": pl.Date(),
    "home_team_id": pl.Int64(),
    "away_team_id": pl.Int64(),
}
TARGET_COLUMNS: dict[str, pl.DataType] = {
    "home_goals": pl.Int32(),
    "away_goals": pl.Int32(),
    "result": pl.String(),
}


def definitions(families: tuple[Family, ...] = FAMILIES) -> list[FeatureDef]:
    """Every feature definition, in column order."""
    defs = [d for family in families for d in family.definitions]
    names = [d.name for d in defs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"feature names defined twice: {duplicated}")
    return defs


def feature_names(families: tuple[Family, ...] = FAMILIES) -> list[str]:
    """The feature columns, in order."""
    return [d.name for d in definitions(families)]


def frame_schema(families: tuple[Family, ...] = FAMILIES) -> dict[str, pl.DataType]:
    """Column names and types of every feature frame: keys, targets, features."""
    return {
        **KEY_COLUMNS,
        **TARGET_COLUMNS,
        **{d.name: _instance(d.dtype) for d in definitions(families)},
    }


def _instance(dtype: type[pl.DataType] | pl.DataType) -> pl.DataType:
    return dtype() if isinstance(dtype, type) else dtype


def catalog_version(families: tuple[Family, ...] = FAMILIES) -> str:
    """A short hash of every definition (name, type, family, availability)."""
    text = "\n".join(
        f"{d.name}|{d.dtype}|{d.family}|{d.availability}|{','.join(d.sources)}"
        for d in definitions(families)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


CATALOG_VERSION = catalog_version()
