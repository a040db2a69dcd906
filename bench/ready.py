"""Ready time: from process start to the first answered check, in a fresh interpreter.

The probe runs as a child process that imports rolegate, opens the database with default
settings and answers one check, as an application's first request would. The parent reads the
system-wide monotonic clock before starting it and the child reads it after answering, so
interpreter start-up is included.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.verify import expect
from bench.workload import Query

_PROBE = """
import gc, json, sys, time
started = time.monotonic_ns()
from rolegate import Rolegate
imported = time.monotonic_ns()
rg = Rolegate(sys.argv[1])
opened = time.monotonic_ns()
allowed = rg.check(sys.argv[2], sys.argv[3], tenant=sys.argv[4])
answered = time.monotonic_ns()
gc.collect()  # the first collection also frees start-up garbage: time the next ones
pauses = []
for _ in range(5):
    before = time.perf_counter_ns()
    gc.collect()
    pauses.append(time.perf_counter_ns() - before)
rg.close()
print(json.dumps({"started": started, "imported": imported, "opened": opened,
                  "answered": answered, "allowed": allowed, "gc": sorted(pauses)[2],
                  "objects": len(gc.get_objects())}))
"""


@dataclass(frozen=True, slots=True)
class Ready:
    """Median milliseconds over the probe runs: the total and where it went."""

    runs: int
    total_ms: float  # parent's clock before spawning -> child's clock after the answer
    interpreter_ms: float  # spawn -> the probe's first line (Python start-up, site, venv)
    import_ms: float  # import rolegate
    open_ms: float  # Rolegate(url): engine, schema check
    first_check_ms: float  # compile the tenant's policy and the user's snapshot
    gc_ms: float  # a full gc.collect() in that just-started process (median of 5)
    gc_objects: int  # objects the collector tracks there


class ProbeFailed(Exception):
    """The probe process exited with an error."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"ready probe exited with {returncode}:\n{stderr.strip()}")
        self.returncode = returncode


def ready_time(url: str, query: Query, *, runs: int) -> Ready:
    """Start the probe ``runs`` times against ``url``; its answer must match the reference."""
    samples = []
    for _ in range(runs):
        launched = time.monotonic_ns()
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, url, query.user, query.permission, query.tenant],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ProbeFailed(done.returncode, done.stderr)
        reading = json.loads(done.stdout)
        expect(f"ready probe {query}", reading["allowed"], query.allowed)
        samples.append((launched, reading))

    def median_ms(start: str | None, end: str) -> float:
        spans = [r[end] - (spawned if start is None else r[start]) for spawned, r in samples]
        return float(statistics.median(spans)) / 1e6

    return Ready(
        runs,
        median_ms(None, "answered"),
        median_ms(None, "started"),
        median_ms("started", "imported"),
        median_ms("imported", "opened"),
        median_ms("opened", "answered"),
        statistics.median(r["gc"] for _, r in samples) / 1e6,
        int(statistics.median(r["objects"] for _, r in samples)),
    )
