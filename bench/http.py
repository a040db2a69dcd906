"""HTTP: the check API served by uvicorn and driven by wrk over loopback, next to a bare FastAPI
endpoint served and driven the same way, in the same run.

The policy is the authorization workload's (:mod:`bench.workload`) at one tenant and
``users`` members, bulk-loaded into a SQLite file. A platform admin (holding ``rolegate:check``
everywhere) logs in once; its access token authorizes every request. Each server is
``uvicorn --factory`` in its own process group (1 and then 2 workers), with the same flags for
rolegate and for the bare app: no access log, no server header, uvloop and httptools. The
rolegate server is the factory ``rolegate serve`` runs (:data:`SERVED`), unchanged: its check
routes matched first, its collector tuned at start-up.

Before anything is timed, the answers served over HTTP are compared with the workload's
reference answers (single checks and batches). Then, per server: wrk warms it up (every member's
snapshot compiled, every connection open), then measures. wrk is one C thread with an event loop
(``-t1``): on a 2-core machine it leaves the server as much of the CPU as any load generator can.
Its request bodies rotate through pre-encoded checks (a Lua table), so no body is built while
timing. Figures: wrk's requests/s over the run, decisions/s (requests/s x checks per request),
and wrk's latency percentiles (``--latency``: the time from sending a request to its answer;
wrk keeps 64 requests in flight, so a percentile includes the wait behind the others).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from bench.loader import load
from bench.targets import Row
from bench.verify import expect
from bench.workload import Query, Workload, WorkloadSpec, generate
from rolegate import Rolegate, Settings

ROOT: Final = Path(__file__).resolve().parents[1]
TENANT_PATH: Final = "/v1/tenants/{tenant}"
#: The same uvicorn flags for every server measured.
UVICORN_FLAGS: Final = (
    "--no-access-log",
    "--no-server-header",
    "--no-proxy-headers",
    "--log-level",
    "warning",
)
#: The targets the issue sets, with the figures they apply to.
P99_TARGET_MS: Final = 5.0
BATCH_TARGET: Final = 200_000  # decisions/s
CHECKER: Final = "bench-checker"


@dataclass(frozen=True, slots=True)
class HttpSpec:
    """How much the HTTP section does; the defaults are ``make bench``'s."""

    users: int = 1_000
    seconds: float = 8.0  # each timed wrk run
    warmup: float = 3.0  # each server's untimed wrk run first
    connections: int = 64
    batch: int = 100  # checks per batch request
    workers: tuple[int, ...] = (1, 2)


@dataclass(frozen=True, slots=True)
class Load:
    """One timed wrk run against one server and route."""

    label: str
    workers: int
    checks_per_request: int  # 0: the bare endpoint decides nothing
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors: any makes the figure void

    @property
    def decisions_per_second(self) -> float:
        """Checks answered per second."""
        return self.requests_per_second * self.checks_per_request


@dataclass(frozen=True, slots=True)
class HttpRun:
    """Everything the HTTP section measured."""

    wrk: str  # wrk's version line
    spec: HttpSpec
    routes: int  # routes of the rolegate app: its router tries them in order, the check API first
    loads: tuple[Load, ...]
    seconds: float

    def load(self, label: str) -> Load | None:
        """The run labelled ``label``, if it ran."""
        return next((found for found in self.loads if found.label == label), None)

    def to_json(self) -> dict[str, Any]:
        """Every raw figure, decisions/s included."""
        found = asdict(self)
        for entry, measured in zip(found["loads"], self.loads, strict=True):
            entry["decisions_per_second"] = measured.decisions_per_second
        return found


def bare_app() -> FastAPI:
    """The yardstick: FastAPI answering one small JSON object to a GET, nothing else.
    ``uvicorn --factory bench.http:bare_app``."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"allowed": True}

    return app


def wrk_version() -> str | None:
    """wrk's version line, or None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr or "wrk").splitlines()[0]
    return first.split("Copyright")[0].strip() or "wrk"


#: What ``rolegate serve`` runs, in every rolegate server measured.
SERVED: Final = "rolegate.api.app:create_app_from_settings"


