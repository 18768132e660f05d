"""Input snapshots: the warehouse facts of each league-season, kept as Parquet.

Rebuilding a country's features needs its whole history, but after a new
matchday only one league-season's facts have changed.  Each league-season's
matches, pre-closing odds, xG, non-penalty xG and pre-closing 1X2 odds
snapshots are therefore kept under ``<features dir>/inputs/league=<L>/season=<S>/``
together with the warehouse fingerprint they were read at
(:func:`feature_store.offline.fingerprints`).  A snapshot whose fingerprint
still matches is read from Parquet; any other is read from the warehouse and
rewritten.  The features computed are the same
either way, since a snapshot is exactly what the warehouse held at that
fingerprint.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from feature_store.inputs import (
    Inputs,
    SeasonFacts,
    complete_inputs,
    match_filter,
    read_season_facts,
)
from sabiscore_ml.settings import get_core_settings, get_feature_store_settings

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "fingerprint"


def snapshot_root() -> Path:
    """The folder of the input snapshots."""
    return get_feature_store_settings().offline_dir(get_core_settings()) / "inputs"


def _folder(league: str, season: str) -> Path:
    return snapshot_root() / f"league={league}" / f"season={season}"


def _read_snapshot(folder: Path, fingerprint: str) -> SeasonFacts | None:
    try:
        if (folder / FINGERPRINT_FILE).read_text() != fingerprint:
            return None
        return SeasonFacts(
            *(pl.read_parquet(folder / f"{kind}.parquet") for kind in SeasonFacts.KINDS)
        )
    except (OSError, pl.exceptions.PolarsError):
        return None


def _write_snapshot(folder: Path, facts: SeasonFacts, fingerprint: str) -> None:
    """Write atomically: a temporary folder renamed into place."""
    temporary = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for kind in SeasonFacts.KINDS:
        getattr(facts, kind).write_parquet(temporary / f"{kind}.parquet", compression="lz4")
    (temporary / FINGERPRINT_FILE).write_text(fingerprint)
    shutil.rmtree(folder, ignore_errors=True)
    temporary.rename(folder)


def _split(facts: SeasonFacts, league: str, season: str) -> SeasonFacts:
    matches = facts.matches.filter(
        (pl.col("league_code") == league) & (pl.col("season_code") == season)
    )
    ids = matches.select("match_id")
    return SeasonFacts(
        matches,
        *(
            getattr(facts, kind).join(ids, on="match_id", how="semi")
            for kind in ("odds", "xg", "npxg", "snapshots")
        ),
    )


def cached_inputs(
    engine: Engine,
    league_seasons: Sequence[tuple[str, str]],
    fingerprints: dict[tuple[str, str], str],
) -> tuple[Inputs, int]:
    """The inputs of ``league_seasons``, from snapshots where they are current.

    Returns the inputs and how many league-seasons were read from the warehouse.
    """
    parts: list[SeasonFacts] = []
    missing: list[tuple[str, str]] = []
    for league, season in league_seasons:
        snapshot = _read_snapshot(_folder(league, season), fingerprints[(league, season)])
        if snapshot is None:
            missing.append((league, season))
        else:
            parts.append(snapshot)
    if missing:
        # many league-seasons: one scan of everything beats looking each one up
        scan = len(missing) > len(fingerprints) // 4
        fresh = read_season_facts(engine, None if scan else match_filter(pairs=missing))
        for league, season in missing:
            part = _split(fresh, league, season)
            _write_snapshot(_folder(league, season), part, fingerprints[(league, season)])
            parts.append(part)
    log.info(
        "inputs: %d league-season(s) from snapshots, %d from the warehouse",
        len(parts) - len(missing),
        len(missing),
    )
    return complete_inputs(engine, SeasonFacts.concat(parts)), len(missing)
