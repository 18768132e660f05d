"""The MLflow tracking store and model registry."""

from __future__ import annotations

from sabiscore_ml.settings import get_mlflow_settings


def init_mlflow_store() -> str:
    """Create (or migrate) the tracking store and the Sabiscore experiment; return its id.

    On the embedded default this is a SQLite store under ``SABISCORE_HOME`` with
    local artifacts; with ``MLFLOW_TRACKING_URI`` set it talks to that server.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    settings = get_mlflow_settings()
    if settings.tracking_uri is None:
        settings.store_dir.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=settings.uri, registry_uri=settings.registry_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = None if settings.tracking_uri else settings.artifact_location
    mlflow.set_tracking_uri(settings.uri)
    return client.create_experiment(settings.experiment, artifact_location=artifact_location)
