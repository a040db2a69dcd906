"""``rolegate serve``: run the HTTP service with uvicorn.

The CLI and the API are sibling edges, so the app is named by its import string, never
imported: uvicorn builds it in each worker with the zero-argument factory.
"""

from __future__ import annotations

import os
from typing import Annotated, Final

import typer
import uvicorn

from rolegate.cli._common import CliOptions

APP_FACTORY: Final = "rolegate.api.app:create_app_from_settings"


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (health, JWKS, /v1/auth) until interrupted."""
    database_url = ctx.ensure_object(CliOptions).database_url
    if database_url is not None:  # every worker reads its settings from the environment
        os.environ["ROLEGATE_DATABASE_URL"] = database_url
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # rolegate decides which proxies to believe (create_app's trusted_proxies); uvicorn's
        # own rewriting would trust X-Forwarded-For from any local peer.
        proxy_headers=False,
        server_header=False,
    )
