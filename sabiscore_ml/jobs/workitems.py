"""Work items of every ingest DAG: Params to items, one item run, and the run's summary.

The four ingest DAGs (football-data, Understat, FBref, Transfermarkt) share one
shape — plan, a mapped ingest task per item, summarize — and call these
functions, as the CLI does, so that no pipeline logic lives in an Airflow file.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from sabiscore_ml.jobs.football_data import (
    bundled_sample_dir,
    ingest_football_data_files,
    plan_football_data,
    run_item,
)
from sabiscore_ml.jobs.ingest import FAILED, LOADED, REJECTED, IngestOutcome
from sabiscore_ml.jobs.sources import (
    ingest_source_files,
    plan_source,
    replay_waiting,
    run_replay_item,
    run_source_item,
)
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import Match, Team

log = logging.getLogger(__name__)

FOOTBALL_DATA = "football-data"
FOOTBALL_DATA_MODES = ("bundled_sample", "directory", "download")
SOURCE_MODES = ("files", "live")

# What a file of each source is, for "nothing to ingest" messages.
_FILES = {
    "understat": "no page, JSON or CSV file",
    "fbref": "no FBref page",
    "transfermarkt": "no squad-value table",
}

# Summary totals: name -> outcome field (a list field counts its items).
SUMMARY_FIELDS: dict[str, dict[str, str]] = {
    FOOTBALL_DATA: {"matches": "matches", "odds": "odds", "warnings": "warnings"},
    "understat": {"rows": "matches"},
    "fbref": {"rows": "matches"},
    "transfermarkt": {"rows": "matches"},
}


def _strings(value: Any) -> list[str]:
    return [str(v).strip() for v in value or [] if str(v).strip()]


def _plan_football_data(params: Mapping[str, Any]) -> list[dict[str, str]]:
    leagues = _strings(params.get("leagues"))
    seasons = _strings(params.get("seasons"))
    mode = params.get("source") or "bundled_sample"
    if mode == "bundled_sample":
        from_dir: str | None = str(bundled_sample_dir())
    elif mode == "directory":
        from_dir = (params.get("directory") or "").strip()
        if not from_dir:
            raise ValueError("source=directory needs the 'directory' param")
        if not Path(from_dir).is_dir():
            raise ValueError(f"directory {from_dir!r} does not exist or is not a folder")
    elif mode == "download":
        if not leagues or not seasons:
            raise ValueError(
                "source=download needs explicit 'leagues' and 'seasons' "
                "(e.g. seasons ['2023-2024']); an empty list only means 'all' for files"
            )
        from_dir = None
    else:
        raise ValueError(
            f"unknown source {mode!r}; expected one of {', '.join(FOOTBALL_DATA_MODES)}"
        )
    items = plan_football_data(
        leagues=leagues, seasons=seasons, from_dir=from_dir, refresh=bool(params.get("refresh"))
    )
    if not items:
        raise ValueError(
            f"nothing to ingest: no CSV under {from_dir} for leagues {leagues or 'all'} "
            f"and seasons {seasons or 'all'}"
        )
    return items


def _plan_source(source: str, params: Mapping[str, Any]) -> list[dict[str, str]]:
    leagues = _strings(params.get("leagues"))
    seasons = _strings(params.get("seasons"))
    from_dir = (params.get("source_dir") or "").strip()
    mode = params.get("mode") or "files"
    if mode == "live":
        if from_dir:
            raise ValueError("mode=live fetches from the site: leave source_dir empty")
        if not leagues:
            raise ValueError("mode=live needs 'leagues' (and 'seasons'; empty: the current one)")
        return plan_source(
            source, leagues=leagues, seasons=seasons, refresh=bool(params.get("refresh"))
        )
    if mode != "files":
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(SOURCE_MODES)}")
    from_dir = from_dir or str(bundled_sample_dir().parent / source)
    if not Path(from_dir).is_dir():
        raise ValueError(f"source_dir {from_dir!r} does not exist or is not a folder")
    if len(leagues) > 1:
        raise ValueError(
            f"leagues: give at most one league code (the league of files that do not "
            f"name theirs), got {leagues}"
        )
    items = plan_source(source, from_dir=from_dir, leagues=leagues, seasons=seasons)
    if not items:
        raise ValueError(f"nothing to ingest: {_FILES.get(source, 'no file')} under {from_dir}")
    return items


def plan_from_params(source: str, params: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The work items a DAG run of ``source`` asks for with ``params``.

    football-data: ``source`` (``bundled_sample``, ``directory`` or ``download``),
    ``directory``, ``leagues``, ``seasons``, ``refresh``.  The other sources:
    ``mode`` (``files`` reads ``source_dir``, default the bundled sample; ``live``
    fetches each league × season), ``leagues``, ``seasons``, ``refresh``.
    Raises ``ValueError`` naming the bad Param.
    """
    params = params or {}
    if source == FOOTBALL_DATA:
        return _plan_football_data(params)
    return _plan_source(source, params)


