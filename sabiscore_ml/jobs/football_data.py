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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.jobs.ingest import (
    FAILED,
    LOADED,
    REJECTED,
    SKIPPED,
    VALIDATION_BATCH_FILES,
    IngestOutcome,
    Prepared,
    Screen,
    ingest_bytes,
    ingest_files,
    now_utc,
    read_input,
    record_run,
)
from sabiscore_ml.jobs.live import LiveTarget, fetch_live
from sabiscore_ml.leagues import football_data_season_code, get_league, normalize_season
from sabiscore_ml.settings import get_core_settings, get_football_data_settings
from sabiscore_ml.sources.archive import first_archived_at
from sabiscore_ml.sources.football_data import (
    SOURCE,
    ParsedFile,
    iter_csv_files,
    parse_football_data,
    parse_football_data_fixtures,
)
from sabiscore_ml.sources.reading import check_size, parse_failures, sha256_hex
from sabiscore_ml.validation import (
    football_data_checks,
    validate_football_data,
    validate_football_data_fixtures,
)
from sabiscore_ml.warehouse.loaders import load_football_data, load_football_data_fixtures
from sabiscore_ml.warehouse.snapshots import LOOKBACK, earliest_snapshot

log = logging.getLogger(__name__)

__all__ = [
    "FAILED",
    "LOADED",
    "REJECTED",
    "SKIPPED",
    "VALIDATION_BATCH_FILES",
    "IngestOutcome",
    "now_utc",
    "read_input",
    "record_run",
]


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


@dataclass(frozen=True, slots=True)
class FootballDataResults:
    """The pipeline's adapter of a football-data season file (results and odds).

    ``screened`` is the parse of these very bytes when it already passed the
    suites in a batch: it is neither parsed nor validated again.
    """

    fetched_at: dt.datetime | None = None
    today: dt.date | None = None
    screened: ParsedFile | None = None
    source: str = SOURCE
    league_hint: str | None = None
    rejects_while_loading: bool = False

    def extension(self, uri: str) -> str:
        """Season files are archived as CSV."""
        return "csv"

    def manifest(self, archive_extra: dict[str, object] | None) -> dict[str, object] | None:
        """The download's validators, if any."""
        return archive_extra

    def prepare(self, raw: bytes, uri: str, sha256: str) -> Prepared:
        """Parse (size first) and validate the file as of the day it was taken."""
        parsed = self.screened
        if parsed is None:
            check_size(len(raw), uri, SOURCE)
            with parse_failures(uri):
                parsed = parse_football_data(raw, uri, today=self.today)
            as_of = _taken_on(sha256, parsed, self.fetched_at, self.today)
            validate_football_data(parsed, as_of=as_of)
        chosen = parsed

        def load(connection: Connection, outcome: IngestOutcome, batch: int) -> None:
            outcome.matches, outcome.odds = load_football_data(connection, chosen, batch_size=batch)

        return Prepared(
            parsed.league,
            parsed.season,
            load,
            rows_read=len(parsed.matches),
            warnings=list(parsed.warnings),
        )


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
    return ingest_bytes(
        FootballDataResults(fetched_at, today, screened),
        raw,
        uri,
        engine=engine,
        fetched_at=fetched_at,
        archive_extra=archive_extra,
    )


