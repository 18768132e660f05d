"""Training, registry, promotion, recalibration and the backtest CLI, end to end on real data.

The bundled football-data sample (Premier League 2019-20 to 2023-24 and
Championship 2015-16 to 2019-20) is loaded into an embedded warehouse, its
features are built, and the real MLflow store under ``SABISCORE_HOME`` is used.
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import mlflow
import numpy as np
import polars as pl
import pytest
from conftest import SAMPLE_DIR
from sqlalchemy import text
from typer.testing import CliRunner

from sabiscore_ml.cli import app
from sabiscore_ml.jobs.backtest import LEADING_COLUMNS
from sabiscore_ml.jobs.recalibration import recalibrate
from sabiscore_ml.jobs.training import TrainRequest, train
from sabiscore_ml.models import registry
from sabiscore_ml.settings import clear_settings_cache, get_core_settings
from sabiscore_ml.warehouse.engine import get_engine

pytestmark = pytest.mark.slow
runner = CliRunner()
AS_OF = "2023-03-01"


def invoke(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def sample_features(sabiscore_home):
    get_engine.cache_clear()
    invoke(
        "ingest", "football-data", "--from-dir", str(SAMPLE_DIR), "--league", "E0", "--league", "E1"
    )
    invoke("features", "build")
    yield get_engine()
    get_engine.cache_clear()


def _versions() -> list:
    return registry.client().search_model_versions("name = 'sabiscore-1x2'")


def test_train_register_promote_recalibrate(sample_features, monkeypatch):
    engine = sample_features
    request = TrainRequest(leagues=("E0", "E1"), as_of=AS_OF)
    first = train(request, engine=engine)
    assert (first.version, first.alias, first.decision) == ("1", "champion", "no champion yet")
    # nothing after the as-of date reached the training snapshot
    run = registry.client().get_run(first.run_id)
    assert run.data.tags["data.last_match"] < AS_OF
    assert run.data.params["evaluation_seasons"] == "2022-2023"
    artifacts = {a.path for a in registry.client().list_artifacts(first.run_id)}
    assert {"model_card.md", "plots", "evaluation", "data"} <= artifacts
    plots = {a.path for a in registry.client().list_artifacts(first.run_id, "plots")}
    assert plots == {
        "plots/reliability.png",
        "plots/rps_by_season.png",
        "plots/feature_importance.png",
    }
    metrics = run.data.metrics
    assert 0.15 < metrics["rps"] < 0.25 and metrics["n"] > 200
    # paired against the market on the same matches
    assert metrics["n_with_pinnacle_close"] == metrics["n"]
    assert abs(metrics["rps_minus_pinnacle_close"]) < 0.02

    # the registered pyfunc model predicts every market from the feature columns
    model = mlflow.pyfunc.load_model("models:/sabiscore-1x2@champion")
    frame = pl.read_parquet(
        next((get_core_settings().home_dir / "models" / "work").glob("*/training.parquet"))
    ).tail(20)
    out = model.predict(frame.to_pandas())
    assert list(out.columns) == [
        "p_home",
        "p_draw",
        "p_away",
        "p_over25",
        "p_btts",
        "xg_home",
        "xg_away",
    ]
    np.testing.assert_allclose(out[["p_home", "p_draw", "p_away"]].sum(axis=1), 1.0, atol=1e-9)
    assert ((out["p_over25"] > 0) & (out["p_over25"] < 1)).all()
    assert model.metadata.signature is not None

    # the same data again: equal, but the latest evaluation season has fewer than 300
    # matches (the as-of date cuts 2022-23), so the champion stays
    second = train(request, engine=engine)
    assert second.version == "2" and second.alias == "challenger"
    assert "need 300" in second.decision
    tags = registry.client().get_model_version("sabiscore-1x2", "2").tags
    assert tags["promotion.decision"] == "kept challenger"
    evidence = json.loads(tags["promotion.evidence"])
    assert evidence["rps_challenger_minus_champion"] == pytest.approx(0.0, abs=1e-9)
    assert registry.version_by_alias("champion").version == "1"
    assert registry.version_by_alias("challenger").version == "2"

    # with a lower bar the equal challenger is promoted (no worse on RPS and ECE)
    monkeypatch.setenv("SABISCORE_MODEL_PROMOTION_MIN_MATCHES", "100")
    clear_settings_cache()
    third = train(request, engine=engine)
    assert third.alias == "champion" and registry.version_by_alias("champion").version == "3"
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT version, alias FROM model_versions ORDER BY version")
        ).all()
    assert rows == [("1", None), ("2", None), ("3", "champion")]

    # a replay of the next matchday from the as-of date, with the champion trained before it
    result = invoke("predict", "--as-of", AS_OF, "--league", "E0")
    assert "value bets" in result.output
    with engine.connect() as connection:
        run = connection.execute(
            text("SELECT run_id, mode, model_version, n_predictions FROM prediction_runs")
        ).one()
        dates = connection.execute(
            text(
                "SELECT MIN(m.match_date), MAX(m.match_date), COUNT(*) FROM run_predictions r "
                "JOIN matches m ON m.id = r.match_id"
            )
        ).one()
    assert run[1:3] == ("replay", "3") and run[3] == dates[2]
    # E0's next matchday from Wednesday 1 March 2023: that day's games and the weekend's
    assert [str(d)[:10] for d in dates[:2]] == ["2023-03-01", "2023-03-04"]
    again = invoke("predict", "--as-of", AS_OF, "--league", "E0")
    assert "already published" in again.output

    # recalibration: the matches after the as-of date, never seen by the trees
    before = len(_versions())
    result = recalibrate(engine=engine, method="temperature")
    assert result["champion_version"] == "3"
    assert result["fit_matches"] + result["holdout_matches"] > 400
    if result["status"] == "registered":
        assert result["holdout_log_loss_recalibrated"] < result["holdout_log_loss_champion"]
        new = registry.client().get_model_version("sabiscore-1x2", result["version"])
        assert registry.client().get_run(new.run_id).data.tags["recalibrated_from"] == "3"
        assert len(_versions()) == before + 1
        # the recalibrated model saw later matches: a replay from the as-of date refuses it
        if result["promoted"]:
            refused = runner.invoke(app, ["predict", "--as-of", AS_OF], terminal_width=200)
            assert refused.exit_code != 0 and "trained on matches up to" in str(refused.exception)
    else:
        assert result["status"] == "kept"
        assert len(_versions()) == before


def test_backtest_writes_one_row_per_match_walking_forward(sample_features, tmp_path):
    output = tmp_path / "preds.csv"
    result = invoke(
        "backtest",
        "--league",
        "E0",
        "--seasons",
        "2021-2022:2022-2023",
        "--output",
        str(output),
        "--weights",
        "design",
    )
    assert "pinnacle_close" in result.output and "pinnacle_preclose" in result.output
    with output.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[: len(LEADING_COLUMNS)] == list(LEADING_COLUMNS)
    assert len(rows) == 760
    assert {r["season"] for r in rows} == {"2021-2022", "2022-2023"}
    for row in rows:
        assert dt.date.fromisoformat(row["trained_until"]) < dt.date.fromisoformat(row["date"])
        total = float(row["p_home"]) + float(row["p_draw"]) + float(row["p_away"])
        assert total == pytest.approx(1.0, abs=1e-6)
    # each season was predicted by a model trained only before it
    until = {r["season"]: r["trained_until"] for r in rows}
    assert until["2021-2022"] < "2021-08-13" and "2022-05-22" <= until["2022-2023"] < "2022-08-05"
