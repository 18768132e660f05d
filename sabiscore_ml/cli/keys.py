"""``sabiscore keys``: the API keys of the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sabiscore_ml.cli.common import console, init_warehouse

app = typer.Typer(
    help="API keys of the HTTP API (only their SHA-256 is kept, in the warehouse).",
    no_args_is_help=True,
)


@app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option("--owner", help="Who the key is for")],
    tier: Annotated[str, typer.Option("--tier", help="free, premium or pro")] = "free",
    quiet: Annotated[bool, typer.Option("--quiet", help="Print the key only")] = False,
) -> None:
    """Create an API key and print it: it is shown this once and never stored.

    Example: [bold]sabiscore keys create --owner webapp --tier pro[/]
    """
    from sabiscore_ml.warehouse.api_keys import create_api_key
    from sabiscore_ml.warehouse.engine import get_engine

    init_warehouse()
    new = create_api_key(get_engine(), owner=owner, tier=tier)
    if quiet:
        typer.echo(new.key)
        return
    console.print(
        f"key [bold]{new.record.key_id}[/] for {escape(new.record.owner)} "
        f"({new.record.tier}); send it as the X-API-Key header. It is not shown again:"
    )
    typer.echo(new.key)


@app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (or the whole key)")],
) -> None:
    """Revoke a key; workers stop accepting it within SABISCORE_API_KEY_CACHE_SECONDS.

    Example: [bold]sabiscore keys revoke 3f9a1c0b7d2e[/]
    """
    from sabiscore_ml.warehouse.api_keys import revoke_api_key
    from sabiscore_ml.warehouse.engine import get_engine

    init_warehouse()
    record = revoke_api_key(get_engine(), key_id)
    console.print(
        f"key [bold]{record.key_id}[/] ({escape(record.owner)}) revoked at {record.revoked_at}"
    )


@app.command("list")
def keys_list(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's keys")] = None,
) -> None:
    """List the keys (ids, owners, tiers, dates; never the keys themselves).

    Example: [bold]sabiscore keys list --owner webapp[/]
    """
    from sabiscore_ml.warehouse.api_keys import list_api_keys
    from sabiscore_ml.warehouse.engine import get_engine

    init_warehouse()
    table = Table(title="API keys")
    for column in ("key id", "owner", "tier", "created", "revoked"):
        table.add_column(column)
    for record in list_api_keys(get_engine(), owner=owner):
        table.add_row(
            record.key_id,
            escape(record.owner),
            record.tier,
            str(record.created_at),
            str(record.revoked_at or ""),
        )
    console.print(table)
