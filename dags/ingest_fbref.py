"""Load FBref pages into the warehouse, one mapped task per item, one request at a time.

This file is configuration: the tasks come from :mod:`sabiscore_airflow.ingest_dag`
and import :mod:`sabiscore_ml` when they run.
"""

from __future__ import annotations

from sabiscore_airflow.ingest_dag import ingest_dag, source_doc, source_params

SOURCE = "fbref"
ASSET = "sabiscore://warehouse/fbref"
# One slot: FBref is sent one request at a time (see DOC_MD to create it).
POOL = "fbref"

DOC_MD = source_doc(
    source=SOURCE,
    title="Ingest FBref",
    intro="""
Loads FBref fixtures, expected goals, shots, team match logs and team season
statistics into the Sabiscore warehouse, reconciled with the football-data teams
and matches already loaded (run `ingest_football_data` for the same
league-seasons first).  Match-log opponents are reconciled too: league opponents
must reconcile, cup and European opponents outside the registry keep their name
only.
""",
    before="""
#### Before the first run: create the pool

Every **ingest** task runs in the Airflow pool `fbref`, which must exist and
have one slot, so that FBref is never sent more than one request at a time
(across runs and DAGs):

```bash
airflow pools set fbref 1 "FBref: one request at a time"
```

Tasks of a pool that does not exist are never scheduled.

#### Tasks
""",
    files="""one per schedule, match report, team match log or team
   statistics page under `source_dir` (`.html`, optionally gzipped)""",
    live="""one per league × season, the league's "Scores & Fixtures"
   page""",
    checks="not an FBref page, a competition we do not cover, a team name that does not reconcile",
    asset_uri=ASSET,
    writes="""
Warehouse tables `source_matches` (fixtures and xG, linked to `matches` when the
date and teams agree), `shots`, `team_match_logs`, `team_season_stats`,
`team_aliases`, `raw_files` and one `ingestion_runs` row per item, plus the raw
file in the archive under `SABISCORE_HOME`.""",
    pool=POOL,
)

ingest_dag(
    source=SOURCE,
    dag_id="ingest_fbref",
    description="Load FBref fixtures, xG, shots, match logs and team stats",
    doc_md=DOC_MD,
    schedule="@weekly",
    asset_uri=ASSET,
    params=source_params("FBref pages"),
    tags=["sabiscore", "ingest", SOURCE],
    pool=POOL,
)
