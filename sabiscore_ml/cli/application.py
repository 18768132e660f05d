"""The ``sabiscore`` Typer application: every command group assembled, and the entry point.

One module per command or group of commands; what they share (consoles, options,
the printing of outcomes and tables) is :mod:`sabiscore_ml.cli.common`.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.markup import escape

from sabiscore_ml.cli import (
    backtest,
    bets,
    export,
    features,
    ingest,
    init,
    keys,
    monitor,
    predict,
    replay,
    run,
    serve,
    teams,
    train,
    validate,
)
from sabiscore_ml.cli.common import err_console
from sabiscore_ml.errors import SabiscoreError

app = typer.Typer(
    help="Sabiscore: football match prediction and stake sizing.\n\n"
    "Runs on an embedded default (SQLite warehouse and MLflow store under SABISCORE_HOME, "
    "no Redis) unless SABISCORE_DATABASE_URL, SABISCORE_REDIS_URL or MLFLOW_TRACKING_URI "
    "point elsewhere.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

app.command()(init.init)
app.command()(replay.replay)
app.command()(run.run)
app.command()(train.train)
app.command()(backtest.backtest)
app.command()(predict.predict)
app.command("publish")(predict.publish_command)
app.command()(serve.serve)
app.add_typer(ingest.app, name="ingest")
app.add_typer(export.app, name="export")
app.add_typer(validate.app, name="validate")
app.add_typer(teams.app, name="teams")
app.add_typer(features.app, name="features")
app.add_typer(bets.app, name="bets")
app.add_typer(keys.app, name="keys")
app.add_typer(monitor.app, name="monitor")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SabiscoreError as exc:
        err_console.print(f"[bold red]error[/] {escape(str(exc))}", soft_wrap=True)
        raise SystemExit(2) from exc
