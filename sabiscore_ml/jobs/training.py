"""Train, evaluate, register and promote the 1X2 model: the steps of the ``train_ensemble`` DAG.

Each step is a function taking and returning small JSON-able dicts (paths, run
ids, figures), so Airflow can pass them through XCom and the CLI can chain them
in one process.  The data travels through files under
``$SABISCORE_HOME/models/work/<run>``: the snapshot of the training frame, the
fitted bundle, the walk-forward predictions.

1. :func:`snapshot` - the training frame from the offline feature store, frozen
   to Parquet, and the MLflow run that will describe everything that follows;
2. :func:`tune` - Optuna trials (nested runs), or the defaults with zero trials;
3. :func:`fit` - the final model on every row of the snapshot;
4. :func:`evaluate` - walk-forward over the evaluation seasons, paired against
   the market;
5. :func:`register` - the pyfunc model, its signature, plots and model card; a
   new registered version with the alias ``challenger``;
6. :func:`promote` - ``champion`` when the challenger is no worse on the latest
   evaluation season.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import polars as pl
from sqlalchemy import Engine, select

from sabiscore_ml.betting.edges import ValueBetRules
from sabiscore_ml.models.config import ModelConfig
from sabiscore_ml.models.data import TrainingSet, load_training_set, match_dates, snapshot_of
from sabiscore_ml.models.walkforward import Block, walk_forward
from sabiscore_ml.settings import get_core_settings, get_model_settings
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import ModelVersion

if TYPE_CHECKING:
    from sabiscore_ml.models.registry import Evidence

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
#: Run artifacts: the walk-forward RPS of the model and each market, per season and per month.
RPS_BY_SEASON = "evaluation/rps_by_season.csv"
RPS_BY_MONTH = "evaluation/rps_by_month.csv"


class Snapshot(TypedDict):
    """What :func:`snapshot` returns, and every later step reads."""

    run_id: str  # the MLflow run describing the training
    snapshot_path: str  # the training frame, frozen to Parquet
    data_hash: str
    matches: int
    leagues: list[str]
    evaluation_seasons: list[str]
    validation_seasons: list[str]
    request: dict[str, Any]  # the TrainRequest, as a dict (TrainRequest.from_dict)


class Tuned(TypedDict):
    """What :func:`tune` returns: the configuration to fit (a ModelConfig, as a dict)."""

    config: dict[str, Any]
    tuned: bool
    best_rps: NotRequired[float]  # with trials only


class Fitted(TypedDict):
    """What :func:`fit` returns: the fitted bundle's file."""

    bundle_path: str
    fit_seconds: float


class Evaluated(TypedDict):
    """What :func:`evaluate` returns: the walk-forward predictions and their scores."""

    predictions_path: str
    metrics: dict[str, float]


class Registered(TypedDict):
    """What :func:`register` returns: the new registered version."""

    version: str
    run_id: str


class Promotion(TypedDict):
    """What :func:`promote` returns: the decision and why."""

    promoted: bool
    reason: str
    version: str
    evidence: Evidence


@dataclass(frozen=True)
class TrainRequest:
    """What to train on and how (the DAG's Params, the CLI's options)."""

    leagues: tuple[str, ...] = ()  # default: SABISCORE_MODEL_LEAGUES
    seasons: tuple[str, ...] = ()  # default: every season from history_from on
    history_from: str | None = None  # default: SABISCORE_MODEL_HISTORY_FROM
    evaluation_seasons: int = 1  # the latest N seasons, walked forward
    validation_seasons: int = 1  # the N seasons before them, for tuning
    n_trials: int = 0
    weights: str = "stacking"
    promote: bool = True
    as_of: str | None = None  # ISO date: train on matches before it only

    @staticmethod
    def from_dict(values: dict[str, Any]) -> TrainRequest:
        """From XCom / Params (lists become tuples)."""
        known = {k: v for k, v in values.items() if k in TrainRequest.__dataclass_fields__}
        for key in ("leagues", "seasons"):
            if key in known:
                known[key] = tuple(known[key] or ())
        return TrainRequest(**known)


