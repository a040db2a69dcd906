"""Reading a new password: from one line of stdin, or a hidden prompt asked twice.

Never from argv: arguments show up in ``ps``, shell history and CI logs (OWASP ASVS V2.10).
"""

from __future__ import annotations

import sys

import typer

from rolegate.cli._errors import fail


def password_from_stdin() -> str:
    """One line of stdin without its line break; the rest of the line is the password."""
    line = sys.stdin.readline()
    if not line:
        fail("--password-stdin given but stdin is empty")
    return line.removesuffix("\n").removesuffix("\r")


def password_from_prompt() -> str:
    """A password typed twice at a hidden prompt (on stderr, so stdout stays clean)."""
    try:
        answer = typer.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    except typer.Abort:
        fail("no password given: type it at the prompt or pass --password-stdin")
    return str(answer)


def read_new_password(*, from_stdin: bool) -> str:
    """The new password, read the way the user chose."""
    return password_from_stdin() if from_stdin else password_from_prompt()