def measure_http(spec: HttpSpec, *, say: Callable[[str], None]) -> HttpRun | None:
    """Every HTTP figure; None (and says why) when wrk is not installed."""
    version = wrk_version()
    if version is None:
        say("HTTP section skipped: wrk is not installed (apt-get install wrk)")
        return None
    started = time.perf_counter()
    workload = generate(WorkloadSpec(tenants=1, users=spec.users, queries=4_000, spare_users=0))
    loads: list[Load] = []
    with tempfile.TemporaryDirectory(prefix="rolegate-bench-http-") as scratch:
        url = f"sqlite:///{scratch}/http.db"
        say(f"  loading {spec.users:,} members into SQLite")
        load(workload, url)
        token, routes = _service_account(url)
        subject = _Subject(Path(scratch), token, workload, spec, {"ROLEGATE_DATABASE_URL": url})
        say("  bare FastAPI GET, 1 worker")
        with _server("bench.http:bare_app", 1, {}) as base:
            _wrk(f"{base}/ping", None, spec, seconds=spec.warmup)
            loads.append(_timed("bare FastAPI GET, 1 worker", 1, 0, f"{base}/ping", None, spec))
        for workers in spec.workers:
            say(f"  rolegate check API, {workers} worker(s)")
            loads += subject.measure(SERVED, workers, f"{workers} worker{'s' * (workers > 1)}")
    return HttpRun(version, spec, routes, tuple(loads), time.perf_counter() - started)


class _Subject:
    """The check API's workload: a server to start, answers to compare, then two timed runs."""

    def __init__(
        self, folder: Path, token: str, workload: Workload, spec: HttpSpec, env: dict[str, str]
    ) -> None:
        self.token, self.workload, self.spec, self.env = token, workload, spec, env
        self.scripts = _Scripts(folder, token, workload, spec.batch)
        self.root = TENANT_PATH.format(tenant=workload.tenants[0].slug)

    def measure(self, app: str, workers: int, label: str) -> list[Load]:
        """Serve ``app`` with ``workers``; check its answers, warm it up, time check and batch."""
        spec, scripts = self.spec, self.scripts
        with _server(app, workers, self.env) as base:
            root = base + self.root
            _same_answers(root, self.token, self.workload.queries, spec.batch)
            _wrk(f"{root}/check", scripts.check, spec, seconds=spec.warmup)
            _wrk(f"{root}/check/batch", scripts.batch, spec, seconds=spec.warmup)
            single = _timed(f"check, {label}", workers, 1, f"{root}/check", scripts.check, spec)
            batch = _timed(
                f"batch of {spec.batch}, {label}",
                workers,
                spec.batch,
                f"{root}/check/batch",
                scripts.batch,
                spec,
            )
        return [single, batch]


def _service_account(url: str) -> tuple[str, int]:
    """The platform admin's access token (it holds ``rolegate:check`` in every tenant), and the
    number of routes of the rolegate app."""
    from rolegate.api import create_app  # the edge, only here: the rest of bench is a library user

    password = "bench checker's passphrase 42"
    # As long as the session idle timeout allows: the token must outlive a slow run.
    settings = Settings(watch_changes=False, access_token_ttl=timedelta(minutes=30))
    with Rolegate(url, settings=settings) as rg:
        rg.platform.bootstrap(username=CHECKER, password=password)
        # The bootstrap password is single-use: its first login sets the checker's own.
        token = rg.auth.login(
            CHECKER, password, tenant="platform", new_password=password + " and more"
        ).access_token
        routes = sum(1 for _ in iter_route_contexts(create_app(rg).routes))
    return token, routes


class _Scripts:
    """wrk Lua scripts posting pre-encoded bodies, in rotation, with the bearer token."""

    def __init__(self, folder: Path, token: str, workload: Workload, batch: int) -> None:
        queries = workload.queries
        singles = [_check(q) for q in queries[:1_000]]
        batches = [
            {"checks": [_check(q) for q in queries[start : start + batch]]}
            for start in range(0, len(queries) - batch + 1, batch)
        ]
        self.check = self._write(folder / "check.lua", token, singles)
        self.batch = self._write(folder / "batch.lua", token, batches)

    @staticmethod
    def _write(path: Path, token: str, bodies: Sequence[dict[str, Any]]) -> Path:
        encoded = ",\n".join(
            _lua_string(json.dumps(body, separators=(",", ":"))) for body in bodies
        )
        path.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            f"local bodies = {{\n{encoded}\n}}\n"
            "local i = 0\n"
            "request = function()\n"
            "  i = i % #bodies + 1\n"
            "  return wrk.format(nil, nil, nil, bodies[i])\n"
            "end\n"
        )
        return path


def _check(query: Query) -> dict[str, str]:
    return {"user": query.user, "permission": query.permission}


def _lua_string(text: str) -> str:
    """A Lua long string: JSON of user names and permissions holds no ``]]``."""
    assert "]]" not in text
    return f"[[{text}]]"


