"""A warm process: the cache filled with every member, then checks answered from memory.

Covers the warm check against the floor, ``check_many``, ``explain``, the memory each cached
(user, tenant) costs and the full-collection pause of the garbage collector with all of it
resident.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.measure import (
    Call,
    Checker,
    Spread,
    batched,
    deep_size,
    gc_pause,
    per_call,
    per_op,
    rss_bytes,
)
from bench.verify import expect, same_answers
from bench.workload import Workload
from rolegate import Rolegate


def fresh(text: str) -> str:
    """A new ``str`` equal to ``text``: what a request brings, not an object shared with the
    benchmark, so the memory a cache key keeps alive is counted."""
    return (text + " ")[:-1]


@dataclass(frozen=True, slots=True)
class Residency:
    """What holding every member's snapshot costs: memory, objects and collector pauses.

    Memory is the growth of everything reachable from the ``Rolegate`` while the cache filled,
    divided by the snapshots added: keys, snapshots, invalidation indexes, and the shares of
    what snapshots have in common (tenant policies, one union of grants per role combination).
    """

    entries: int  # (user, tenant) snapshots cached at the end
    added: int  # ... of which the fill compiled
    base_bytes: int  # deep size of the Rolegate before the fill
    bytes_per_entry: float  # deep sys.getsizeof growth of the Rolegate, per snapshot added
    by_type: tuple[tuple[str, float], ...]  # that growth by type, per snapshot, largest first
    rss_per_entry: float | None  # resident-set growth per snapshot (allocator's view)
    objects_per_entry: float  # objects the cyclic collector tracks, added per snapshot
    gc_baseline: Spread  # gc.collect() before the cache was filled
    gc_cached: Spread  # ... with every member cached
    gc_frozen: Spread  # ... with every member cached and gc.freeze() called after warm-up


def fill_cache(rg: Rolegate, workload: Workload, *, repeats: int) -> Residency:
    """Compile every member's snapshot, measuring memory on the way and GC pauses at the end."""
    permission = workload.tenants[0].permissions[0]
    gc_baseline = gc_pause(repeats=repeats)
    size_before, entries_before = deep_size(rg), rg.cache_stats().snapshots
    objects_before, rss_before = len(gc.get_objects()), rss_bytes()
    for user, tenant in workload.members():
        rg.check(fresh(user), permission, tenant=fresh(tenant))
    gc.collect()  # compile garbage (sessions, rows) is not what the cache holds
    rss_after, objects_after = rss_bytes(), len(gc.get_objects())
    entries = rg.cache_stats().snapshots
    added = max(1, entries - entries_before)
    growth = deep_size(rg)
    growth.subtract(size_before)
    gc_cached = gc_pause(repeats=repeats)
    gc.freeze()  # what an application can do once warm: move survivors out of the collector's way
    try:
        gc_frozen = gc_pause(repeats=repeats)
    finally:
        gc.unfreeze()
    return Residency(
        entries,
        added,
        size_before.total(),
        growth.total() / added,
        tuple((name, size / added) for name, size in growth.most_common(8)),
        (rss_after - rss_before) / added if rss_after and rss_before else None,
        (objects_after - objects_before) / added,
        gc_baseline,
        gc_cached,
        gc_frozen,
    )


def settled_bytes_per_entry(rg: Rolegate, residency: Residency) -> float:
    """Memory per snapshot once checks have run: the fill's figure plus what answering adds
    (pattern answers remembered per role combination, which ``check_many`` fills fastest)."""
    return (deep_size(rg).total() - residency.base_bytes) / residency.added


@dataclass(frozen=True, slots=True)
class HotPath:
    """Warm checks (every queried (user, tenant) compiled) against the floor, in ns."""

    calls: int
    floor: Spread  # per call, each repeat over every query; the median is the figure
    check: Spread
    floor_each: Spread  # single calls timed one by one: p99 is the figure
    check_each: Spread
    allowed: Spread  # check over the allowed half of the queries
    denied: Spread  # ... and over the denied half
    check_many: Spread  # per check_many call of ``many_size`` permissions
    many_size: int
    explain: Spread  # per call, over ``explain_calls`` queries
    explain_calls: int


def floor_checker(workload: Workload) -> Checker:
    """One dict lookup and one frozenset membership test: the least a check can cost here."""
    shared: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}  # one set per role combination
    held: dict[tuple[str, str], frozenset[str]] = {}
    for tenant in workload.tenants:
        for user, roles in tenant.members.items():
            combination = (tenant.slug, roles)
            if combination not in shared:
                shared[combination] = tenant.held(user)
            held[(fresh(tenant.slug), fresh(user))] = shared[combination]

    def floor(user: str, permission: str, *, tenant: str) -> bool:
        return permission in held[(tenant, user)]

    return floor


