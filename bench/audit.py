"""The decision trail's cost to the check: warm checks with decision records on and off, in the
same process and the same rounds, then a flood of denials against the bounded buffer.

One tenant, one role granting ``documents:read``, one member; ``documents:delete`` is defined
and granted to nobody, so checking it is a denial. Three ``Rolegate`` objects open the same
database at once, each warmed up (``warm_up``; the run asserts no compile while timing):

- *off*: ``Settings(audit_decisions=False)``: no trail at all;
- *on*: the default settings: every denial is handed to the trail, and its writer thread wakes
  every ``audit_flush_interval`` (0.5 s) and writes what it finds, in batches of 500, *while*
  the loops run, sharing the interpreter with them;
- *held back*: on, but the writer waits for 10,000 buffered (``audit_batch_size``) or a minute
  (``audit_flush_interval``), longer than a round: the loop pays the hand-off alone.

In each round (one more runs first, untimed) the steps take turns, in an order that rotates
from round to round: ``checks`` allowed checks on *off* and on *on*, ``checks`` denied checks on
*off*, and ``denied`` denied checks on *on* and on *held back*. After each of the last two,
untimed, that trail is drained (every denial written; the run asserts none was dropped) and the
collector runs, so no step is timed while a writer writes what an earlier step buffered.

Then the *flood*: a fourth ``Rolegate`` with a small buffer (``audit_buffer_size``) and the
default writer, denied checks in a tight loop for a few seconds, then ``close`` (which writes
what is still buffered). Its counters show how much the writer kept up with, what the buffer
held, and how many decisions were dropped and counted rather than slowing the check.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from time import perf_counter_ns
from typing import Any, Final

from bench.loader import prepare
from bench.measure import Spread
from bench.targets import Row
from bench.verify import expect
from rolegate import Rolegate, Settings
from rolegate.audit.trail import TrailStats

TENANT: Final = "trail-bench"
MEMBER: Final = "alice"
ALLOWED: Final = "documents:read"
DENIED: Final = "documents:delete"
#: The largest batch the settings accept: the held-back writer does not wake within a round.
HELD_BATCH: Final = 10_000
HELD_INTERVAL: Final = timedelta(minutes=1)
CHECKS_PER_CLOCK_READ: Final = 1_000  # the flood reads the clock once per this many checks


@dataclass(frozen=True, slots=True)
class AuditSpec:
    """How much the decision-trail section does; the defaults are the run in
    docs/benchmarks.md."""

    checks: int = 50_000  # checks per round of each step that buffers nothing
    denied: int = 5_000  # denied checks per round with the trail on (each one written)
    rounds: int = 10  # twice in each place of the rotating order
    flood_seconds: float = 3.0
    flood_buffer: int = 10_000  # audit_buffer_size of the flood's Rolegate

    def __post_init__(self) -> None:
        # At the held-back batch, the writer would wake and write while the loop runs.
        if self.denied >= HELD_BATCH:
            raise ValueError(f"denied checks per round must stay under {HELD_BATCH:,}")


@dataclass(frozen=True, slots=True)
class HotPath:
    """ns per warm check, one sample per round, each trail setting in the same rounds."""

    allowed_off: Spread
    allowed_on: Spread
    denied_off: Spread
    denied_on: Spread  # the writer writing alongside
    denied_held: Spread  # the hand-off alone: the writer waits
    per_round: dict[str, list[float]]  # every sample, by step, in round order

    def ratio(self, slower: str, faster: str) -> float:
        """The median over the rounds of one step's time per check over another's.

        Paired round by round, so a slow patch of the machine that falls on both steps of a
        round cancels out; steadier than the ratio of the two medians on a busy machine.
        """
        pairs = zip(self.per_round[slower], self.per_round[faster], strict=True)
        return statistics.median(on / off for on, off in pairs)


_STEPS: Final = ("allowed_off", "allowed_on", "denied_off", "denied_on", "denied_held")
_RATIOS: Final = {  # in the JSON: per-round ratios of time per check (HotPath.ratio)
    "allowed_on_over_off": ("allowed_on", "allowed_off"),
    "denied_on_over_off": ("denied_on", "denied_off"),
    "denied_held_over_off": ("denied_held", "denied_off"),
}


@dataclass(frozen=True, slots=True)
class Flood:
    """Denied checks as fast as one thread makes them, against a bounded buffer."""

    seconds: float  # how long the loop ran
    buffer: int  # audit_buffer_size
    checks: int  # denied checks made, each offered to the trail
    during: TrailStats  # the counters as the loop ended
    close_seconds: float  # rg.close(): the writer stopped, what was buffered written
    after: TrailStats  # the counters after close

    @property
    def checks_per_second(self) -> float:
        """Denied checks per second while the writer wrote and the buffer overflowed."""
        return self.checks / self.seconds

    @property
    def written_per_second(self) -> float:
        """Decisions the writer thread wrote per second during the loop, sharing the GIL."""
        return self.during.written / self.seconds

    @property
    def written_in_close(self) -> int:
        """Decisions ``close`` wrote: what was buffered, and any batch the writer had in hand."""
        return self.after.written - self.during.written

    @property
    def written_per_second_alone(self) -> float:
        """Decisions per second written by ``close``, with no check running."""
        return self.written_in_close / self.close_seconds if self.close_seconds else 0.0


@dataclass(frozen=True, slots=True)
class TrailRun:
    """One database: the hot path in rounds, then the flood."""

    name: str  # "SQLite" or "PostgreSQL"
    hot: HotPath
    flood: Flood

    def summary(self) -> dict[str, float]:
        """The table's figures as numbers: checks/s of each median, on/off, the flood's rates."""
        hot, flood = self.hot, self.flood
        rates = {f"{name}_per_second": 1e9 / getattr(hot, name).median for name in _STEPS}
        fastest = {f"{name}_fastest_round_ns": min(hot.per_round[name]) for name in _STEPS}
        return {
            **rates,
            **fastest,
            **{key: hot.ratio(*steps) for key, steps in _RATIOS.items()},
            "flood_checks_per_second": flood.checks_per_second,
            "flood_written_per_second": flood.written_per_second,
            "close_written_per_second": flood.written_per_second_alone,
        }


@dataclass(frozen=True, slots=True)
class AuditRun:
    """Everything the decision-trail section measured."""

    spec: AuditSpec
    sqlite: TrailRun
    postgresql: TrailRun | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """Every raw figure (ns per check, one per round), and per database the medians as
        checks per second, the ratios and the flood's rates."""
        found = asdict(self)
        for run in (self.sqlite, self.postgresql):
            if run is not None:
                found[run.name.lower()]["summary"] = run.summary()
        return found


