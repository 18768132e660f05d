"""Load football-data.co.uk results and odds into the warehouse, one mapped task per file.

This file is configuration: the task bodies import :mod:`sabiscore_ml` when they
run, so parsing the file touches neither the library nor any database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, Param, dag, task

WAREHOUSE_MATCHES = Asset("sabiscore://warehouse/matches")
SOURCES = ("bundled_sample", "directory", "download")

DOC_MD = """
### Ingest football-data.co.uk

Loads match results, statistics and bookmaker odds from football-data.co.uk CSV
files into the Sabiscore warehouse.

1. **migrate_warehouse** creates or upgrades the warehouse schema.
2. **plan** turns the Params into work items: one per CSV file, or one per
   league × season to download.
3. **ingest** (mapped, one instance per work item) archives the raw bytes under
   their SHA-256, validates them and loads them in a single transaction.  A file
   that fails a check is archived and logged in `ingestion_runs` with the failed
   check, the warehouse is left as it was, and the task fails without retrying,
   naming the file and the check.
4. **summarize** runs only when every file loaded: it logs matches and odds per
   league-season and updates the `sabiscore://warehouse/matches` asset.

#### Params

- `leagues`: division codes, e.g. `E0` (Premier League), `E1` (Championship);
  empty means every league found in the files.
- `seasons`: seasons as `YYYY-YYYY`; empty means every season found in the
  files.  Required for `download`.
- `source`: `bundled_sample` reads the CSVs shipped in `samples/football-data`,
  `directory` reads every CSV under `directory`, and `download` fetches each
  league × season from football-data.co.uk.
- `directory`: the folder read when `source` is `directory`, laid out as
  `<league>/<season>.csv` so that the league and season filters apply.

#### Writes

Warehouse tables `leagues`, `seasons`, `teams`, `matches`, `odds`, `raw_files`
and one `ingestion_runs` row per file (loaded, rejected or failed), plus the raw
file in the archive under `SABISCORE_HOME`.  Reloading the same file is
idempotent.
"""


@dag(
    dag_id="ingest_football_data",
    description="Load football-data.co.uk results and odds into the warehouse",
    doc_md=DOC_MD,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    schedule=None,
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
        "leagues": Param(
            ["E0", "E1"],
            type="array",
            items={"type": "string"},
            title="Leagues",
            description="football-data division codes (E0, E1, SP1...); empty means all.",
        ),
        "seasons": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Seasons",
            description="Seasons as YYYY-YYYY; empty means all in the source (not for download).",
        ),
        "source": Param(
            "bundled_sample",
            type="string",
            enum=list(SOURCES),
            title="Source",
            description="Where the CSVs come from.",
        ),
        "directory": Param(
            "",
            type="string",
            title="Directory",
            description="Folder of CSVs, used when source is 'directory'.",
        ),
    },
    tags=["sabiscore", "ingest", "football-data"],
)
def ingest_football_data() -> None:
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
        """Turn the Params into work items: files to read or league-seasons to download."""
        from pathlib import Path

        from sabiscore_ml.jobs.football_data import bundled_sample_dir, plan_football_data

        params = params or {}
        leagues = list(params.get("leagues") or [])
        seasons = list(params.get("seasons") or [])
        source = params.get("source") or "bundled_sample"
        if source == "bundled_sample":
            from_dir = str(bundled_sample_dir())
        elif source == "directory":
            from_dir = (params.get("directory") or "").strip()
            if not from_dir:
                raise ValueError("source=directory needs the 'directory' param")
            if not Path(from_dir).is_dir():
                raise ValueError(f"directory {from_dir!r} does not exist or is not a folder")
        elif source == "download":
            if not leagues or not seasons:
                raise ValueError(
                    "source=download needs explicit 'leagues' and 'seasons' "
                    "(e.g. seasons ['2023-2024']); an empty list only means 'all' for files"
                )
            from_dir = None
        else:
            raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")

        items = plan_football_data(leagues=leagues, seasons=seasons, from_dir=from_dir)
        if not items:
            raise ValueError(
                f"nothing to ingest: no CSV under {from_dir} for leagues {leagues or 'all'} "
                f"and seasons {seasons or 'all'}"
            )
        return items

    # multiple_outputs=False: with a dict return annotation Airflow would also push
    # every key as its own XCom; one small dict per task is enough.
    @task(
        map_index_template="{{ ingest_label }}",
        max_active_tis_per_dagrun=4,
        multiple_outputs=False,
    )
    def ingest(item: dict[str, str]) -> dict[str, object]:
        """Load one file or league-season; fail loudly when it is rejected."""
        from pathlib import Path

        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        from sabiscore_ml.jobs.football_data import run_item

        if item.get("kind") == "file":
            label = "/".join(Path(item["path"]).parts[-2:])  # <league>/<season>.csv
        else:
            label = f"{item.get('league')} {item.get('season')}"
        get_current_context()["ingest_label"] = label  # type: ignore[typeddict-unknown-key]
        outcome = run_item(item)
        if not outcome.ok:
            message = outcome.message or f"{outcome.uri}: {outcome.status} ({outcome.check})"
            if outcome.check == "fetch":
                raise AirflowException(message)  # network trouble: worth a retry
            raise AirflowFailException(message)  # the same bytes would fail again
        return outcome.as_dict()

    @task(outlets=[WAREHOUSE_MATCHES], multiple_outputs=False)
    def summarize(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        """Log matches and odds per league-season; runs only when every file loaded."""
        import logging

        from airflow.sdk import get_current_context

        log = logging.getLogger("airflow.task")
        per: dict[str, dict[str, int]] = {}
        for outcome in outcomes[:]:  # one slice read instead of probing XCom by offset
            key = f"{outcome['league']} {outcome['season']}"
            row = per.setdefault(key, {"files": 0, "matches": 0, "odds": 0, "warnings": 0})
            row["files"] += 1
            row["matches"] += int(outcome["matches"])
            row["odds"] += int(outcome["odds"])
            row["warnings"] += len(outcome.get("warnings") or [])
        for key in sorted(per):
            log.info("%s: %s", key, per[key])
        totals = {
            name: sum(row[name] for row in per.values())
            for name in ("files", "matches", "odds", "warnings")
        }
        log.info("total: %s", totals)
        get_current_context()["outlet_events"][WAREHOUSE_MATCHES].extra = {
            "league_seasons": sorted(per),
            **totals,
        }
        return {"per_league_season": dict(sorted(per.items())), **totals}

    migrated = migrate_warehouse()
    items = plan()
    loaded = ingest.expand(item=items)
    migrated >> loaded
    summarize(loaded)


ingest_football_data()
