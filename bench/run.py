"""The entry point: ``python -m bench`` measures authorization at each size, then authentication,
then (when asked) the password policy's cost, the decision trail's cost to the check and (as
``make bench`` does) the HTTP check API.

``--sections`` picks among them; authorization and authentication run by default, ``--sections
passwords`` (:mod:`bench.passwords`: ``PasswordPolicy.check`` per class of input, the blocklist's
load, zxcvbn alongside) and ``--sections audit`` (:mod:`bench.audit`: warm checks with decision
records on and off) and ``--sections cache`` (:mod:`bench.cache`: the snapshot cache's hit
ratio and hit cost per eviction policy, FIFO and cachetools' LRU alongside) run when asked
(``make bench`` adds the first and the third), and ``--sections http`` (:mod:`bench.http`:
uvicorn servers driven by wrk) is added by ``make bench``.

Per size, in this order (each step's place matters):

1. generate the workload and bulk-load it into a fresh SQLite file and, when
   ``ROLEGATE_BENCH_POSTGRES_URL`` is set, into that PostgreSQL database (schema wiped);
2. SQLite, one ``Rolegate`` with the watcher off: tenant policies, first-ever cold checks,
   filling the cache (memory, GC pauses), the hot path, the watcher's effect, ``who_can``,
   cold checks after a change (late, since they change the policy), ready time (children);
3. PostgreSQL: first-ever cold checks, ``who_can``, cold checks after a change, ready time;
4. pycasbin, last, so its objects are not resident while rolegate's GC pauses are timed.

Then authentication (:mod:`bench.auth`), once: access tokens per algorithm, then logins and
refreshes on SQLite and on PostgreSQL (wiped again) when it is configured. Then the password
policy (no database), the decision trail, on SQLite and on PostgreSQL (wiped again), and HTTP:
each its own table and its own files next to the others (``passwords.json`` and
``passwords.md``, ``audit.json`` and ``audit.md``, ``http.json`` and ``http.md``).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import text

from bench import casbin_peer
from bench.audit import COLUMNS as AUDIT_COLUMNS
from bench.audit import AuditRun, AuditSpec, measure_audit
from bench.audit import rows as audit_rows
from bench.auth import AuthRun, AuthSpec, measure_auth
from bench.backend import cold_after_change, cold_first, warm_policies, who_can
from bench.cache import COLUMNS as CACHE_COLUMNS
from bench.cache import CacheRun, CacheSpec, measure_cache
from bench.cache import peer_version as cachetools_version
from bench.cache import rows as cache_rows
from bench.hot import (
    HotPath,
    Residency,
    TrailEffect,
    WatcherEffect,
    fill_cache,
    measure_hot,
    settled_bytes_per_entry,
    trail_effect,
    watcher_effect,
)
from bench.http import COLUMNS as HTTP_COLUMNS
from bench.http import HttpSpec, measure_http
from bench.http import rows as http_rows
from bench.loader import LoadReport, load
from bench.measure import Spread, per_op
from bench.passwords import COLUMNS as PASSWORD_COLUMNS
from bench.passwords import PasswordRun, PasswordSpec, measure_passwords, peer_version
from bench.passwords import rows as password_rows
from bench.ready import ready_time
from bench.report import Report, Section
from bench.results import BackendRun, CasbinRun, SizeRun
from bench.verify import same_answers
from bench.workload import DEFAULT_SEED, Workload, WorkloadSpec, generate
from rolegate import Rolegate, Settings
from rolegate.db.engine import Database

POSTGRES_ENV = "ROLEGATE_BENCH_POSTGRES_URL"
RESULTS = Path(__file__).with_name("results")
SECTIONS = ("authz", "auth", "passwords", "audit", "cache", "http")
DEFAULT_SECTIONS = ("authz", "auth")
AUTH_DEFAULTS = AuthSpec()
CACHE_DEFAULTS = CacheSpec()
AUDIT_DEFAULTS = AuditSpec()
PASSWORD_DEFAULTS = PasswordSpec()
HTTP_DEFAULTS = HttpSpec()
#: What the authentication figures depend on besides rolegate, reported with the machine.
AUTH_LIBRARIES = ("pyjwt", "cryptography", "argon2-cffi", "ua-parser")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; the defaults are the issue's figures and ``make bench``'s run."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_argument_group("workload")
    size.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000])
    size.add_argument("--tenants", type=int, default=20)
    size.add_argument(
        "--queries", type=int, default=20_000, help="pre-generated checks, 50%% allowed"
    )
    size.add_argument("--spare", type=int, default=200, help="members timed for cold checks")
    size.add_argument("--seed", type=int, default=DEFAULT_SEED)
    timing = parser.add_argument_group("timing")
    timing.add_argument("--repeats", type=int, default=7, help="passes over the queries per figure")
    timing.add_argument("--passes", type=int, default=5, help="passes for per-call percentiles")
    timing.add_argument("--batch", type=int, default=2_000, help="check_many/explain/watcher calls")
    timing.add_argument("--ready-runs", type=int, default=3)
    timing.add_argument("--casbin-repeats", type=int, default=3)
    auth = parser.add_argument_group("authentication")
    auth.add_argument(
        "--auth-tokens",
        type=int,
        default=AUTH_DEFAULTS.tokens,
        help="tokens per algorithm and round",
    )
    auth.add_argument(
        "--auth-cached",
        type=int,
        default=AUTH_DEFAULTS.cached_calls,
        help="cached verifies per round",
    )
    auth.add_argument("--auth-rounds", type=int, default=AUTH_DEFAULTS.rounds)
    auth.add_argument(
        "--logins", type=int, default=AUTH_DEFAULTS.logins, help="timed logins per database"
    )
    auth.add_argument(
        "--refresh-rounds",
        type=int,
        default=AUTH_DEFAULTS.refresh_rounds,
        help="refreshes per session",
    )
    passwords = parser.add_argument_group("password policy")
    passwords.add_argument(
        "--password-passes",
        type=int,
        default=PASSWORD_DEFAULTS.passes,
        help="timed passes over every class of input",
    )
    passwords.add_argument(
        "--password-peer-passes",
        type=int,
        default=PASSWORD_DEFAULTS.peer_passes,
        help="the same for zxcvbn (milliseconds per call)",
    )
    passwords.add_argument(
        "--password-load-runs",
        type=int,
        default=PASSWORD_DEFAULTS.load_runs,
        help="fresh interpreters timing each list's load",
    )
    cache = parser.add_argument_group("snapshot cache")
    cache.add_argument(
        "--cache-users",
        type=int,
        default=CACHE_DEFAULTS.users,
        help="members of the cache's tenant (the cache holds a tenth of them)",
    )
    cache.add_argument(
        "--cache-checks", type=int, default=CACHE_DEFAULTS.checks, help="checks in the trace"
    )
    cache.add_argument(
        "--cache-hits", type=int, default=CACHE_DEFAULTS.hits, help="lookups per timed round"
    )
    cache.add_argument("--cache-rounds", type=int, default=CACHE_DEFAULTS.rounds)
    audit = parser.add_argument_group("decision trail")
    audit.add_argument(
        "--audit-checks",
        type=int,
        default=AUDIT_DEFAULTS.checks,
        help="checks per round with the trail off, and allowed ones with it on",
    )
    audit.add_argument(
        "--audit-denied",
        type=int,
        default=AUDIT_DEFAULTS.denied,
        help="denied checks per round with the trail on (under 10,000)",
    )
    audit.add_argument("--audit-rounds", type=int, default=AUDIT_DEFAULTS.rounds)
    audit.add_argument(
        "--audit-flood-seconds",
        type=float,
        default=AUDIT_DEFAULTS.flood_seconds,
        help="how long denials flood the trail",
    )
    audit.add_argument(
        "--audit-flood-buffer",
        type=int,
        default=AUDIT_DEFAULTS.flood_buffer,
        help="audit_buffer_size during the flood",
    )
    http = parser.add_argument_group("HTTP (needs wrk)")
    http.add_argument("--http-users", type=int, default=HTTP_DEFAULTS.users)
    http.add_argument(
        "--http-seconds", type=float, default=HTTP_DEFAULTS.seconds, help="each timed wrk run"
    )
    http.add_argument("--http-connections", type=int, default=HTTP_DEFAULTS.connections)
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(DEFAULT_SECTIONS),
        help="authz: every size's authorization figures; auth: tokens, logins, refreshes; "
        "passwords: PasswordPolicy.check per class of input and the blocklist's load; "
        "audit: warm checks with decision records on and off; http: the check API under uvicorn "
        "and wrk",
    )
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_ENV) or None)
    parser.add_argument("--no-casbin", action="store_true", help="skip the pycasbin comparison")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every size, print the table, write JSON and Markdown; 0 unless something failed."""
    args = parse_args(argv)
    notes = _notes(args)
    load_before, commit = _load_average(), _commit()  # as the run starts, when rolegate loaded
    runs = []
    for users in args.users if "authz" in args.sections else []:
        spec = WorkloadSpec(
            tenants=args.tenants,
            users=users,
            queries=args.queries,
            spare_users=args.spare,
            seed=args.seed,
        )
        _say(f"{users:,} users: generating, loading and measuring")
        runs.append(run_size(spec, args))
    auth = run_auth(args) if "auth" in args.sections else None
    machine = _machine(args.postgres_url, auth=auth is not None)
    machine["rolegate"] += f" ({commit})"
    if runs or auth:
        machine["load average (1 min), start / end"] = f"{load_before} / {_load_average()}"
        report = Report(machine, tuple(runs), tuple(notes), auth)
        report.print()
        report.write_json(args.output)
        args.output.with_suffix(".md").write_text(report.markdown())
        _say(f"wrote {args.output} and {args.output.with_suffix('.md')}")
    if "passwords" in args.sections:
        run_passwords(args, machine)
    if "audit" in args.sections:
        run_audit(args, machine)
    if "cache" in args.sections:
        run_cache(args, machine)
    if "http" in args.sections:
        run_http(args, machine)
    return 0