def measure_hot(
    rg: Rolegate, workload: Workload, *, repeats: int, passes: int, batch: int
) -> HotPath:
    """Time warm checks, check_many and explain after checking every answer."""
    queries = workload.queries
    floor = floor_checker(workload)
    same_answers("rolegate check", rg.check, queries)
    same_answers("floor", floor, queries)
    compiles = rg.cache_stats().compiles
    calls = [(q.user, q.permission, q.tenant) for q in queries]
    checks = {"floor": floor, "check": rg.check}
    per_pass = per_op(checks, calls, repeats=repeats)
    singles = per_call(checks, calls, passes=passes)
    allowed = [(q.user, q.permission, q.tenant) for q in queries if q.allowed]
    denied = [(q.user, q.permission, q.tenant) for q in queries if not q.allowed]
    hot = HotPath(
        len(calls),
        per_pass["floor"],
        per_pass["check"],
        singles["floor"],
        singles["check"],
        per_op({"check": rg.check}, allowed, repeats=repeats)["check"],
        per_op({"check": rg.check}, denied, repeats=repeats)["check"],
        _check_many(rg, workload, repeats=repeats, batch=batch),
        len(workload.tenants[0].permissions),
        _explain(rg, workload, calls[:batch], repeats=repeats),
        len(calls[:batch]),
    )
    # A compile while timing would make a "warm" figure partly cold.
    expect("compiles while timing warm checks", rg.cache_stats().compiles, compiles)
    return hot


def _check_many(rg: Rolegate, workload: Workload, *, repeats: int, batch: int) -> Spread:
    """ns per ``check_many`` of all the tenant's permissions, over ``batch`` queried members."""
    users = list(dict.fromkeys((q.user, q.tenant) for q in workload.queries))[:batch]
    asks = [(user, slug, workload.tenant(slug).permissions) for user, slug in users]
    for user, slug, permissions in asks:
        held = workload.tenant(slug).held(user)
        got = rg.check_many(user, permissions, tenant=slug)
        expect(f"check_many {user}@{slug}", got, [p in held for p in permissions])

    def ask_all() -> None:
        for user, slug, permissions in asks:
            rg.check_many(user, permissions, tenant=slug)

    return batched(ask_all, size=len(asks), repeats=repeats)


def _explain(rg: Rolegate, workload: Workload, calls: list[Call], *, repeats: int) -> Spread:
    """ns per ``explain`` over ``calls``, after checking each decision's outcome."""
    same_answers(
        "rolegate explain",
        lambda u, p, *, tenant: rg.explain(u, p, tenant=tenant).allowed,
        workload.queries[: len(calls)],
    )
    return per_op({"explain": rg.explain}, calls, repeats=repeats)["explain"]


@dataclass(frozen=True, slots=True)
class WatcherEffect:
    """Warm checks over the same subset with the change watcher thread running and not."""

    calls: int
    on: Spread  # per call, per pass
    off: Spread
    on_each: Spread  # single calls
    off_each: Spread


def watcher_effect(
    open_rolegate: Callable[[bool], Rolegate], calls: list[Call], *, repeats: int
) -> WatcherEffect:
    """Time ``calls`` on two fresh Rolegates holding the same snapshots, the change watcher
    off and then on (``open_rolegate(watch)``).

    Both hold only the snapshots ``calls`` need, so neither has a smaller, cache-friendlier
    working set than the other; one after the other, since a running watcher thread would
    disturb both.
    """
    found: dict[bool, tuple[Spread, Spread]] = {}
    for watch in (False, True):
        with open_rolegate(watch) as rg:
            for user, permission, tenant in calls:
                rg.check(user, permission, tenant=tenant)
            checks = {"check": rg.check}
            found[watch] = (
                per_op(checks, calls, repeats=repeats)["check"],
                per_call(checks, calls, passes=repeats)["check"],
            )
    (off, off_each), (on, on_each) = found[False], found[True]
    return WatcherEffect(len(calls), on, off, on_each, off_each)


@dataclass(frozen=True, slots=True)
class TrailEffect:
    """Warm checks over the same queries with the decision trail off and on (the default
    settings: every denial handed to the trail, its writer writing alongside)."""

    calls: int
    denied: int  # of the calls: each one a decision record with the trail on
    off: Spread  # per call, per repeat
    on: Spread
    ratios: tuple[float, ...]  # on / off, repeat by repeat (the two take turns in each)

    @property
    def on_over_off(self) -> float:
        """The median of the per-repeat ratios: a slow patch falling on both cancels out."""
        return statistics.median(self.ratios)


def trail_effect(
    open_rolegate: Callable[[bool], Rolegate], calls: list[Call], *, denied: int, repeats: int
) -> TrailEffect:
    """Time ``calls`` on two Rolegates open at once on the same database, the trail off and
    on (``open_rolegate(trail)``), taking turns in each repeat, after checking every answer
    agrees. Neither compiles while timed: both checked every call before."""
    with open_rolegate(False) as off, open_rolegate(True) as on:
        for user, permission, tenant in calls:
            expect(
                "trail on and off agree",
                on.check(user, permission, tenant=tenant),
                off.check(user, permission, tenant=tenant),
            )
        runs: dict[str, list[float]] = {"off": [], "on": []}
        for repeat in range(repeats):
            order = (("off", off), ("on", on)) if repeat % 2 else (("on", on), ("off", off))
            for name, rg in order:
                runs[name].append(per_op({name: rg.check}, calls, repeats=1)[name].median)
    ratios = tuple(a / b for a, b in zip(runs["on"], runs["off"], strict=True))
    return TrailEffect(len(calls), denied, Spread.of(runs["off"]), Spread.of(runs["on"]), ratios)
