"""The MLflow tracking store and model registry.

Every MLflow call of the product goes through the store configured here
(``MLFLOW_TRACKING_URI``, or the embedded SQLite store under ``SABISCORE_HOME``):
:func:`use_mlflow_store` points this process's MLflow at it before a step
touches MLflow, so nothing falls back on MLflow's own default (``./mlflow.db``
and ``./mlruns`` in the working directory).  An Airflow task runs each training
step in a fresh interpreter: the step itself must call it.

The embedded store is created with its artifact root inside the store, so even
MLflow's ``Default`` experiment points there; it holds no runs of ours and is
retired (soft-deleted) together with the empty ``sabiscore`` experiment older
versions created.  Experiments are created when a run is first logged to them.
"""

from __future__ import annotations

from sabiscore_ml.settings import get_mlflow_settings

#: MLflow's ``Default`` experiment, retired from the embedded store while it holds no run
#: (as is the bare ``SABISCORE_MLFLOW_EXPERIMENT`` one older versions created at init).
_DEFAULT_ID = "0"

_prepared: set[tuple[str, str | None]] = set()


def use_mlflow_store() -> str:
    """Point this process's MLflow (tracking and registry) at the configured store; return its URI.

    The embedded store is created (or migrated) on first use in the process.
    """
    import mlflow

    settings = get_mlflow_settings()
    key = (settings.uri, settings.registry_uri)
    embedded = settings.tracking_uri is None
    if key not in _prepared or (embedded and not (settings.store_dir / "mlflow.db").exists()):
        if embedded:
            _prepare_embedded_store()
        _prepared.add(key)
    mlflow.set_tracking_uri(settings.uri)
    mlflow.set_registry_uri(settings.registry_uri or settings.uri)
    return settings.uri


def init_mlflow_store() -> str:
    """Create (or migrate) the tracking store, use it in this process; return its URI.

    On the embedded default this is a SQLite store under ``SABISCORE_HOME`` with
    local artifacts; with ``MLFLOW_TRACKING_URI`` set it talks to that server.  No
    experiment is created here: each appears with its first run
    (:func:`sabiscore_ml.models.registry.experiment`).
    """
    settings = get_mlflow_settings()
    _prepared.discard((settings.uri, settings.registry_uri))
    return use_mlflow_store()


def _prepare_embedded_store() -> None:
    """Create the SQLite store with its artifact root inside it; retire empty leftovers."""
    from mlflow.entities import ViewType
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking import MlflowClient

    settings = get_mlflow_settings()
    settings.artifact_dir.mkdir(parents=True, exist_ok=True)
    # the first store to open an empty database creates the Default experiment
    # under its artifact root: ours, not MLflow's ./mlruns of the working directory
    SqlAlchemyStore(settings.uri, settings.artifact_location)
    client = MlflowClient(tracking_uri=settings.uri)
    for experiment in client.search_experiments(view_type=ViewType.ACTIVE_ONLY):
        if experiment.experiment_id != _DEFAULT_ID and experiment.name != settings.experiment:
            continue
        if not client.search_runs(
            [experiment.experiment_id], run_view_type=ViewType.ALL, max_results=1
        ):
            client.delete_experiment(experiment.experiment_id)