def run_audit(args: argparse.Namespace, machine: dict[str, str]) -> AuditRun:
    """The decision-trail section (see :mod:`bench.audit`): its table, then ``audit.json`` and
    ``audit.md`` beside ``--output``."""
    _say("decision trail: warm checks with decision records on and off, then a flood")
    gc.collect()
    load_before = _load_average()
    spec = AuditSpec(
        checks=args.audit_checks,
        denied=args.audit_denied,
        rounds=args.audit_rounds,
        flood_seconds=args.audit_flood_seconds,
        flood_buffer=args.audit_flood_buffer,
    )
    run = measure_audit(spec, postgres_url=args.postgres_url, say=_say)
    machine = {**machine, "load average (1 min), start / end": f"{load_before} / {_load_average()}"}
    title = (
        f"rolegate decision trail: warm checks, median of {spec.rounds} rounds "
        f"({spec.checks:,} checks, {spec.denied:,} with denials buffered); flood of "
        f"{spec.flood_seconds:g} s, buffer {spec.flood_buffer:,}"
    )
    section = Section(title, AUDIT_COLUMNS, audit_rows(run))
    console = _show(machine, section)
    if not args.postgres_url:
        console.print(f"note: PostgreSQL column skipped: {POSTGRES_ENV} is not set")
    _write_section(args.output.with_name("audit.json"), machine, "audit", run.to_json(), section)
    return run


