"""``sabiscore init``: the warehouse and the MLflow store."""

from __future__ import annotations

from rich.table import Table

from sabiscore_ml.cli.common import console, init_warehouse, step
from sabiscore_ml.jobs.run import redact


def init() -> None:
    """Create or migrate the warehouse and the MLflow store.

    Example: [bold]sabiscore init[/]
    """
    from sabiscore_ml.models.registry import init_mlflow_store
    from sabiscore_ml.settings import get_core_settings, get_mlflow_settings
    from sabiscore_ml.warehouse.engine import current_revision

    step("migrating the warehouse")
    url = init_warehouse()
    step("preparing the MLflow store")
    init_mlflow_store()
    mlflow_settings = get_mlflow_settings()
    table = Table(title="Sabiscore is ready", show_header=False)
    table.add_row("warehouse", redact(url))
    table.add_row("schema revision", str(current_revision(url)))
    table.add_row("MLflow tracking", redact(mlflow_settings.uri))
    table.add_row(
        "MLflow experiments",
        f"{mlflow_settings.experiment}-1x2, {mlflow_settings.experiment}-betting "
        "(each created with its first run)",
    )
    table.add_row("raw archive", str(get_core_settings().raw_archive_dir))
    console.print(table)
