"""Load Understat pages and shot exports into the warehouse, one mapped task per file.

This file is configuration: the task bodies import :mod:`sabiscore_ml` when they
run, so parsing the file touches neither the library nor any database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, Param, dag, task

SOURCE = "understat"
WAREHOUSE_UNDERSTAT = Asset("sabiscore://warehouse/understat")

DOC_MD = """
### Ingest Understat

Loads Understat fixtures, expected goals and shots into the Sabiscore warehouse,
reconciled with the football-data teams and matches already loaded (run
`ingest_football_data` for the same league-seasons first).

1. **migrate_warehouse** creates or upgrades the warehouse schema.
2. **plan** lists the files under `source_dir`: one work item per league page,
   match page or shot CSV (`.html`, `.json`, `.csv`, optionally gzipped).
3. **ingest** (mapped, one instance per file) archives the raw bytes under their
   SHA-256, recognises the kind of page from its content, reconciles the team
   names and loads the file in a single transaction.  A file that fails a check
   (not an Understat page, a league we do not cover, a team name that does not
   reconcile) is quarantined in the archive and logged in `ingestion_runs` with
   the failed check, the warehouse is left as it was, and the task fails without
   retrying, naming the file and the check.  A file of a season not asked for is
   skipped and its task succeeds.
4. **summarize** runs only when no file failed: it logs rows per league-season
   and updates the `sabiscore://warehouse/understat` asset.  When every file was
   skipped it is skipped too, and the asset is not updated.

#### Params

- `source_dir`: the folder read (recursively); empty means the bundled sample
  `samples/understat` (or `understat/` next to `SABISCORE_SAMPLE_DIR`).  Files
  under a folder named after a league (`E0/`, `epl/`) belong to that league.
- `leagues`: at most one league code, e.g. `E0`: the league of files that do not
  name theirs.  Empty means each file's own league.
- `seasons`: seasons as `YYYY-YYYY`; files of other seasons are skipped.  Empty
  means every season found.

Scheduled runs use the defaults; trigger with a config to read another folder.

#### Writes

Warehouse tables `source_matches` (fixtures and xG, linked to `matches` when the
date and teams agree), `shots`, `team_aliases`, `raw_files` and one
`ingestion_runs` row per file, plus the raw file in the archive under
`SABISCORE_HOME`.  Reloading the same file is idempotent.
"""


@dag(
    dag_id="ingest_understat",
    description="Load Understat fixtures, xG and shots into the warehouse",
    doc_md=DOC_MD,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=2),
    default_args={
        "owner": "sabiscore",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=2),
        "execution_timeout": dt.timedelta(minutes=30),
    },
    params={
        "source_dir": Param(
            "",
            type="string",
            title="Source folder",
            description="Folder of Understat pages and CSVs; empty means the bundled sample.",
        ),
        "leagues": Param(
            [],
            type="array",
            items={"type": "string"},
            maxItems=1,
            title="League",
            description="At most one league code (E0...): the league of files that do not name it.",
        ),
        "seasons": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Seasons",
            description="Seasons as YYYY-YYYY; files of other seasons are skipped; empty: all.",
        ),
    },
    tags=["sabiscore", "ingest", "understat"],
)
def ingest_understat() -> None:
    """Plan the files, load each one in its own mapped task, then summarize."""

    @task
    def migrate_warehouse() -> str:
        """Create or upgrade the warehouse schema."""
        from sqlalchemy.engine import make_url

        from sabiscore_ml.warehouse.engine import migrate

        url = migrate()
        return make_url(url).render_as_string(hide_password=True)

    @task(retries=0)  # a bad Param will not fix itself: fail at once
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, str]]:
        """Turn the Params into work items: one per file under the source folder."""
        from pathlib import Path

        from sabiscore_ml.jobs.football_data import bundled_sample_dir
        from sabiscore_ml.jobs.sources import plan_source

        params = params or {}
        leagues = list(params.get("leagues") or [])
        seasons = list(params.get("seasons") or [])
        from_dir = (params.get("source_dir") or "").strip()
        from_dir = from_dir or str(bundled_sample_dir().parent / SOURCE)
        if not Path(from_dir).is_dir():
            raise ValueError(f"source_dir {from_dir!r} does not exist or is not a folder")
        if len(leagues) > 1:
            raise ValueError(
                f"leagues: give at most one league code (the league of files that do not "
                f"name theirs), got {leagues}"
            )
        items = plan_source(SOURCE, from_dir=from_dir, leagues=leagues, seasons=seasons)
        if not items:
            raise ValueError(f"nothing to ingest: no page, JSON or CSV file under {from_dir}")
        return items

    # multiple_outputs=False: with a dict return annotation Airflow would also push
    # every key as its own XCom; one small dict per task is enough.
    @task(
        map_index_template="{{ ingest_label }}",
        max_active_tis_per_dagrun=4,
        multiple_outputs=False,
    )
    def ingest(item: dict[str, str]) -> dict[str, object]:
        """Load one file; a skipped file succeeds, a rejected one fails loudly."""
        from pathlib import Path

        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from sabiscore_ml.jobs.sources import run_source_item

        get_current_context()["ingest_label"] = Path(item["path"]).name  # type: ignore[typeddict-unknown-key]
        outcome = run_source_item(item)
        if outcome.status in ("rejected", "failed"):
            # the same bytes would fail again: no retry
            raise AirflowFailException(
                outcome.message or f"{outcome.uri}: {outcome.status} ({outcome.check})"
            )
        return outcome.as_dict()

    @task(outlets=[WAREHOUSE_UNDERSTAT], multiple_outputs=False)
    def summarize(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        """Log rows per league-season; runs only when no file failed."""
        import logging

        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        log = logging.getLogger("airflow.task")
        per: dict[str, dict[str, int]] = {}
        skipped = 0
        for outcome in outcomes[:]:  # one slice read instead of probing XCom by offset
            if outcome["status"] != "loaded":
                skipped += 1
                continue
            key = f"{outcome['league']} {outcome['season']}"
            row = per.setdefault(key, {"files": 0, "rows": 0})
            row["files"] += 1
            row["rows"] += int(outcome["matches"])  # rows loaded from the file
            if outcome.get("message"):
                log.info("%s: %s", outcome["uri"], outcome["message"])
        for key in sorted(per):
            log.info("%s: %s", key, per[key])
        totals = {name: sum(row[name] for row in per.values()) for name in ("files", "rows")}
        log.info("total: %s, skipped files: %d", totals, skipped)
        if not per:
            raise AirflowSkipException(f"all {skipped} file(s) skipped: nothing loaded")
        get_current_context()["outlet_events"][WAREHOUSE_UNDERSTAT].extra = {
            "league_seasons": sorted(per),
            "skipped": skipped,
            **totals,
        }
        return {"per_league_season": dict(sorted(per.items())), "skipped": skipped, **totals}

    migrated = migrate_warehouse()
    items = plan()
    loaded = ingest.expand(item=items)
    migrated >> loaded
    summarize(loaded)


ingest_understat()