@dataclass
class TrainReport:
    """What a training run did, for the CLI and the DAG's logs."""

    run_id: str
    version: str | None
    alias: str | None
    decision: str
    metrics: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    predictions_path: str | None = None  # the walk-forward evaluation


def _work_dir(run_id: str) -> Path:
    path = get_core_settings().home_dir / "models" / "work" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load_snapshot(state: Snapshot) -> TrainingSet:
    from feature_store.catalog import feature_names

    return TrainingSet(pl.read_parquet(state["snapshot_path"]), tuple(feature_names()))


def _seasons_of(training: TrainingSet, leagues: Sequence[str]) -> list[str]:
    frame = training.frame.filter(pl.col("league_code").is_in(list(leagues)))
    return sorted(frame["season_code"].unique().to_list())


# --- 1. snapshot -------------------------------------------------------------------------


def snapshot(request: TrainRequest, *, engine: Engine | None = None) -> Snapshot:
    """Freeze the training frame and open the MLflow run; returns the state the next steps read."""
    import mlflow

    from sabiscore_ml.models import registry

    engine = engine or get_engine()
    settings = get_model_settings()
    leagues = list(request.leagues or settings.leagues)
    as_of = dt.date.fromisoformat(request.as_of) if request.as_of else None
    training = load_training_set(
        engine,
        leagues=leagues,
        seasons=list(request.seasons) or None,
        as_of=as_of,
        history_from=request.history_from or settings.history_from,
    )
    leagues = sorted(set(training.frame["league_code"].unique().to_list()))
    seasons = _seasons_of(training, leagues)
    needed = request.evaluation_seasons + (request.validation_seasons if request.n_trials else 0)
    if len(seasons) <= needed:
        raise ValueError(
            f"{len(seasons)} season(s) of data ({', '.join(seasons)}): too few to hold out "
            f"{request.evaluation_seasons} for evaluation"
            + (f" and {request.validation_seasons} for tuning" if request.n_trials else "")
        )
    evaluation = seasons[-request.evaluation_seasons :]
    validation = seasons[-needed : -request.evaluation_seasons] if request.n_trials else []
    facts = snapshot_of(engine, training)
    experiment_id = registry.experiment("1x2")
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"train {facts['data_hash']}"
    ) as run:
        mlflow.set_tags({f"data.{k}": v for k, v in facts.items()} | {"sabiscore.job": "train"})
        mlflow.log_params(
            {
                "leagues": ",".join(leagues),
                "history_from": request.history_from or settings.history_from,
                "as_of": request.as_of or "",
                "evaluation_seasons": ",".join(evaluation),
                "validation_seasons": ",".join(validation),
                "n_trials": request.n_trials,
            }
        )
        mlflow.log_dict(facts, "data/snapshot.json")
        mlflow.log_text("\n".join(training.features) + "\n", "data/features.txt")
        run_id = run.info.run_id
        path = _work_dir(run_id) / "training.parquet"
        training.frame.write_parquet(path)
        _log_training_input(training, facts, path)
    return {
        "run_id": run_id,
        "snapshot_path": str(path),
        "data_hash": facts["data_hash"],
        "matches": training.height,
        "leagues": leagues,
        "evaluation_seasons": evaluation,
        "validation_seasons": validation,
        "request": asdict(request),
    }


def _log_training_input(training: TrainingSet, facts: dict[str, Any], path: Path) -> None:
    """The frozen snapshot as the run's ``training`` dataset (digest: the data hash)."""
    from sabiscore_ml.models import registry
    from sabiscore_ml.settings import get_feature_store_settings

    registry.log_dataset(
        training.frame,
        context=registry.TRAINING,
        name="feature-store snapshot",
        digest=facts["data_hash"],
        source=str(path),
        facts={
            "catalog_version": facts["catalog_version"],
            "partitions": int(facts["partitions"]),
            "features": len(training.features),
            "feature_store": str(get_feature_store_settings().offline_dir(get_core_settings())),
        },
    )


