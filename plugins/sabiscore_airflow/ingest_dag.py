"""One factory for the ingest DAGs: plan, a mapped ingest task per item, summarize.

Every ingest DAG (football-data, Understat, FBref, Transfermarkt) has the same
shape and behaviour; a DAG file only says what differs: its source, schedule,
Params, asset, documentation and, for FBref, the pool that caps its requests.

1. **migrate_warehouse** creates or upgrades the warehouse schema.
2. **plan** (no retry: a bad Param will not fix itself) turns the Params into
   work items with :func:`sabiscore_ml.jobs.workitems.plan_from_params`.
3. **ingest** (mapped over the items, labelled with each one) runs an item.  A
   loaded or skipped item succeeds; a rejected one fails at once, naming the
   file or URL and the check; a download that failed on the network is retried.
4. **summarize** (only when every item succeeded) logs the totals per
   league-season and updates the DAG's asset; when every item was skipped it is
   skipped too, and the asset is not updated.  For football-data, when a file
   loaded, it first replays the files of the other sources refused earlier for
   want of their teams (:func:`sabiscore_ml.jobs.workitems.replay_after_football_data`).

Task bodies import :mod:`sabiscore_ml` when they run, so parsing a DAG file
touches neither the library nor any database.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from airflow.sdk import DAG, Asset, Param, dag, task

from sabiscore_airflow.common import START_DATE, default_args, list_param, migrate_warehouse

DEFAULT_ARGS = default_args(
    retries=2, retry_delay=dt.timedelta(minutes=2), execution_timeout=dt.timedelta(minutes=30)
)


def seasons_param(description: str) -> Param:
    """The ``seasons`` Param: seasons as ``YYYY-YYYY``, none (null) by default."""
    return list_param("Seasons", description)


def refresh_param() -> Param:
    """The ``refresh`` Param: download even a finished season already archived."""
    return Param(
        False,
        type="boolean",
        title="Refresh",
        description=(
            "Download again even a finished season whose archived copy is loaded "
            "(otherwise it is served from the archive, and the current season is "
            "asked for only if it changed)."
        ),
    )


def source_params(what: str) -> dict[str, Param]:
    """The Params of a source DAG: files mode (a folder) or live mode (league × season)."""
    return {
        "mode": Param(
            "files",
            type="string",
            enum=["files", "live"],
            title="Mode",
            description="files: read source_dir; live: fetch each league × season from the site.",
        ),
        "source_dir": Param(
            None,
            type=["null", "string"],
            title="Source folder",
            description=f"files mode: folder of {what}; empty means the bundled sample.",
        ),
        "leagues": list_param(
            "Leagues",
            (
                "League codes (E0...), one a line. files mode: at most one, the league of "
                "files that do not name it. live mode: the leagues to fetch."
            ),
        ),
        "seasons": seasons_param(
            "Seasons as YYYY-YYYY. files mode: files of other seasons are skipped (empty: "
            "all). live mode: the seasons to fetch (empty: the current one)."
        ),
        "refresh": refresh_param(),
    }


def source_doc(
    *,
    source: str,
    title: str,
    intro: str,
    files: str,
    live: str,
    checks: str,
    asset_uri: str,
    writes: str,
    before: str = "",
    pool: str | None = None,
) -> str:
    """The ``doc_md`` of a source DAG from what differs between sources.

    ``files`` and ``live`` say what one work item is in each mode, ``checks``
    what makes a file fail, ``writes`` which tables are written, ``before``
    comes ahead of the task list (e.g. how to create the pool).
    """
    in_pool = f", in pool `{pool}`" if pool else ""
    return f"""
### {title}

{intro.strip()}
{before}
1. **migrate_warehouse** creates or upgrades the warehouse schema.
2. **plan** lists the work items: in files mode {files.strip()}; in live mode
   {live.strip()}.
3. **ingest** (mapped, one instance per item{in_pool}) archives the raw bytes
   under their SHA-256, parses them, reconciles the team names and loads the
   file in a single transaction.  A file that fails a check ({checks.strip()}) is
   quarantined in the archive and logged in `ingestion_runs` with the failed
   check, the warehouse is left as it was, and the task fails without retrying,
   naming the file and the check.  A file of a season not asked for, or an
   archived copy still current, is skipped and its task succeeds.
4. **summarize** runs only when no item failed: it logs rows per league-season
   and updates the `{asset_uri}` asset.  When every item was skipped it is
   skipped too, and the asset is not updated.
{SOURCE_PARAMS_DOC.format(source=source)}
#### Writes

{writes.strip()}  Reloading the same file is idempotent.
"""


SOURCE_PARAMS_DOC = """
#### Params

