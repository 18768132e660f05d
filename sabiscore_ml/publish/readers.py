"""Published runs read back from the warehouse: the same documents Redis holds.

The readers the serving tier falls back to when Redis misses or is down.  They
rebuild each document with the builders of :mod:`sabiscore_ml.publish.contract`
from the rows :mod:`sabiscore_ml.publish.warehouse` wrote, so
:func:`warehouse_document` returns the bytes Redis holds (or held) for the
same run.  A run is ``pending`` until its Redis switch, then ``published``;
:func:`latest_run` reads published runs only, so the warehouse names the run
Redis names.

Only SQLAlchemy and the standard library: the API imports this module
without the data-frame libraries the publisher needs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, select

from sabiscore_ml.publish.contract import (
    ALL_LEAGUES,
    COMPACT_FIELDS,
    LEAGUES,
    META,
    PREDICTION,
    RULE_FIELDS,
    RUN_FIELDS,
    UPCOMING,
    VALUE_BETS,
    WITHDRAWN,
    WITHDRAWN_BY,
    Record,
    RunHeader,
    document_key,
    encode_document,
    insight_document,
    league_entries,
    meta_document,
    outcome_rank,
    upcoming_list,
    value_bet_entries,
    withdrawn_entries,
)
from sabiscore_ml.warehouse.models import PredictionRun, RunEdge, RunPrediction, RunStake

PENDING, PUBLISHED = "pending", "published"


@dataclass(frozen=True, kw_only=True)
class RunInfo(RunHeader):
    """A published run as ``prediction_runs`` holds it: its header and its publication.

    The header's fields (identity, times, rules) are the run's :class:`RunHeader`;
    the rules are read back from ``rules_json``.
    """

    status: str
    n_predictions: int
    n_value_bets: int
    published_at: dt.datetime
    content_sha256: str

    @property
    def published(self) -> bool:
        """Whether the run is published (not waiting for its Redis switch)."""
        return self.status == PUBLISHED

    @property
    def header(self) -> RunHeader:
        """The run's identity, times and rules alone."""
        return RunHeader(**{f.name: getattr(self, f.name) for f in fields(RunHeader)})

    def meta(self) -> dict[str, Any]:
        """The run's meta document (as published to Redis)."""
        return meta_document(
            self.header,
            n_predictions=self.n_predictions,
            n_value_bets=self.n_value_bets,
            content_sha256=self.content_sha256,
        )


_PUBLICATION_FIELDS = tuple(
    f.name for f in fields(RunInfo) if f.name not in RunHeader.__dataclass_fields__
)


def _info(row: Any) -> RunInfo:
    rules = json.loads(row.rules_json) if row.rules_json else {}
    columns: dict[str, Any] = {f: getattr(row, f) for f in (*RUN_FIELDS, *_PUBLICATION_FIELDS)}
    stated: dict[str, Any] = {f: rules.get(f) for f in RULE_FIELDS}
    return RunInfo(run_id=row.run_id, **columns, **stated)


def run_info(engine: Engine, run_id: str) -> RunInfo | None:
    """A run of the warehouse (published or pending), or None."""
    with engine.connect() as connection:
        return _stored(connection, run_id)


def latest_run(engine: Engine, mode: str | None = None) -> RunInfo | None:
    """The published run created last (of ``mode`` when given); ties go to the larger run id.

    A pending run (written, its Redis switch not done) is not listed: Redis
    does not name it either.
    """
    query = select(PredictionRun).where(PredictionRun.status == PUBLISHED)
    if mode is not None:
        query = query.where(PredictionRun.mode == mode)
    query = query.order_by(PredictionRun.created_at.desc(), PredictionRun.run_id.desc()).limit(1)
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    return None if row is None else _info(row)


_PREDICTION_FIELDS = COMPACT_FIELDS  # a run's stored fixture fields, as published
_EDGE_COLUMNS = tuple(c.name for c in RunEdge.__table__.columns if c.name != "run_id")
_STAKE_COLUMNS = tuple(c.name for c in RunStake.__table__.columns if c.name != "run_id")


def _prediction_records(rows: Iterable[Any]) -> list[Record]:
    records = []
    for row in rows:
        record = {f: getattr(row, f) for f in _PREDICTION_FIELDS}
        record["drivers"] = None if row.drivers_json is None else json.loads(row.drivers_json)
        scores = row.correct_score_json
        record["correct_score"] = None if scores is None else json.loads(scores)
        records.append(record)
    return records


def _records(rows: Iterable[Any], columns: Sequence[str]) -> list[Record]:
    return [{c: getattr(row, c) for c in columns} for row in rows]


def _edge_order(record: Record) -> tuple[Any, ...]:
    return record["match_id"], record["market"], *outcome_rank(record["outcome"])


def _predictions(
    connection: Connection, run_id: str, league: str | None = None, date: dt.date | None = None
) -> list[Record]:
    query = select(RunPrediction).where(RunPrediction.run_id == run_id)
    if league is not None:
        query = query.where(RunPrediction.league_code == league)
    if date is not None:
        query = query.where(RunPrediction.match_date == date)
    return _prediction_records(connection.execute(query.order_by(RunPrediction.match_id)))