def measure_audit(
    spec: AuditSpec, *, postgres_url: str | None, say: Callable[[str], None]
) -> AuditRun:
    """SQLite in a temporary directory, then PostgreSQL (wiped) when it is configured."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rolegate-bench-audit-") as scratch:
        say("  decision trail: SQLite")
        sqlite = measure_trail(f"sqlite:///{scratch}/trail.db", "SQLite", spec)
    postgresql = None
    if postgres_url:
        say("  decision trail: PostgreSQL")
        prepare(postgres_url)
        postgresql = measure_trail(postgres_url, "PostgreSQL", spec)
    return AuditRun(spec, sqlite, postgresql, time.perf_counter() - started)


def measure_trail(url: str, name: str, spec: AuditSpec) -> TrailRun:
    """The rounds and the flood on one (empty, migrated) database."""
    _define_policy(url)
    # The watcher thread is off, as for the other hot-path figures: nothing else runs.
    off = _warm(url, Settings(watch_changes=False, audit_decisions=False))
    on = _warm(url, Settings(watch_changes=False))
    held = _warm(
        url,
        Settings(
            watch_changes=False, audit_batch_size=HELD_BATCH, audit_flush_interval=HELD_INTERVAL
        ),
    )
    try:
        hot = _rounds(off, on, held, spec)
    finally:
        for rg in (off, on, held):
            rg.close()
    flood_settings = Settings(watch_changes=False, audit_buffer_size=spec.flood_buffer)
    return TrailRun(name, hot, _flood(url, flood_settings, spec))


def _define_policy(url: str) -> None:
    """The tenant, its two permissions, the role and the member, through the services."""
    with Rolegate(url, settings=Settings(watch_changes=False, audit_decisions=False)) as rg:
        rg.tenants.create(TENANT)
        rg.permissions.create(TENANT, ALLOWED)
        rg.permissions.create(TENANT, DENIED)
        rg.roles.create(TENANT, "reader", permissions=[ALLOWED])
        rg.users.create(MEMBER, tenant=TENANT)  # no password: nobody logs in
        rg.assignments.assign(TENANT, MEMBER, "reader")


def _warm(url: str, settings: Settings) -> Rolegate:
    """A ``Rolegate`` with the member's snapshot compiled, answering both permissions right."""
    rg = Rolegate(url, settings=settings)
    expect(f"snapshots warmed ({settings.audit_decisions=})", rg.warm_up(), 1)
    expect("the allowed permission", rg.check(MEMBER, ALLOWED, tenant=TENANT), True)
    expect("the denied permission", rg.check(MEMBER, DENIED, tenant=TENANT), False)
    if rg.decisions is not None:
        rg.decisions.trail.flush()  # that one denial: every round starts from an empty buffer
    return rg


