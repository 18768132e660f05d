"""``sabiscore serve``: the HTTP API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from sabiscore_ml.cli.common import init_warehouse, step

SHUTDOWN_GRACE_SECONDS = 10


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API (uvicorn serving.main:app); OpenAPI docs at /docs.

    On the embedded default the warehouse is migrated first.

    Example: [bold]sabiscore serve --port 8000[/]
    """
    import uvicorn

    from sabiscore_ml.settings import get_core_settings

    if get_core_settings().env == "embedded":
        init_warehouse()
    step(f"serving on http://{host}:{port} (OpenAPI docs at /docs)")
    # X-Forwarded-* are read by the application when SABISCORE_API_TRUST_PROXY says so, never
    # by uvicorn (its proxy_headers would rewrite the client address and scheme first)
    uvicorn.run(
        "serving.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
        # the event streams (/v1/stream) stay open: a stop waits this long for them, then
        # closes them (a client resumes from its last event id elsewhere)
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
