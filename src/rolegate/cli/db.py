"""``rolegate db``: the database schema (Alembic migrations shipped with rolegate)."""

from __future__ import annotations

import typer

from rolegate.cli._common import chosen_database_url
from rolegate.cli._output import say
from rolegate.config import Settings
from rolegate.facade import head_revision, schema_revision, upgrade_database

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_schema(ctx: typer.Context) -> None:
    """Apply every pending migration (creating the tables on an empty database)."""
    settings = Settings()
    before, after = upgrade_database(chosen_database_url(ctx, settings), echo=settings.sql_echo)
    if before == after:
        say(f"database already at revision {after}")
    else:
        say(f"upgraded database from revision {before or 'none'} to {after}")


@app.command("current")
def show_revision(ctx: typer.Context) -> None:
    """Print the database's revision and the newest one this rolegate ships."""
    settings = Settings()
    current = schema_revision(chosen_database_url(ctx, settings), echo=settings.sql_echo)
    head = head_revision()
    say(f"current revision: {current or 'none'}")
    say(f"head revision:    {head}")
    say("up to date" if current == head else "not at head: run `rolegate db upgrade`")
