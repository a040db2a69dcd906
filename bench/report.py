"""The report of a run: the machine, the tables (Rich on stdout, Markdown) and the JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import targets
from bench.auth import AuthRun
from bench.results import SizeRun
from bench.targets import Row


@dataclass(frozen=True, slots=True)
class Section:
    """One table: its title, the heading of each figure column, and its rows."""

    title: str
    columns: tuple[str, ...]
    rows: list[Row]

    @property
    def headings(self) -> list[str]:
        """Every column heading, the label and verdict columns included."""
        return ["figure", *self.columns, "target", "verdict"]

    def table(self) -> Table:
        """The rows as a Rich table."""
        table = Table(title=self.title, title_justify="left")
        for heading in self.headings:
            table.add_column(heading, overflow="fold")
        for row in self.rows:
            style = "red" if False in row.verdicts else None
            table.add_row(row.label, *row.cells, row.target, row.verdict, style=style)
        return table

    def markdown(self) -> str:
        """The rows as a Markdown table (pasted into docs/benchmarks.md)."""
        lines = ["| " + " | ".join(self.headings) + " |", "|" + " --- |" * len(self.headings)]
        for row in self.rows:
            cells = (row.label, *row.cells, row.target, row.verdict)
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Report:
    """A whole run: the machine, each size, authentication, and the tables derived from them."""

    machine: dict[str, str]
    runs: tuple[SizeRun, ...]
    notes: tuple[str, ...] = ()
    auth: AuthRun | None = None

    @property
    def rows(self) -> list[Row]:
        """The authorization table's rows, derived from the runs."""
        return targets.rows(self.runs)

    @property
    def sections(self) -> list[Section]:
        """Every table of the run: authorization when sizes ran, authentication when it ran."""
        found = []
        if self.runs:
            sizes = tuple(f"{run.users:,} users" for run in self.runs)
            found.append(Section("rolegate authorization benchmark", sizes, self.rows))
        if self.auth:
            algorithms = tuple(t.algorithm for t in self.auth.tokens)
            found.append(
                Section(
                    "rolegate authentication: access tokens (SQLite)",
                    algorithms,
                    targets.token_rows(self.auth.tokens),
                )
            )
            found.append(
                Section(
                    f"rolegate authentication: logins ({self.auth.argon2}) and refreshes",
                    ("SQLite", "PostgreSQL"),
                    targets.login_rows(self.auth),
                )
            )
        return found

    @property
    def misses(self) -> list[str]:
        """The targets missed, by row label."""
        return [
            row.label for section in self.sections for row in section.rows if False in row.verdicts
        ]

    def to_json(self) -> dict[str, Any]:
        """Every raw figure (nanoseconds, bytes) plus the rows as printed."""
        return {
            "machine": self.machine,
            "notes": list(self.notes),
            "runs": [asdict(run) for run in self.runs],
            "auth": asdict(self.auth) if self.auth else None,
            "table": _rows_json(self.rows) if self.runs else [],
            "tables": [
                {"title": s.title, "headings": s.headings, "rows": _rows_json(s.rows)}
                for s in self.sections
            ],
        }

    def write_json(self, path: Path) -> None:
        """Write :meth:`to_json` to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def markdown(self) -> str:
        """Every table as Markdown, one after another."""
        return "\n".join(section.markdown() for section in self.sections)

    def print(self, console: Console | None = None) -> None:
        """Print the machine, the tables and the notes."""
        console = console or Console(width=160)
        console.print(", ".join(f"{k}: {v}" for k, v in self.machine.items()))
        for section in self.sections:
            console.print(section.table())
        for note in self.notes:
            console.print(f"note: {note}")
        console.print("targets missed: " + ("; ".join(self.misses) or "none"))


def _rows_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {"label": r.label, "cells": r.cells, "target": r.target, "verdict": r.verdict} for r in rows
    ]
