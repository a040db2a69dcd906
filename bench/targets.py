"""The tables' rows: each figure formatted per size (authorization), per algorithm and per
database (authentication), and the targets it is held to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench.auth import AuthRun, TokenRun
from bench.backend import Listing
from bench.logins import LoginRun
from bench.measure import Spread
from bench.ready import Ready
from bench.results import BackendRun, SizeRun


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a figure per size, the target, and pass/miss per size."""

    label: str
    cells: tuple[str, ...]
    target: str = ""
    verdicts: tuple[bool | None, ...] = ()

    @property
    def verdict(self) -> str:
        """``pass``, ``miss`` or both (per size), blank when there is no target."""
        return " / ".join("—" if v is None else "pass" if v else "miss" for v in self.verdicts)


# -- formatting ---------------------------------------------------------------------------------


def _ns(value: float) -> str:
    return f"{value:,.0f} ns"


def _us(value: float) -> str:
    return f"{value / 1e3:,.1f} µs"


def _ms(value: float) -> str:
    return f"{value / 1e6:,.2f} ms"


def _spread_ms(spread: Spread) -> str:
    return f"{_ms(spread.median)} (p99 {_ms(spread.p99)})"


def _median_p95_ms(spread: Spread) -> str:
    return f"{_ms(spread.median)} / {_ms(spread.p95)}"


# -- rows ---------------------------------------------------------------------------------------

Column = TypeVar("Column")  # what one column shows: a size, an algorithm, a database


def _row(
    columns: Sequence[Column],
    label: str,
    cell: Callable[[Column], str],
    target: str = "",
    test: Callable[[Column], bool | None] | None = None,
) -> Row:
    verdicts = tuple(test(column) for column in columns) if test else ()
    return Row(label, tuple(cell(column) for column in columns), target, verdicts)


def _pg(run: SizeRun, pick: Callable[[BackendRun], str]) -> str:
    return pick(run.postgresql) if run.postgresql else "skipped"


def rows(runs: Sequence[SizeRun]) -> list[Row]:
    """Every row of the table, in order, for ``runs`` (one column each)."""
    growth = [_growth(runs)] if len(runs) > 1 else []
    return [
        *_hot(runs),
        *growth,
        *_database(runs),
        *_resident(runs),
        *_peer(runs),
    ]


def _hot(runs: Sequence[SizeRun]) -> list[Row]:
    """Warm checks against the floor, batch checks and explanations, from memory."""
    return [
        _row(
            runs,
            "floor: dict lookup + frozenset test (median / p99)",
            lambda r: f"{_ns(r.hot.floor.median)} / {_ns(r.hot.floor_each.p99)}",
        ),
        _row(
            runs,
            "warm check, median ns/op (× floor)",
            lambda r: f"{_ns(r.hot.check.median)} ({r.hot.check.median / r.hot.floor.median:.1f}×)",
            "≤ 3× floor",
            lambda r: r.hot.check.median <= 3 * r.hot.floor.median,
        ),
        _row(
            runs,
            "warm check, p99 per call (× floor p99)",
            lambda r: (
                f"{_ns(r.hot.check_each.p99)} ({r.hot.check_each.p99 / r.hot.floor_each.p99:.1f}×)"
            ),
            "≤ 20× floor p99",
            lambda r: r.hot.check_each.p99 <= 20 * r.hot.floor_each.p99,
        ),
        _row(
            runs,
            "warm check: allowed half / denied half (median)",
            lambda r: f"{_ns(r.hot.allowed.median)} / {_ns(r.hot.denied.median)}",
        ),
        _row(
            runs,
            "warm check, watcher on / off (2 fresh caches; median; p99)",
            lambda r: (
                f"{_ns(r.watcher.on.median)} / {_ns(r.watcher.off.median)}; "
                f"{_ns(r.watcher.on_each.p99)} / {_ns(r.watcher.off_each.p99)}"
            ),
        ),
        _row(
            runs,
            "warm check, decision trail on (the default) / off, same run (median)",
            lambda r: (
                f"{_ns(r.trail.on.median)} / {_ns(r.trail.off.median)} "
                f"({r.trail.on_over_off:.2f}×; {r.trail.denied / r.trail.calls:.0%} denials)"
            ),
            "≤ 1.3×",
            lambda r: r.trail.on_over_off <= 1.3,
        ),
        _row(
            runs,
            "check_many of 100 permissions, per call",
            lambda r: _us(r.hot.check_many.median),
            "≤ 30 µs",
            lambda r: r.hot.check_many.median <= 30_000,
        ),
        _row(runs, "explain, per call (median)", lambda r: _us(r.hot.explain.median)),
    ]


