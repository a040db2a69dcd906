"""The ``rolegate`` command: ``app`` is the Typer application, ``main`` the console script."""

from __future__ import annotations

from typing import Annotated

import typer

from rolegate.cli import (
    assignments,
    audit,
    auth,
    check,
    db,
    demo,
    permissions,
    roles,
    serve,
    tenants,
    users,
)
from rolegate.cli._common import CliOptions
from rolegate.cli._errors import GuardedGroup, configure_logging, is_debug

app = typer.Typer(
    name="rolegate",
    cls=GuardedGroup,
    help="rolegate: role-based access control for tenants, users, roles and permissions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenant")
app.add_typer(users.app, name="user")
app.add_typer(permissions.app, name="permission")
app.add_typer(roles.app, name="role")
app.add_typer(assignments.app, name="assignment")
app.add_typer(auth.sessions_app, name="sessions")
app.add_typer(auth.keys_app, name="keys")
app.add_typer(audit.app, name="audit")
app.command("assign")(assignments.assign)
app.command("unassign")(assignments.unassign)
app.command("check")(check.check)
app.command("login")(auth.login)
app.command("login-history")(auth.login_history)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("doctor")(serve.doctor)


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="SQLAlchemy URL of the database (default: the ROLEGATE_DATABASE_URL setting).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Options that apply to every command."""
    ctx.obj = CliOptions(database_url)


def main() -> None:
    """Run the ``rolegate`` command line (the console script's entry point)."""
    configure_logging(debug=is_debug())
    app(prog_name="rolegate")


__all__ = ["app", "main"]
