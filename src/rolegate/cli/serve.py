"""``rolegate serve``: run the HTTP service with uvicorn.

The CLI and the API are sibling edges, so the app is named by its import string, never
imported: uvicorn builds it in each worker with the zero-argument factory.
"""

from __future__ import annotations

import os
from typing import Annotated, Final

import typer
import uvicorn

from rolegate.builtins import PLATFORM_TENANT_SLUG
from rolegate.cli._common import CliOptions
from rolegate.cli._errors import fail
from rolegate.config import Settings, audit_settings
from rolegate.errors import InvalidPassword
from rolegate.facade import Rolegate, schema_revision

APP_FACTORY: Final = "rolegate.api.app:create_app_from_settings"
BOOTSTRAP_PASSWORD: Final = "ROLEGATE_BOOTSTRAP_PASSWORD"


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API until interrupted.

    An empty database is first upgraded to the current schema, and an empty platform tenant
    gets its first admin (see :func:`bootstrap`).
    """
    database_url = ctx.ensure_object(CliOptions).database_url
    if database_url is not None:  # every worker reads its settings from the environment
        os.environ["ROLEGATE_DATABASE_URL"] = database_url
    settings = Settings()
    findings = audit_settings(settings)
    if settings.env == "production":
        for finding in findings:
            typer.echo(f"{'error' if finding.is_error else 'warning'}: {finding}", err=True)
        if any(finding.is_error for finding in findings):
            fail("refusing to serve in production with an unsafe configuration (rolegate doctor)")
    if settings.metrics_address is not None and workers > 1:
        # Each worker would bind the metrics address itself: only the first could.
        fail("ROLEGATE_METRICS_ADDRESS needs --workers 1 (or one metrics address per process)")
    bootstrap(settings)
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


def bootstrap(settings: Settings) -> None:
    """Upgrade an empty database, and make the first platform admin if nobody belongs to the
    platform tenant: with ``ROLEGATE_BOOTSTRAP_PASSWORD``, or a random password printed here,
    once. Either password is single-use: the first login must set a new one. There are never
    default credentials."""
    is_empty = schema_revision(settings.database_url) is None
    given = settings.bootstrap_password
    with Rolegate(settings=settings, auto_upgrade=True if is_empty else None) as rolegate:
        try:
            made = rolegate.platform.bootstrap(
                username=settings.bootstrap_username,
                password=given.get_secret_value() if given is not None else None,
            )
        except InvalidPassword as exc:  # only a chosen password can break the policy
            fail(f"{BOOTSTRAP_PASSWORD} is refused: {str(exc).removeprefix('password ')}")
    if made is not None:
        user, password = made
        typer.echo(
            bootstrap_banner(user.username, None if given is not None else password), err=True
        )


def bootstrap_banner(username: str, random_password: str | None) -> str:
    """What the first start prints about the first admin: the random password, which nobody
    else knows and which is shown only here, or where the operator's own choice came from."""
    if random_password is None:
        shown, origin = f"(the one in {BOOTSTRAP_PASSWORD})", []
    else:
        shown = random_password
        origin = [f"It is random and shown once, here; set {BOOTSTRAP_PASSWORD} to choose it."]
    return "\n".join(
        [
            "rolegate: created the first platform admin. Log in at /docs (POST /v1/auth/login)",
            f"  tenant:   {PLATFORM_TENANT_SLUG}",
            f"  username: {username}",
            f"  password: {shown}",
            *origin,
            "This password works for one login, which must choose a new one: send it",
            '  with a "new_password" of your own.',
        ]
    )


def doctor(
    production: Annotated[
        bool, typer.Option("--production", help="Judge as ROLEGATE_ENV=production would.")
    ] = False,
) -> None:
    """Check the configuration for production; exit 1 if a production server would refuse it."""
    settings = Settings()
    findings = audit_settings(settings)
    as_production = production or settings.env == "production"
    for finding in findings:
        typer.echo(f"{'error' if finding.is_error else 'warning'}: {finding}")
    if not findings:
        typer.echo("no findings: safe for production")
    if as_production and any(finding.is_error for finding in findings):
        raise typer.Exit(1)
