"""The report of a run: the machine, the table (Rich on stdout, Markdown) and the JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import targets
from bench.results import SizeRun
from bench.targets import Row


@dataclass(frozen=True, slots=True)
class Report:
    """A whole run: the machine, each size, and the table rows derived from them."""

    machine: dict[str, str]
    runs: tuple[SizeRun, ...]
    notes: tuple[str, ...] = ()

    @property
    def rows(self) -> list[Row]:
        """The table's rows, derived from the runs."""
        return targets.rows(self.runs)

    @property
    def misses(self) -> list[str]:
        """The targets missed, by row label."""
        return [row.label for row in self.rows if False in row.verdicts]

    def to_json(self) -> dict[str, Any]:
        """Every raw figure (nanoseconds, bytes) plus the rows as printed."""
        return {
            "machine": self.machine,
            "notes": list(self.notes),
            "runs": [asdict(run) for run in self.runs],
            "table": [
                {"label": r.label, "cells": r.cells, "target": r.target, "verdict": r.verdict}
                for r in self.rows
            ],
        }

    def write_json(self, path: Path) -> None:
        """Write :meth:`to_json` to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def table(self) -> Table:
        """The rows as a Rich table."""
        table = Table(title="rolegate authorization benchmark", title_justify="left")
        for heading in self._headings():
            table.add_column(heading, overflow="fold")
        for row in self.rows:
            style = "red" if False in row.verdicts else None
            table.add_row(row.label, *row.cells, row.target, row.verdict, style=style)
        return table

    def markdown(self) -> str:
        """The rows as a Markdown table (pasted into docs/benchmarks.md)."""
        headings = self._headings()
        lines = ["| " + " | ".join(headings) + " |", "|" + " --- |" * len(headings)]
        for row in self.rows:
            cells = (row.label, *row.cells, row.target, row.verdict)
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(lines) + "\n"

    def print(self, console: Console | None = None) -> None:
        """Print the machine, the table and the notes."""
        console = console or Console(width=160)
        console.print(", ".join(f"{k}: {v}" for k, v in self.machine.items()))
        console.print(self.table())
        for note in self.notes:
            console.print(f"note: {note}")
        console.print("targets missed: " + ("; ".join(self.misses) or "none"))

    def _headings(self) -> list[str]:
        return ["figure", *(f"{run.users:,} users" for run in self.runs), "target", "verdict"]