def run_work_item(item: dict[str, str], *, engine: Engine | None = None) -> IngestOutcome:
    """Run one item of any plan (file, download, live fetch or archive replay)."""
    if item.get("kind") == "archive":
        return run_replay_item(item, engine=engine)
    if "source" in item:
        return run_source_item(item, engine=engine)
    return run_item(item, engine=engine)


def _is_football_data(item: Mapping[str, str]) -> bool:
    return "source" not in item


def _roster_size(engine: Engine) -> tuple[int, int]:
    """How many teams and matches the warehouse holds."""
    with engine.connect() as connection:
        teams = connection.execute(select(func.count()).select_from(Team)).scalar_one()
        matches = connection.execute(select(func.count()).select_from(Match)).scalar_one()
    return teams, matches


def replay_note(replayed: Sequence[IngestOutcome]) -> str:
    """One line on the waiting files replayed after a football-data load."""
    loaded = sum(outcome.ok for outcome in replayed)
    return (
        f"replayed {len(replayed)} quarantined file(s) of other sources refused for want "
        f"of their teams: {loaded} loaded, {len(replayed) - loaded} still refused"
    )


def _football_data_run(items: list[dict[str, str]], engine: Engine) -> Iterator[IngestOutcome]:
    """Consecutive football-data items, then the waiting files of the other sources.

    Files are validated in batches (:func:`ingest_football_data_files`).  When the
    items added teams or matches, the files of Understat, FBref and Transfermarkt
    refused earlier because their teams were unknown are replayed
    (:func:`~sabiscore_ml.jobs.sources.replay_waiting`), so the warehouse does not
    depend on which source arrived first; the last item's outcome says so.
    """
    before = _roster_size(engine)

    def outcomes() -> Iterator[IngestOutcome]:
        files: list[str] = []
        for item in items:
            if item.get("kind") == "file":
                files.append(item["path"])
                continue
            yield from ingest_football_data_files(files, engine=engine)
            files = []
            yield run_item(item, engine=engine)
        yield from ingest_football_data_files(files, engine=engine)

    last: IngestOutcome | None = None
    for outcome in outcomes():
        if last is not None:
            yield last
        last = outcome
    if last is None:
        return
    if _roster_size(engine) != before:
        replayed = replay_waiting(engine)
        if replayed:
            last.warnings.append(replay_note(replayed))
    yield last


def _run_key(item: Mapping[str, str]) -> tuple[str, ...] | None:
    """Items run together: football-data items; files of one source, league hint and seasons."""
    if _is_football_data(item):
        return (FOOTBALL_DATA,)
    if item.get("kind") == "file":
        return (item["source"], item.get("league", ""), item.get("seasons", ""))
    return None


