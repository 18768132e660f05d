"""The monitor of what was published: figures, thresholds, the alert stream, MLflow.

A small published history (two runs of one version over eight fixtures, the later run
republishing four of them with other probabilities) is settled with results and
Pinnacle's pre-closing and closing prices in a real warehouse (SQLite and PostgreSQL);
the monitor's stored figures must equal a direct recomputation from those numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
import redis
from sqlalchemy import Engine, insert, select, update
from test_publishing import SATURDAY, SUNDAY, T0, Fixture, add_fixtures, scored_run

from sabiscore_ml.jobs.monitor import (
    BREACH_KIND,
    MonitorBreach,
    MonitorRequest,
    drivers_frame,
    monitor,
    population_stability,
)
from sabiscore_ml.models.metrics import expected_calibration_error
from sabiscore_ml.publish import PublishedRun, publish
from sabiscore_ml.publish.contract import alerts_key
from sabiscore_ml.publish.performance import performance_document
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.models import Match, MonitorFigure, Odds

REDIS_URL = "redis://127.0.0.1:6379/0"
RESULTS = ("H", "D", "A", "H", "H", "A", "D", "H")
GOALS = {"H": (2, 0), "D": (1, 1), "A": (0, 1)}
SIDES = ("home", "draw", "away")
NO_CLOSE = 6  # the fixture without a closing price


# --- a settled published history -------------------------------------------------------------


def pinnacle(i: int, timing: str) -> tuple[float, float, float]:
    """Pinnacle's prices of the i-th fixture (closing ones a little shorter on the home side)."""
    home = 1.9 + 0.1 * i - (0.05 if timing == "close" else 0.0)
    return home, 3.4, 4.2 + 0.05 * i


def settle(engine: Engine, fixtures: list[Fixture]) -> None:
    """Results for every fixture; Pinnacle pre-closing for all, closing for all but one.

    The one without a closing price (the seventh, SP1) holds a value bet: its CLV is unknown.
    """
    with engine.begin() as connection:
        for i, f in enumerate(fixtures):
            result = RESULTS[i % len(RESULTS)]
            home_goals, away_goals = GOALS[result]
            connection.execute(
                update(Match)
                .where(Match.id == f.match_id)
                .values(result=result, home_goals=home_goals, away_goals=away_goals)
            )
            timings = ("preclose",) if i == NO_CLOSE else ("preclose", "close")
            for timing in timings:
                for side, price in zip(SIDES, pinnacle(i, timing), strict=True):
                    connection.execute(
                        insert(Odds).values(
                            match_id=f.match_id,
                            bookmaker="pinnacle",
                            market="1x2",
                            timing=timing,
                            line=0.0,
                            outcome=side,
                            price=price,
                            raw_sha256="e" * 64,
                        )
                    )


@pytest.fixture
def history(warehouse: Engine) -> tuple[list[Fixture], list[PublishedRun]]:
    """Two published runs of version 7, settled: the later one republishes E0's fixtures."""
    fixtures = add_fixtures(warehouse, per_league=4)
    first = scored_run("run-a", fixtures, created_at=T0)
    later = scored_run(
        "run-b",
        [f for f in fixtures if f.league_code == "E0"],
        created_at=T0 + dt.timedelta(hours=6),
        shift=0.04,
    )
    for run in (first, later):
        publish(run, engine=warehouse)
    settle(warehouse, fixtures)
    return fixtures, [first, later]


@pytest.fixture
def stream() -> Iterator[tuple[redis.Redis, str]]:
    """The real Redis under a prefix of its own (deleted afterwards)."""
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"sabiscore-test-{uuid.uuid4().hex[:10]}"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clear_settings_cache()


# --- the recomputation, by hand --------------------------------------------------------------