# --- 2. tune ------------------------------------------------------------------------------


def tune(state: Snapshot, *, progress: Progress | None = None) -> Tuned:
    """Optuna over the validation seasons, each trial a nested MLflow run; returns the config."""
    import mlflow

    from sabiscore_ml.models import registry, tuning

    request = TrainRequest.from_dict(state["request"])
    base = ModelConfig(weights=request.weights)
    if request.n_trials <= 0:
        return {"config": asdict(base), "tuned": False}
    training = _load_snapshot(state)
    study_name = f"sabiscore-1x2-{'-'.join(state['leagues'])}-{request.weights}"
    # a fresh process (an Airflow task) must talk to the configured store, and
    # the trials belong to the training run's experiment, not MLflow's Default
    experiment_id = registry.client().get_run(state["run_id"]).info.experiment_id

    def log_trial(number: int, params: dict[str, Any], rps: float, status: str) -> None:
        registry.use_mlflow_store()
        with mlflow.start_run(run_id=state["run_id"]):
            with mlflow.start_run(
                run_name=f"trial {number}", nested=True, experiment_id=experiment_id
            ):
                mlflow.log_params(params)
                mlflow.log_metric("validation_rps", rps)
                mlflow.set_tag("optuna.state", status)
                mlflow.set_tag("optuna.study", study_name)
        if progress:
            progress(f"trial {number}: validation RPS {rps:.4f} ({status})")

    result = tuning.tune(
        training,
        base,
        leagues=state["leagues"],
        validation_seasons=state["validation_seasons"],
        n_trials=request.n_trials,
        study_name=study_name,
        log_trial=log_trial,
    )
    registry.use_mlflow_store()
    with mlflow.start_run(run_id=state["run_id"]):
        mlflow.log_metric("tuning_best_validation_rps", result.best_rps)
        mlflow.set_tags(
            {
                "optuna.study": study_name,
                "optuna.storage": tuning.study_storage().split("@")[-1],
                "optuna.trials": str(result.trials),
            }
        )
    return {"config": asdict(result.config), "tuned": True, "best_rps": result.best_rps}


def _config(tuned: Tuned) -> ModelConfig:
    values = dict(tuned["config"])
    values["members"] = tuple(values["members"])
    return ModelConfig(**values)


# --- 3. fit -----------------------------------------------------------------------------


def fit(state: Snapshot, tuned: Tuned, *, progress: Progress | None = None) -> Fitted:
    """The final model on every row of the snapshot; returns the bundle's path."""
    import time

    from feature_store.catalog import CATALOG_VERSION
    from sabiscore_ml.models.bundle import ModelBundle

    config = _config(tuned)
    training = _load_snapshot(state)
    started = time.perf_counter()
    X = training.X()
    outcome = config.outcome_model().fit(X, training.y())
    goals_model = config.goals_model()
    if goals_model is not None:
        goals_model.fit(X, training.goals())
    seconds = time.perf_counter() - started
    bundle = ModelBundle(
        features=training.features,
        outcome=outcome,
        goals=goals_model,
        catalog_version=CATALOG_VERSION,
        trained_until=match_dates(training.frame)[1],
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        description={"data_hash": state["data_hash"], "leagues": state["leagues"]},
    )
    path = bundle.save(_work_dir(state["run_id"]) / "bundle.joblib")
    if progress:
        progress(f"fitted on {training.height:,} matches in {seconds:.1f} s")
    return {"bundle_path": str(path), "fit_seconds": round(seconds, 2)}


# --- 4. evaluate ------------------------------------------------------------------------


