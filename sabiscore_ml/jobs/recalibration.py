"""Refit the champion's calibration layer on recent matches (the ``recalibrate`` DAG).

The trees stay as they are; only the calibrator moves.  The most recent played
matches the trees never saw (after the bundle's ``trained_until``, at most
``SABISCORE_MODEL_RECALIBRATION_MATCHES`` of them) are split in time: the
earlier half fits a new calibrator, the later half is the hold-out.  A new
version is registered only when its log loss on the hold-out beats the
champion's; it is promoted by the usual rule on RPS and calibration, paired
on that hold-out (the closing-line value of the value bets, which the
training's promotion also compares, is not part of it here).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TypedDict

import numpy as np
import polars as pl
from sqlalchemy import Engine

from sabiscore_ml.models.data import load_training_set, match_dates
from sabiscore_ml.models.estimators import CalibratedModel
from sabiscore_ml.models.metrics import log_loss_per_match, outcome_index, score
from sabiscore_ml.settings import get_model_settings
from sabiscore_ml.warehouse.engine import get_engine

log = logging.getLogger(__name__)
MIN_MATCHES = 200


class Recalibration(TypedDict, total=False):
    """What :func:`recalibrate` did (JSON-able): ``status`` and, as far as it went, the figures."""

    status: str  # skipped, kept or registered (always given)
    reason: str
    champion_version: str
    fit_matches: int
    holdout_matches: int
    holdout_log_loss_champion: float
    holdout_log_loss_recalibrated: float
    version: str
    promoted: bool
    rps_gain: float


def recalibrate(
    *, engine: Engine | None = None, as_of: dt.date | None = None, method: str | None = None
) -> Recalibration:
    """Try a new calibrator for the champion; returns what happened (JSON-able)."""
    import mlflow

    from sabiscore_ml.jobs.training import _record_version
    from sabiscore_ml.models import registry

    engine = engine or get_engine()
    settings = get_model_settings()
    champion = registry.version_by_alias(registry.CHAMPION)
    if champion is None:
        return {"status": "skipped", "reason": "no champion to recalibrate"}
    bundle = registry.load_bundle(champion.version)
    if not isinstance(bundle.outcome, CalibratedModel) or bundle.outcome.calibrator_ is None:
        return {"status": "skipped", "reason": "the champion has no calibration layer"}
    leagues = list(bundle.description.get("leagues") or settings.leagues)
    recent = load_training_set(engine, leagues=leagues, as_of=as_of).where(
        pl.col("match_date") > bundle.trained_until
    )
    recent = recent.where(
        pl.col("match_id").is_in(
            recent.frame["match_id"].tail(settings.recalibration_matches).implode()
        )
    )
    if recent.height < MIN_MATCHES:
        return {
            "status": "skipped",
            "reason": f"only {recent.height} matches since "
            f"{bundle.trained_until} (need {MIN_MATCHES})",
        }
    half = recent.height // 2
    fit_part = recent.where(pl.col("match_id").is_in(recent.frame["match_id"].head(half).implode()))
    holdout = recent.where(~pl.col("match_id").is_in(fit_part.frame["match_id"].implode()))
    new_outcome = bundle.outcome.recalibrate(fit_part.X(), fit_part.y(), method)
    X, outcome = holdout.X(), outcome_index(holdout.y())
    old_probs, new_probs = bundle.outcome.predict_proba(X), new_outcome.predict_proba(X)
    old_ll = float(log_loss_per_match(old_probs, outcome).mean())
    new_ll = float(log_loss_per_match(new_probs, outcome).mean())
    result: Recalibration = {
        "champion_version": champion.version,
        "fit_matches": fit_part.height,
        "holdout_matches": holdout.height,
        "holdout_log_loss_champion": round(old_ll, 6),
        "holdout_log_loss_recalibrated": round(new_ll, 6),
    }
    if new_ll >= old_ll:
        return result | {"status": "kept", "reason": "no log-loss gain on the hold-out"}
    decision = registry.judge(
        new_probs,
        old_probs,
        outcome,
        {"holdout": "recalibration"},
        matches="the recalibration hold-out",
        champion_version=champion.version,
    )
    first, last = match_dates(fit_part.frame)
    new_bundle = bundle.with_outcome(
        new_outcome,
        trained_until=last,
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        recalibrated_from=champion.version,
        recalibrated_on=f"{first}..{last}",
    )
    inherited = registry.evaluation_predictions(champion.run_id)
    with mlflow.start_run(
        experiment_id=registry.experiment("1x2"), run_name=f"recalibrate v{champion.version}"
    ) as run:
        mlflow.set_tags({"sabiscore.job": "recalibrate", "recalibrated_from": champion.version})
        mlflow.log_params(
            {
                "method": new_outcome.method,
                "fit_matches": fit_part.height,
                "holdout_matches": holdout.height,
            }
        )
        mlflow.log_metrics(
            {"holdout_log_loss_champion": old_ll, "holdout_log_loss": new_ll}
            | score(new_probs, outcome).as_dict("holdout_")
        )
        if inherited is not None:  # the trees' walk-forward record is the parent's
            path = registry.write_predictions(inherited)
            mlflow.log_artifact(str(path), "evaluation")
        version = registry.log_bundle(new_bundle, holdout.frame)
    registry.set_alias(version.version, registry.CHALLENGER)
    _record_version(
        engine,
        version.version,
        run.info.run_id,
        registry.CHALLENGER,
        {"holdout_log_loss": new_ll},
        trained_at=new_bundle.trained_at,
    )
    client = registry.client()
    for key, value in decision.tags().items():
        client.set_model_version_tag(settings.name, version.version, key, value)
    if decision.promote:
        registry.set_alias(version.version, registry.CHAMPION)
        _record_version(engine, version.version, run.info.run_id, registry.CHAMPION, None)
    registered: Recalibration = {
        "status": "registered",
        "version": version.version,
        "promoted": decision.promote,
        "reason": decision.reason,
        "rps_gain": -float(np.round(decision.evidence["rps_challenger_minus_champion"], 6)),
    }
    return result | registered