def ingest_football_data_file(path: str | Path, *, engine: Engine | None = None) -> IngestOutcome:
    """Load one CSV file from disk."""
    raw = read_input(Path(path), engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    return ingest_football_data_bytes(raw, str(path), engine=engine)


def _screen_input(raw: bytes, path: str) -> Screen[ParsedFile] | None:
    """A file's parse and suite runs, or None when it is rejected before the suites."""
    try:
        check_size(len(raw), path, SOURCE)
        with parse_failures(path):
            parsed = parse_football_data(raw, path)
    except RejectedFile:  # ingested alone, it is rejected with its own message
        return None
    as_of = _taken_on(sha256_hex(raw), parsed, None, None)
    return Screen(parsed, football_data_checks(parsed, as_of=as_of))


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

    def ingest(raw: bytes, path: str, parsed: ParsedFile | None) -> IngestOutcome:
        return ingest_football_data_bytes(raw, path, engine=engine, screened=parsed)

    return ingest_files(
        paths,
        source=SOURCE,
        screen=_screen_input,
        ingest=ingest,
        engine=engine,
        batch_files=batch_files,
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
    taken_at: dt.datetime | None = None,
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
    loads it with this function and judges it as of the same day.  Its quotes
    are kept as odds snapshots taken at ``taken_at`` (:func:`fixtures_taken_at`),
    also in the manifest.
    """
    moment = fixtures_taken_at(fetched_at=fetched_at, today=today, taken_at=taken_at)
    return ingest_bytes(
        FootballDataFixtures(today or moment.date(), moment),
        raw,
        uri,
        engine=engine,
        fetched_at=fetched_at,
        archive_extra=archive_extra,
    )


def fixtures_taken_at(
    *,
    fetched_at: dt.datetime | None = None,
    today: dt.date | None = None,
    taken_at: dt.datetime | None = None,
) -> dt.datetime:
    """The moment a ``fixtures.csv`` copy was taken (naive UTC, to the second).

    ``taken_at`` when given (an aware time is converted to UTC); else the moment
    it was fetched, unless ``today`` names another day, whose start it then is
    (a copy dated by its day only); else now.
    """
    if taken_at is not None:
        if taken_at.tzinfo is not None:
            taken_at = taken_at.astimezone(dt.UTC).replace(tzinfo=None)
        return taken_at.replace(microsecond=0)
    moment = min(now_utc(), fetched_at or now_utc())
    if today is not None and moment.date() != today:
        return dt.datetime.combine(today, dt.time())
    return moment


@dataclass(frozen=True, slots=True)
class FootballDataFixtures:
    """The pipeline's adapter of ``fixtures.csv``, taken on ``taken`` (every league at once).

    ``taken_at`` is the moment the copy was taken, which its odds snapshots carry.
    """

    taken: dt.date
    taken_at: dt.datetime
    source: str = SOURCE
    league_hint: str | None = None
    rejects_while_loading: bool = False

    def extension(self, uri: str) -> str:
        """``fixtures.csv`` is archived as CSV."""
        return "csv"

    def manifest(self, archive_extra: dict[str, object] | None) -> dict[str, object] | None:
        """``fixtures`` and the day it was taken, so a replay judges it as of the same day."""
        return {
            "fixtures": True,
            "taken_on": self.taken.isoformat(),
            "taken_at": self.taken_at.isoformat(),
            **(archive_extra or {}),
        }

    def prepare(self, raw: bytes, uri: str, sha256: str) -> Prepared:
        """Parse the file, then check each league-season's dates and odds."""
        taken = self.taken
        check_size(len(raw), uri, SOURCE)
        with parse_failures(uri):
            parsed = parse_football_data_fixtures(raw, uri, today=taken)
        for group in parsed.files:
            validate_football_data_fixtures(group, as_of=taken)
            far = [
                m
                for m in group.matches
                if m.odds and self.taken_at < earliest_snapshot(m.match_date)
            ]
            if far:
                raise RejectedFile(
                    uri,
                    "snapshot_window",
                    f"{len(far)} priced fixture(s) of {group.league} more than "
                    f"{LOOKBACK.days} days after the copy was taken ({self.taken_at:%Y-%m-%d}), "
                    f"first {far[0].match_date} {far[0].home_team} v {far[0].away_team}",
                )

        def load(connection: Connection, outcome: IngestOutcome, batch: int) -> None:
            report = load_football_data_fixtures(
                connection, parsed, taken_at=self.taken_at, batch_size=batch
            )
            outcome.matches, outcome.odds = report.matches, report.odds
            outcome.per_league_season = report.per_league_season
            if report.played:
                outcome.warnings.append(
                    f"{len(report.played)} fixture(s) already played in the warehouse, left "
                    "as they are: " + "; ".join(report.played[:5])
                )
            if report.superseded:
                outcome.warnings.append(
                    f"{report.superseded} fixture(s) priced by a copy taken after this one: "
                    "their current prices kept, this copy's kept as snapshots"
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

        return Prepared(None, None, load, rows_read=parsed.matches, warnings=list(parsed.warnings))


def ingest_football_data_fixtures_file(
    path: str | Path,
    *,
    engine: Engine | None = None,
    today: dt.date | None = None,
    taken_at: dt.datetime | None = None,
) -> IngestOutcome:
    """Load a ``fixtures.csv`` from disk, taken at ``taken_at`` or on ``today`` (default now)."""
    raw = read_input(Path(path), engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    return ingest_football_data_fixtures_bytes(
        raw, str(path), engine=engine, today=today, taken_at=taken_at
    )


def ingest_football_data_fixtures_remote(
    *, engine: Engine | None = None, refresh: bool = False
) -> IngestOutcome:
    """Download ``fixtures.csv`` (see :func:`fixtures_url`) and load it.

    Asked for with the archived copy's ETag / Last-Modified: a ``304`` is logged
    as ``skipped`` and the warehouse keeps the fixtures it has (see
    :mod:`sabiscore_ml.jobs.live`); ``refresh`` asks unconditionally.  A refused
    download is an outcome with check ``robots``, ``blocked`` or ``fetch``.
    """
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
