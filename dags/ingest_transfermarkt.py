"""Load Transfermarkt market values and dataset tables, one mapped task per item.

This file is configuration: the tasks come from :mod:`sabiscore_airflow.ingest_dag`
and import :mod:`sabiscore_ml` when they run.
"""

from __future__ import annotations

from sabiscore_airflow.ingest_dag import ingest_dag, source_doc, source_params

SOURCE = "transfermarkt"
ASSET = "sabiscore://warehouse/transfermarkt"

DOC_MD = source_doc(
    source=SOURCE,
    title="Ingest Transfermarkt",
    intro="""
Loads Transfermarkt into the Sabiscore warehouse: season squad-value tables (one
row per club and season) and the transfermarkt-datasets tables (competitions,
clubs, players, player valuations, games), from which squad values are derived
as they stood over time.  Clubs are reconciled with the football-data teams
already loaded (run `ingest_football_data` for the same leagues first).
""",
    files="""one per table under `source_dir` (squad-value tables and
   dataset tables: `.csv`, `.json`, optionally gzipped)""",
    live="""one per prepared table of the transfermarkt-datasets project
   (`competitions`, `clubs`, `players`, `player_valuations`, `games`: every
   league and season in one file, so `leagues` names at most one league and
   `seasons` is not used)""",
    checks="not a table we read, several or unknown leagues, a club name that does not reconcile",
    asset_uri=ASSET,
    writes="""
Warehouse tables `squad_values`, the `tm_*` dataset tables, `team_aliases`, `raw_files` and one
`ingestion_runs` row per item, plus the raw file in the archive under
`SABISCORE_HOME`.""",
)

ingest_dag(
    source=SOURCE,
    dag_id="ingest_transfermarkt",
    description="Load Transfermarkt squad market values into the warehouse",
    doc_md=DOC_MD,
    schedule="@weekly",
    asset_uri=ASSET,
    params=source_params("Transfermarkt tables"),
    tags=["sabiscore", "ingest", SOURCE],
)
