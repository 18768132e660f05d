"""The offline store: one Parquet file per league-season, indexed in the warehouse.

Layout: ``<features dir>/offline/league=<code>/season=<YYYY-YYYY>/features.parquet``.
The ``feature_partitions`` table records, per partition, the catalogue version
and a fingerprint of the warehouse data it was built from.

**Incremental builds.**  A partition is stale when its fingerprint or the
catalogue version changed.  Ratings and form carry over from one season to the
next within a country, so a stale league-season also makes every later season
of that country stale.  Countries are independent (teams, ratings and
fixtures never cross a border in the warehouse), so a build recomputes only
the countries with stale partitions, and writes only the stale partitions.
Their history comes from the input snapshots (:mod:`feature_store.snapshots`),
so only league-seasons whose data changed are read from the warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import polars as pl
from sqlalchemy import Engine, Integer, case, cast, delete, func, insert, select

from feature_store.build import build_frame
from feature_store.catalog import CATALOG_VERSION, FAMILIES, feature_names, frame_schema
from feature_store.snapshots import cached_inputs
from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.settings import get_core_settings, get_feature_store_settings
from sabiscore_ml.warehouse.models import (
    FeaturePartition,
    Match,
    MatchXg,
    Odds,
    OddsSnapshot,
    Shot,
    SquadValue,
    TeamMatchLog,
)

log = logging.getLogger(__name__)

FILE_NAME = "features.parquet"


def offline_root() -> Path:
    """The offline store's folder."""
    return get_feature_store_settings().offline_dir(get_core_settings()) / "offline"


def partition_path(league: str, season: str, root: Path | None = None) -> Path:
    """Where the partition of ``league`` and ``season`` lives."""
    return (root or offline_root()) / f"league={league}" / f"season={season}" / FILE_NAME


# ----------------------------------------------------------------- fingerprints


def fingerprints(engine: Engine) -> dict[tuple[str, str], str]:
    """A digest per league-season of everything its features are built from.

    Matches (results, statistics, which raw files fed them), xG, shots, and per
    season the team match logs and squad values; the odds of played matches come
    from the raw files their matches name.  Unplayed matches (football-data's
    fixtures.csv) count with their day and every quote: a newer copy of the
    fixtures moves them or changes their prices without a new result.  The
    pre-closing 1X2 odds snapshots count by number, latest moment and price
    sum: every new copy of the fixtures adds a moment, prices moved or
    not.  Loading a new or changed raw file changes the digest; re-loading the
    same file does not.
    """
    parts: dict[tuple[str, str], list[str]] = {}
    per_season: dict[str, list[str]] = {}

    def add(key: tuple[str, str], *values: object) -> None:
        parts.setdefault(key, []).append("|".join(map(str, values)))

    goals = func.coalesce(Match.home_goals, -1) * 31 + func.coalesce(Match.away_goals, -1)
    stats = sum(
        func.coalesce(getattr(Match, c), 0)
        for c in ("home_shots", "away_shots", "home_corners", "away_corners", "home_fouls")
    )
    # grouped by match first: SQLite walks the primary key in match order
    per_match = (
        select(
            OddsSnapshot.match_id,
            func.count().label("quotes"),
            func.max(OddsSnapshot.taken_at).label("latest"),
            # whole hundredths: an integer sum does not depend on the order of the rows
            func.sum(cast(func.round(OddsSnapshot.price * 100), Integer)).label("total"),
        )
        .where(OddsSnapshot.market == "1x2", OddsSnapshot.timing == "preclose")
        .group_by(OddsSnapshot.match_id)
        .subquery()
    )
    queries = {
        "matches": select(
            Match.league_code,
            Match.season_code,
            func.count(),
            func.count(Match.home_goals),
            func.sum(goals * (Match.id % 97 + 1)),
            func.sum(stats),
            func.min(Match.raw_sha256),
            func.max(Match.raw_sha256),
            func.count(func.distinct(Match.raw_sha256)),
            func.max(Match.match_date),
        ).group_by(Match.league_code, Match.season_code),
        "xg": select(
            Match.league_code,
            Match.season_code,
            func.count(),
            func.sum(func.coalesce(MatchXg.home_xg, 0) + 2 * func.coalesce(MatchXg.away_xg, 0)),
            func.min(MatchXg.raw_sha256),
            func.max(MatchXg.raw_sha256),
        )
        .join(Match, Match.id == MatchXg.match_id)
        .group_by(Match.league_code, Match.season_code),
        "shots": select(
            Match.league_code,
            Match.season_code,
            func.count(),
            func.sum(case((Shot.situation == "Penalty", 0), else_=func.coalesce(Shot.xg, 0))),
        )
        .join(Match, Match.id == Shot.match_id)
        .group_by(Match.league_code, Match.season_code),
        # the snapshots the movement features read: a new fixtures copy adds some
        # (a new moment) even where it changes no current price in ``odds``
        "snapshots": select(
            Match.league_code,
            Match.season_code,
            func.sum(per_match.c.quotes),
            func.max(per_match.c.latest),
            func.sum(per_match.c.total),
        )
        .join(Match, Match.id == per_match.c.match_id)
        .group_by(Match.league_code, Match.season_code),
    }
    season_queries = {
        "logs": select(
            TeamMatchLog.season_code,
            func.count(),
            func.min(TeamMatchLog.raw_sha256),
            func.max(TeamMatchLog.raw_sha256),
        ).group_by(TeamMatchLog.season_code),
        "values": select(
            SquadValue.season_code,
            func.count(),
            func.sum(func.coalesce(SquadValue.market_value_eur, 0) / 1e6),
            func.max(SquadValue.as_of),
        ).group_by(SquadValue.season_code),
    }
    unplayed = (
        select(
            Match.league_code,
            Match.season_code,
            Match.id,
            Match.match_date,
            Odds.bookmaker,
            Odds.market,
            Odds.timing,
            Odds.line,
            Odds.outcome,
            Odds.price,
        )
        .outerjoin(Odds, Odds.match_id == Match.id)
        .where(Match.home_goals.is_(None), Match.result.is_(None))
    )
    with engine.connect() as connection:
        for name, query in queries.items():
            for league, season, *values in connection.execute(query):
                add((league, season), name, *values)
        for league, season, *values in connection.execute(unplayed):
            add((league, season), "unplayed", *values)
        for name, query in season_queries.items():
            for season, *values in connection.execute(query):
                per_season.setdefault(str(season), []).append("|".join(map(str, [name, *values])))
    digests = {}
    for (league, season), items in parts.items():
        if not any(item.startswith("matches|") for item in items):
            continue
        text = "\n".join(sorted(items) + sorted(per_season.get(season, [])))
        digests[(league, season)] = hashlib.sha256(text.encode()).hexdigest()
    return digests


