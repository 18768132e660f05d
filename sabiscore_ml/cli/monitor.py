"""``sabiscore monitor``: what was published, scored once its results are in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sabiscore_ml.cli.common import console, err_console, init_warehouse, step

if TYPE_CHECKING:
    from sabiscore_ml.jobs.monitor import Figure

app = typer.Typer(
    help="Monitoring of the published predictions and value bets against results and the close.",
    no_args_is_help=True,
)

#: The figures printed per model version, league and window: figure -> label.
SHOWN = {
    "n": "matches",
    "rps": "RPS",
    "market_rps": "Pinnacle pre-closing RPS",
    "rps_minus_market": "RPS − Pinnacle",
    "rps_minus_market_se": "se",
    "close_rps": "Pinnacle closing RPS",
    "rps_minus_close": "RPS − closing",
    "log_loss": "log loss",
    "market_log_loss": "Pinnacle log loss",
    "ece": "ECE",
    "n_bets": "value bets",
    "clv": "CLV",
    "clv_se": "se",
    "flat_profit": "flat profit (units)",
    "flat_roi": "flat ROI",
    "staked_profit": "staked profit",
    "staked_turnover": "staked turnover",
    "psi_max": "largest PSI",
}


def _text(value: float | None, figure: str) -> str:
    if value is None:
        return "-"
    if figure in ("n", "n_bets"):
        return f"{value:.0f}"
    if figure in ("clv", "flat_roi", "clv_se"):
        return f"{value:+.2%}" if figure != "clv_se" else f"{value:.2%}"
    if figure in ("flat_profit", "staked_profit", "rps_minus_market", "rps_minus_close"):
        return f"{value:+.4f}"
    return f"{value:.4f}"


def figures_table(figures: list[Figure]) -> Table:
    """A column per model version, league and window; a row per figure of :data:`SHOWN`."""
    groups: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for f in figures:
        groups.setdefault((f.model_version, f.league_code, f.window), {})[f.figure] = f.value
    table = Table(title="Published predictions and value bets, settled")
    table.add_column("figure")
    for version, league, window in groups:
        table.add_column(f"v{version} {league} {window}", justify="right")
    for figure, label in SHOWN.items():
        table.add_row(label, *(_text(values.get(figure), figure) for values in groups.values()))
    return table


@app.command("run")
def monitor_run(
    league: Annotated[list[str] | None, typer.Option("--league", help="League (repeat)")] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Model version (default: every one published)")
    ] = None,
    window_days: Annotated[
        int | None,
        typer.Option("--window-days", help="Rolling window in days (default: settings)"),
    ] = None,
    mlflow: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="Log the figures to MLflow")
    ] = True,
    fail: Annotated[
        bool, typer.Option("--fail/--no-fail", help="Exit 2 when a threshold is crossed")
    ] = True,
) -> None:
    """Score what was published against results and closing prices; store, log, alert.

    Example: [bold]sabiscore monitor run --league E0 --window-days 28[/]
    """
    from sabiscore_ml.jobs.monitor import MonitorBreach, MonitorRequest, monitor

    init_warehouse()
    request = MonitorRequest(
        leagues=tuple(league or ()),
        model_version=version,
        window_days=window_days,
        log_mlflow=mlflow,
        fail_on_breach=fail,
    )
    try:
        report = monitor(request, progress=step)
    except MonitorBreach as breach:
        if breach.report is not None:
            console.print(figures_table(breach.report.figures))
        for b in breach.breaches:
            err_console.print(f"[bold red]breach[/] {escape(b.message)}")
        raise
    console.print(figures_table(report.figures))
    for b in report.breaches:
        err_console.print(f"[bold yellow]breach (not failing)[/] {escape(b.message)}")
    if report.mlflow_runs:
        runs = ", ".join(f"v{v}: {r}" for v, r in report.mlflow_runs.items())
        console.print(f"MLflow runs (experiment sabiscore-monitor): {runs}")
