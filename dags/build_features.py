"""Build the feature store whenever an ingest DAG has loaded new data.

This file is configuration: the task bodies import :mod:`feature_store` when
they run, so parsing the file touches neither the library nor any database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, Param, dag, task
from sabiscore_airflow.common import (
    START_DATE,
    date_param,
    default_args,
    list_param,
    migrate_warehouse,
)

WAREHOUSE_ASSETS = [
    Asset("sabiscore://warehouse/matches"),
    Asset("sabiscore://warehouse/understat"),
    Asset("sabiscore://warehouse/fbref"),
    Asset("sabiscore://warehouse/transfermarkt"),
]
FEATURES_OFFLINE = Asset("sabiscore://features/offline")
FEATURES_ONLINE = Asset("sabiscore://features/online")

DOC_MD = """
### Build features

Runs when any ingest DAG updates its warehouse asset (football-data matches,
Understat, FBref, Transfermarkt), or on demand.

1. **migrate_warehouse** creates or upgrades the warehouse schema.
2. **plan** compares each league-season's data fingerprint and the feature
   catalogue version with the offline index and lists the stale partitions,
   grouped by country (a stale season makes the country's later seasons stale:
   ratings and form carry over).  Nothing stale: the run ends there, skipped.
3. **build** (mapped, one instance per country) reads the country's history
   from the warehouse, computes every feature point-in-time and writes the
   stale partitions (`features/offline/league=<L>/season=<S>/features.parquet`
   under `SABISCORE_HOME`, or `SABISCORE_FEATURES_DIR`), then indexes them in
   `feature_partitions`.  Updates the `sabiscore://features/offline` asset.
4. **refresh_online** writes the vectors of the fixtures in the next
   `SABISCORE_FEATURES_ONLINE_HORIZON_DAYS` days to Redis (when
   `SABISCORE_REDIS_URL` is set) or to the warehouse table `online_features`,
   atomically, and updates `sabiscore://features/online`.

#### Params

An empty Param is null (the trigger form's empty field) or, for a list, `[]`.

- `leagues`, `seasons`: restrict the rebuild; empty means every stale partition.
- `full`: rebuild every partition, stale or not (after changing a definition
  the catalogue version does this by itself).
- `as_of`: start of the online horizon (a date, `YYYY-MM-DD`); empty means the
  run's logical date.
"""


@dag(
    dag_id="build_features",
    description="Rebuild stale feature partitions and refresh the online vectors",
    doc_md=DOC_MD,
    start_date=START_DATE,
    schedule=(
        WAREHOUSE_ASSETS[0] | WAREHOUSE_ASSETS[1] | WAREHOUSE_ASSETS[2] | WAREHOUSE_ASSETS[3]
    ),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=1),
    default_args=default_args(
        retries=1, retry_delay=dt.timedelta(minutes=2), execution_timeout=dt.timedelta(minutes=30)
    ),
    params={
        "leagues": list_param(
            "Leagues", "League codes (E0...), one a line; empty: every stale partition."
        ),
        "seasons": list_param(
            "Seasons", "Seasons as YYYY-YYYY, one a line; empty: every stale partition."
        ),
        "full": Param(
            False,
            type="boolean",
            title="Full rebuild",
            description="Rebuild every partition, stale or not.",
        ),
        "as_of": date_param(
            "Online horizon start",
            "The first day of the online horizon; empty: the run's logical date.",
        ),
    },
    tags=["sabiscore", "features"],
)
def build_features() -> None:
    """Plan the stale partitions, build each country, then refresh the online store."""

    @task(retries=0)
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The stale partitions, one work item per country."""
        import logging

        from feature_store.offline import plan_build
        from sabiscore_ml.leagues import normalize_season
        from sabiscore_ml.warehouse.engine import get_engine

        params = params or {}
        seasons = [normalize_season(s) for s in params.get("seasons") or []]
        found = plan_build(
            get_engine(),
            leagues=list(params.get("leagues") or []) or None,
            seasons=seasons or None,
            full=bool(params.get("full")),
        )
        log = logging.getLogger("airflow.task")
        for (league, season), reason in sorted(found.reasons.items()):
            log.info("%s %s: %s", league, season, reason)
        log.info("%d stale partition(s), %d up to date", len(found.partitions), found.fresh)
        return [
            {"country": country, "partitions": [list(p) for p in partitions]}
            for country, partitions in found.stale.items()
        ]

    @task(
        map_index_template="{{ country_label }}",
        max_active_tis_per_dagrun=2,
        outlets=[FEATURES_OFFLINE],
        multiple_outputs=False,
    )
    def build(item: dict[str, Any]) -> dict[str, Any]:
        """Recompute one country's features; write and index its stale partitions."""
        from airflow.sdk import get_current_context

        from feature_store.offline import build_country
        from sabiscore_ml.warehouse.engine import get_engine

        context = get_current_context()
        context["country_label"] = item["country"]  # type: ignore[typeddict-unknown-key]
        written = build_country(
            get_engine(), item["country"], [tuple(p) for p in item["partitions"]]
        )
        context["outlet_events"][FEATURES_OFFLINE].extra = {
            "country": item["country"],
            "partitions": [f"{league} {season}" for league, season, _ in written],
        }
        return {"country": item["country"], "written": written}

    @task(outlets=[FEATURES_ONLINE], trigger_rule="none_failed")
    def refresh_online(
        built: list[dict[str, Any]] | None = None,
        params: dict[str, Any] | None = None,
        logical_date: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Write the vectors of the upcoming fixtures to the online store."""
        from airflow.sdk import get_current_context

        from feature_store.api import refresh_upcoming
        from sabiscore_ml.warehouse.engine import get_engine

        params = params or {}
        text = (params.get("as_of") or "").strip()
        as_of = (
            dt.date.fromisoformat(text)
            if text
            else (logical_date or dt.datetime.now(dt.UTC)).date()
        )
        refresh = refresh_upcoming(get_engine(), as_of=as_of)
        result = {
            "run_id": refresh.run_id,
            "backend": refresh.backend,
            "matches": refresh.matches,
            "as_of": refresh.as_of.isoformat(),
            "until": refresh.until.isoformat(),
        }
        get_current_context()["outlet_events"][FEATURES_ONLINE].extra = result
        return result

    migrated = migrate_warehouse()
    items = plan()
    migrated >> items
    built = build.expand(item=items)
    refresh_online(built)


build_features()