def latest_predictions(runs: list[PublishedRun]) -> dict[int, dict]:
    """Per match, the prediction of the run created last (as published: rounded)."""
    latest: dict[int, tuple[dt.datetime, dict]] = {}
    for run in runs:
        for row in run.records.predictions:
            seen = latest.get(row["match_id"])
            if seen is None or run.created_at > seen[0]:
                latest[row["match_id"]] = (run.created_at, row)
    return {m: row for m, (_, row) in latest.items()}


def rps(p: tuple[float, float, float], result: str) -> float:
    o = {"H": (1, 0, 0), "D": (0, 1, 0), "A": (0, 0, 1)}[result]
    c1, c2 = p[0] - o[0], p[0] + p[1] - o[0] - o[1]
    return 0.5 * (c1 * c1 + c2 * c2)


def log_loss(p: tuple[float, float, float], result: str) -> float:
    return -math.log(p["HDA".index(result)])


def fair(prices: tuple[float, float, float]) -> tuple[float, float, float]:
    inverse = [1.0 / x for x in prices]
    total = sum(inverse)
    return tuple(x / total for x in inverse)  # type: ignore[return-value]


def mean_se(values: list[float]) -> tuple[float, float | None]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None  # no standard error of one value
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, sd / math.sqrt(n)


def expected(
    fixtures: list[Fixture], runs: list[PublishedRun], league: str | None
) -> dict[str, float | None]:
    """The figures of ``league`` (None: all) recomputed from the published numbers."""
    predictions = latest_predictions(runs)
    index = {f.match_id: i for i, f in enumerate(fixtures)}
    chosen = [f for f in fixtures if league is None or f.league_code == league]
    model, market, close, rows = [], [], [], []
    for f in chosen:
        i, row = index[f.match_id], predictions[f.match_id]
        result = RESULTS[i % len(RESULTS)]
        p = (row["p_home"], row["p_draw"], row["p_away"])
        q = fair(pinnacle(i, "preclose"))
        rows.append((p, result))
        model.append((rps(p, result), log_loss(p, result)))
        market.append((rps(q, result), log_loss(q, result)))
        if i != NO_CLOSE:
            close.append((rps(p, result), rps(fair(pinnacle(i, "close")), result)))
    out: dict[str, float | None] = {
        "n": len(chosen),
        "rps": sum(m[0] for m in model) / len(model),
        "log_loss": sum(m[1] for m in model) / len(model),
        "market_rps": sum(m[0] for m in market) / len(market),
        "market_log_loss": sum(m[1] for m in market) / len(market),
        "close_rps": sum(c[1] for c in close) / len(close),
        "n_close": len(close),
    }
    out["rps_minus_market"], out["rps_minus_market_se"] = mean_se(
        [a[0] - b[0] for a, b in zip(model, market, strict=True)]
    )
    out["rps_minus_close"], out["rps_minus_close_se"] = mean_se([a - b for a, b in close])
    outcome = np.array(["HDA".index(r) for _, r in rows])
    out["ece"] = expected_calibration_error(np.array([p for p, _ in rows]), outcome)
    # value bets and stakes: the latest run's per match and outcome
    latest_run = {}
    for run in runs:
        for match_id in run.predictions["match_id"].to_list():
            if match_id not in latest_run or run.created_at > latest_run[match_id].created_at:
                latest_run[match_id] = run
    clv, flat, staked, turnover = [], [], 0.0, 0.0
    for f in chosen:
        i, run = index[f.match_id], latest_run[f.match_id]
        result = RESULTS[i % len(RESULTS)]
        bets = [e for e in run.records.edges if e["match_id"] == f.match_id and e["is_value"]]
        for bet in bets:
            won = "HDA"["home draw away".split().index(bet["outcome"])] == result
            flat.append(bet["price"] - 1.0 if won else -1.0)
            if i != NO_CLOSE:
                closing = 1.0 / fair(pinnacle(i, "close"))[SIDES.index(bet["outcome"])]
                clv.append(bet["price"] / closing - 1.0)
        for stake in (s for s in run.records.stakes if s["match_id"] == f.match_id):
            won = "HDA"[SIDES.index(stake["outcome"])] == result
            staked += stake["stake"] * (stake["price"] - 1.0) if won else -stake["stake"]
            turnover += stake["stake"]
    out |= {
        "n_bets": len(flat),
        "flat_profit": sum(flat),
        "flat_roi": sum(flat) / len(flat),
        "n_clv": len(clv),
        "staked_profit": staked,
        "staked_turnover": turnover,
        "staked_roi": staked / turnover,
    }
    out["clv"], out["clv_se"] = mean_se(clv)
    return out