An empty Param is null (the trigger form's empty field) or, for a list, `[]`.

- `mode`: `files` (default; scheduled runs use it) reads `source_dir`, `live`
  fetches each league × season from the site through the polite fetcher.
- `source_dir` (files mode): the folder read (recursively); empty means the
  bundled sample `samples/{source}` (or `{source}/` next to `SABISCORE_SAMPLE_DIR`).
  Files under a folder named after a league (`E0/`) belong to that league.
- `leagues`: league codes.  Files mode: at most one, the league of files that do
  not name theirs (empty: each file's own).  Live mode: the leagues to fetch.
- `seasons`: seasons as `YYYY-YYYY`.  Files mode: files of other seasons are
  skipped (empty: every season found).  Live mode: the seasons to fetch (empty:
  the current one).
- `refresh` (live mode): fetch a finished season again even though its archived
  copy is loaded.  Without it a finished season is served from the archive with
  no request (logged as `skipped`, "finished season, archived copy ..."), and
  the current season is asked for with its ETag / Last-Modified.

A live item that gets a block, challenge or login page fails at once with the
URL and the check `blocked` (the page is kept in the archive's quarantine); a
robots.txt refusal fails with `robots`; network and HTTP errors are retried.
"""


def ingest_dag(
    *,
    source: str,
    dag_id: str,
    description: str,
    doc_md: str,
    schedule: str | None,
    asset_uri: str,
    params: dict[str, Param],
    tags: list[str],
    pool: str | None = None,
    max_active_tis_per_dagrun: int | None = 4,
) -> DAG:
    """Build one ingest DAG of ``source`` (see the module docstring for its tasks).

    ``pool`` runs every mapped ingest task in that pool (FBref: one slot, so the
    site gets one request at a time across runs and DAGs); without a pool at
    most ``max_active_tis_per_dagrun`` ingest tasks run at once.
    """
    # The DAG file that calls the factory: Airflow finds the DAG again by this path.
    fileloc = sys._getframe(1).f_code.co_filename
    asset = Asset(asset_uri)
    limits: dict[str, Any] = (
        {"pool": pool} if pool else {"max_active_tis_per_dagrun": max_active_tis_per_dagrun}
    )

    @dag(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        start_date=START_DATE,
        schedule=schedule,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=dt.timedelta(hours=2),
        default_args=DEFAULT_ARGS,
        params=params,
        tags=tags,
    )
    def build() -> None:
        @task(retries=0)  # a bad Param will not fix itself: fail at once
        def plan(params: dict[str, Any] | None = None) -> list[dict[str, str]]:
            """Turn the Params into work items (files, downloads or live fetches)."""
            from sabiscore_ml.jobs.workitems import plan_from_params

            return plan_from_params(source, params)

        # multiple_outputs=False: with a dict return annotation Airflow would also push
        # every key as its own XCom; one small dict per task is enough.
        @task(map_index_template="{{ ingest_label }}", multiple_outputs=False, **limits)
        def ingest(item: dict[str, str]) -> dict[str, object]:
            """Run one item; a skipped one succeeds, a rejected one fails loudly."""
            from airflow.sdk import get_current_context
            from airflow.sdk.exceptions import AirflowException, AirflowFailException

            from sabiscore_ml.jobs.workitems import run_work_item, should_retry, work_item_label

            get_current_context()["ingest_label"] = work_item_label(item)  # type: ignore[typeddict-unknown-key]
            outcome = run_work_item(item)
            retry = should_retry(outcome)
            if retry is not None:
                message = outcome.message or f"{outcome.uri}: {outcome.status} ({outcome.check})"
                if retry:
                    raise AirflowException(message)  # network trouble: worth a retry
                raise AirflowFailException(message)  # the same bytes would fail again
            return outcome.as_dict()

        @task(outlets=[asset], multiple_outputs=False)
        def summarize(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
            """Log totals per league-season; runs only when every item succeeded."""
            from airflow.sdk import get_current_context
            from airflow.sdk.exceptions import AirflowSkipException

            from sabiscore_ml.jobs.workitems import replay_after_football_data, summarize_outcomes

            outcomes = outcomes[:]  # one slice read instead of probing XCom by offset
            if source == "football-data":  # once every file is in: files waiting for teams
                replay_after_football_data(outcomes)
            summary = summarize_outcomes(source, outcomes)
            if not summary["per_league_season"]:
                raise AirflowSkipException(
                    f"all {summary['skipped']} file(s) skipped: nothing loaded"
                )
            extra = {k: v for k, v in summary.items() if k != "per_league_season"}
            get_current_context()["outlet_events"][asset].extra = {
                "league_seasons": list(summary["per_league_season"]),
                **extra,
            }
            return summary

        migrated = migrate_warehouse()
        loaded = ingest.expand(item=plan())
        migrated >> loaded
        summarize(loaded)

    built = build()
    built.fileloc = fileloc
    return built
