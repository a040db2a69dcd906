"""The one place where failures become output: an ``error:`` line on stderr and an exit code.

Exit codes: 0 success, 1 a negative answer (``check`` denied, a declined confirmation, a
refused login), 2 any other error, the same code Click gives usage errors (as ``kubectl auth
can-i`` does). :data:`EXIT_CODES` is the one table from error classes to codes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final, NoReturn

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

# Typer carries its own copy of Click (``typer._click``): its usage errors are these classes.
from typer._click import Command, Context
from typer._click.exceptions import ClickException, UsageError
from typer.core import TyperGroup, TyperOption

from rolegate.config import describe_invalid_settings
from rolegate.errors import AuthenticationFailed, RolegateError

ERROR_EXIT: Final = 2
REFUSED_EXIT: Final = 1

#: Errors that exit with a code other than :data:`ERROR_EXIT`; the nearest listed base class of
#: an error decides. A refused login is an answer ("no"), not a malfunction: scripts can tell
#: wrong credentials from a broken database.
EXIT_CODES: Final[Mapping[type[RolegateError], int]] = {AuthenticationFailed: REFUSED_EXIT}

# Read straight from the environment, not from Settings: it must work when the settings
# themselves are what is broken.
DEBUG_VARIABLE: Final = "ROLEGATE_DEBUG"


def is_debug() -> bool:
    """Whether ``ROLEGATE_DEBUG=1``: unexpected errors are re-raised and logs are shown."""
    return os.environ.get(DEBUG_VARIABLE) == "1"


def fail(message: str, *, exit_code: int = ERROR_EXIT) -> NoReturn:
    """Print ``error: <message>`` on stderr (first line only) and exit, with code 2 by default."""
    lines = message.strip().splitlines() or [""]
    typer.echo(f"error: {lines[0]}", err=True)
    raise typer.Exit(exit_code)


def exit_code_of(error: RolegateError) -> int:
    """The exit code for ``error``: that of its nearest class in :data:`EXIT_CODES`, else 2."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return ERROR_EXIT


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn rolegate errors, bad settings and unexpected exceptions into :func:`fail`."""
    try:
        yield
    except RolegateError as exc:
        fail(str(exc), exit_code=exit_code_of(exc))
    except (typer.Exit, typer.Abort, typer.TyperException, BrokenPipeError):
        raise  # Typer's own: exits, aborts, usage errors (exit 2), a reader gone (`| head`)
    except (ValidationError, SettingsError) as exc:  # only Settings() validates in the CLI
        fail(describe_invalid_settings(exc))
    except Exception as exc:
        if is_debug():
            raise
        fail(f"unexpected {type(exc).__name__}: {exc}")


class GuardedGroup(TyperGroup):
    """The root command group; every subcommand runs inside :func:`reported_errors`, and a
    usage error is one ``error:`` line too."""

    def invoke(self, ctx: Context) -> Any:
        """Run the group and the chosen subcommand, reporting any failure as one line."""
        with reported_errors():
            return super().invoke(ctx)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line. Typer would draw a usage error as a six-line panel: here it
        is one line naming the command's ``--help``, like every other error (help stays rich)."""
        for command in _command_tree(self):  # here: Typer adds the completion options late
            _untype_flags(command)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except ClickException as exc:
            typer.echo(f"error: {_usage_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(REFUSED_EXIT)
        sys.exit(code if isinstance(code, int) else 0)


def _command_tree(command: Command) -> Iterator[Command]:
    """``command`` and every command below it."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _command_tree(sub)


def _untype_flags(command: Command) -> None:
    """Show no value type for ``command``'s flags, ``--help`` included.

    Typer 0.29's rich help prints a flag's type, ``<bool>``, as if ``--json`` took a value (its
    plain help does not). An empty metavar is what the rich help prints instead; a flag's
    metavar appears nowhere else (usage lines and errors name a flag by its option strings).
    """
    # The help option is made on first use; making it here, with the default names, is what
    # Click does itself for any context of this command.
    for param in [*command.params, command.get_help_option(Context(command))]:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


def _usage_line(exc: ClickException) -> str:
    """``exc`` as one line, pointing at the help of the command it is about."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    context = exc.ctx if isinstance(exc, UsageError) else None
    if context is None:
        return message
    return f"{message} (see '{context.command_path} --help')"


def configure_logging(*, debug: bool) -> None:
    """Show log records (with tracebacks) only when debugging.

    Every failure already reaches the user as one ``error:`` line; without a handler, Python's
    last-resort handler would print the records behind it, tracebacks included, as well.
    """
    if debug:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        logging.basicConfig(handlers=[logging.NullHandler()])
