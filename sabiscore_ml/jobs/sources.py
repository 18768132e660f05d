"""Work items of Understat, FBref and Transfermarkt: plan, run, replay from the archive.

A file is one unit of work, as for football-data, run through the one ingest
pipeline (:mod:`sabiscore_ml.jobs.ingest`, the sources' adapter in
:mod:`sabiscore_ml.jobs.source_files`); a live item is fetched or served from
the archive (:mod:`sabiscore_ml.jobs.live`).  The archive can be replayed, and a
file refused because its league's football-data teams were not loaded yet is
replayed when they arrive (:func:`replay_waiting`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from sqlalchemy import Engine, select

from sabiscore_ml.jobs.football_data import (
    ingest_football_data_bytes,
    ingest_football_data_fixtures_bytes,
)
from sabiscore_ml.jobs.ingest import LOADED, REJECTED, IngestOutcome, read_input
from sabiscore_ml.jobs.live import plan_live_source, run_live_source_item
from sabiscore_ml.jobs.source_files import (
    AWAITS_TEAMS,
    PARSERS,
    SOURCES,
    Parsed,
    SourceFile,
    ingest_source_bytes,
    ingest_source_files,
    parse_fbref,
    parse_transfermarkt,
    parse_understat,
)
from sabiscore_ml.leagues import LEAGUES, normalize_season
from sabiscore_ml.settings import get_core_settings
from sabiscore_ml.sources import understat
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import IngestionRun, RawFile

__all__ = [
    "AWAITS_TEAMS",
    "PARSERS",
    "SOURCES",
    "Parsed",
    "SourceFile",
    "ingest_source_bytes",
    "ingest_source_files",
    "parse_fbref",
    "parse_transfermarkt",
    "parse_understat",
]

log = logging.getLogger(__name__)

_EXTENSIONS = (".html", ".htm", ".json", ".csv", ".html.gz", ".json.gz", ".csv.gz")


def plan_source(
    source: str,
    *,
    from_dir: str | None = None,
    files: list[str] | None = None,
    leagues: list[str] | None = None,
    seasons: list[str] | None = None,
    refresh: bool = False,
    match_ids: list[str] | None = None,
) -> list[dict[str, str]]:
    """Work items for ``source``: one per file, or live fetches without files.

    Without ``from_dir`` and ``files`` each league × season (default: the current
    season) is fetched from the source's site, or each of Understat's
    ``match_ids``; ``refresh`` fetches even a finished season again (see
    :mod:`sabiscore_ml.jobs.live`).
    """
    if source not in PARSERS:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    if not from_dir and not files:
        return plan_live_source(
            source, leagues=leagues or [], seasons=seasons, refresh=refresh, match_ids=match_ids
        )
    found = [*(files or [])]
    if from_dir:
        found.extend(
            str(p)
            for p in sorted(Path(from_dir).rglob("*"))
            if p.is_file() and p.name.lower().endswith(_EXTENSIONS)
        )
    item: dict[str, str] = {"kind": "file", "source": source}
    if leagues:
        if len(leagues) > 1:
            raise ValueError("give at most one --league: it names the league of files that do not")
        item["league"] = leagues[0]
    if seasons:
        item["seasons"] = ",".join(normalize_season(s) for s in seasons)
    items = []
    for path in found:
        entry = {**item, "path": path}
        # a folder named after a league (``transfermarkt/E0/...``) names the file's league
        hint = next((_league_hint(part) for part in Path(path).parts if _league_hint(part)), None)
        if hint and "league" not in entry:
            entry["league"] = hint
        items.append(entry)
    return items


# Folder or file names that name a league: ours (``E0``), Understat's (``epl``,
# ``EPL_2015``) and the plain English ones used by data exports.
_NAMED_LEAGUES = {
    **{name.casefold(): code for name, code in understat.UNDERSTAT_LEAGUES.items() if code},
    "premier_league": "E0",
    "la_liga": "SP1",
    "bundesliga": "D1",
    "serie_a": "I1",
    "ligue_1": "F1",
}


def _league_hint(part: str) -> str | None:
    """The league a folder or file name names, if any (never guessed from content)."""
    if part in LEAGUES:
        return part
    folded = part.casefold()
    for name, code in _NAMED_LEAGUES.items():
        if folded == name or folded.startswith((f"{name}_", f"{name}.")):
            return code
    return None


def run_source_item(item: dict[str, str], *, engine: Engine | None = None) -> IngestOutcome:
    """Run one work item from :func:`plan_source`."""
    if item.get("kind") == "live":
        return run_live_source_item(item, engine=engine)
    path = Path(item["path"])
    raw = read_input(path, item["source"], engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    seasons = [s for s in item.get("seasons", "").split(",") if s]
    return ingest_source_bytes(
        item["source"],
        raw,
        str(path),
        league=item.get("league") or None,
        seasons=seasons or None,
        engine=engine,
    )


def replay_items(sources: list[str] | None = None) -> list[dict[str, str]]:
    """Work items that rebuild the warehouse from the raw archive, football-data first.

    Every archived body is replayed (quarantined ones too: an alias added since may
    now reconcile it), under the URI recorded in its manifest.  football-data
    fixtures files come after the season files, oldest first.
    """
    root = get_core_settings().raw_archive_dir
    order = ["football-data", *SOURCES]
    wanted = [s for s in order if not sources or s in sources]
    items: list[dict[str, str]] = []
    fixtures: list[dict[str, str]] = []
    for source in wanted:
        for manifest_path in sorted((root / source).rglob("*.json")):
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("block_page"):  # a block page kept for inspection, not data
                continue
            body = next(
                (
                    p
                    for p in manifest_path.parent.glob(f"{manifest['sha256']}.*")
                    if p.suffix != ".json"
                ),
                None,
            )
            if body is None:
                continue
            item = {"kind": "archive", "source": source, "path": str(body), "uri": manifest["uri"]}
            if manifest.get("league"):
                item["league"] = manifest["league"]
            if manifest.get("fixtures"):  # a fixtures.csv, judged as of the day it was taken
                item["taken_on"] = str(manifest.get("taken_on") or manifest["fetched_at"][:10])
                if manifest.get("taken_at"):
                    item["taken_at"] = str(manifest["taken_at"])
                fixtures.append(item)
                continue
            items.append(item)
        # after the season files, oldest first: the latest copy's odds end up current
        items.extend(
            sorted(fixtures, key=lambda i: (i["taken_on"], i.get("taken_at", ""), i["path"]))
        )
        fixtures.clear()
    return items


def run_replay_item(item: dict[str, str], *, engine: Engine | None = None) -> IngestOutcome:
    """Re-ingest one archived body under its original URI."""
    raw = read_input(Path(item["path"]), item["source"], engine=engine)
    if isinstance(raw, IngestOutcome):
        return raw
    if item["source"] == "football-data" and item.get("taken_on"):
        return ingest_football_data_fixtures_bytes(
            raw,
            item["uri"],
            engine=engine,
            today=dt.date.fromisoformat(item["taken_on"]),
            taken_at=dt.datetime.fromisoformat(item["taken_at"]) if "taken_at" in item else None,
        )
    if item["source"] == "football-data":
        return ingest_football_data_bytes(raw, item["uri"], engine=engine)
    return ingest_source_bytes(
        item["source"], raw, item["uri"], league=item.get("league"), engine=engine
    )


# Checks a file fails against the warehouse as it stands: its league's football-data
# teams are not loaded yet.  Such a file is replayed once new teams arrive.
WAITING_CHECKS = ("reconcile", "known_league")


def waiting_items(engine: Engine | None = None) -> list[dict[str, str]]:
    """Replay items of the files of Understat, FBref and Transfermarkt waiting for teams.

    A file whose last attempt on this warehouse was either rejected by a check of
    :data:`WAITING_CHECKS` while it was being loaded (its quarantine manifest
    says ``stage: load``) and that never loaded since, or loaded with rows tied
    to no team (:data:`AWAITS_TEAMS`).  They come in the order they were first
    tried, each under its original URI and league hint.
    """
    engine = engine or get_engine()
    with engine.connect() as connection:
        loaded = dict(connection.execute(select(RawFile.sha256, RawFile.archive_path)).all())
        runs = connection.execute(
            select(
                IngestionRun.source,
                IngestionRun.sha256,
                IngestionRun.status,
                IngestionRun.check_failed,
            )
            .where(IngestionRun.source.in_(SOURCES), IngestionRun.sha256.is_not(None))
            .order_by(IngestionRun.id)
        ).all()
    last: dict[str, tuple[str, str, str | None]] = {}  # first tried first (dicts keep order)
    for source, sha, status, check in runs:
        if sha is not None:  # the query asks for files only
            last[sha] = (source, status, check)
    root = get_core_settings().raw_archive_dir
    items: list[dict[str, str]] = []
    for sha, (source, status, check) in last.items():
        if status == LOADED and check == AWAITS_TEAMS:
            body = Path(loaded[sha])
            manifest_path = body.parent / f"{sha}.json"
        elif status == REJECTED and check in WAITING_CHECKS and sha not in loaded:
            folder = root / source / "_quarantine"
            manifest_path = folder / f"{sha}.json"
            if not manifest_path.exists():
                continue
            quarantined = json.loads(manifest_path.read_text()).get("quarantined") or {}
            if quarantined.get("stage") != "load" and quarantined.get("check") != "reconcile":
                continue  # refused on its content: the same bytes would be refused again
            found = [p for p in folder.glob(f"{sha}.*") if p.name != f"{sha}.json"]
            if not found:
                continue
            body = found[0]
        else:
            continue
        if not body.exists() or not manifest_path.exists():
            continue
        manifest = json.loads(manifest_path.read_text())
        item = {"kind": "archive", "source": source, "path": str(body), "uri": manifest["uri"]}
        if manifest.get("league"):
            item["league"] = manifest["league"]
        items.append(item)
    return items


def replay_waiting(engine: Engine | None = None) -> list[IngestOutcome]:
    """Replay the files :func:`waiting_items` lists, until a pass loads none of them.

    Each is loaded alone, in its own transaction, and logged in ``ingestion_runs``
    like any attempt; one still refused stays quarantined for the next time.
    """
    engine = engine or get_engine()
    outcomes: list[IngestOutcome] = []
    tried: set[str] = set()
    while items := [item for item in waiting_items(engine) if item["path"] not in tried]:
        results = [run_replay_item(item, engine=engine) for item in items]
        outcomes.extend(results)
        if not any(result.ok and result.check is None for result in results):
            break  # nothing new is tied to its teams: another pass would give the same
        # a file loaded whole may let another one load: try those still waiting again
        tried = {
            item["path"]
            for item, result in zip(items, results, strict=True)
            if result.ok and result.check is not None
        }
    return outcomes