def run_work_items(
    items: Iterable[dict[str, str]], *, engine: Engine | None = None
) -> Iterator[IngestOutcome]:
    """Run the items of a plan in order, yielding each outcome as :func:`run_work_item` would.

    Consecutive football-data items run together (:func:`_football_data_run`):
    files validated in batches, each still loaded or rejected alone, then the
    files of other sources waiting for their teams replayed.  Consecutive files
    of another source (same league hint and seasons) are validated in batches
    too (:func:`~sabiscore_ml.jobs.source_files.ingest_source_files`).  One
    outcome per item, in order.
    """
    engine = engine or get_engine()
    for key, run in itertools.groupby(items, key=_run_key):
        group = list(run)
        if key == (FOOTBALL_DATA,):
            yield from _football_data_run(group, engine)
        elif key is not None:
            source, league, seasons = key
            yield from ingest_source_files(
                source,
                [item["path"] for item in group],
                league=league or None,
                seasons=[s for s in seasons.split(",") if s] or None,
                engine=engine,
            )
        else:
            for item in group:
                yield run_work_item(item, engine=engine)


def replay_after_football_data(outcomes: Iterable[Mapping[str, Any]]) -> list[IngestOutcome]:
    """The DAG's replay: after football-data files loaded, the files waiting for their teams.

    The mapped ingest tasks run in parallel, so the replay waits for all of them
    (see :func:`~sabiscore_ml.jobs.sources.replay_waiting`); nothing is replayed
    when no item loaded.
    """
    if not any(outcome["status"] == LOADED for outcome in outcomes):
        return []
    replayed = replay_waiting()
    if replayed:
        log.info("%s", replay_note(replayed))
        for outcome in replayed:
            log.info("%s: %s: %s", outcome.uri, outcome.status, outcome.message)
    return replayed


def work_item_label(item: Mapping[str, str]) -> str:
    """A short name for an item: ``E0/2023-2024.csv``, ``match.html``, ``E0 2020-2021``."""
    if item.get("path"):
        parts = Path(item["path"]).parts
        return "/".join(parts[-2:]) if "source" not in item else parts[-1]
    if item.get("table"):
        return f"{item['table']} table"
    if item.get("match_id"):
        return f"match {item['match_id']}"
    return f"{item.get('league')} {item.get('season')}"


def should_retry(outcome: IngestOutcome) -> bool | None:
    """None when the item succeeded (loaded or skipped); else whether a retry may help.

    Only a download that failed on the network or an HTTP error (check ``fetch``)
    is worth another try; a rejected body, a block page or a robots.txt refusal
    would fail the same way again.
    """
    if outcome.status not in (REJECTED, FAILED):
        return None
    return outcome.check == "fetch"


def summarize_outcomes(source: str, outcomes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals per league-season of the loaded items, and how many were skipped."""
    fields = SUMMARY_FIELDS.get(source, {"rows": "matches"})
    per: dict[str, dict[str, int]] = {}
    skipped = 0
    for outcome in outcomes:
        if outcome["status"] != LOADED:
            skipped += 1
            if outcome.get("message"):
                log.info("%s: %s: %s", outcome["uri"], outcome["status"], outcome["message"])
            continue
        # a file spanning leagues and seasons (a dataset table) names neither
        key = (
            f"{outcome['league']} {outcome['season']}"
            if outcome.get("league") and outcome.get("season")
            else "all leagues and seasons"
        )
        row = per.setdefault(key, {"files": 0, **dict.fromkeys(fields, 0)})
        row["files"] += 1
        for name, field in fields.items():
            value = outcome.get(field) or 0
            row[name] += len(value) if isinstance(value, list) else int(value)
        if outcome.get("message"):
            log.info("%s: %s", outcome["uri"], outcome["message"])
    for key in sorted(per):
        log.info("%s: %s", key, per[key])
    totals = {name: sum(row[name] for row in per.values()) for name in ("files", *fields)}
    log.info("total: %s, skipped: %d", totals, skipped)
    return {"per_league_season": dict(sorted(per.items())), "skipped": skipped, **totals}
