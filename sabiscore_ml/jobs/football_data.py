"""Ingest football-data.co.uk files: one entry point per unit of work.

Each function here is what an Airflow task or a CLI command calls.  The unit of
work is one raw file: its bytes are archived under their hash first, then
parsed, validated and loaded in one transaction.  A rejected file is archived
too (for replay), logged in ``ingestion_runs`` with the failed check, and
leaves the warehouse as it was.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import football_data_season_code, get_league, normalize_season
from sabiscore_ml.settings import (
    get_core_settings,
    get_football_data_settings,
    get_warehouse_settings,
)
from sabiscore_ml.sources.archive import archive_raw, first_archived_at
from sabiscore_ml.sources.football_data import (
    SOURCE,
    ParsedFile,
    iter_csv_files,
    parse_football_data,
    parse_football_data_fixtures,
)
from sabiscore_ml.sources.reading import check_size, parse_failures, read_file, sha256_hex
from sabiscore_ml.validation import (
    FrameCheck,
    football_data_checks,
    screen_batch,
    validate_football_data,
    validate_football_data_fixtures,
)
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.loaders import (
    load_football_data,
    load_football_data_fixtures,
    upsert_raw_file,
)
from sabiscore_ml.warehouse.models import IngestionRun

log = logging.getLogger(__name__)

T = TypeVar("T")

LOADED, REJECTED, FAILED, SKIPPED = "loaded", "rejected", "failed", "skipped"


@dataclass(slots=True)
class IngestOutcome:
    """What happened to one file (JSON-serialisable via :meth:`as_dict`)."""

    uri: str
    status: str
    sha256: str | None = None
    league: str | None = None
    season: str | None = None
    matches: int = 0
    odds: int = 0
    check: str | None = None
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    # a file of many league-seasons (fixtures.csv): matches loaded per "E0 2024-2025"
    per_league_season: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the file was loaded."""
        return self.status == LOADED

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for XCom, JSON and tables)."""
        return asdict(self)


def now_utc() -> dt.datetime:
    """Naive UTC now, to the second (the warehouse's timestamp convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def record_run(
    engine: Engine,
    outcome: IngestOutcome,
    started: dt.datetime,
    *,
    source: str = SOURCE,
    **extra: object,
) -> None:
    """Log one ingestion attempt in ``ingestion_runs`` (its own transaction)."""
    with engine.begin() as connection:
        connection.execute(
            IngestionRun.__table__.insert().values(
                source=source,
                uri=outcome.uri,
                sha256=outcome.sha256,
                status=outcome.status,
                started_at=started,
                league_code=outcome.league,
                season_code=outcome.season,
                matches_loaded=outcome.matches,
                odds_loaded=outcome.odds,
                check_failed=outcome.check,
                message=outcome.message
                or ("; ".join(outcome.warnings) if outcome.warnings else None),
                **extra,
            )
        )


def read_input(
    path: Path, source: str = SOURCE, *, engine: Engine | None = None
) -> bytes | IngestOutcome:
    """The bytes of one input file, or the rejection recorded when it cannot be read.

    A file over the source's size limit (``too_large``) is refused before it is
    read, and so is not archived; a missing or unreadable one is ``readable``.
    """
    try:
        return read_file(path, source)
    except (OSError, RejectedFile) as exc:
        check = exc.check if isinstance(exc, RejectedFile) else "readable"
        message = str(exc) if isinstance(exc, RejectedFile) else f"{path}: {exc}"
        outcome = IngestOutcome(str(path), REJECTED, check=check, message=message)
        log.warning("%s", message)
        record_run(engine or get_engine(), outcome, now_utc(), source=source)
        return outcome


def _taken_on(
    sha: str, parsed: ParsedFile, fetched_at: dt.datetime | None, today: dt.date | None
) -> dt.date:
    """The date the file was taken: the earliest of today, its fetch and its first archiving."""
    known = [today or now_utc().date()]
    if fetched_at is not None:
        known.append(fetched_at.date())
    archived = first_archived_at(sha, source=SOURCE, league=parsed.league, season=parsed.season)
    if archived is not None:
        known.append(archived.astimezone(dt.UTC).date())
    return min(known)


def _quarantined(
    engine: Engine,
    raw: bytes,
    sha: str,
    uri: str,
    error: RejectedFile,
    started: dt.datetime,
    fetched_at: dt.datetime | None,
    extra: dict[str, object] | None,
) -> IngestOutcome:
    """Keep a rejected body in the archive's quarantine and log the rejection; nothing loaded."""
    archive_raw(
        raw,
        sha,
        source=SOURCE,
        uri=uri,
        fetched_at=fetched_at,
        extra=extra,
        quarantine={"check": error.check, "detail": error.detail},
    )
    outcome = IngestOutcome(uri, REJECTED, sha, check=error.check, message=str(error))
    log.warning("%s", error)
    record_run(engine, outcome, started, fetched_at=fetched_at)
    return outcome