def run_passwords(args: argparse.Namespace, machine: dict[str, str]) -> PasswordRun:
    """The password-policy section (see :mod:`bench.passwords`): its table, then
    ``passwords.json`` and ``passwords.md`` beside ``--output``."""
    _say("password policy: PasswordPolicy.check per class of input, the blocklist's load")
    gc.collect()
    load_before = _load_average()
    spec = PasswordSpec(
        passes=args.password_passes,
        peer_passes=args.password_peer_passes,
        load_runs=args.password_load_runs,
    )
    run = measure_passwords(spec, say=_say)
    machine = {
        **machine,
        "zxcvbn": peer_version() or "not installed",
        "load average (1 min), start / end": f"{load_before} / {_load_average()}",
    }
    title = (
        f"rolegate password policy: {run.policy}, {run.blocklist_words:,} listed passwords; "
        f"single calls, {spec.passes:,} passes (zxcvbn {spec.peer_passes:,}, a reference, "
        "not a target)"
    )
    section = Section(title, PASSWORD_COLUMNS, password_rows(run))
    console = _show(machine, section)
    if run.peer is None:
        console.print("note: zxcvbn column skipped: not installed (the bench extra has it)")
    missed = [row.label for row in section.rows if False in row.verdicts]
    console.print("password targets missed: " + ("; ".join(missed) or "none"))
    _write_section(
        args.output.with_name("passwords.json"), machine, "passwords", run.to_json(), section
    )
    return run


