"""``sabiscore replay``: the warehouse rebuilt from the raw archive."""

from __future__ import annotations

from typing import Annotated

import typer

from sabiscore_ml.cli.common import (
    build_data_docs,
    err_console,
    init_warehouse,
    load,
)


def replay(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="football-data, understat, fbref or transfermarkt."),
    ] = None,
) -> None:
    """Rebuild the warehouse from the raw archive, without the network.

    Every archived body is parsed and loaded again (football-data first, so the
    other sources find their rosters); quarantined files are retried too.

    Example: [bold]sabiscore replay --source understat[/]
    """
    from sabiscore_ml.jobs.sources import replay_items

    init_warehouse()
    items = replay_items(source or None)
    if not items:
        err_console.print("the archive holds nothing to replay")
        raise typer.Exit(1)
    loaded = load(items, "replay", unit="rows")
    build_data_docs()
    raise typer.Exit(loaded.status)
