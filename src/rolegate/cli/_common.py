"""What every command shares: the root options, opening the facade, the actor, confirmations."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Final

import typer

from rolegate.cli._errors import fail
from rolegate.config import Settings
from rolegate.facade import Rolegate

DEFAULT_TENANT: Final = "default"  # the tenant a command acts in when none is named

DECLINED_EXIT: Final = 1

# The arguments and options several commands share, spelt once.
TenantSlug = Annotated[str, typer.Argument(metavar="TENANT", help="Tenant slug (or id).")]
UserRef = Annotated[str, typer.Argument(metavar="USER", help="Username (any case) or user id.")]
RoleName = Annotated[str, typer.Argument(metavar="ROLE", help="Role name (or id).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass(frozen=True, slots=True)
class CliOptions:
    """The root command's options, kept on the Click context for every subcommand."""

    database_url: str | None = None  # None: the ROLEGATE_DATABASE_URL setting


def chosen_database_url(ctx: typer.Context, settings: Settings) -> str:
    """``--database-url`` if given, else the configured database."""
    return ctx.ensure_object(CliOptions).database_url or settings.database_url


def cli_actor() -> str:
    """Who the audit trail records for CLI changes: ``cli:<operating-system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "cli:unknown"


@contextmanager
def open_rolegate(ctx: typer.Context) -> Iterator[Rolegate]:
    """The facade on the chosen database, acting as :func:`cli_actor`; closed afterwards."""
    # One command, one process: nothing to follow from other processes while it runs.
    settings = Settings().model_copy(update={"watch_changes": False})
    url = chosen_database_url(ctx, settings)
    with Rolegate(url, settings=settings, actor=cli_actor()) as rolegate:
        yield rolegate


def confirm_or_stop(question: str, *, assume_yes: bool) -> None:
    """Ask ``question``; a "no" exits with 1, no answer at all (no stdin) with 2."""
    if assume_yes:
        return
    try:
        agreed = typer.confirm(question, err=True)
    except typer.Abort:
        fail("confirmation needed but no answer on stdin: pass --yes to skip the question")
    if not agreed:
        typer.echo("aborted: nothing was changed", err=True)
        raise typer.Exit(DECLINED_EXIT)
