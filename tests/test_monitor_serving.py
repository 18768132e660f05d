"""The monitor's figures served: ``GET /v1/models/current/performance`` and ``/metrics``."""

from __future__ import annotations

import re

import pytest
from serving_support import serving_world
from sqlalchemy import Engine, update
from test_monitor import settle

from sabiscore_ml.jobs.monitor import MonitorRequest, monitor
from sabiscore_ml.publish.contract import encode_document
from sabiscore_ml.publish.performance import DOCUMENT_FIGURES, latest_figures, performance_document
from sabiscore_ml.warehouse.models import ModelVersion
from serving.schemas import ModelPerformance

ROUTE = "/v1/models/current/performance"


def test_the_route_returns_what_the_monitor_stored(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving_world(warehouse, monkeypatch) as world, world.client() as client:
        answer = client.get(ROUTE, headers=world.headers())
        assert answer.status_code == 404
        assert answer.json()["detail"] == "no monitor figures for the champion version yet"
        settle(warehouse, world.fixtures)
        report = monitor(MonitorRequest(log_mlflow=False), engine=warehouse)

    with world.client() as client:  # a new application: nothing cached
        answer = client.get(ROUTE, headers=world.headers("free"))
        assert answer.status_code == 200, answer.text
        stored = performance_document(warehouse, "sabiscore-1x2", "7")
        assert answer.content == encode_document(stored)
        body = answer.json()
        ModelPerformance.model_validate(body)
        assert body["model_version"] == "7"
        assert body["computed_at"] == report.computed_at.isoformat() + "Z"
        entries = {(e["league_code"], e["window"]): e for e in body["leagues"]}
        assert set(entries) == {(lg, w) for lg in ("all", "E0", "SP1") for w in ("all", "28d")}
        for (league, window), entry in entries.items():
            assert set(entry) == {
                *DOCUMENT_FIGURES,
                "league_code",
                "window",
                "window_start",
                "window_end",
                "breaches",
            }
            for figure in ("n", "rps", "log_loss", "market_rps", "clv", "n_bets"):
                want = next(
                    f.value
                    for f in report.figures
                    if (f.league_code, f.window, f.figure) == (league, window, figure)
                )
                assert entry[figure] == pytest.approx(want, abs=1e-6), (league, window, figure)
        assert entries[("E0", "all")]["n"] == 3
        # the same version again: a bodiless 304
        again = client.get(
            ROUTE, headers={**world.headers(), "If-None-Match": answer.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        # the same keys as the other routes
        assert client.get(ROUTE).status_code == 401
        assert client.get(ROUTE, headers={"X-API-Key": "sbk_nope_nope"}).status_code == 401


def test_a_new_champion_has_no_figures_until_the_monitor_scores_it(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving_world(warehouse, monkeypatch) as world:
        settle(warehouse, world.fixtures)
        monitor(MonitorRequest(log_mlflow=False), engine=warehouse)
        with warehouse.begin() as connection:
            connection.execute(update(ModelVersion).values(version="8"))
        with world.client() as client:
            assert client.get(ROUTE, headers=world.headers()).status_code == 404


def test_metrics_expose_the_stored_figures_as_gauges(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving_world(warehouse, monkeypatch) as world:
        settle(warehouse, world.fixtures)
        monkeypatch.setenv("SABISCORE_MONITOR_MIN_MATCHES", "3")
        monkeypatch.setenv("SABISCORE_MONITOR_MAX_ECE", "0.01")
        from sabiscore_ml.settings import clear_settings_cache

        clear_settings_cache()
        report = monitor(MonitorRequest(log_mlflow=False, fail_on_breach=False), engine=warehouse)
        assert report.breaches
        with world.client() as client:
            text = client.get("/metrics").text
    rows = latest_figures(warehouse, "sabiscore-1x2")
    gauges = {
        (m["league"], m["window"], m["figure"]): float(value)
        for m, value in (
            (dict(re.findall(r'(\w+)="([^"]*)"', labels)), value)
            for labels, value in re.findall(r"^sabiscore_monitor_figure\{(.*)\} (\S+)$", text, re.M)
        )
    }
    with_values = {(r["league_code"], r["window"], r["figure"]): r["value"] for r in rows}
    assert gauges.keys() == {k for k, v in with_values.items() if v is not None}
    for key, value in gauges.items():
        assert value == pytest.approx(with_values[key]), key
    breached = re.findall(r"^sabiscore_monitor_breached\{(.*)\} (\S+)$", text, re.M)
    crossed = {(b.league_code, b.window, b.figure) for b in report.breaches}
    found = {
        tuple(
            dict(re.findall(r'(\w+)="([^"]*)"', labels))[k] for k in ("league", "window", "figure")
        )
        for labels, value in breached
        if float(value) == 1.0
    }
    assert found == crossed
    assert re.search(r"^sabiscore_monitor_computed_timestamp_seconds \S+$", text, re.M)


def test_openapi_documents_the_route_like_the_other_keyed_ones(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving_world(warehouse, monkeypatch) as world, world.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    route, model = paths[ROUTE]["get"], paths["/v1/models/current"]["get"]
    assert set(route["responses"]) == set(model["responses"]) >= {"200", "304", "401", "404"}
    assert route["security"] == model["security"]
    assert route["tags"] == ["models"]
    ok = route["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ModelPerformance"
    }
    example = schemas["ModelPerformance"]["examples"][0]
    ModelPerformance.model_validate(example)
    assert set(example["leagues"][0]) == set(schemas["LeaguePerformance"]["properties"])