def country_fingerprints(digests: dict[tuple[str, str], str]) -> dict[str, str]:
    """Per country, one digest of the fingerprints of all its league-seasons.

    A country's feature rows are computed from its whole history, so this is the
    fingerprint of what any of them was built from.
    """
    lines: dict[str, list[str]] = {}
    for (league, season), digest in sorted(digests.items()):
        lines.setdefault(LEAGUES[league].country, []).append(f"{league}|{season}|{digest}")
    return {
        country: hashlib.sha256("\n".join(items).encode()).hexdigest()
        for country, items in lines.items()
    }


def read_index(engine: Engine) -> dict[tuple[str, str], FeaturePartition]:
    """The partition index, by (league, season)."""
    with engine.connect() as connection:
        rows = connection.execute(select(FeaturePartition)).all()
    return {(row.league_code, row.season_code): FeaturePartition(**row._mapping) for row in rows}


# ----------------------------------------------------------------- planning


@dataclass
class BuildPlan:
    """What a build will do: the stale partitions, grouped by country."""

    stale: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    fresh: int = 0
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    digests: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def partitions(self) -> list[tuple[str, str]]:
        """Every stale partition."""
        return [p for parts in self.stale.values() for p in parts]


def plan_build(
    engine: Engine,
    *,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
    full: bool = False,
) -> BuildPlan:
    """Which partitions are stale (or all of them with ``full``), with the reason for each."""
    digests = fingerprints(engine)
    index = read_index(engine)
    plan = BuildPlan(digests=digests)
    stale_from: dict[str, str] = {}  # country -> earliest stale season
    for (league, season), digest in sorted(digests.items()):
        entry = index.get((league, season))
        reason = None
        if full:
            reason = "full rebuild"
        elif entry is None:
            reason = "new"
        elif entry.catalog_version != CATALOG_VERSION:
            reason = "feature definitions changed"
        elif entry.fingerprint != digest:
            reason = "data changed"
        elif not Path(entry.path).exists():
            reason = "file missing"
        if reason:
            plan.reasons[(league, season)] = reason
            country = LEAGUES[league].country
            stale_from[country] = min(stale_from.get(country, season), season)
    for league, season in sorted(digests):
        country = LEAGUES[league].country
        first = stale_from.get(country)
        if first is None or season < first:
            continue
        if leagues and league not in leagues or seasons and season not in seasons:
            continue
        plan.reasons.setdefault((league, season), "follows an earlier stale season")
        plan.stale.setdefault(country, []).append((league, season))
    plan.fresh = len(digests) - len(plan.partitions)
    return plan


# ----------------------------------------------------------------- writing


@dataclass
class BuildReport:
    """What a build did."""

    partitions: int = 0
    rows: int = 0
    countries: int = 0
    fresh: int = 0
    seconds: float = 0.0
    written: list[tuple[str, str, int]] = field(default_factory=list)


