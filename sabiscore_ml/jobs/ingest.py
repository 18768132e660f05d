"""The one ingest pipeline: archive → parse → validate → load in one transaction → record.

Every source goes through :func:`ingest_bytes` with a small adapter saying what
differs (football-data results and fixtures in :mod:`sabiscore_ml.jobs.football_data`;
Understat, FBref and Transfermarkt in :mod:`sabiscore_ml.jobs.source_files`):

1. the body's SHA-256 is taken;
2. the adapter parses and validates it (:meth:`Adapter.prepare`); a
   :class:`~sabiscore_ml.errors.RejectedFile` quarantines the body in the
   archive and logs the rejection in ``ingestion_runs``;
3. the accepted body is archived under its league-season;
4. the raw file is recorded and the adapter's load runs in ONE transaction;
   a rejection raised while loading (a team name that does not reconcile) rolls
   it back and quarantines the body like step 2, any other failure is logged as
   ``failed`` (check ``database``) and raised;
5. the outcome is logged in ``ingestion_runs``.

:func:`ingest_files` runs the suites of many files at once
(:func:`~sabiscore_ml.validation.screen_batch`) and then each file through
:func:`ingest_bytes` alone, its suites already passed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.settings import get_warehouse_settings
from sabiscore_ml.sources.archive import archive_raw
from sabiscore_ml.sources.football_data import SOURCE
from sabiscore_ml.sources.reading import read_file, sha256_hex
from sabiscore_ml.validation import FrameCheck, screen_batch
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.loaders import upsert_raw_file
from sabiscore_ml.warehouse.models import IngestionRun

log = logging.getLogger(__name__)

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


# (connection, the outcome to fill with counts and messages, the write batch size)
Load = Callable[[Connection, IngestOutcome, int], None]


@dataclass(slots=True)
class Prepared:
    """A parsed and validated body: where it belongs and how to load it.

    ``load`` is None for a body with nothing to load (archived and logged as
    ``skipped`` with ``skip_reason``); ``ignored`` is a body of a season not
    asked for (``skipped``, neither archived nor logged).  ``rows_read`` is
    logged with a load (None: the rows the load reports).
    """

    league: str | None
    season: str | None
    load: Load | None
    rows_read: int | None = None
    warnings: list[str] = field(default_factory=list)
    skip_reason: str | None = None
    ignored: bool = False


class Adapter(Protocol):
    """What one kind of source file brings to the pipeline."""

    @property
    def source(self) -> str:
        """The source's name (the archive folder, ``ingestion_runs.source``)."""
        ...

    @property
    def league_hint(self) -> str | None:
        """The league the caller said the file belongs to (kept with a quarantined body)."""
        ...

    @property
    def rejects_while_loading(self) -> bool:
        """Whether a :class:`RejectedFile` raised by the load is a rejection (else a failure)."""
        ...

    def extension(self, uri: str) -> str:
        """The archived body's file extension."""
        ...

    def manifest(self, archive_extra: dict[str, object] | None) -> dict[str, object] | None:
        """What the archive manifest records beside ``archive_extra``."""
        ...

    def prepare(self, raw: bytes, uri: str, sha256: str) -> Prepared:
        """Parse and validate ``raw`` (raises :class:`RejectedFile`)."""
        ...


def _quarantined(
    engine: Engine,
    adapter: Adapter,
    raw: bytes,
    sha: str,
    uri: str,
    error: RejectedFile,
    started: dt.datetime,
    fetched_at: dt.datetime | None,
    extra: dict[str, object] | None,
    *,
    outcome: IngestOutcome | None = None,
    while_loading: bool = False,
) -> IngestOutcome:
    """Keep a rejected body in the archive's quarantine and log the rejection; nothing loaded.

    A body refused while loading is marked ``stage: load`` (refused against the
    warehouse as it stood: its teams may come later) with the caller's league
    hint, to be replayed under the same terms.
    """
    quarantine = {"check": error.check, "detail": error.detail}
    if while_loading:
        quarantine["stage"] = "load"
    archive_raw(
        raw,
        sha,
        source=adapter.source,
        uri=uri,
        league=adapter.league_hint if while_loading else None,
        ext=adapter.extension(uri),
        fetched_at=fetched_at,
        extra=extra,
        quarantine=quarantine,
    )
    if outcome is None:
        outcome = IngestOutcome(uri, REJECTED, sha)
    outcome.status, outcome.check, outcome.message = REJECTED, error.check, str(error)
    outcome.matches = outcome.odds = 0
    log.warning("%s", error)
    record_run(engine, outcome, started, source=adapter.source, fetched_at=fetched_at)
    return outcome