def run_cache(args: argparse.Namespace, machine: dict[str, str]) -> CacheRun:
    """The snapshot cache's eviction (see :mod:`bench.cache`): its table, then ``cache.json``
    and ``cache.md`` beside ``--output``."""
    _say("snapshot cache: hit ratio and hit cost per eviction policy")
    gc.collect()
    load_before = _load_average()
    spec = CacheSpec(
        users=args.cache_users,
        checks=args.cache_checks,
        hits=args.cache_hits,
        rounds=args.cache_rounds,
        seed=args.seed,
    )
    run = measure_cache(spec, say=_say)
    machine = {
        **machine,
        "cachetools": cachetools_version() or "not installed",
        "load average (1 min), start / end": f"{load_before} / {_load_average()}",
    }
    title = (
        f"rolegate snapshot cache: {run.distinct:,} of {run.members:,} members checked, "
        f"room for {run.capacity:,}; hits timed over {run.spec.rounds} rounds"
    )
    section = Section(title, CACHE_COLUMNS, cache_rows(run))
    _show(machine, section)
    _write_section(args.output.with_name("cache.json"), machine, "cache", run.to_json(), section)
    return run


def run_http(args: argparse.Namespace, machine: dict[str, str]) -> None:
    """The HTTP section (see :mod:`bench.http`): its table, then ``http.json`` and ``http.md``
    beside ``--output``; a note and nothing else when wrk is not installed."""
    _say("HTTP: the check API under uvicorn, driven by wrk")
    gc.collect()
    load_before = _load_average()
    spec = HttpSpec(
        users=args.http_users, seconds=args.http_seconds, connections=args.http_connections
    )
    run = measure_http(spec, say=_say)
    if run is None:
        return
    machine = {
        **machine,
        "wrk": run.wrk,
        "load average (1 min), start / end": f"{load_before} / {_load_average()}",
    }
    title = (
        f"rolegate HTTP check API (SQLite, {spec.users:,} members, wrk -t1 "
        f"-c{spec.connections}, {spec.seconds:g} s per run, {run.routes} routes)"
    )
    section = Section(title, HTTP_COLUMNS, http_rows(run))
    console = _show(machine, section)
    missed = [row.label for row in section.rows if False in row.verdicts]
    console.print("HTTP targets missed: " + ("; ".join(missed) or "none"))
    _write_section(args.output.with_name("http.json"), machine, "http", run.to_json(), section)


def _show(machine: dict[str, str], section: Section) -> Console:
    """Print what a section was measured on and its table; the console, for its notes."""
    console = Console(width=160)
    console.print(", ".join(f"{k}: {v}" for k, v in machine.items()))
    console.print(section.table())
    return console


