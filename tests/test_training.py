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

from sabiscore_ml.betting.walk import WALKED_PREDICTION_COLUMNS
from sabiscore_ml.cli import app
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
    assert (first.version, first.alias, first.decision) == (
        "1",
        "champion",
        "no champion yet: promoted",
    )
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
        "correct_score",
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
    # the value bets of both models on the same matches, measured against the close
    evidence = json.loads(
        registry.client().get_model_version("sabiscore-1x2", "3").tags["promotion.evidence"]
    )
    bets, clv = evidence["clv_bets_challenger"], evidence["clv_challenger"]
    assert bets == evidence["clv_bets_champion"] >= 30  # 85 on E0 2022-23 to the as-of date
    assert clv == evidence["clv_champion"]
    assert third.decision.endswith(
        f"; CLV of value bets {clv:+.2%} ({bets} bets) vs champion v1's {clv:+.2%} ({bets}): "
        f"equal (difference +0.00%, se {evidence['clv_difference_se']:.2%}): promoted"
    )
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
    assert list(rows[0])[: len(WALKED_PREDICTION_COLUMNS)] == list(WALKED_PREDICTION_COLUMNS)
    assert len(rows) == 760
    assert {r["season"] for r in rows} == {"2021-2022", "2022-2023"}
    for row in rows:
        assert dt.date.fromisoformat(row["trained_until"]) < dt.date.fromisoformat(row["date"])
        total = float(row["p_home"]) + float(row["p_draw"]) + float(row["p_away"])
        assert total == pytest.approx(1.0, abs=1e-6)
    # each season was predicted by a model trained only before it
    until = {r["season"]: r["trained_until"] for r in rows}
    assert until["2021-2022"] < "2021-08-13" and "2022-05-22" <= until["2022-2023"] < "2022-08-05"


STEP = """
import json, sys
from sabiscore_ml.jobs import training
step, args_path = sys.argv[1:3]
args = json.loads(open(args_path).read())
if step == "snapshot":
    args = [training.TrainRequest.from_dict(args[0])]
print(json.dumps(getattr(training, step)(*args)))
"""


def _step_in_a_fresh_process(cwd, step: str, *args):
    """One training step in its own interpreter started in ``cwd``, as an Airflow task runs it."""
    import subprocess
    import sys

    path = cwd.parent / f"{step}.json"
    path.write_text(json.dumps(args))
    done = subprocess.run(
        [sys.executable, "-c", STEP, step, str(path)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"{step} failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_training_steps_in_fresh_processes_show_in_the_configured_store(
    sample_features, sabiscore_home, tmp_path
):
    """The analyst's view: one experiment with the run, its datasets, and RPS over every season."""
    from mlflow.entities import ViewType

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    request = {"leagues": ["E0"], "n_trials": 1, "evaluation_seasons": 2, "weights": "design"}
    state = _step_in_a_fresh_process(cwd, "snapshot", request)
    tuned = _step_in_a_fresh_process(cwd, "tune", state)
    fitted = _step_in_a_fresh_process(cwd, "fit", state, tuned)
    evaluated = _step_in_a_fresh_process(cwd, "evaluate", state, tuned)
    registered = _step_in_a_fresh_process(cwd, "register", state, tuned, fitted, evaluated)
    _step_in_a_fresh_process(cwd, "promote", state, registered, evaluated)
    # nothing fell back on MLflow's default store in the working directory
    assert sorted(p.name for p in cwd.iterdir()) == []

    client = registry.client()
    store = sabiscore_home / "mlflow" / "artifacts"
    active = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    assert [e.name for e in active] == ["sabiscore-1x2"]
    for experiment in client.search_experiments(view_type=ViewType.ALL):
        location = experiment.artifact_location.removeprefix("file://")
        assert location.startswith(str(store)), (experiment.name, location)
    for experiment in active:
        assert client.search_runs([experiment.experiment_id]), f"{experiment.name} is empty"
        assert (store / experiment.name).is_dir()
    # the trial is a nested run of the training run, in its experiment
    trials = client.search_runs(
        [active[0].experiment_id], f"tags.mlflow.parentRunId = '{state['run_id']}'"
    )
    assert [t.data.tags["optuna.state"] for t in trials] == ["complete"]

    # the run lists the frame it was fitted on and the one it was scored on
    run = client.get_run(state["run_id"])
    inputs = {
        next(t.value for t in i.tags if t.key == "mlflow.data.context"): i.dataset
        for i in run.inputs.dataset_inputs
    }
    assert set(inputs) == {"training", "evaluation"}
    training, evaluation = inputs["training"], inputs["evaluation"]
    snapshot = pl.read_parquet(state["snapshot_path"])
    assert training.digest == state["data_hash"] == run.data.tags["data.data_hash"]
    assert json.loads(training.source) == {"uri": state["snapshot_path"]}
    profile = json.loads(training.profile)
    assert profile["num_rows"] == state["matches"] == snapshot.height
    assert profile["league_seasons"] == [f"E0 {y}-{y + 1}" for y in range(2019, 2024)]
    assert profile["first_match"] == run.data.tags["data.first_match"]
    assert profile["last_match"] == run.data.tags["data.last_match"]
    columns = {c["name"] for c in json.loads(training.schema)["mlflow_colspec"]}
    assert set(snapshot.columns) == columns
    predictions = pl.read_parquet(evaluated["predictions_path"])
    assert json.loads(evaluation.profile)["num_rows"] == predictions.height
    assert evaluation.digest == registry.evaluation_digest(state["data_hash"], predictions)
    assert json.loads(evaluation.source)["uri"].endswith(
        f"{state['run_id']}/artifacts/evaluation/predictions.parquet"
    )

    # the RPS by season covers every season walked forward, the market beside the model
    seasons = run.data.params["evaluation_seasons"].split(",")
    assert seasons == ["2022-2023", "2023-2024"]
    by_season = pl.read_csv(
        mlflow.artifacts.download_artifacts(
            run_id=state["run_id"], artifact_path="evaluation/rps_by_season.csv"
        )
    )
    assert by_season["season_code"].to_list() == seasons
    assert by_season["n"].sum() == predictions.height
    assert by_season["pinnacle_close_rps"].is_not_null().all()
    by_month = pl.read_csv(
        mlflow.artifacts.download_artifacts(
            run_id=state["run_id"], artifact_path="evaluation/rps_by_month.csv"
        )
    )
    assert set(by_month["season_code"]) == set(seasons) and by_month.height >= 18
    assert by_month["n"].sum() == predictions.height
    history = client.get_metric_history(state["run_id"], "season_rps")
    assert sorted(m.step for m in history) == [2022, 2023]