def run_predictions(
    engine: Engine, run_id: str, league: str | None = None, date: dt.date | None = None
) -> list[dict[str, Any]]:
    """A run's compact predictions (of ``league``, on ``date``), sorted by kickoff.

    Without filters, the ``upcoming:all`` document; with ``league`` only, its
    ``upcoming:<league>`` document.  Empty when the run is unknown.
    """
    with engine.connect() as connection:
        info = _stored(connection, run_id)
        if info is None:
            return []
        return upcoming_list(info.header, _predictions(connection, run_id, league, date))


def run_value_bets(
    engine: Engine, run_id: str, league: str | None = None, min_edge: float | None = None
) -> list[dict[str, Any]]:
    """A run's value bets (of ``league``, with an edge of at least ``min_edge``), largest first.

    Without filters, the ``value-bets`` document.  Empty when the run is unknown.
    """
    with engine.connect() as connection:
        info = _stored(connection, run_id)
        if info is None:
            return []
        predictions = _predictions(connection, run_id, league)
        chosen: ColumnElement[bool] = RunEdge.is_value.is_(True)
        if min_edge is not None:
            chosen = and_(chosen, RunEdge.edge >= min_edge)
        edges = _league_edges(connection, run_id, league, chosen)
        stakes = _records(
            connection.execute(select(RunStake).where(RunStake.run_id == run_id)),
            _STAKE_COLUMNS,
        )
    return value_bet_entries(info.header, predictions, edges, stakes)


def run_withdrawn(engine: Engine, run_id: str, league: str | None = None) -> list[dict[str, Any]]:
    """The value bets of the previous published run a run withdraws (of ``league``), by kickoff.

    Without a league, the ``withdrawn`` document.  Empty when the run is unknown.
    """
    with engine.connect() as connection:
        info = _stored(connection, run_id)
        if info is None:
            return []
        predictions = _predictions(connection, run_id, league)
        edges = _league_edges(connection, run_id, league, RunEdge.excluded_by == WITHDRAWN_BY)
    return withdrawn_entries(info.header, predictions, edges)


def _league_edges(
    connection: Connection, run_id: str, league: str | None, chosen: ColumnElement[bool]
) -> list[Record]:
    """The edge records of a run that ``chosen`` selects, of ``league`` when given."""
    on_match = and_(
        RunPrediction.run_id == RunEdge.run_id, RunPrediction.match_id == RunEdge.match_id
    )
    query = select(RunEdge).join(RunPrediction, on_match).where(RunEdge.run_id == run_id, chosen)
    if league is not None:
        query = query.where(RunPrediction.league_code == league)
    return _records(connection.execute(query), _EDGE_COLUMNS)


def run_prediction(engine: Engine, run_id: str, match_id: int) -> dict[str, Any] | None:
    """The insight document of one match of a run (prediction, edges, stakes), or None."""
    with engine.connect() as connection:
        info = _stored(connection, run_id)
        if info is None:
            return None
        row = connection.execute(
            select(RunPrediction).where(
                RunPrediction.run_id == run_id, RunPrediction.match_id == int(match_id)
            )
        ).one_or_none()
        if row is None:
            return None
        edges = _records(
            connection.execute(
                select(RunEdge).where(RunEdge.run_id == run_id, RunEdge.match_id == int(match_id))
            ),
            _EDGE_COLUMNS,
        )
        stakes = _records(
            connection.execute(
                select(RunStake).where(
                    RunStake.run_id == run_id, RunStake.match_id == int(match_id)
                )
            ),
            _STAKE_COLUMNS,
        )
    edges.sort(key=_edge_order)
    stakes.sort(key=lambda s: (*_edge_order(s), s["portfolio"]))
    (prediction,) = _prediction_records([row])
    return insight_document(info.header, prediction, edges, stakes)


def warehouse_leagues(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """A run's leagues with their number of predictions (the ``leagues`` document)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(RunPrediction.league_code).where(RunPrediction.run_id == run_id)
        ).all()
    return league_entries({"league_code": code} for (code,) in rows)


def warehouse_document(
    engine: Engine, run_id: str, kind: str, key: str | int | None = None
) -> bytes | None:
    """The bytes Redis holds (or held) for a document of a run, rebuilt from the warehouse.

    None when the run is unknown, or the document does not exist (a match or a
    league not in the run): exactly when Redis would have no such key.
    """
    document_key("-", run_id, kind, key)  # checks kind and key
    info = run_info(engine, run_id)
    if info is None:
        return None
    document: Any
    if kind == META:
        document = info.meta()
    elif kind == LEAGUES:
        document = warehouse_leagues(engine, run_id)
    elif kind == VALUE_BETS:
        document = run_value_bets(engine, run_id)
    elif kind == WITHDRAWN:
        document = run_withdrawn(engine, run_id)
    elif kind == UPCOMING:
        league = None if str(key) == ALL_LEAGUES else str(key)
        document = run_predictions(engine, run_id, league=league)
        if league is not None and not document:
            return None
    else:
        assert kind == PREDICTION
        try:
            match_id = int(str(key))
        except ValueError:
            return None
        document = run_prediction(engine, run_id, match_id)
        if document is None:
            return None
    return encode_document(document)


def _stored(connection: Connection, run_id: str) -> RunInfo | None:
    row = connection.execute(
        select(PredictionRun).where(PredictionRun.run_id == run_id)
    ).one_or_none()
    return None if row is None else _info(row)