def _database(runs: Sequence[SizeRun]) -> list[Row]:
    """What reaches the database: cold checks, who_can listings, start-up, loading."""
    return [
        _row(runs, "cold check, first ever: SQLite", lambda r: _spread_ms(r.sqlite.cold_first)),
        _row(
            runs,
            "cold check, first ever: PostgreSQL",
            lambda r: _pg(r, lambda b: _spread_ms(b.cold_first)),
        ),
        _row(
            runs,
            "cold check after assign: SQLite",
            lambda r: _spread_ms(r.sqlite.cold_after_change),
        ),
        _row(
            runs,
            "cold check after assign: PostgreSQL",
            lambda r: _pg(r, lambda b: _spread_ms(b.cold_after_change)),
            "≤ 2 ms (median)",
            lambda r: r.postgresql.cold_after_change.median <= 2e6 if r.postgresql else None,
        ),
        _row(
            runs,
            "who_can, all pages: SQLite (holders, pages)",
            lambda r: _listing(r.sqlite.listing),
        ),
        _row(
            runs,
            "who_can, all pages: PostgreSQL (holders, pages)",
            lambda r: _pg(r, lambda b: _listing(b.listing)),
        ),
        _row(
            runs,
            "ready time: SQLite (import / open / first check)",
            lambda r: _ready(r.sqlite.ready),
        ),
        _row(
            runs,
            "ready time: PostgreSQL (import / open / first check)",
            lambda r: _pg(r, lambda b: _ready(b.ready)),
        ),
        _row(
            runs,
            "bulk load: SQLite / PostgreSQL",
            lambda r: (
                f"{r.sqlite.load_seconds:.1f} s / " + _pg(r, lambda b: f"{b.load_seconds:.1f} s")
            ),
        ),
    ]


def _resident(runs: Sequence[SizeRun]) -> list[Row]:
    """What the cache costs to keep: memory, tracked objects, collector pauses."""
    return [
        _row(
            runs,
            "memory per cached (user, tenant), filled: deep size (RSS growth)",
            lambda r: f"{r.residency.bytes_per_entry:,.0f} B ({_bytes(r.residency.rss_per_entry)})",
            "≤ 2 KiB",
            lambda r: r.residency.bytes_per_entry <= 2048,
        ),
        _row(
            runs,
            "memory per cached (user, tenant), after the timed checks",
            lambda r: f"{r.settled_bytes_per_entry:,.0f} B",
            "≤ 2 KiB",
            lambda r: r.settled_bytes_per_entry <= 2048,
        ),
        _row(
            runs,
            "GC-tracked objects per cached (user, tenant)",
            lambda r: f"{r.residency.objects_per_entry:.1f}",
        ),
        _row(
            runs,
            "full gc.collect(): fresh process after one check (objects)",
            lambda r: f"{r.sqlite.ready.gc_ms:,.2f} ms ({r.sqlite.ready.gc_objects:,})",
        ),
        _row(
            runs,
            "full gc.collect(): this process, before caching",
            lambda r: _ms(r.residency.gc_baseline.median),
        ),
        _row(
            runs,
            "full gc.collect(): all members cached (median)",
            lambda r: _ms(r.residency.gc_cached.median),
            "≤ 10 ms",
            lambda r: r.residency.gc_cached.median <= 10e6,
        ),
        _row(
            runs,
            "full gc.collect(): all cached, after gc.freeze()",
            lambda r: _ms(r.residency.gc_frozen.median),
            "≤ 10 ms",
            lambda r: r.residency.gc_frozen.median <= 10e6,
        ),
    ]


