"""The monitor's figures read back from the warehouse, for the API and its metrics.

:mod:`sabiscore_ml.jobs.monitor` scores what was published once results and
closing prices are in, and stores each figure as a row of ``monitor_figures``
(one per computation, model version, league, window and figure).  This module
reads them back as documents: :func:`performance_document` is the body of
``GET /v1/models/current/performance``, :func:`latest_figures` the rows the
API's ``/metrics`` exposes as gauges.

Only SQLAlchemy and the standard library (like
:mod:`sabiscore_ml.publish.readers`): the API imports it without the
data-frame libraries the monitor needs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, select

from sabiscore_ml.warehouse.models import MonitorFigure

ALL = "all"  # the league of every league together, and the window of every match
#: The figures of a league and window in the performance document, in order.
DOCUMENT_FIGURES: tuple[str, ...] = (
    "n",
    "rps",
    "log_loss",
    "ece",
    "market_rps",
    "market_log_loss",
    "rps_minus_market",
    "rps_minus_market_se",
    "n_market",
    "close_rps",
    "rps_minus_close",
    "rps_minus_close_se",
    "n_close",
    "n_bets",
    "clv",
    "clv_se",
    "n_clv",
    "early_clv",
    "early_clv_se",
    "n_early_clv",
    "flat_profit",
    "flat_roi",
    "staked_profit",
    "staked_turnover",
    "staked_roi",
    "psi_max",
)
#: Figures that count something: published as integers.
COUNTS = frozenset({"n", "n_market", "n_close", "n_bets", "n_clv", "n_early_clv"})


def _latest(engine: Engine, model_name: str, model_version: str | None) -> dt.datetime | None:
    query = select(func.max(MonitorFigure.computed_at)).where(
        MonitorFigure.model_name == model_name
    )
    if model_version is not None:
        query = query.where(MonitorFigure.model_version == model_version)
    with engine.connect() as connection:
        latest: dt.datetime | None = connection.execute(query).scalar_one_or_none()
    return latest


def latest_figures(engine: Engine, model_name: str) -> list[dict[str, Any]]:
    """Every row of the monitor's latest computation for ``model_name`` (empty: none yet).

    Each row: ``model_version``, ``league_code``, ``window``, ``figure``,
    ``value``, ``n``, ``threshold``, ``breached``, ``computed_at``.
    """
    computed_at = _latest(engine, model_name, None)
    if computed_at is None:
        return []
    query = (
        select(MonitorFigure)
        .where(MonitorFigure.model_name == model_name, MonitorFigure.computed_at == computed_at)
        .order_by(
            MonitorFigure.model_version,
            MonitorFigure.league_code,
            MonitorFigure.window_name,
            MonitorFigure.figure,
        )
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        {
            "model_version": row.model_version,
            "league_code": row.league_code,
            "window": row.window_name,
            "figure": row.figure,
            "value": row.value,
            "n": row.n,
            "threshold": row.threshold,
            "breached": bool(row.breached),
            "computed_at": row.computed_at,
        }
        for row in rows
    ]


def _order(league: str, window: str) -> tuple[int, str, int, str]:
    """Every league together first, then by code; the whole history before a rolling window."""
    return (league != ALL, league, window != ALL, window)


def performance_document(
    engine: Engine, model_name: str, model_version: str
) -> dict[str, Any] | None:
    """The monitor's latest figures of a model version per league and window, or None.

    ``{"model_name", "model_version", "computed_at", "leagues": [...]}``; each
    entry of ``leagues`` holds ``league_code`` (``all`` first), ``window``
    (``all``, then the rolling window ``<n>d``), ``window_start``,
    ``window_end``, every figure of :data:`DOCUMENT_FIGURES` (null when the
    monitor could not compute it: no market price, no value bet...) and
    ``breaches``: the figures that crossed their threshold.
    """
    computed_at = _latest(engine, model_name, model_version)
    if computed_at is None:
        return None
    query = select(MonitorFigure).where(
        MonitorFigure.model_name == model_name,
        MonitorFigure.model_version == model_version,
        MonitorFigure.computed_at == computed_at,
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        entry = entries.setdefault(
            (row.league_code, row.window_name),
            {
                "league_code": row.league_code,
                "window": row.window_name,
                "window_start": row.window_start,
                "window_end": row.window_end,
                **dict.fromkeys(DOCUMENT_FIGURES),
                "breaches": [],
            },
        )
        if row.figure in entry:
            value = row.value
            entry[row.figure] = int(value) if row.figure in COUNTS and value is not None else value
        if row.breached:
            entry["breaches"].append(row.figure)
    leagues = [entries[key] for key in sorted(entries, key=lambda k: _order(*k))]
    for entry in leagues:
        entry["breaches"].sort()
    return {
        "model_name": model_name,
        "model_version": model_version,
        "computed_at": computed_at,
        "leagues": leagues,
    }
