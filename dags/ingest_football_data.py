"""Load football-data.co.uk results and odds into the warehouse, one mapped task per file.

This file is configuration: the tasks come from :mod:`sabiscore_airflow.ingest_dag`
and import :mod:`sabiscore_ml` when they run.
"""

from __future__ import annotations

from airflow.sdk import Param
from sabiscore_airflow.ingest_dag import ingest_dag, refresh_param, seasons_param

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
   naming the file and the check.  A download that failed on the network is
   retried; a finished season already archived and loaded is not downloaded
   again (logged as `skipped`), and the current one is asked for only if it
   changed.
4. **summarize** runs only when every item succeeded: it logs matches and odds
   per league-season and updates the `sabiscore://warehouse/matches` asset (not
   when every item was skipped).

#### Params

An empty Param is null (the trigger form's empty field) or, for a list, `[]`.

- `leagues`: division codes, e.g. `E0` (Premier League), `E1` (Championship);
  empty means every league found in the files.
- `seasons`: seasons as `YYYY-YYYY`; empty means every season found in the
  files.  Required for `download`.
- `source`: `bundled_sample` reads the CSVs shipped in `samples/football-data`,
  `directory` reads every CSV under `directory`, and `download` fetches each
  league × season from football-data.co.uk.
- `directory`: the folder read when `source` is `directory`, laid out as
  `<league>/<season>.csv` so that the league and season filters apply.
- `refresh` (download): download a finished season again even though its
  archived copy is loaded.

#### Writes

Warehouse tables `leagues`, `seasons`, `teams`, `matches`, `odds`, `raw_files`
and one `ingestion_runs` row per file (loaded, skipped, rejected or failed),
plus the raw file in the archive under `SABISCORE_HOME`.  Reloading the same
file is idempotent.
"""

ingest_dag(
    source="football-data",
    dag_id="ingest_football_data",
    description="Load football-data.co.uk results and odds into the warehouse",
    doc_md=DOC_MD,
    schedule=None,
    asset_uri="sabiscore://warehouse/matches",
    params={
        "leagues": Param(
            ["E0", "E1"],
            type=["null", "array"],
            items={"type": "string"},
            title="Leagues",
            description="football-data division codes (E0, E1, SP1...), one a line; empty: all.",
        ),
        "seasons": seasons_param(
            "Seasons as YYYY-YYYY; empty means all in the source (not for download)."
        ),
        "source": Param(
            "bundled_sample",
            type="string",
            enum=list(SOURCES),
            title="Source",
            description="Where the CSVs come from.",
        ),
        "directory": Param(
            None,
            type=["null", "string"],
            title="Directory",
            description="Folder of CSVs, used when source is 'directory'.",
        ),
        "refresh": refresh_param(),
    },
    tags=["sabiscore", "ingest", "football-data"],
)
