"""Checking answers: a benchmark of wrong answers measures nothing, so each subject is first
checked against the reference answers, and any difference stops the run."""

from __future__ import annotations

from collections.abc import Sequence

from bench.measure import Checker
from bench.workload import Query


class WrongAnswers(Exception):
    """An implementation answered differently from the reference."""

    def __init__(self, subject: str, detail: str) -> None:
        super().__init__(f"{subject}: {detail}")
        self.subject = subject


def same_answers(subject: str, check: Checker, queries: Sequence[Query]) -> None:
    """Raise :class:`WrongAnswers` unless ``check`` answers every query as the reference does."""
    wrong = [
        (q, got)
        for q in queries
        if bool(got := check(q.user, q.permission, tenant=q.tenant)) is not q.allowed
    ]
    if wrong:
        shown = "; ".join(
            f"{q.user} {q.permission} @{q.tenant}: expected {q.allowed}, got {got!r}"
            for q, got in wrong[:5]
        )
        raise WrongAnswers(subject, f"{len(wrong)} of {len(queries)} answers differ: {shown}")


def expect(subject: str, got: object, expected: object) -> None:
    """Raise :class:`WrongAnswers` unless ``got`` equals ``expected``."""
    if got != expected:
        raise WrongAnswers(subject, f"expected {expected!r}, got {got!r}")