def _load_in_one_transaction(
    engine: Engine,
    raw: bytes,
    archive_path: str,
    outcome: IngestOutcome,
    started: dt.datetime,
    fetched_at: dt.datetime | None,
    rows_read: int,
    load: Callable[[Connection, int], T],
) -> T:
    """Record the raw file and ``load(connection, batch_size)`` it in one transaction.

    A failure rolls everything back, is logged in the run log as ``failed``
    (check ``database``) and raised.
    """
    assert outcome.sha256 is not None
    batch = get_warehouse_settings().write_batch_size
    try:
        with engine.begin() as connection:
            upsert_raw_file(
                connection,
                sha256=outcome.sha256,
                source=SOURCE,
                uri=outcome.uri,
                size=len(raw),
                path=archive_path,
            )
            return load(connection, batch)
    except Exception as exc:  # the transaction rolled back: log the failure, then raise
        outcome.status, outcome.matches, outcome.odds = FAILED, 0, 0
        outcome.check, outcome.message = "database", f"{outcome.uri}: load failed: {exc}"
        record_run(engine, outcome, started, fetched_at=fetched_at, rows_read=rows_read)
        raise


def ingest_football_data_bytes(
    raw: bytes,
    uri: str,
    *,
    engine: Engine | None = None,
    fetched_at: dt.datetime | None = None,
    today: dt.date | None = None,
    archive_extra: dict[str, object] | None = None,
    screened: ParsedFile | None = None,
) -> IngestOutcome:
    """Archive, parse, validate and load one football-data CSV body.

    ``archive_extra`` goes into the archive manifest (a download's ETag and
    Last-Modified, for the next conditional request).  ``screened`` is the
    parse of these very bytes when it already passed the suites in a batch
    (:func:`ingest_football_data_files`): it is neither parsed nor validated again.
    """
    engine = engine or get_engine()
    started = now_utc()
    sha = sha256_hex(raw)
    try:
        if screened is not None:
            parsed = screened
        else:
            check_size(len(raw), uri, SOURCE)
            with parse_failures(uri):
                parsed = parse_football_data(raw, uri, today=today)
            validate_football_data(parsed, as_of=_taken_on(sha, parsed, fetched_at, today))
    except RejectedFile as exc:
        return _quarantined(engine, raw, sha, uri, exc, started, fetched_at, archive_extra)

    archived = archive_raw(
        raw,
        sha,
        source=SOURCE,
        uri=uri,
        league=parsed.league,
        season=parsed.season,
        fetched_at=fetched_at,
        extra=archive_extra,
    )
    outcome = IngestOutcome(
        uri, LOADED, sha, parsed.league, parsed.season, warnings=list(parsed.warnings)
    )
    outcome.matches, outcome.odds = _load_in_one_transaction(
        engine,
        raw,
        str(archived.path),
        outcome,
        started,
        fetched_at,
        len(parsed.matches),
        lambda connection, batch: load_football_data(connection, parsed, batch_size=batch),
    )
    record_run(
        engine,
        outcome,
        started,
        fetched_at=fetched_at,
        loaded_at=now_utc(),
        rows_read=len(parsed.matches),
    )
    return outcome