def ingest_bytes(
    adapter: Adapter,
    raw: bytes,
    uri: str,
    *,
    engine: Engine | None = None,
    fetched_at: dt.datetime | None = None,
    archive_extra: dict[str, object] | None = None,
) -> IngestOutcome:
    """Archive, parse, validate and load one body in one transaction; log the outcome.

    ``archive_extra`` goes into the archive manifest (a download's ETag and
    Last-Modified, for the next conditional request).
    """
    engine = engine or get_engine()
    started = now_utc()
    sha = sha256_hex(raw)
    extra = adapter.manifest(archive_extra)
    ext = adapter.extension(uri)
    try:
        prepared = adapter.prepare(raw, uri, sha)
    except RejectedFile as exc:
        return _quarantined(engine, adapter, raw, sha, uri, exc, started, fetched_at, extra)
    if prepared.ignored:
        return IngestOutcome(uri, SKIPPED, sha, prepared.league, prepared.season)
    if prepared.load is None:
        archive_raw(raw, sha, source=adapter.source, uri=uri, ext=ext, fetched_at=fetched_at)
        outcome = IngestOutcome(uri, SKIPPED, sha, message=f"{uri}: {prepared.skip_reason}")
        record_run(engine, outcome, started, source=adapter.source, fetched_at=fetched_at)
        return outcome
    archived = archive_raw(
        raw,
        sha,
        source=adapter.source,
        uri=uri,
        league=prepared.league,
        season=prepared.season,
        ext=ext,
        fetched_at=fetched_at,
        extra=extra,
    )
    outcome = IngestOutcome(
        uri, LOADED, sha, prepared.league, prepared.season, warnings=list(prepared.warnings)
    )
    batch = get_warehouse_settings().write_batch_size
    try:
        with engine.begin() as connection:
            upsert_raw_file(
                connection,
                sha256=sha,
                source=adapter.source,
                uri=uri,
                size=len(raw),
                path=str(archived.path),
            )
            prepared.load(connection, outcome, batch)
    except RejectedFile as exc:
        if not adapter.rejects_while_loading:
            _failed(engine, adapter, outcome, exc, started, fetched_at, prepared)
            raise
        return _quarantined(
            engine,
            adapter,
            raw,
            sha,
            uri,
            exc,
            started,
            fetched_at,
            extra,
            outcome=outcome,
            while_loading=True,
        )
    except Exception as exc:  # the transaction rolled back: log the failure, then raise
        _failed(engine, adapter, outcome, exc, started, fetched_at, prepared)
        raise
    record_run(
        engine,
        outcome,
        started,
        source=adapter.source,
        fetched_at=fetched_at,
        loaded_at=now_utc(),
        rows_read=outcome.matches if prepared.rows_read is None else prepared.rows_read,
    )
    return outcome


def _failed(
    engine: Engine,
    adapter: Adapter,
    outcome: IngestOutcome,
    error: Exception,
    started: dt.datetime,
    fetched_at: dt.datetime | None,
    prepared: Prepared,
) -> None:
    """Log a load that failed (its transaction rolled back) as ``failed``, check ``database``."""
    outcome.status, outcome.matches, outcome.odds = FAILED, 0, 0
    outcome.check, outcome.message = "database", f"{outcome.uri}: load failed: {error}"
    record_run(
        engine,
        outcome,
        started,
        source=adapter.source,
        fetched_at=fetched_at,
        rows_read=prepared.rows_read or 0,
    )


P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Screen(Generic[P]):
    """A parse made before a batch's suites run, and the suite runs of that file."""

    parsed: P
    checks: list[FrameCheck]


# Files whose suites run as one batch: great-expectations' cost per run is paid once per
# batch, and a batch's parsed files are held in memory until they are loaded.
VALIDATION_BATCH_FILES = 50


def ingest_files(
    paths: Sequence[str | Path],
    *,
    source: str,
    screen: Callable[[bytes, str], Screen[P] | None],
    ingest: Callable[[bytes, str, P | None], IngestOutcome],
    engine: Engine | None = None,
    batch_files: int = VALIDATION_BATCH_FILES,
) -> Iterator[IngestOutcome]:
    """Ingest files from disk, validating them ``batch_files`` at a time; yield each outcome.

    ``screen(raw, path)`` parses a file and builds its suite runs, or gives None
    when the file is to go through the one-file path (a parse that fails, a file
    of a season not asked for...).  ``ingest(raw, path, parsed)`` runs the
    pipeline on one file: with ``parsed`` (the screen's parse, whose suites
    passed in the batch) it is neither parsed nor validated again; with None it
    is judged alone.  Each file is still loaded (or rejected) alone, in its own
    transaction and in order, with the outcome it gets alone; a file the batch
    may fail goes through the one-file path, which gives its verdict and message
    exactly as alone.
    """
    engine = engine or get_engine()
    for start in range(0, len(paths), batch_files):
        chunk = [str(path) for path in paths[start : start + batch_files]]
        inputs = [read_input(Path(path), source, engine=engine) for path in chunk]
        screened: list[Screen[P] | None] = []
        checks: list[FrameCheck] = []
        owners: list[int] = []
        for position, raw in enumerate(inputs):
            found = None if isinstance(raw, IngestOutcome) else screen(raw, chunk[position])
            screened.append(found)
            if found is not None:
                checks.extend(found.checks)
                owners.extend([position] * len(found.checks))
        suspects = {owners[check] for check in screen_batch(checks, owners)} if checks else set()
        for position, (path, raw) in enumerate(zip(chunk, inputs, strict=True)):
            if isinstance(raw, IngestOutcome):
                yield raw
                continue
            found = screened[position]
            passed = found is not None and position not in suspects
            yield ingest(raw, path, found.parsed if passed and found is not None else None)