def _write_parquet(frame: pl.DataFrame, path: Path) -> str:
    """Write ``frame`` atomically (temporary file, then rename); return its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp-{os.getpid()}")
    frame.write_parquet(temporary, compression="lz4", statistics=True)
    digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
    temporary.replace(path)
    return digest


def _coverage(frame: pl.DataFrame) -> dict[tuple[str, str], dict[str, float]]:
    """Per league-season, the share of matches with a value of each feature."""
    names = feature_names()
    shares = frame.group_by("league_code", "season_code").agg(
        pl.col(names).is_not_null().mean().round(4)
    )
    return {
        (row.pop("league_code"), row.pop("season_code")): row
        for row in shares.iter_rows(named=True)
    }


class _PartitionRow(TypedDict):
    """A row of ``feature_partitions``, as a build writes it."""

    league_code: str
    season_code: str
    catalog_version: str
    fingerprint: str
    rows: int
    path: str
    file_sha256: str
    built_at: dt.datetime
    coverage_json: str


def build_countries(
    engine: Engine,
    stale: Mapping[str, Sequence[tuple[str, str]]],
    digests: dict[tuple[str, str], str] | None = None,
) -> list[tuple[str, str, int]]:
    """Recompute the features of the ``stale`` countries; write and index their partitions.

    Each country's whole history is used (ratings and form need it), read from
    the input snapshots where they are current; only the given partitions are
    written, then indexed in one transaction.
    """
    digests = digests if digests is not None else fingerprints(engine)
    history = [pair for pair in sorted(digests) if LEAGUES[pair[0]].country in stale]
    inputs, _ = cached_inputs(engine, history, digests)
    frame = build_frame(inputs)
    wanted = [pair for partitions in stale.values() for pair in partitions]
    parts = frame.partition_by("league_code", "season_code", as_dict=True)
    empty = frame.clear()
    coverage = _coverage(frame)
    built_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def write(pair: tuple[str, str]) -> _PartitionRow:
        league, season = pair
        part = parts.get(pair, empty)
        path = partition_path(league, season)
        return {
            "league_code": league,
            "season_code": season,
            "catalog_version": CATALOG_VERSION,
            "fingerprint": digests[pair],
            "rows": part.height,
            "path": str(path),
            "file_sha256": _write_parquet(part, path),
            "built_at": built_at,
            "coverage_json": json.dumps(coverage.get(pair, {}), sort_keys=True),
        }

    # Parquet encoding runs outside the GIL: a few threads overlap the small files.
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(write, wanted))
    written = [(row["league_code"], row["season_code"], row["rows"]) for row in rows]
    if rows:
        with engine.begin() as connection:
            for row in rows:
                connection.execute(
                    delete(FeaturePartition).where(
                        (FeaturePartition.league_code == row["league_code"])
                        & (FeaturePartition.season_code == row["season_code"])
                    )
                )
            connection.execute(insert(FeaturePartition), rows)
    log.info("%s: %d partition(s) from %d matches", ", ".join(stale), len(rows), frame.height)
    return written


def build_country(
    engine: Engine, country: str, partitions: Sequence[tuple[str, str]]
) -> list[tuple[str, str, int]]:
    """:func:`build_countries` for one country (one mapped task of the DAG)."""
    return build_countries(engine, {country: partitions})


def build_offline(
    engine: Engine,
    *,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
    full: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> BuildReport:
    """Rebuild the stale partitions, one country at a time."""
    started = time.perf_counter()
    plan = plan_build(engine, leagues=leagues, seasons=seasons, full=full)
    report = BuildReport(fresh=plan.fresh, countries=len(plan.stale))
    if plan.stale:
        written = build_countries(engine, plan.stale, plan.digests)
        report.written.extend(written)
        report.partitions += len(written)
        report.rows += sum(rows for _, _, rows in written)
        if progress:
            for country, partitions in plan.stale.items():
                rows = sum(n for league, season, n in written if (league, season) in partitions)
                progress(country, len(partitions), rows)
    report.seconds = time.perf_counter() - started
    return report


# ----------------------------------------------------------------- reading


def read_partitions(
    engine: Engine,
    *,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The offline rows of the given leagues and seasons (every partition by default)."""
    index = read_index(engine)
    wanted = [
        entry
        for (league, season), entry in sorted(index.items())
        if (not leagues or league in leagues) and (not seasons or season in seasons)
    ]
    schema = frame_schema(FAMILIES)
    stale = [
        f"{e.league_code} {e.season_code}" for e in wanted if e.catalog_version != CATALOG_VERSION
    ]
    if stale:
        raise RuntimeError(
            f"offline partitions built with older feature definitions: {', '.join(stale[:5])}; "
            "run `sabiscore features build`"
        )
    if not wanted:
        return pl.DataFrame(schema=schema)
    return pl.concat([pl.read_parquet(entry.path) for entry in wanted], how="vertical").select(
        list(schema)
    )


def coverage_by_feature(
    engine: Engine,
    *,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
) -> tuple[dict[str, float], int]:
    """Share of matches with a value, per feature, over the built partitions chosen."""
    totals: dict[str, float] = {}
    rows = 0
    partitions = 0
    for (league, season), entry in read_index(engine).items():
        if (leagues and league not in leagues) or (seasons and season not in seasons):
            continue
        partitions += 1
        for name, share in json.loads(entry.coverage_json).items():
            totals[name] = totals.get(name, 0.0) + share * entry.rows
        rows += entry.rows
    return ({name: total / rows for name, total in totals.items()} if rows else {}), partitions
