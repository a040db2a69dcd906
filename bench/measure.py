"""Timing and memory helpers: every figure in the report is measured by one of these.

Checks are timed as callers make them, ``check(user, permission, tenant=tenant)``, in the same
plain ``for`` loop for rolegate, pycasbin and the floor, so the loop's own cost is in every
figure alike and nothing is subtracted. ``time.perf_counter_ns`` is the only clock.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter_ns
from types import BuiltinFunctionType, CodeType, FunctionType, MethodType, ModuleType
from typing import Any, Protocol

Call = tuple[str, str, str]  # (user, permission, tenant) as a caller passes them


class Checker(Protocol):
    """Anything called like ``Rolegate.check``."""

    def __call__(self, user: str, permission: str, *, tenant: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Spread:
    """A sample of durations in nanoseconds, summarised."""

    samples: int
    median: float
    p95: float
    p99: float
    worst: float

    @classmethod
    def of(cls, durations: Sequence[float]) -> Spread:
        """Summarise ``durations`` (at least one)."""
        ordered = sorted(durations)
        return cls(
            len(ordered),
            statistics.median(ordered),
            percentile(ordered, 95),
            percentile(ordered, 99),
            ordered[-1],
        )

    def scaled(self, factor: float) -> Spread:
        """Every duration multiplied by ``factor`` (``1 / size``: per operation of a batch)."""
        return Spread(
            self.samples,
            self.median * factor,
            self.p95 * factor,
            self.p99 * factor,
            self.worst * factor,
        )


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of sorted values, nearest rank (no interpolation)."""
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats
    return ordered[int(rank) - 1]


def per_op(
    checks: Mapping[str, Checker], calls: Sequence[Call], *, repeats: int
) -> dict[str, Spread]:
    """Nanoseconds per call over the whole of ``calls``, once per repeat, for each checker.

    The checkers take turns within each repeat, so a slow patch of the machine (the other
    core busy, a frequency change) falls on all of them rather than on one.
    """
    runs: dict[str, list[float]] = {name: [] for name in checks}
    for _ in range(repeats):
        for name, check in checks.items():
            started = perf_counter_ns()
            for user, permission, tenant in calls:
                check(user, permission, tenant=tenant)
            runs[name].append((perf_counter_ns() - started) / len(calls))
    return {name: Spread.of(found) for name, found in runs.items()}


def per_call(
    checks: Mapping[str, Checker], calls: Sequence[Call], *, passes: int
) -> dict[str, Spread]:
    """The distribution of single calls, each between its own two clock reads, per checker.

    The two reads add their own cost (tens of ns) to every sample; every checker is timed the
    same way, taking turns pass by pass, so the ratios stay fair.
    """
    durations: dict[str, list[int]] = {name: [] for name in checks}
    clock = perf_counter_ns
    for _ in range(passes):
        for name, check in checks.items():
            record = durations[name].append
            for user, permission, tenant in calls:
                started = clock()
                check(user, permission, tenant=tenant)
                record(clock() - started)
    return {name: Spread.of(found) for name, found in durations.items()}


def each(steps: Sequence[Callable[[], object]]) -> Spread:
    """Time each step once: for things that can happen only once per subject (a cold check)."""
    durations = []
    for step in steps:
        started = perf_counter_ns()
        step()
        durations.append(perf_counter_ns() - started)
    return Spread.of(durations)


def each_after(prepared: Sequence[tuple[Callable[[], object], Callable[[], object]]]) -> Spread:
    """For each (prepare, step): run ``prepare`` untimed, then time ``step`` once."""
    durations = []
    for prepare, step in prepared:
        prepare()
        started = perf_counter_ns()
        step()
        durations.append(perf_counter_ns() - started)
    return Spread.of(durations)


def repeated(step: Callable[[], object], *, repeats: int) -> Spread:
    """Time the same step ``repeats`` times."""
    return each([step] * repeats)


def batched(step: Callable[[], object], *, size: int, repeats: int) -> Spread:
    """Time ``step`` (which does ``size`` operations) ``repeats`` times; ns per operation."""
    return repeated(step, repeats=repeats).scaled(1 / size)


def in_turns(steps: Mapping[str, Callable[[], int]], *, rounds: int) -> dict[str, Spread]:
    """ns per operation of each step, once per round; each step returns how many operations
    it did.

    The steps take turns within each round, in order (a step may use what the one before it
    made), so a slow patch of the machine falls on all of them. One more round runs first and
    is discarded: the warm-up.
    """
    found: dict[str, list[float]] = {name: [] for name in steps}
    for round_number in range(rounds + 1):
        for name, step in steps.items():
            started = perf_counter_ns()
            operations = step()
            if round_number > 0:
                found[name].append((perf_counter_ns() - started) / operations)
    return {name: Spread.of(durations) for name, durations in found.items()}


def gc_pause(*, repeats: int) -> Spread:
    """How long a full ``gc.collect()`` takes with whatever is resident now."""
    return repeated(gc.collect, repeats=repeats)


# Code, classes and modules are shared by the whole process; a walk that entered them would
# measure the interpreter rather than the object it started from.
_SHARED = (type, ModuleType, FunctionType, BuiltinFunctionType, MethodType, CodeType)


def deep_size(root: object) -> Counter[str]:
    """Bytes (``sys.getsizeof``) of every object reachable from ``root``, by type name.

    Each object is counted once, however many paths lead to it, so what entries share (a
    tenant's role unions, interned names) is counted once too. Allocator overhead is not
    included: :func:`rss_bytes` is the figure that has it.
    """
    sizes: Counter[str] = Counter()
    seen: set[int] = set()
    pending = [root]
    while pending:
        found = pending.pop()
        if id(found) in seen or isinstance(found, _SHARED):
            continue
        seen.add(id(found))
        sizes[type(found).__name__] += sys.getsizeof(found)
        pending.extend(gc.get_referents(found))
    return sizes


def rss_bytes() -> int | None:
    """The process's resident set size (Linux ``/proc``); None where that is unavailable."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
