"""The snapshot cache's eviction: how often a check finds its snapshot when the cache holds fewer
users than are checked, and what a hit costs, for rolegate's policy and the two it was weighed
against.

The policy is the benchmark's generated one (bulk-loaded into a fresh SQLite file), its members
checked in a trace whose users follow a Zipf law (a few users make most of the requests, as in a
real product; seeded, so every run checks the same trace). The cache holds ``capacity``
snapshots, a tenth of the members by default. Three eviction policies see the same trace:

- *rolegate*: the real ``Rolegate`` with ``authz_cache_size=capacity`` (CLOCK: a hit sets a
  flag; eviction spares what was read since its sweep last passed); misses counted as compiles;
- *FIFO*: the oldest compiled evicted first (what rolegate did before), simulated on the keys;
- *exact LRU*: ``cachetools.LRUCache`` (a maintained LRU), simulated on the keys.

Then the hit itself, on a cache holding the whole trace, in one process and the same rounds: the
lookup each policy needs on the hot path (a dict read plus a flag store for CLOCK, a dict read
for FIFO, ``LRUCache.__getitem__`` under a lock for the exact LRU, which must reorder on every
read and so cannot be read without one), each followed by the same membership test, and
rolegate's whole warm ``check`` for scale.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from time import perf_counter_ns
from typing import Any, Final

from bench.loader import load
from bench.measure import Spread
from bench.targets import Row
from bench.workload import DEFAULT_SEED, WorkloadSpec, generate
from rolegate import Rolegate, Settings
from rolegate.authz.snapshot import Snapshot

Key = tuple[Hashable, Hashable]
COLUMNS: Final = ("rolegate (CLOCK)", "FIFO (before)", "exact LRU (cachetools)")


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """How much the cache section does; the defaults are the run in docs/benchmarks.md."""

    users: int = 5_000
    capacity_share: float = 0.10  # of the members: the cache's room
    checks: int = 100_000  # in the trace
    zipf: float = 1.0  # the exponent: 1.0 is the classic web-request skew
    hits: int = 200_000  # lookups per round when timing a hit
    rounds: int = 7
    seed: int = DEFAULT_SEED


@dataclass(frozen=True, slots=True)
class CacheRun:
    """Everything the cache section measured."""

    spec: CacheSpec
    members: int
    capacity: int
    distinct: int  # users the trace checks at least once
    hit_ratio: dict[str, float]  # by policy
    hit_ns: dict[str, Spread]  # by lookup, one sample per round
    check_ns: Spread  # rolegate's whole warm check
    trace_seconds: float  # rolegate through the trace, compiles included
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """Every figure as measured."""
        return asdict(self)


def measure_cache(spec: CacheSpec, *, say: Callable[[str], None]) -> CacheRun:
    """The trace through the three policies, then the hits, on a SQLite file of its own."""
    started = time.perf_counter()
    workload = generate(
        WorkloadSpec(tenants=1, users=spec.users, queries=2, spare_users=0, seed=spec.seed)
    )
    members = workload.members()
    capacity = max(1, int(len(members) * spec.capacity_share))
    trace = _zipf_trace(members, spec)
    with tempfile.TemporaryDirectory(prefix="rolegate-bench-cache-") as scratch:
        url = f"sqlite:///{scratch}/cache.db"
        say(f"  snapshot cache: loading {len(members):,} members")
        load(workload, url)
        say(f"  snapshot cache: {len(trace):,} checks, room for {capacity:,}")
        ratios = {
            "rolegate": 0.0,
            "fifo": _simulated_hits(trace, _Fifo(capacity)),
            "lru": _simulated_hits(trace, _CachetoolsLru(capacity)),
        }
        settings = Settings(watch_changes=False, audit_decisions=False)
        limited = settings.model_copy(update={"authz_cache_size": capacity})
        with Rolegate(url, settings=limited) as rg:
            traced = time.perf_counter()
            for user, tenant in trace:
                rg.check(user, "documents:read", tenant=tenant)
            trace_seconds = time.perf_counter() - traced
            ratios["rolegate"] = 1 - rg.cache_stats().compiles / len(trace)
        say("  snapshot cache: the cost of a hit")
        with Rolegate(url, settings=settings) as rg:
            hit_ns, check_ns = _hits(rg, trace, spec)
    return CacheRun(
        spec,
        len(members),
        capacity,
        len(set(trace)),
        ratios,
        hit_ns,
        check_ns,
        trace_seconds,
        time.perf_counter() - started,
    )


def _zipf_trace(members: Sequence[tuple[str, str]], spec: CacheSpec) -> list[tuple[str, str]]:
    """``spec.checks`` members drawn with weight 1 / rank ** zipf, ranks shuffled by the seed."""
    rng = random.Random(spec.seed)
    ranked = list(members)
    rng.shuffle(ranked)
    weights = [1 / (rank**spec.zipf) for rank in range(1, len(ranked) + 1)]
    return rng.choices(ranked, weights=weights, k=spec.checks)


class _Fifo:
    """The oldest inserted key evicted first (rolegate's eviction before CLOCK)."""

    def __init__(self, capacity: int) -> None:
        self._capacity, self._keys = capacity, OrderedDict[Any, None]()

    def hit(self, key: Any) -> bool:
        if key in self._keys:
            return True
        if len(self._keys) >= self._capacity:
            self._keys.popitem(last=False)
        self._keys[key] = None
        return False


class _CachetoolsLru:
    """An exact LRU: ``cachetools.LRUCache``, the maintained package."""

    def __init__(self, capacity: int) -> None:
        from cachetools import LRUCache

        self._cache: Any = LRUCache(maxsize=capacity)

    def hit(self, key: Any) -> bool:
        if key in self._cache:
            self._cache[key]  # a read: moves the key to the most recent end
            return True
        self._cache[key] = None
        return False


def _simulated_hits(trace: Sequence[Any], policy: _Fifo | _CachetoolsLru) -> float:
    return sum(policy.hit(key) for key in trace) / len(trace)


def _hits(
    rg: Rolegate, trace: Sequence[tuple[str, str]], spec: CacheSpec
) -> tuple[dict[str, Spread], Spread]:
    """ns per hit of each policy's lookup, and of rolegate's warm check, in rotating rounds."""
    from cachetools import LRUCache

    keys = [(tenant, user) for user, tenant in trace[: spec.hits]]
    for tenant, user in set(keys):
        rg.check(user, "documents:read", tenant=tenant)  # every snapshot compiled
    compiled: dict[Key, Snapshot] = dict(rg._authz.snapshots)  # noqa: SLF001 - the real snapshots
    clock_entries: dict[Key, Snapshot] = dict(compiled)
    fifo_entries: dict[Key, Snapshot] = dict(compiled)
    lru: Any = LRUCache(maxsize=len(compiled))
    lru.update(compiled)
    lock = threading.Lock()
    permission = "documents:read"

    def clock() -> None:
        for key in keys:
            snapshot = clock_entries[key]
            snapshot.recency.used = True
            permission in snapshot.exact  # noqa: B015 - the membership test each policy pays

    def fifo() -> None:
        for key in keys:
            snapshot = fifo_entries[key]
            permission in snapshot.exact  # noqa: B015

    def exact_lru() -> None:
        for key in keys:
            with lock:
                snapshot = lru[key]
            permission in snapshot.exact  # noqa: B015

    calls = [(user, tenant) for tenant, user in keys]

    def whole_check() -> None:
        check = rg.check
        for user, tenant in calls:
            check(user, permission, tenant=tenant)

    steps: dict[str, Callable[[], None]] = {
        "rolegate": clock,
        "fifo": fifo,
        "lru": exact_lru,
        "check": whole_check,
    }
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for round_ in range(spec.rounds + 1):  # the first round warms up, untimed
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            began = perf_counter_ns()
            steps[name]()
            if round_:
                samples[name].append((perf_counter_ns() - began) / len(keys))
    spreads = {name: Spread.of(found) for name, found in samples.items()}
    check = spreads.pop("check")
    return spreads, check


def rows(run: CacheRun) -> list[Row]:
    """Hit ratio per policy, then ns per hit per policy, then the whole check for scale."""
    policies = ("rolegate", "fifo", "lru")
    ratio_cells = tuple(f"{run.hit_ratio[p]:.1%}" for p in policies)
    hit_cells = tuple(
        f"{run.hit_ns[p].median:,.0f} ns ({_vs(run.hit_ns[p], run.hit_ns['fifo'])})"
        for p in policies
    )
    return [
        Row(
            f"hit ratio: {run.spec.checks:,} checks (Zipf {run.spec.zipf}) over "
            f"{run.members:,} members, room for {run.capacity:,}",
            ratio_cells,
        ),
        Row("lookup per hit, median of rounds (vs FIFO's)", hit_cells),
        Row(
            "rolegate's whole warm check, median of rounds",
            (f"{run.check_ns.median:,.0f} ns", "", ""),
        ),
        Row(
            "rolegate through the trace, compiles included",
            (f"{run.trace_seconds:,.2f} s", "", ""),
        ),
    ]


def _vs(spread: Spread, base: Spread) -> str:
    return f"{spread.median / base.median:.2f}×"


def peer_version() -> str | None:
    """cachetools' version, or None when it is not installed."""
    try:
        return version("cachetools")
    except PackageNotFoundError:
        return None