def stored(engine: Engine) -> dict[tuple[str, str, str], MonitorFigure]:
    with engine.connect() as connection:
        rows = connection.execute(select(MonitorFigure)).all()
    return {(r.league_code, r.window_name, r.figure): r for r in rows}


# --- tests -------------------------------------------------------------------------------------


def test_figures_equal_a_direct_recomputation(warehouse: Engine, history) -> None:
    fixtures, runs = history
    report = monitor(MonitorRequest(log_mlflow=False), engine=warehouse)
    assert report.settled_matches == len(fixtures)  # each match once, though published twice
    rows = stored(warehouse)
    assert {r.model_version for r in rows.values()} == {"7"}
    assert len({r.computed_at for r in rows.values()}) == 1
    for league in (None, "E0", "SP1"):
        want = expected(fixtures, runs, league)
        assert want["n_bets"] > 0
        assert (want["n_clv"] < want["n_bets"]) == (league != "E0")
        for name, value in want.items():
            row = rows[(league or "all", "all", name)]
            if value is None:
                assert row.value is None, (league, name)
            else:
                assert row.value == pytest.approx(value, rel=1e-9, abs=1e-12), (league, name)
            assert row.threshold is None and not row.breached  # 8 matches: too few to check
    # the rolling window of 28 days holds every match; its bounds are the settled days
    for (league, window, name), row in rows.items():
        if window == "28d":
            assert row.value == pytest.approx(rows[(league, "all", name)].value)
            assert (row.window_start, row.window_end) == (SUNDAY - dt.timedelta(days=27), SUNDAY)
        else:
            assert (row.window_start, row.window_end) == (SATURDAY, SUNDAY)