def _peer(runs: Sequence[SizeRun]) -> list[Row]:
    """pycasbin on the same policy and queries."""
    return [
        _row(
            runs,
            "pycasbin FastEnforcer, median per call",
            lambda r: _us(r.casbin.per_op.median) if r.casbin else "skipped",
        ),
        _row(
            runs,
            "rolegate check vs pycasbin, times faster (floor vs pycasbin)",
            lambda r: (
                f"{r.casbin.per_op.median / r.hot.check.median:,.0f}× "
                f"({r.casbin.per_op.median / r.hot.floor.median:,.0f}×)"
                if r.casbin
                else "skipped"
            ),
            "≥ 200×",
            lambda r: r.casbin.per_op.median >= 200 * r.hot.check.median if r.casbin else None,
        ),
        _row(
            runs,
            "answers identical (rolegate, floor, pycasbin, reference)",
            lambda r: f"yes, {r.queries:,} queries" + ("" if r.casbin else " (no pycasbin)"),
        ),
    ]


def _growth(runs: Sequence[SizeRun]) -> Row:
    """Warm check at the largest size against the smallest, with the floor's own growth beside
    it: what the machine's memory adds to both (one verdict, in the largest size's column)."""
    small, large = min(runs, key=lambda r: r.users), max(runs, key=lambda r: r.users)
    ratio = large.hot.check.median / small.hot.check.median
    floor = large.hot.floor.median / small.hot.floor.median
    cells = tuple(f"{ratio:.2f}× (floor {floor:.2f}×)" if run is large else "" for run in runs)
    label = f"warm check at {large.users:,} / at {small.users:,} users"
    verdicts = tuple(ratio <= 1.3 if run is large else None for run in runs)
    return Row(label, cells, "≤ 1.3×", verdicts)


def _listing(listing: Listing) -> str:
    return f"{_spread_ms(listing.full)} ({listing.holders:,}, {listing.pages})"


def _ready(ready: Ready) -> str:
    return (
        f"{ready.total_ms:,.0f} ms ({ready.import_ms:,.0f} / {ready.open_ms:,.0f} / "
        f"{ready.first_check_ms:,.0f})"
    )


def _bytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} B"


# -- authentication -----------------------------------------------------------------------------

#: The issue's target for a verification answered from the token cache.
CACHED_VERIFY_TARGET_NS = 5_000


def token_rows(tokens: Sequence[TokenRun]) -> list[Row]:
    """Issuing and verifying access tokens, one column per signing algorithm (µs per op)."""
    return [
        _row(tokens, "issue (issue_access_token), per op", lambda t: _us(t.issue.median)),
        _row(
            tokens,
            "verify, first sight of a token (rg.auth.verify)",
            lambda t: _us(t.verify_first.median),
        ),
        _row(
            tokens,
            "verify, cached (the same token again)",
            lambda t: _ns(t.verify_cached.median),
            "≤ 5 µs",
            lambda t: t.verify_cached.median <= CACHED_VERIFY_TARGET_NS,
        ),
        _row(
            tokens,
            "peer: PyJWT jwt.decode of the same token",
            lambda t: _us(t.pyjwt_decode.median),
        ),
        _row(
            tokens,
            "cached verify vs jwt.decode, times faster",
            lambda t: f"{t.pyjwt_decode.median / t.verify_cached.median:,.0f}×",
        ),
        _row(
            tokens,
            "first-sight verify / jwt.decode",
            lambda t: f"{t.verify_first.median / t.pyjwt_decode.median:.2f}×",
        ),
    ]


def login_rows(auth: AuthRun) -> list[Row]:
    """Logins and refreshes, one column per database (median / p95 per operation)."""
    backends = (auth.sqlite, auth.postgresql)

    def cell(pick: Callable[[LoginRun], Spread]) -> Callable[[LoginRun | None], str]:
        return lambda run: _median_p95_ms(pick(run)) if run else "skipped"

    return [
        _row(backends, "login, end to end (median / p95)", cell(lambda r: r.login)),
        _row(backends, "login: argon2id verify within it", cell(lambda r: r.argon2_in_login)),
        _row(backends, "login: everything else (login − its argon2)", cell(lambda r: r.rest)),
        _row(
            backends,
            "argon2id verify alone, same password and hash",
            cell(lambda r: r.argon2_alone),
        ),
        _row(
            backends,
            "User-Agent to device label alone (ua-parser, new header)",
            cell(lambda r: r.device_label),
        ),
        _row(backends, "refresh (rotation), per op", cell(lambda r: r.refresh)),
    ]