def _same_answers(root: str, token: str, queries: Sequence[Query], batch: int) -> None:
    """Single checks and one batch over HTTP give the workload's reference answers."""
    headers = {"Authorization": f"Bearer {token}"}
    sample = list(queries[:200])
    with httpx.Client(headers=headers, timeout=30) as client:
        got = [
            client.post(f"{root}/check", json=_check(q)).raise_for_status().json()["allowed"]
            for q in sample
        ]
        expect("HTTP check", got, [q.allowed for q in sample])
        answered = client.post(
            f"{root}/check/batch", json={"checks": [_check(q) for q in queries[:batch]]}
        ).raise_for_status()
        results = [r["allowed"] for r in answered.json()["results"]]
        expect("HTTP batch check", results, [q.allowed for q in queries[:batch]])


@contextmanager
def _server(app: str, workers: int, env: dict[str, str]) -> Iterator[str]:
    """``uvicorn --factory app`` on a free loopback port; its base URL while it runs."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", app, "--port", str(port)]
    command += ["--workers", str(workers), *UVICORN_FLAGS]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the workers stop with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, server, workers)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_serving(base: str, server: subprocess.Popen[bytes], workers: int) -> None:
    """Until the server answers (every worker: it waits a little past the first answer)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.communicate()[1].decode()[-2000:]}")
        try:
            httpx.get(f"{base}/healthz", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        time.sleep(1.0 if workers > 1 else 0.2)  # the other workers start alongside the first
        return
    raise RuntimeError("the server did not answer within 60 s")


def _timed(
    label: str, workers: int, checks: int, url: str, script: Path | None, spec: HttpSpec
) -> Load:
    output = _wrk(url, script, spec, seconds=spec.seconds)
    return _parse(output, label=label, workers=workers, checks=checks)


def _wrk(url: str, script: Path | None, spec: HttpSpec, *, seconds: float) -> str:
    command = ["wrk", "-t1", f"-c{spec.connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    return done.stdout


_UNITS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _parse(output: str, *, label: str, workers: int, checks: int) -> Load:
    """wrk's report, read: requests, requests/s, the 50% and 99% latency lines, errors."""

    def number(pattern: str) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"wrk's output has no {pattern!r}:\n{output}")
        return found.group(1)

    def latency(percent: int) -> float:
        value = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if value is None:
            raise RuntimeError(f"wrk's output has no {percent}% latency:\n{output}")
        return float(value.group(1)) * _UNITS[value.group(2)]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Load(
        label,
        workers,
        checks,
        int(number(r"(\d+) requests in")),
        float(number(r"^Requests/sec:\s+([\d.]+)")),
        latency(50),
        latency(99),
        errors,
    )


# -- the table ----------------------------------------------------------------------------------


def rows(run: HttpRun) -> list[Row]:
    """One row per wrk run: req/s, decisions/s, p50, p99, and the targets that apply."""
    bare = run.load("bare FastAPI GET, 1 worker")
    found = []
    for measured in run.loads:
        target, verdicts = _targets(measured, bare)
        cells = (
            f"{measured.requests_per_second:,.0f}",
            f"{measured.decisions_per_second:,.0f}" if measured.checks_per_request else "—",
            f"{measured.p50_ms:.2f} ms",
            f"{measured.p99_ms:.2f} ms",
        )
        found.append(Row(measured.label, cells, target, verdicts))
    return found


def _targets(measured: Load, bare: Load | None) -> tuple[str, tuple[bool | None, ...]]:
    """The issue's targets for this row: p99 for every check row; single check at 1 worker as
    fast as the bare endpoint; batches ≥ 200,000 decisions/s. Any error fails them all."""
    if measured.checks_per_request == 0:
        return "", ()
    clean = measured.errors == 0
    p99 = clean and measured.p99_ms < P99_TARGET_MS
    if measured.checks_per_request > 1:
        fast = clean and measured.decisions_per_second >= BATCH_TARGET
        return f"≥ {BATCH_TARGET:,} decisions/s; p99 < {P99_TARGET_MS:g} ms", (fast, p99)
    if measured.workers == 1 and bare is not None:
        fast = clean and measured.requests_per_second >= bare.requests_per_second
        return f"req/s ≥ bare FastAPI; p99 < {P99_TARGET_MS:g} ms", (fast, p99)
    return f"p99 < {P99_TARGET_MS:g} ms", (p99,)


COLUMNS: Final = ("req/s", "decisions/s", "p50", "p99")