def test_the_rolling_window_keeps_the_last_days(
    warehouse: Engine, history, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixtures, runs = history
    configure(monkeypatch, SABISCORE_MONITOR_WINDOW_DAYS="1")
    monitor(MonitorRequest(log_mlflow=False), engine=warehouse)
    rows = stored(warehouse)
    sunday = expected(fixtures, runs, "SP1")  # SP1 plays on Sunday, the last day
    assert rows[("all", "1d", "n")].value == sunday["n"] == 4
    assert rows[("all", "1d", "rps")].value == pytest.approx(sunday["rps"])
    assert rows[("all", "1d", "clv")].value == pytest.approx(sunday["clv"])
    assert ("E0", "1d", "rps") not in rows or rows[("E0", "1d", "n")].value == 0


def test_a_breach_fails_naming_league_figure_threshold_and_alerts(
    warehouse: Engine, history, stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = stream
    configure(
        monkeypatch,
        SABISCORE_MONITOR_MIN_MATCHES="4",
        SABISCORE_MONITOR_MAX_ECE="0.05",
        SABISCORE_REDIS_PREFIX=prefix,
    )
    with pytest.raises(MonitorBreach) as raised:
        monitor(MonitorRequest(log_mlflow=False), engine=warehouse, redis_client=client)
    rows = stored(warehouse)
    crossed = {k for k, r in rows.items() if r.breached}
    ece = {k: r.value for k, r in rows.items() if k[2] == "ece"}
    assert crossed == {k for k, v in ece.items() if v > 0.05} != set()
    message = str(raised.value)
    for league, window, figure in crossed:
        assert f"league {league}, window {window}" in message
        assert f"{figure} {rows[(league, window, figure)].value:.4f}" in message
    assert "maximum 0.0500" in message
    # the figures were stored, thresholds with them, before the task failed
    assert all(r.threshold == 0.05 for k, r in rows.items() if k[2] == "ece")
    entries = client.xrange(alerts_key(prefix))
    alerts = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
    assert len(alerts) == len(crossed)
    assert {(a["league_code"], a["window"], a["figure"]) for a in alerts} == crossed
    assert {a["kind"] for a in alerts} == {BREACH_KIND}
    assert {a["threshold"] for a in alerts} == {"0.050000"}
    assert all(a["message"] in message for a in alerts)


def test_without_a_breach_nothing_is_alerted(
    warehouse: Engine, history, stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = stream
    configure(
        monkeypatch,
        SABISCORE_MONITOR_MIN_MATCHES="4",
        SABISCORE_MONITOR_MAX_ECE="0.5",
        SABISCORE_REDIS_PREFIX=prefix,
    )
    report = monitor(MonitorRequest(log_mlflow=False), engine=warehouse, redis_client=client)
    assert report.breaches == []
    checked = [r for r in stored(warehouse).values() if r.threshold is not None]
    assert {r.figure for r in checked} >= {"ece", "rps_minus_market"}
    assert not any(r.breached for r in checked)
    assert client.xlen(alerts_key(prefix)) == 0


def test_a_breach_can_be_reported_without_failing(
    warehouse: Engine, history, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, SABISCORE_MONITOR_MIN_BETS="1", SABISCORE_MONITOR_MIN_CLV="0.5")
    report = monitor(MonitorRequest(log_mlflow=False, fail_on_breach=False), engine=warehouse)
    assert report.breaches and {b.figure for b in report.breaches} == {"clv"}
    assert all("below its minimum 0.5000" in b.message for b in report.breaches)


def test_figures_are_logged_to_mlflow_beside_the_version(warehouse: Engine, history) -> None:
    import mlflow

    from sabiscore_ml.models import registry

    report = monitor(MonitorRequest(), engine=warehouse)
    registry.use_mlflow_store()
    run = mlflow.get_run(report.mlflow_runs["7"])
    assert run.data.tags["model.version"] == "7"
    rows = stored(warehouse)
    assert run.data.metrics["all.all.rps"] == pytest.approx(rows[("all", "all", "rps")].value)
    assert run.data.metrics["E0.28d.clv"] == pytest.approx(rows[("E0", "28d", "clv")].value)


def test_the_performance_document_reads_the_latest_computation(warehouse: Engine, history) -> None:
    monitor(MonitorRequest(log_mlflow=False), engine=warehouse)
    # a second computation after one more result changed: the document follows it
    fixtures, _ = history
    with warehouse.begin() as connection:
        connection.execute(update(Match).where(Match.id == fixtures[0].match_id).values(result="A"))
    second = monitor(MonitorRequest(log_mlflow=False), engine=warehouse)
    document = performance_document(warehouse, "sabiscore-1x2", "7")
    assert document is not None
    assert document["computed_at"] == second.computed_at
    entries = {(e["league_code"], e["window"]): e for e in document["leagues"]}
    assert list(entries)[:2] == [("all", "all"), ("all", "28d")]
    assert entries[("E0", "all")]["rps"] == pytest.approx(second.value("rps", "E0"))
    assert entries[("E0", "all")]["n"] == 4 and isinstance(entries[("E0", "all")]["n"], int)
    assert performance_document(warehouse, "sabiscore-1x2", "8") is None


def test_population_stability_index() -> None:
    reference = np.arange(100, dtype=float)
    assert population_stability(reference, reference.copy()) == pytest.approx(0.0, abs=1e-12)
    # the current sample entirely in the reference's top decile
    current = np.array([95.0, 96.0, 97.0, 98.0, 99.0] * 4)
    bins = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    counts_r = np.append(np.bincount(np.searchsorted(bins, reference, "right"), minlength=10), 0)
    counts_c = np.append(np.bincount(np.searchsorted(bins, current, "right"), minlength=10), 0)
    r = (counts_r + 0.5) / (100 + 0.5 * 11)
    c = (counts_c + 0.5) / (20 + 0.5 * 11)
    assert population_stability(reference, current) == pytest.approx(
        float(np.sum((c - r) * np.log(c / r)))
    )
    assert population_stability(reference, current) > 1.0
    # missing values are a bin of their own
    with_nan = np.append(reference[:50], [np.nan] * 50)
    assert population_stability(reference, with_nan) > population_stability(
        reference, reference[:50]
    )


def test_drivers_give_the_most_important_features_and_their_values() -> None:
    frame = pl.DataFrame(
        {
            "match_id": [1, 2, 3],
            "drivers_json": [
                '[{"feature":"elo_diff","importance":0.3,"value":12.5},'
                '{"feature":"form","importance":0.1,"value":1.0}]',
                '[{"feature":"elo_diff","importance":0.3,"value":null},'
                '{"feature":"xg","importance":0.2,"value":0.4}]',
                None,
            ],
        }
    )
    names, values = drivers_frame(frame, top=2)
    assert names == ["elo_diff", "xg"]
    assert values.rows() == [(1, 12.5, None), (2, None, 0.4), (3, None, None)]


def test_per_match_drivers_rank_features_by_how_far_they_move_the_market() -> None:
    frame = pl.DataFrame(
        {
            "match_id": [1, 2],
            "drivers_json": [
                '[{"feature":"elo_diff","value":12.5,'
                '"contribution":{"home":0.02,"draw":-0.01,"away":-0.01}},'
                '{"feature":"form","value":1.0,'
                '"contribution":{"home":-0.09,"draw":0.04,"away":0.05}}]',
                '[{"feature":"elo_diff","value":-3.0,'
                '"contribution":{"home":-0.03,"draw":0.0,"away":0.03}}]',
            ],
        }
    )
    names, values = drivers_frame(frame, top=1)
    # form moved one match by 0.09 (0.045 a match); elo_diff two by 0.02 and 0.03 (0.025)
    assert names == ["form"]
    assert values.rows() == [(1, 1.0), (2, None)]
    names, _ = drivers_frame(frame, top=2)
    assert names == ["form", "elo_diff"]


def test_the_command_prints_the_figures_and_fails_on_a_breach(
    warehouse: Engine, history, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli_support import invoke

    if warehouse.dialect.name != "sqlite":
        pytest.skip("the command is the same job: one database is enough")
    configure(monkeypatch, SABISCORE_MONITOR_MIN_MATCHES="4", SABISCORE_MONITOR_MAX_ECE="0.001")
    with pytest.raises(MonitorBreach) as raised:  # main() turns it into exit status 2
        invoke("monitor", "run", "--no-mlflow", "--league", "SP1", width=250)
    assert "league SP1, window all, model v7: ece" in str(raised.value)
    reported = invoke("monitor", "run", "--no-mlflow", "--no-fail", "--window-days", "1", width=250)
    assert reported.exit_code == 0
    assert "ECE" in reported.output and "CLV" in reported.output
    rows = stored(warehouse)  # the figures of the latest computation
    rps = rows[("all", "1d", "rps")].value
    assert rps is not None and f"{rps:.4f}" in reported.output


def test_drift_without_feature_partitions_is_left_out(warehouse: Engine) -> None:
    """Drivers with importances but no offline partition to compare with: no PSI, no failure."""
    fixtures = add_fixtures(warehouse, per_league=2)
    run = scored_run("run-a", fixtures)
    drivers = '[{"feature":"elo_diff","importance":0.4,"value":12.0}]'
    run = dataclasses.replace(
        run, predictions=run.predictions.with_columns(pl.lit(drivers).alias("drivers"))
    )
    publish(run, engine=warehouse)
    settle(warehouse, fixtures)
    report = monitor(MonitorRequest(log_mlflow=False), engine=warehouse)
    assert report.value("rps") is not None
    assert not [f for f in report.figures if f.figure.startswith("psi")]
