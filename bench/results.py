"""What a run measured, size by size: plain frozen records, written to JSON as they are."""

from __future__ import annotations

from dataclasses import dataclass

from bench.backend import Listing
from bench.hot import HotPath, Residency, TrailEffect, WatcherEffect
from bench.measure import Spread
from bench.ready import Ready


@dataclass(frozen=True, slots=True)
class BackendRun:
    """What was measured against one database."""

    name: str  # "SQLite" or "PostgreSQL"
    load_seconds: float
    cold_first: Spread  # ns
    cold_after_change: Spread  # ns
    listing: Listing
    ready: Ready


@dataclass(frozen=True, slots=True)
class CasbinRun:
    """pycasbin on the same policy and queries."""

    version: str
    rules: int
    build_seconds: float
    per_op: Spread  # ns per call, per pass


@dataclass(frozen=True, slots=True)
class SizeRun:
    """Everything measured at one number of users."""

    users: int
    tenants: int
    queries: int
    hot: HotPath
    residency: Residency
    settled_bytes_per_entry: float  # memory per snapshot after the timed checks
    watcher: WatcherEffect
    trail: TrailEffect  # warm checks with the decision trail on (the default) and off
    sqlite: BackendRun
    postgresql: BackendRun | None
    casbin: CasbinRun | None
    seconds: float  # wall time for this size, loading included
