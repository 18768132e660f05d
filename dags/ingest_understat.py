"""Load Understat pages and shot exports into the warehouse, one mapped task per item.

This file is configuration: the tasks come from :mod:`sabiscore_airflow.ingest_dag`
and import :mod:`sabiscore_ml` when they run.
"""

from __future__ import annotations

from sabiscore_airflow.ingest_dag import ingest_dag, source_doc, source_params

SOURCE = "understat"
ASSET = "sabiscore://warehouse/understat"

DOC_MD = source_doc(
    source=SOURCE,
    title="Ingest Understat",
    intro="""
Loads Understat fixtures, expected goals and shots into the Sabiscore warehouse,
reconciled with the football-data teams and matches already loaded (run
`ingest_football_data` for the same league-seasons first).  Runs daily: in live
mode the current season is refreshed, finished seasons come from the archive.
""",
    files="""one per league page, match page or shot CSV under `source_dir`
   (`.html`, `.json`, `.csv`, optionally gzipped)""",
    live="""one per league × season, fetched from Understat's league data
   endpoint (`/getLeagueData/<League>/<year>`)""",
    checks="not an Understat page, a league we do not cover, a team name that does not reconcile",
    asset_uri=ASSET,
    writes="""
Warehouse tables `source_matches` (fixtures and xG, linked to `matches` when the
date and teams agree), `shots`, `team_aliases`, `raw_files` and one
`ingestion_runs` row per item, plus the raw file in the archive under
`SABISCORE_HOME`.""",
)

ingest_dag(
    source=SOURCE,
    dag_id="ingest_understat",
    description="Load Understat fixtures, xG and shots into the warehouse",
    doc_md=DOC_MD,
    schedule="@daily",
    asset_uri=ASSET,
    params=source_params("Understat pages and CSVs"),
    tags=["sabiscore", "ingest", SOURCE],
)
