"""Output: Rich tables and short confirmations on stdout, or JSON for ``--json``; progress
bars on stderr, on a terminal only."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import typer
from rich import progress as rich_progress
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rolegate.types import Progress

#: What the tables show for an empty value (no email, no expiry...).
NOTHING: Final = "-"


def say(message: str) -> None:
    """Print a one-line confirmation of a change on stdout."""
    typer.echo(message)


#: Columns whose values are typed into other commands (``sessions revoke ID``): shown whole on
#: any terminal width, never wrapped or cut with an ellipsis.
WHOLE_COLUMNS: Final = frozenset({"id", "kid", "session"})


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Print a Rich table on stdout; cells are plain text, never Rich markup. The columns of
    :data:`WHOLE_COLUMNS` keep their values whole; the others give way on a narrow terminal."""
    cells = [list(row) for row in rows]
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        if column in WHOLE_COLUMNS:
            widest = max((len(row[i]) for row in cells), default=0)
            table.add_column(column, no_wrap=True, min_width=max(widest, len(column)))
        else:
            table.add_column(column)
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    Console().print(table)


def print_json(value: object) -> None:
    """Print ``value`` as JSON; entities become objects, ids and times strings."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False, default=_encode))


def jsonable(value: object) -> Any:
    """``value`` with every dataclass (entity) turned into a dict, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.asdict(value).items()
        # A read's revision is always 0: only a change's own value says which one it committed.
        return {k: jsonable(v) for k, v in fields if not (k == "revision" and v == 0)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def moment(value: datetime | None) -> str:
    """A timestamp for a table cell, in UTC to the minute (JSON has it all), or ``-``."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value is not None else NOTHING


def listing(values: Iterable[str]) -> str:
    """Names for one table cell, comma separated, or ``-``."""
    return ", ".join(values) or NOTHING


def yes_no(value: bool) -> str:
    """A boolean for a table cell."""
    return "yes" if value else "no"


def visible(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\n``, ``\\u202e``).

    A login name is whatever someone typed: raw, an escape sequence could rewrite the
    administrator's terminal and a bidi override reorder the row (CWE-150).
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


@contextmanager
def progress_bar(description: str, *, shares_stdout: bool = False) -> Iterator[Progress | None]:
    """A Rich progress bar on stderr, and the callback that moves it for a service's
    ``progress``; ``None`` (nothing shown) unless stderr is a terminal, so a pipe, a file or a
    script's capture sees nothing of it. ``shares_stdout``: the command streams data to stdout,
    so no bar is drawn when stdout is that terminal as well (the two would overwrite each
    other). Nothing on stdout passes through the bar (no redirection), byte for byte."""
    console = Console(stderr=True)
    if not console.is_terminal or (shares_stdout and Console().is_terminal):
        yield None
        return
    bar = rich_progress.Progress(
        rich_progress.TextColumn("{task.description}"),
        rich_progress.BarColumn(),
        rich_progress.MofNCompleteColumn(),
        rich_progress.TimeRemainingColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = bar.add_task(description, total=None)

    def advance(done: int, total: int) -> None:
        # Drawn from the first step on, not from the count before it: an error found before
        # any work (a file that cannot be written) is then printed on a terminal of its own.
        if done > 0 and not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield advance
    finally:
        bar.stop()
