"""``sabiscore validate``: the great-expectations validation results."""

from __future__ import annotations

import typer

from sabiscore_ml.cli.common import build_data_docs, err_console

app = typer.Typer(help="great-expectations validation results.", no_args_is_help=True)


@app.command("docs")
def validate_docs() -> None:
    """Build the Data Docs of the recorded validation results and print their index.

    Every great-expectations suite run (each file of each ingest, CLI or Airflow)
    is recorded under SABISCORE_DATA_DOCS_DIR (default $SABISCORE_HOME/data_docs);
    ingest commands build the pages at their end, this command builds the
    pages still missing (those of Airflow tasks).

    Example: [bold]sabiscore validate docs[/]
    """
    from sabiscore_ml.settings import get_core_settings

    if get_core_settings().data_docs_max_results == 0:
        err_console.print("Data Docs are off (SABISCORE_DATA_DOCS_MAX_RESULTS=0)")
        raise typer.Exit(1)
    build_data_docs()
