"""Static checks of the monitoring deployment: Prometheus, Grafana and what the code exports.

Every metric a dashboard query or an alert rule names must be one the API exports
(its registry, with the suffixes Prometheus gives counters and histograms); the
dashboard's data source is the provisioned one; Prometheus scrapes the API where
the compose file serves it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from serving.metrics import ServingMetrics

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
RULES = DEPLOY / "prometheus" / "sabiscore-rules.yml"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "sabiscore.yml"
COMPOSE = ROOT / "docker-compose.airflow.yml"
METRIC = re.compile(r"\bsabiscore_[a-z0-9_]+\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "summary": ("", "_count", "_sum", "_created"),
}


def exported(registry: CollectorRegistry) -> set[str]:
    """The sample names a registry's metrics are scraped as."""
    names = set()
    for family in registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def queries(panel: dict) -> list[str]:
    found = [t["expr"] for t in panel.get("targets", []) if t.get("expr")]
    for inner in panel.get("panels", []):
        found += queries(inner)
    return found


def dashboard_queries(path: Path) -> list[str]:
    board = json.loads(path.read_text(encoding="utf-8"))
    found = [q for panel in board["panels"] for q in queries(panel)]
    found += [v["definition"] for v in board.get("templating", {}).get("list", [])]
    return found


def rule_queries() -> list[str]:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_the_api_exports_the_monitor_gauges() -> None:
    names = exported(ServingMetrics().registry)
    assert {
        "sabiscore_monitor_figure",
        "sabiscore_monitor_breached",
        "sabiscore_monitor_computed_timestamp_seconds",
        "sabiscore_api_requests_total",
        "sabiscore_api_request_duration_seconds_bucket",
    } <= names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_name_metrics_the_code_exports(path: Path) -> None:
    names = exported(ServingMetrics().registry)
    found = dashboard_queries(path)
    assert len(found) >= 10
    for query in found:
        named = set(METRIC.findall(query))
        assert named, f"{path.name}: a query names no Sabiscore metric: {query}"
        assert named <= names, f"{path.name}: {sorted(named - names)} not exported ({query})"


def test_the_check_catches_a_metric_nobody_exports() -> None:
    names = exported(ServingMetrics().registry)
    assert not set(METRIC.findall('sabiscore_monitor_figures{figure="rps"}')) <= names
    assert not set(METRIC.findall("rate(sabiscore_api_requests[5m])")) <= names


def test_alert_rules_name_exported_metrics() -> None:
    names = exported(ServingMetrics().registry)
    for query in rule_queries():
        assert set(METRIC.findall(query)) <= names, query
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    mounted = {
        str(v).split(":")[1]
        for v in yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["prometheus"][
            "volumes"
        ]
    }
    assert set(config["rule_files"]) <= mounted


def test_dashboards_use_the_provisioned_data_source() -> None:
    sources = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    uids = {s["uid"] for s in sources}
    assert {s["url"] for s in sources} == {"http://prometheus:9090"}
    for path in DASHBOARDS:
        text = path.read_text(encoding="utf-8")
        used = set(re.findall(r'"uid": "([^"]+)"', text)) - {json.loads(text)["uid"]}
        assert used and used <= uids, (path.name, used)
    provider = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"][0]
    grafana = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["grafana"]
    mounts = dict(str(v).split(":")[1::-1] for v in grafana["volumes"])
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


def test_prometheus_scrapes_the_api_where_compose_serves_it() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "sabiscore-api"]
    assert job["metrics_path"] == "/metrics"
    targets = {t for c in job["static_configs"] for t in c["targets"]}
    serving = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["serving"]
    port = serving["command"][serving["command"].index("--port") + 1]
    assert targets == {f"serving:{port}"}