def _write_section(
    output: Path, machine: dict[str, str], name: str, figures: dict[str, Any], section: Section
) -> None:
    """A section of its own: every raw figure and its table in ``output`` (JSON), the table
    as Markdown beside it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"label": r.label, "cells": r.cells, "target": r.target, "verdict": r.verdict}
        for r in section.rows
    ]
    table = {"title": section.title, "headings": section.headings, "rows": rows}
    document = {"machine": machine, name: figures, "table": table}
    output.write_text(json.dumps(document, indent=2) + "\n")
    output.with_suffix(".md").write_text(section.markdown())
    _say(f"wrote {output} and {output.with_suffix('.md')}")


def run_size(spec: WorkloadSpec, args: argparse.Namespace) -> SizeRun:
    """Every measurement at one size (see the module docstring for the order)."""
    started = time.perf_counter()
    workload = generate(spec)
    # Room for every member and then some: no eviction may turn a warm check into a compile.
    # The decision trail off: peers record nothing, and half the queries are denials. What
    # recording them costs is the "audit" section's measurement.
    settings = Settings(
        watch_changes=False,
        authz_cache_size=max(100_000, 2 * spec.users),
        audit_decisions=False,
    )
    with tempfile.TemporaryDirectory(prefix="rolegate-bench-") as scratch:
        sqlite_url = f"sqlite:///{scratch}/bench.db"
        sqlite_load = load(workload, sqlite_url)
        _say(f"  loaded {sqlite_load.rows:,} rows in {sqlite_load.seconds:.1f} s (SQLite)")
        postgres_load = load(workload, args.postgres_url) if args.postgres_url else None
        residency, settled, hot, watcher, trail, sqlite = _on_sqlite(
            workload, sqlite_url, settings, sqlite_load, args
        )
    postgresql = None
    if args.postgres_url and postgres_load:
        _say("  PostgreSQL: cold checks, who_can, ready time")
        with Rolegate(args.postgres_url, settings=settings) as rg:
            warm_policies(rg, workload)
            first = cold_first(rg, workload)
            postgresql = _database_bound(
                rg, "PostgreSQL", postgres_load, workload, args.postgres_url, args, first
            )
    casbin = None if args.no_casbin or not casbin_peer.available() else _casbin(workload, args)
    return SizeRun(
        spec.users,
        spec.tenants,
        len(workload.queries),
        hot,
        residency,
        settled,
        watcher,
        trail,
        sqlite,
        postgresql,
        casbin,
        time.perf_counter() - started,
    )


def run_auth(args: argparse.Namespace) -> AuthRun:
    """The authentication section (see :mod:`bench.auth`)."""
    _say("authentication: access tokens, logins, refreshes")
    gc.collect()  # the authorization sizes' objects are gone: start from a clean heap
    spec = AuthSpec(
        tokens=args.auth_tokens,
        cached_calls=args.auth_cached,
        rounds=args.auth_rounds,
        logins=args.logins,
        refresh_rounds=args.refresh_rounds,
    )
    return measure_auth(spec, postgres_url=args.postgres_url, say=_say)


def _on_sqlite(
    workload: Workload,
    url: str,
    settings: Settings,
    loaded: LoadReport,
    args: argparse.Namespace,
) -> tuple[Residency, float, HotPath, WatcherEffect, TrailEffect, BackendRun]:
    """Everything measured in-process on SQLite: cold first, then warm, then database-bound."""
    with Rolegate(url, settings=settings) as rg:
        warm_policies(rg, workload)
        first = cold_first(rg, workload)  # before filling the cache: these are first checks
        _say("  filling the cache with every member")
        residency = fill_cache(rg, workload, repeats=args.repeats)
        _say("  timing warm checks")
        hot = measure_hot(rg, workload, repeats=args.repeats, passes=args.passes, batch=args.batch)
        settled = settled_bytes_per_entry(rg, residency)
        watcher = watcher_effect(
            lambda watch: Rolegate(
                url, settings=settings.model_copy(update={"watch_changes": watch})
            ),
            [(q.user, q.permission, q.tenant) for q in workload.queries[: args.batch]],
            repeats=args.repeats,
        )
        _say("  timing warm checks with the decision trail on and off")
        trail = trail_effect(
            lambda on: Rolegate(url, settings=settings.model_copy(update={"audit_decisions": on})),
            [(q.user, q.permission, q.tenant) for q in workload.queries],
            denied=sum(not q.allowed for q in workload.queries),
            repeats=args.repeats,
        )
        _say("  SQLite: who_can, cold checks after a change, ready time")
        sqlite = _database_bound(rg, "SQLite", loaded, workload, url, args, first)
        return residency, settled, hot, watcher, trail, sqlite


def _database_bound(
    rg: Rolegate,
    name: str,
    loaded: LoadReport,
    workload: Workload,
    url: str,
    args: argparse.Namespace,
    first: Spread,
) -> BackendRun:
    """who_can, then cold checks after a change (they alter the policy), then ready time."""
    listing = who_can(rg, workload, repeats=args.repeats)
    after_change = cold_after_change(rg, workload)
    ready = ready_time(url, workload.queries[0], runs=args.ready_runs)
    return BackendRun(name, loaded.seconds, first, after_change, listing, ready)


def _casbin(workload: Workload, args: argparse.Namespace) -> CasbinRun:
    """Build and warm pycasbin, check every answer, then time it on the same queries."""
    _say("  pycasbin: building, checking answers, timing")
    gc.collect()  # rolegate's objects are gone: start casbin from a clean heap
    peer = casbin_peer.CasbinPeer.build(workload)
    same_answers("pycasbin", peer.check, workload.queries)
    calls = [(q.user, q.permission, q.tenant) for q in workload.queries]
    timing = per_op({"casbin": peer.check}, calls, repeats=args.casbin_repeats)["casbin"]
    return CasbinRun(casbin_peer.version(), peer.rules, peer.build_seconds, timing)


def _machine(postgres_url: str | None, *, auth: bool) -> dict[str, str]:
    """What the figures were measured on."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if "model name" in line),
        platform.processor() or "unknown",
    )
    machine = {
        "cores (nproc)": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "rolegate": version("rolegate"),
        "sqlalchemy": version("sqlalchemy"),
        "sqlite": sqlite3.sqlite_version,
    }
    if postgres_url:
        db = Database(postgres_url)
        try:
            with db.engine.connect() as connection:
                machine["postgresql"] = str(connection.scalar(text("show server_version")))
        finally:
            db.dispose()
    if casbin_peer.available():
        machine["pycasbin"] = casbin_peer.version()
    if auth:
        machine.update({name: version(name) for name in AUTH_LIBRARIES})
    return machine


