"""``rolegate db``: the database schema (Alembic migrations shipped with rolegate)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from rolegate.cli._common import chosen_database_url
from rolegate.cli._output import say
from rolegate.config import Settings
from rolegate.db.engine import Database
from rolegate.db.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@contextmanager
def open_database(ctx: typer.Context) -> Iterator[Database]:
    """The chosen database without the facade, which refuses a schema that is not current."""
    settings = Settings()
    database = Database(chosen_database_url(ctx, settings), echo=settings.sql_echo)
    try:
        yield database
    finally:
        database.dispose()


@app.command("upgrade")
def upgrade_schema(ctx: typer.Context) -> None:
    """Apply every pending migration (creating the tables on an empty database)."""
    with open_database(ctx) as database:
        before = current_revision(database)
        upgrade(database)
        after = current_revision(database)
    if before == after:
        say(f"database already at revision {after}")
    else:
        say(f"upgraded database from revision {before or 'none'} to {after}")


@app.command("current")
def show_revision(ctx: typer.Context) -> None:
    """Print the database's revision and the newest one this rolegate ships."""
    with open_database(ctx) as database:
        current = current_revision(database)
    head = head_revision()
    say(f"current revision: {current or 'none'}")
    say(f"head revision:    {head}")
    say("up to date" if current == head else "not at head: run `rolegate db upgrade`")