def evaluate(
    state: Snapshot,
    tuned: Tuned,
    *,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> Evaluated:
    """Walk-forward over the evaluation seasons; scores paired against the market."""
    from sabiscore_ml.models.evaluation import compare, with_markets

    engine = engine or get_engine()
    config = _config(tuned)
    training = _load_snapshot(state)

    def report(block: Block) -> None:
        if progress:
            progress(
                f"walk-forward {block.season}: {block.rows} matches, "
                f"trained on {block.train_rows:,}"
            )

    preds = walk_forward(
        training,
        config.outcome_model,
        leagues=state["leagues"],
        seasons=state["evaluation_seasons"],
        progress=report,
    )
    preds = with_markets(engine, preds)
    path = _work_dir(state["run_id"]) / "predictions.parquet"
    preds.write_parquet(path)
    metrics = compare(preds).metrics()
    return {"predictions_path": str(path), "metrics": metrics}


# --- 5. register ------------------------------------------------------------------------


def register(
    state: Snapshot,
    tuned: Tuned,
    fitted: Fitted,
    evaluated: Evaluated,
    *,
    engine: Engine | None = None,
) -> Registered:
    """Log everything to the run, register a version, give it the alias ``challenger``."""
    import mlflow

    from sabiscore_ml.models import evaluation as ev
    from sabiscore_ml.models import registry
    from sabiscore_ml.models.bundle import ModelBundle
    from sabiscore_ml.models.model_card import TrainingFacts, model_card

    engine = engine or get_engine()
    config = _config(tuned)
    bundle = ModelBundle.load(Path(fitted["bundle_path"]))
    preds = pl.read_parquet(evaluated["predictions_path"])
    by_season = ev.by_group(preds, ("season_code",))
    by_month = ev.by_month(preds)
    by_league = ev.by_group(preds)
    comparison = ev.compare(preds)
    registry.client()
    with mlflow.start_run(run_id=state["run_id"]):
        mlflow.log_params(config.as_params())
        mlflow.log_metrics(evaluated["metrics"] | {"fit_seconds": fitted["fit_seconds"]})
        for row in by_season.iter_rows(named=True):
            step = int(row["season_code"][:4])
            mlflow.log_metric("season_rps", row["rps"], step=step)
            if row.get("minus_close") is not None:
                mlflow.log_metric("season_rps_minus_pinnacle_close", row["minus_close"], step=step)
        mlflow.log_artifact(evaluated["predictions_path"], "evaluation")
        _log_evaluation_input(state, preds)
        mlflow.log_text(by_league.write_csv(), "evaluation/by_league_season.csv")
        mlflow.log_text(by_season.write_csv(), RPS_BY_SEASON)
        mlflow.log_text(by_month.write_csv(), RPS_BY_MONTH)
        mlflow.log_figure(ev.reliability_figure(preds), "plots/reliability.png")
        mlflow.log_figure(ev.rps_by_season_figure(by_season, by_month), "plots/rps_by_season.png")
        importance = bundle.outcome.feature_importance()
        if len(importance):
            mlflow.log_figure(ev.importance_figure(importance), "plots/feature_importance.png")
            mlflow.log_text(importance.to_csv(header=["importance"]), "feature_importance.csv")
        facts = TrainingFacts(
            leagues=state["leagues"],
            matches=state["matches"],
            data_hash=state["data_hash"],
            evaluation_seasons=state["evaluation_seasons"],
            fit_seconds=fitted["fit_seconds"],
        )
        card = model_card(facts, config, comparison, by_league, importance)
        mlflow.log_text(card, "model_card.md")
        example = pl.read_parquet(state["snapshot_path"]).tail(5)
        version = registry.log_bundle(bundle, example)
        mlflow.set_tags(
            {
                "sabiscore.model_version": version.version,
                registry.TRAINED_AT_TAG: registry.trained_at_text(bundle),
            }
        )
    registry.client().update_model_version(
        get_model_settings().name, version.version, description=card.split("\n\n", 2)[1]
    )
    registry.set_alias(version.version, registry.CHALLENGER)
    _record_version(
        engine,
        version.version,
        state["run_id"],
        registry.CHALLENGER,
        evaluated["metrics"],
        trained_at=bundle.trained_at,
    )
    return {"version": version.version, "run_id": state["run_id"]}


def _log_evaluation_input(state: Snapshot, preds: pl.DataFrame) -> None:
    """The walk-forward predictions (logged just before) as the run's ``evaluation`` dataset."""
    import mlflow

    from sabiscore_ml.models import registry

    registry.log_dataset(
        preds,
        context=registry.EVALUATION,
        name="walk-forward predictions",
        digest=registry.evaluation_digest(state["data_hash"], preds),
        source=mlflow.get_artifact_uri(registry.EVALUATION_PREDICTIONS),
        facts={
            "evaluation_seasons": state["evaluation_seasons"],
            "training_data_hash": state["data_hash"],
        },
    )


def _record_version(
    engine: Engine,
    version: str,
    run_id: str,
    alias: str | None,
    metrics: dict[str, float] | None,
    *,
    trained_at: dt.datetime | None = None,
) -> None:
    """Mirror a registered version (and its alias) into the warehouse for the serving tier.

    ``created_at`` is when the row was last written (the alias given);
    ``trained_at`` when the version's bundle was fitted, kept when not given.
    """
    from sabiscore_ml.warehouse.upsert import upsert

    name = get_model_settings().name
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        if alias is not None:
            connection.execute(
                ModelVersion.__table__.update()
                .where(ModelVersion.name == name, ModelVersion.alias == alias)
                .values(alias=None)
            )
        existing = connection.execute(
            select(ModelVersion.metrics_json, ModelVersion.trained_at).where(
                ModelVersion.name == name, ModelVersion.version == version
            )
        ).one_or_none()
        kept_metrics, kept_trained_at = existing if existing is not None else (None, None)
        upsert(
            connection,
            ModelVersion.__table__,
            [
                {
                    "name": name,
                    "version": version,
                    "mlflow_run_id": run_id,
                    "alias": alias,
                    "created_at": now,
                    "metrics_json": json.dumps(metrics, sort_keys=True)
                    if metrics
                    else kept_metrics,
                    "trained_at": trained_at or kept_trained_at,
                }
            ],
            ["name", "version"],
        )


# --- 6. promote -------------------------------------------------------------------------


def promotion_prices(engine: Engine, match_ids: Sequence[int]) -> pl.DataFrame:
    """The prices the promotion measures value bets at, one row per match of ``match_ids``.

    ``match_id``; ``price_home``, ``price_draw``, ``price_away``: the best
    pre-closing price of each outcome (:func:`sabiscore_ml.prices.best_prices`);
    ``p_close_home``, ``p_close_draw``, ``p_close_away``: the margin-free closing
    probabilities the CLV is measured against (Pinnacle's, else the market
    average's: :func:`sabiscore_ml.prices.closing_fair_prices`, for evaluation
    only).  Null where not quoted.
    """
    from sabiscore_ml import prices

    ids = pl.DataFrame(
        {"match_id": sorted({int(m) for m in match_ids})}, schema={"match_id": pl.Int64}
    )
    quotes = prices.preclose_quotes(engine, ids["match_id"].to_list())
    best = prices.best_prices(quotes.filter(pl.col("price") > 1.0))
    bet_prices = prices.per_bookmaker(best, ["match_id"])
    closing = prices.closing_fair_prices(engine, ids["match_id"].to_list()).select(
        pl.col("match_id").cast(pl.Int64),
        *((1.0 / pl.col(f"closing_{o}")).alias(f"p_close_{o}") for o in prices.OUTCOMES),
    )
    return ids.join(bet_prices, on="match_id", how="left").join(closing, on="match_id", how="left")


def promote(
    state: Snapshot, registered: Registered, evaluated: Evaluated, *, engine: Engine | None = None
) -> Promotion:
    """Champion if no worse than the current one on the latest evaluation season (tags say why).

    No worse on RPS, calibration and the closing-line value of the value bets
    (:func:`sabiscore_ml.models.registry.decide`): a value bet is an outcome
    whose stated edge at the best pre-closing price (:func:`promotion_prices`)
    is at least the live default minimum edge (``ValueBetRules.edge_threshold``).
    """
    import mlflow

    from sabiscore_ml.models import registry

    engine = engine or get_engine()
    champion = registry.version_by_alias(registry.CHAMPION)
    champion_preds = None
    if champion is not None and champion.version != registered["version"]:
        champion_preds = registry.evaluation_predictions(champion.run_id)
    preds = pl.read_parquet(evaluated["predictions_path"])
    prices = None
    if champion_preds is not None:
        prices = promotion_prices(engine, registry.latest_season(preds)["match_id"].to_list())
    decision = registry.decide(
        preds,
        champion_preds,
        champion_version=champion.version if champion else None,
        prices=prices,
        min_edge=ValueBetRules.edge_threshold,
    )
    if (
        champion is not None
        and champion.version != registered["version"]
        and champion_preds is None
    ):
        decision = registry.Decision(
            False,
            f"champion v{champion.version} has no walk-forward evaluation to pair with: "
            f"nothing compared: {registry.KEPT}",
            {},
        )
    decision.evidence["champion_version"] = champion.version if champion else None
    request = TrainRequest.from_dict(state["request"])
    promoted = decision.promote and request.promote
    reason = decision.reason
    if decision.promote and not request.promote:
        # the comparison's verdict stands; the decision is the request's
        compared = reason.removesuffix(f": {registry.PROMOTED}")
        reason = f"{compared}: promotion disabled for this run: {registry.KEPT}"
    log.info("v%s %s", registered["version"], reason)
    tags = decision.tags() | {
        "promotion.reason": reason,
        "promotion.decision": "promoted" if promoted else "kept challenger",
    }
    mlflow_client = registry.client()
    name = get_model_settings().name
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, registered["version"], key, value)
    with mlflow.start_run(run_id=state["run_id"]):
        mlflow.set_tags(tags)
    if promoted:
        registry.set_alias(registered["version"], registry.CHAMPION)
        _record_version(engine, registered["version"], state["run_id"], registry.CHAMPION, None)
    return {
        "promoted": promoted,
        "reason": reason,
        "version": registered["version"],
        "evidence": decision.evidence,
    }