def ingest_football_data_file(path: str | Path, *, engine: Engine | None = None) -> IngestOutcome:
    """Load one CSV file from disk."""
    raw = read_input(Path(path), engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    return ingest_football_data_bytes(raw, str(path), engine=engine)


# Files whose suites run as one batch: great-expectations' cost per run is paid once per
# batch, and a batch's parsed files are held in memory until they are loaded.
VALIDATION_BATCH_FILES = 50


def _screen_input(raw: bytes, path: str) -> tuple[ParsedFile | None, list[FrameCheck]]:
    """A file's parse and suite runs, or ``(None, [])`` when it is rejected before the suites."""
    try:
        check_size(len(raw), path, SOURCE)
        with parse_failures(path):
            parsed = parse_football_data(raw, path)
    except RejectedFile:  # ingested alone, it is rejected with its own message
        return None, []
    as_of = _taken_on(sha256_hex(raw), parsed, None, None)
    return parsed, football_data_checks(parsed, as_of=as_of)


def ingest_football_data_files(
    paths: Sequence[str | Path],
    *,
    engine: Engine | None = None,
    batch_files: int = VALIDATION_BATCH_FILES,
) -> Iterator[IngestOutcome]:
    """Load CSV files from disk, validating them ``batch_files`` at a time; yield each outcome.

    Each file is still loaded (or rejected) alone, in its own transaction and
    in order, with the outcome :func:`ingest_football_data_file` gives it; only
    the suites run once over the batch (:func:`~sabiscore_ml.validation.screen_batch`).
    A file the batch may fail, or that cannot be read or parsed, goes through
    the one-file path, which gives its verdict and message exactly as alone.
    """
    engine = engine or get_engine()
    for start in range(0, len(paths), batch_files):
        chunk = [str(path) for path in paths[start : start + batch_files]]
        inputs = [read_input(Path(path), engine=engine) for path in chunk]
        screened: list[ParsedFile | None] = []
        checks: list[FrameCheck] = []
        owners: list[int] = []
        for position, raw in enumerate(inputs):
            parsed, file_checks = (
                (None, [])
                if isinstance(raw, IngestOutcome)
                else _screen_input(raw, chunk[position])
            )
            screened.append(parsed)
            checks.extend(file_checks)
            owners.extend([position] * len(file_checks))
        suspects = {owners[check] for check in screen_batch(checks, owners)}
        for position, (path, raw) in enumerate(zip(chunk, inputs, strict=True)):
            if isinstance(raw, IngestOutcome):
                yield raw
            elif position in suspects or screened[position] is None:
                yield ingest_football_data_bytes(raw, path, engine=engine)
            else:
                yield ingest_football_data_bytes(
                    raw, path, engine=engine, screened=screened[position]
                )


def football_data_url(league: str, season: str) -> str:
    """The download URL of one league-season, under the configured base URL."""
    base = get_football_data_settings().base_url.rstrip("/")
    return f"{base}/{football_data_season_code(season)}/{league}.csv"


def ingest_football_data_remote(
    league: str, season: str, *, engine: Engine | None = None, refresh: bool = False
) -> IngestOutcome:
    """Download one league-season from football-data.co.uk and load it.

    A finished season whose archived copy is loaded is not downloaded again, the
    current one is asked for only if it changed (see :mod:`sabiscore_ml.jobs.live`);
    ``refresh`` downloads it whatever the archive holds.
    """
    from sabiscore_ml.jobs.live import LiveTarget, fetch_live

    get_league(league)
    season = normalize_season(season)
    url = football_data_url(league, season)
    target = LiveTarget(SOURCE, url, "csv", league=league, season=season)

    def ingest(raw: bytes, fetched_at: dt.datetime, extra: dict[str, object]) -> IngestOutcome:
        return ingest_football_data_bytes(
            raw, url, engine=engine, fetched_at=fetched_at, archive_extra=extra
        )

    return fetch_live(target, ingest, refresh=refresh, engine=engine)


# ---------------------------------------------------------------- fixtures.csv


def fixtures_url() -> str:
    """Where ``fixtures.csv`` is downloaded from.

    ``SABISCORE_FOOTBALL_DATA_FIXTURES_URL`` when set; otherwise the site root of
    the configured base URL (``.../mmz4281`` holds the season files, the
    fixtures lie beside that folder): ``https://www.football-data.co.uk/fixtures.csv``.
    """
    settings = get_football_data_settings()
    if settings.fixtures_url:
        return settings.fixtures_url
    root = settings.base_url.rstrip("/").removesuffix("/mmz4281")
    return f"{root}/fixtures.csv"


def ingest_football_data_fixtures_bytes(
    raw: bytes,
    uri: str,
    *,
    engine: Engine | None = None,
    fetched_at: dt.datetime | None = None,
    today: dt.date | None = None,
    archive_extra: dict[str, object] | None = None,
) -> IngestOutcome:
    """Archive, parse, validate and load one ``fixtures.csv`` body: every league in one go.

    The dates of each league-season are checked against the window of
    acceptable seasons (``football_data.fixtures``), its odds with the
    ``football_data.odds`` suite (there is no match count to check); then
    every league-season is loaded in ONE transaction (all or nothing) by
    :func:`~sabiscore_ml.warehouse.loaders.load_football_data_fixtures`, which
    never changes a played match.  ``today`` is the day the file was taken
    (default: the day it was fetched, else the current date): fixtures more than
    a few days before it reject the copy as not current.  The body is archived
    with ``fixtures`` and that day (``taken_on``) in its manifest, so a replay
    loads it with this function and judges it as of the same day.
    """
    engine = engine or get_engine()
    started = now_utc()
    sha = sha256_hex(raw)
    taken = today or min(now_utc().date(), (fetched_at or now_utc()).date())
    extra = {"fixtures": True, "taken_on": taken.isoformat(), **(archive_extra or {})}
    try:
        check_size(len(raw), uri, SOURCE)
        with parse_failures(uri):
            parsed = parse_football_data_fixtures(raw, uri, today=taken)
        for group in parsed.files:
            validate_football_data_fixtures(group, as_of=taken)
    except RejectedFile as exc:
        return _quarantined(engine, raw, sha, uri, exc, started, fetched_at, extra)

    archived = archive_raw(raw, sha, source=SOURCE, uri=uri, fetched_at=fetched_at, extra=extra)
    outcome = IngestOutcome(uri, LOADED, sha, warnings=list(parsed.warnings))
    report = _load_in_one_transaction(
        engine,
        raw,
        str(archived.path),
        outcome,
        started,
        fetched_at,
        parsed.matches,
        lambda connection, batch: load_football_data_fixtures(connection, parsed, batch_size=batch),
    )
    outcome.matches, outcome.odds = report.matches, report.odds
    outcome.per_league_season = report.per_league_season
    if report.played:
        outcome.warnings.append(
            f"{len(report.played)} fixture(s) already played in the warehouse, left as they "
            "are: " + "; ".join(report.played[:5])
        )
    if report.moved:
        outcome.warnings.append(
            f"{len(report.moved)} unplayed fixture(s) moved to their new day: "
            + "; ".join(report.moved[:5])
        )
    outcome.message = (
        f"fixtures as of {taken}: "
        + (
            ", ".join(f"{key} {count}" for key, count in report.per_league_season.items())
            or "none of a known league"
        )
        + f" ({report.inserted} new)"
    )
    record_run(
        engine,
        outcome,
        started,
        fetched_at=fetched_at,
        loaded_at=now_utc(),
        rows_read=parsed.matches,
    )
    return outcome


def ingest_football_data_fixtures_file(
    path: str | Path, *, engine: Engine | None = None, today: dt.date | None = None
) -> IngestOutcome:
    """Load a ``fixtures.csv`` from disk (``today``: the day it was taken; default today)."""
    raw = read_input(Path(path), engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    return ingest_football_data_fixtures_bytes(raw, str(path), engine=engine, today=today)


def ingest_football_data_fixtures_remote(
    *, engine: Engine | None = None, refresh: bool = False
) -> IngestOutcome:
    """Download ``fixtures.csv`` (see :func:`fixtures_url`) and load it.

    Asked for with the archived copy's ETag / Last-Modified: a ``304`` is logged
    as ``skipped`` and the warehouse keeps the fixtures it has (see
    :mod:`sabiscore_ml.jobs.live`); ``refresh`` asks unconditionally.  A refused
    download is an outcome with check ``robots``, ``blocked`` or ``fetch``.
    """
    from sabiscore_ml.jobs.live import LiveTarget, fetch_live

    url = fixtures_url()
    target = LiveTarget(SOURCE, url, "csv")

    def ingest(raw: bytes, fetched_at: dt.datetime, extra: dict[str, object]) -> IngestOutcome:
        return ingest_football_data_fixtures_bytes(
            raw, url, engine=engine, fetched_at=fetched_at, archive_extra=extra
        )

    return fetch_live(target, ingest, refresh=refresh, engine=engine)


def bundled_sample_dir() -> Path:
    """The real football-data sample shipped with the repository (``SABISCORE_SAMPLE_DIR``)."""
    root = get_core_settings().sample_dir or Path(__file__).resolve().parents[2] / "samples"
    return root / "football-data"


def plan_football_data(
    *,
    leagues: list[str] | None = None,
    seasons: list[str] | None = None,
    from_dir: str | None = None,
    files: list[str] | None = None,
    refresh: bool = False,
) -> list[dict[str, str]]:
    """The work items for one ingestion: files to read, or league-seasons to download.

    Files (``files`` and every CSV under ``from_dir``) are filtered by the
    leagues and seasons in their path when those are given.  Without files,
    each league × season is a download (``refresh``: even a finished season).
    """
    if from_dir or files:
        paths = iter_csv_files([*(files or []), *([from_dir] if from_dir else [])])
        wanted_leagues = set(leagues or [])
        wanted_seasons = {normalize_season(s) for s in seasons or []}

        def keep(path: str) -> bool:
            parts = Path(path).parts
            if wanted_leagues and not wanted_leagues.intersection(parts):
                return False
            if wanted_seasons and not any(s in path for s in wanted_seasons):
                return False
            return True

        return [{"kind": "file", "path": p} for p in paths if keep(p)]
    if not leagues or not seasons:
        raise ValueError("give files (--file/--from-dir) or both leagues and seasons to download")
    for league in leagues:
        get_league(league)
    flag = {"refresh": "1"} if refresh else {}
    return [
        {"kind": "remote", "league": league, "season": normalize_season(season), **flag}
        for league in leagues
        for season in seasons
    ]


def run_item(item: dict[str, str], *, engine: Engine | None = None) -> IngestOutcome:
    """Run one work item from :func:`plan_football_data`."""
    if item["kind"] == "file":
        return ingest_football_data_file(item["path"], engine=engine)
    if item["kind"] == "remote":
        return ingest_football_data_remote(
            item["league"], item["season"], engine=engine, refresh=bool(item.get("refresh"))
        )
    raise ValueError(f"unknown work item kind {item['kind']!r}")