class _Step:
    """``count`` checks of one permission on one ``Rolegate``, timed in a plain loop as an
    application makes them (see bench.measure), and what settles the trail after them."""

    def __init__(
        self,
        name: str,
        rg: Rolegate,
        permission: str,
        count: int,
        settle: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.count, self.settle = name, count, settle
        self._check = rg.check
        self._calls = [(MEMBER, permission, TENANT)] * count

    def run(self) -> int:
        """Make the checks; the nanoseconds they took."""
        check = self._check
        started = perf_counter_ns()
        for user, permission, tenant in self._calls:
            check(user, permission, tenant=tenant)
        return perf_counter_ns() - started


def _rounds(off: Rolegate, on: Rolegate, held: Rolegate, spec: AuditSpec) -> HotPath:
    """The five steps in turns, ``rounds`` times after one discarded round.

    The order rotates from round to round, so none always runs first or after another. After
    each denied step with the trail on, untimed, its trail is drained and the collector runs:
    no step is timed while a writer thread writes what an earlier step buffered.
    """
    steps = [
        _Step("allowed_off", off, ALLOWED, spec.checks),
        _Step("allowed_on", on, ALLOWED, spec.checks),
        _Step("denied_off", off, DENIED, spec.checks),
        _Step("denied_on", on, DENIED, spec.denied, _drainer(on, spec, flush=False)),
        _Step("denied_held", held, DENIED, spec.denied, _drainer(held, spec, flush=True)),
    ]
    compiles = [rg.cache_stats().compiles for rg in (off, on, held)]
    found: dict[str, list[float]] = {step.name: [] for step in steps}
    for round_number in range(spec.rounds + 1):
        turn = round_number % len(steps)
        for step in steps[turn:] + steps[:turn]:
            took = step.run()
            if round_number > 0:
                found[step.name].append(took / step.count)
            if step.settle is not None:
                step.settle()
                gc.collect()
    expect("compiles while timing", [rg.cache_stats().compiles for rg in (off, on, held)], compiles)
    spreads = {name: Spread.of(durations) for name, durations in found.items()}
    return HotPath(**spreads, per_round=found)


def _drainer(rg: Rolegate, spec: AuditSpec, *, flush: bool) -> Callable[[], None]:
    """What settles ``rg``'s trail after each of its denied steps (see :func:`_drain`)."""
    totals = itertools.count(start=1 + spec.denied, step=spec.denied)  # _warm made one denial
    return lambda: _drain(rg, expected=next(totals), flush=flush)


def _drain(rg: Rolegate, *, expected: int, flush: bool) -> None:
    """Wait until every denial so far (``expected``) is written and none dropped: by ``rg``'s
    writer thread, or with ``flush`` in this thread (the held-back writer sleeps through it).

    Never both at once: the trail's counters are meant to be updated by one thread at a time.
    Allowed checks of a permission not audited record nothing, so denials are all there is.
    """
    assert rg.decisions is not None, "the trail is on"
    trail = rg.decisions.trail
    if flush:
        trail.flush()
    deadline = time.monotonic() + 60.0
    while trail.stats().written < expected and time.monotonic() < deadline:
        time.sleep(0.005)
    expect("decisions written, none dropped", trail.stats(), TrailStats(expected, 0, 0))


def _flood(url: str, settings: Settings, spec: AuditSpec) -> Flood:
    """Denied checks in a tight loop for ``flood_seconds``, then ``close``; every check either
    written or counted as dropped."""
    rg = _warm(url, settings)
    assert rg.decisions is not None, "the trail is on"
    trail, check = rg.decisions.trail, rg.check
    before = trail.stats().written  # the warm-up's denial
    batch = range(CHECKS_PER_CLOCK_READ)
    checks = 0
    started = time.perf_counter()
    deadline = started + spec.flood_seconds
    while time.perf_counter() < deadline:
        for _ in batch:
            check(MEMBER, DENIED, tenant=TENANT)
        checks += CHECKS_PER_CLOCK_READ
    seconds = time.perf_counter() - started
    during = trail.stats()
    closing = time.perf_counter()
    rg.close()
    close_seconds = time.perf_counter() - closing
    after = trail.stats()
    written = after.written - before
    expect("every denial written or counted as dropped", written + after.dropped, checks)
    expect("nothing left buffered", after.buffered, 0)
    return Flood(
        seconds,
        spec.flood_buffer,
        checks,
        TrailStats(during.written - before, during.dropped, during.buffered),
        close_seconds,
        TrailStats(written, after.dropped, after.buffered),
    )


# -- the table ----------------------------------------------------------------------------------

COLUMNS: Final = ("SQLite", "PostgreSQL")


def rows(run: AuditRun) -> list[Row]:
    """Checks/s (ns per check) per trail setting, the on/off ratios, then the flood's counters."""

    def row(label: str, cell: Callable[[TrailRun], str]) -> Row:
        found = (run.sqlite, run.postgresql)
        return Row(label, tuple("skipped" if r is None else cell(r) for r in found))

    return [
        row("allowed check, trail off", _rate_of("allowed_off")),
        row("allowed check, trail on", _rate_of("allowed_on")),
        row("allowed: on / off, per round", _ratio("allowed_on", "allowed_off")),
        row("denied check, trail off", _rate_of("denied_off")),
        row("denied check, trail on, writer writing alongside", _rate_of("denied_on")),
        row("denied check, trail on, writer held back", _rate_of("denied_held")),
        row("denied: on / off, per round", _ratio("denied_on", "denied_off")),
        row("denied: held back / off, per round", _ratio("denied_held", "denied_off")),
        row("flood: denied checks made, per second", _flood_checks),
        row("flood: written / dropped / buffered as it ended", lambda r: _counters(r.flood.during)),
        row("flood: decisions written per second meanwhile", _flood_written),
        row("flood: close, writing what was buffered", _flood_close),
        row("flood: written / dropped / buffered after close", lambda r: _counters(r.flood.after)),
    ]  # fmt: skip


def _rate(spread: Spread, fastest: float) -> str:
    return (
        f"{1e9 / spread.median:,.0f}/s ({spread.median:,.0f} ns; fastest round {fastest:,.0f} ns)"
    )


def _rate_of(step: str) -> Callable[[TrailRun], str]:
    """The cell of a step: checks per second at its median, ns per check, its fastest round."""

    def cell(run: TrailRun) -> str:
        return _rate(getattr(run.hot, step), min(run.hot.per_round[step]))

    return cell


def _ratio(slower: str, faster: str) -> Callable[[TrailRun], str]:
    """The cell of one step's time per check over another's, the median of the rounds' ratios
    (:meth:`HotPath.ratio`): above 1× is slower."""

    def cell(run: TrailRun) -> str:
        return f"{run.hot.ratio(slower, faster):.2f}×"

    return cell


def _counters(stats: TrailStats) -> str:
    return f"{stats.written:,} / {stats.dropped:,} / {stats.buffered:,}"


def _flood_checks(run: TrailRun) -> str:
    return f"{run.flood.checks:,}, {run.flood.checks_per_second:,.0f}/s"


def _flood_written(run: TrailRun) -> str:
    return f"{run.flood.written_per_second:,.0f}/s"


def _flood_close(run: TrailRun) -> str:
    flood = run.flood
    return (
        f"{flood.written_in_close:,} in {flood.close_seconds:.2f} s, "
        f"{flood.written_per_second_alone:,.0f}/s"
    )