def _notes(args: argparse.Namespace) -> list[str]:
    notes = []
    if "authz" in args.sections:
        notes.append(
            "hot-path figures use Settings(watch_changes=False, audit_decisions=False); the "
            "'watcher on / off' row "
            "shows what the watcher thread changes"
        )
    if "auth" in args.sections:
        notes.append("authentication figures use Settings(watch_changes=False) too")
    if not args.postgres_url:
        notes.append(f"PostgreSQL rows skipped: {POSTGRES_ENV} is not set")
        _say(notes[-1])
    if "authz" in args.sections and (args.no_casbin or not casbin_peer.available()):
        notes.append(
            "pycasbin rows skipped: " + ("--no-casbin" if args.no_casbin else "not installed")
        )
        _say(notes[-1])
    return notes


def _commit() -> str:
    """The commit of the rolegate being measured, marked when its tree has uncommitted changes:
    a figure is only comparable with figures of the same code."""
    root = Path(inspect.getfile(Rolegate)).resolve().parent

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "not in a git checkout"
    return commit + (" + uncommitted changes" if git("status", "--porcelain", ".") else "")


def _load_average() -> str:
    """The 1-minute load average: above the core count, other work shared the machine."""
    return f"{os.getloadavg()[0]:.2f}"


def _lines(path: str) -> list[str]:
    try:
        with open(path) as found:
            return found.readlines()
    except OSError:
        return []


def _say(message: str) -> None:
    """Progress on stderr, so stdout holds the table alone."""
    print(message, file=sys.stderr, flush=True)
