"""Prometheus metrics of the API, in a registry of each application instance.

Figures are per worker process: run one worker per container and let
Prometheus scrape each one (or aggregate behind a multiprocess collector).

The monitor (:mod:`sabiscore_ml.jobs.monitor`) is a batch job: rather than
a push gateway or a textfile that would outlive its data, the API exposes the
figures the monitor last stored in the warehouse as gauges
(``sabiscore_monitor_figure`` by model version, league, window and figure,
``sabiscore_monitor_breached``, ``sabiscore_monitor_computed_timestamp_seconds``),
read again at most every few seconds.  Every worker gives the same values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Latency buckets around the targets: most answers well under 15 ms.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServingMetrics:
    """Request counts and latencies, cache hits, store reads and errors, refusals."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sabiscore_api_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sabiscore_api_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "sabiscore_api_cache",
            "In-process cache lookups (documents, run pointer, keys), by cache and result.",
            ["cache", "result"],
            registry=self.registry,
        )
        self.store_reads = Counter(
            "sabiscore_api_store_reads",
            "Reads of a published document from a store, by store and result (found, missing).",
            ["store", "result"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "sabiscore_api_store_errors",
            "Failed calls to a store (redis, warehouse), by store and operation.",
            ["store", "operation"],
            registry=self.registry,
        )
        self.refused = Counter(
            "sabiscore_api_refused",
            "Requests refused by a rate limit or a quota, by limit.",
            ["limit"],
            registry=self.registry,
        )
        self.monitor_figure = Gauge(
            "sabiscore_monitor_figure",
            "The monitor's latest figures of the published predictions and value bets, by model "
            "version, league (all: every league), window (all, or the last <n>d) and figure.",
            ["model_version", "league", "window", "figure"],
            registry=self.registry,
        )
        self.monitor_breached = Gauge(
            "sabiscore_monitor_breached",
            "1 when the monitor's latest figure crossed its threshold, 0 when checked and within.",
            ["model_version", "league", "window", "figure"],
            registry=self.registry,
        )
        self.monitor_computed = Gauge(
            "sabiscore_monitor_computed_timestamp_seconds",
            "When the monitor computed the figures exposed (Unix time).",
            registry=self.registry,
        )
        self._route_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._cache_children: dict[tuple[str, str], Counter] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a finished request and its latency."""
        key = (method, route, status)
        children = self._route_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
            self._route_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def cache_lookup(self, cache: str, hit: bool) -> None:
        """Count a lookup of an in-process cache."""
        key = (cache, "hit" if hit else "miss")
        child = self._cache_children.get(key)
        if child is None:
            child = self._cache_children[key] = self.cache.labels(*key)
        child.inc()

    def set_monitor_figures(self, rows: Iterable[dict[str, Any]]) -> None:
        """Expose the rows of the monitor's latest computation (replacing the previous ones)."""
        self.monitor_figure.clear()
        self.monitor_breached.clear()
        computed = None
        for row in rows:
            labels = (row["model_version"], row["league_code"], row["window"], row["figure"])
            if row["value"] is not None:
                self.monitor_figure.labels(*labels).set(row["value"])
            if row["threshold"] is not None:
                self.monitor_breached.labels(*labels).set(1.0 if row["breached"] else 0.0)
            computed = row["computed_at"]
        if computed is not None:
            self.monitor_computed.set(computed.replace(tzinfo=dt.UTC).timestamp())

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