def decide_branch(state: Snapshot) -> bool:
    """Whether the promote step should run at all (the request allows it)."""
    return TrainRequest.from_dict(state["request"]).promote


def _mark_failed(run_id: str) -> None:
    from sabiscore_ml.models import registry

    registry.client().set_terminated(run_id, status="FAILED")


# --- all steps in one process -------------------------------------------------------------


def train(
    request: TrainRequest, *, engine: Engine | None = None, progress: Progress | None = None
) -> TrainReport:
    """Every step in order (the CLI and ``make run``)."""
    from sabiscore_ml.models.evaluation import compare, comparison_lines

    say = progress or (lambda message: log.info(message))
    engine = engine or get_engine()
    state = snapshot(request, engine=engine)
    say(
        f"snapshot: {state['matches']:,} matches of {', '.join(state['leagues'])} "
        f"(data {state['data_hash']}), MLflow run {state['run_id']}"
    )
    tuned = tune(state, progress=say)
    fitted = fit(state, tuned, progress=say)
    evaluated = evaluate(state, tuned, engine=engine, progress=say)
    registered = register(state, tuned, fitted, evaluated, engine=engine)
    say(f"registered {get_model_settings().name} version {registered['version']} (challenger)")
    outcome = promote(state, registered, evaluated, engine=engine)
    lines = comparison_lines(
        compare(pl.read_parquet(evaluated["predictions_path"])), f"v{registered['version']}"
    )
    return TrainReport(
        run_id=state["run_id"],
        version=registered["version"],
        alias="champion" if outcome["promoted"] else "challenger",
        decision=outcome["reason"],
        metrics=evaluated["metrics"],
        lines=lines,
        predictions_path=evaluated["predictions_path"],
    )
