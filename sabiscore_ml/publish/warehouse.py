"""Published runs written to the warehouse: the history the serving tier falls back to.

A run is written in one transaction: its ``run_predictions``, ``run_edges``
and ``run_stakes`` rows, then its ``prediction_runs`` row, last.  A run listed
in ``prediction_runs`` is therefore complete, and a run whose transaction
failed leaves no row at all.  A run headed for Redis is written ``pending``
and marked ``published`` (:func:`mark_published`) once the Redis pointer has
been switched (or found newer); without Redis it is written ``published``.
:func:`latest_run` reads published runs only, so the warehouse names the run
Redis names.  That status is the only change a row sees: publishing a run id
again writes nothing else (and is refused when its content differs).

The readers, which answer with the documents Redis holds, are in
:mod:`sabiscore_ml.publish.readers`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, update
from sqlalchemy.exc import IntegrityError

from sabiscore_ml.publish.contract import encode_document
from sabiscore_ml.publish.readers import PENDING, PUBLISHED, RunInfo, run_info
from sabiscore_ml.publish.run import PublishedRun, RunConflict
from sabiscore_ml.settings import get_warehouse_settings
from sabiscore_ml.warehouse.models import PredictionRun, RunEdge, RunPrediction, RunStake


@dataclass(frozen=True)
class WarehousePublish:
    """What publishing a run to the warehouse did.

    ``inserted`` is False when the run was already there (nothing written);
    ``run`` is the run as stored (its first publication's ``created_at``).
    """

    run: RunInfo
    inserted: bool
    n_edges: int
    n_stakes: int

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.run_id


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _insert_rows(connection: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    size = get_warehouse_settings().write_batch_size
    for start in range(0, len(rows), size):
        connection.execute(insert(table), list(rows[start : start + size]))


def _insert_run_row(connection: Connection, run: PublishedRun, status: str = PUBLISHED) -> None:
    """The ``prediction_runs`` row, written after every other row of the run."""
    rules = run.header.rules
    connection.execute(
        insert(PredictionRun).values(
            run_id=run.run_id,
            model_name=run.model_name,
            model_version=run.model_version,
            created_at=run.created_at,
            as_of=run.as_of,
            mode=run.mode,
            status=status,
            n_predictions=len(run.records.predictions),
            n_value_bets=run.records.n_value_bets,
            published_at=_now(),
            content_sha256=run.content_sha256,
            rules_json=None if rules is None else encode_document(rules).decode(),
        )
    )


def _write(connection: Connection, run: PublishedRun, status: str = PUBLISHED) -> None:
    records = run.records
    predictions = []
    for p in records.predictions:
        row = {k: v for k, v in p.items() if k not in ("drivers", "correct_score")}
        for name in ("drivers", "correct_score"):
            value = p[name]
            row[f"{name}_json"] = None if value is None else encode_document(value).decode()
        predictions.append({**row, "run_id": run.run_id, "created_at": run.created_at})
    _insert_rows(connection, RunPrediction, predictions)
    _insert_rows(connection, RunEdge, [{**e, "run_id": run.run_id} for e in records.edges])
    _insert_rows(connection, RunStake, [{**s, "run_id": run.run_id} for s in records.stakes])
    _insert_run_row(connection, run, status)


def _unchanged(stored: RunInfo, run: PublishedRun, *, edges: int, stakes: int) -> WarehousePublish:
    if stored.content_sha256 != run.content_sha256:
        raise RunConflict(
            f"run {run.run_id} is already published with another content "
            f"(digest {stored.content_sha256[:12]}, now {run.content_sha256[:12]}); "
            "a new content needs a new run id"
        )
    return WarehousePublish(stored, False, edges, stakes)


def publish_to_warehouse(
    engine: Engine, run: PublishedRun, *, pending: bool = False
) -> WarehousePublish:
    """Write a run in one transaction, its ``prediction_runs`` row last.

    ``pending``: the run goes to Redis next, so it is written ``pending`` and
    becomes ``published`` by :func:`mark_published` after the Redis switch;
    otherwise it is ``published`` at once.  Publishing a run id already there
    writes nothing (``inserted`` False); a different content under that id
    raises :class:`RunConflict`.  Two publishers of one run at once: one
    inserts, the other finds it there.
    """
    counts = {"edges": len(run.records.edges), "stakes": len(run.records.stakes)}
    stored = run_info(engine, run.run_id)
    if stored is not None:
        return _unchanged(stored, run, **counts)
    try:
        with engine.begin() as connection:
            _write(connection, run, PENDING if pending else PUBLISHED)
    except IntegrityError:
        stored = run_info(engine, run.run_id)
        if stored is None:
            raise
        return _unchanged(stored, run, **counts)
    stored = run_info(engine, run.run_id)
    assert stored is not None  # committed just above
    return WarehousePublish(stored, True, counts["edges"], counts["stakes"])


def mark_published(engine: Engine, run_id: str) -> bool:
    """Mark a pending run published (its Redis switch is done); False when nothing changed."""
    with engine.begin() as connection:
        changed = connection.execute(
            update(PredictionRun)
            .where(PredictionRun.run_id == run_id, PredictionRun.status == PENDING)
            .values(status=PUBLISHED, published_at=_now())
        ).rowcount
    return bool(changed)
