"""``/metrics`` in the Prometheus text format: requests by route and status with latency
histograms, logins by result, check API decisions by outcome with their cache hits and misses,
the authorization cache, and the decision trail (records written, dropped and waiting).

Each app has its own registry (no process-wide state), so every test builds a fresh one. Route
labels are the route *templates* (``/v1/auth/sessions/{session_id}``), never raw paths, so a
client cannot grow the label set; unmatched paths count as ``unmatched``. The routes FastAPI
adds itself (``/docs``, ``/openapi.json``, ``/docs/oauth2-redirect``) are plain Starlette
routes, which do not put themselves in the scope: they are found by the endpoint they matched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rolegate.facade import Rolegate

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Latency buckets in seconds: sub-millisecond checks up to multi-second outliers.
#: The route label of a request no route matched.
UNMATCHED: Final = "unmatched"
BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The app's registry and the instruments the API records into."""

    def __init__(self, rolegate: Rolegate) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "rolegate_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rolegate_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.logins = Counter(
            "rolegate_logins",
            "Login attempts through the API, by result.",
            ["result"],
            registry=self.registry,
        )
        checks = Counter(
            "rolegate_checks",
            "Decisions answered by the check API (single and batch), by decision.",
            ["decision"],
            registry=self.registry,
        )
        cache = Counter(
            "rolegate_check_cache",
            "Check API decisions answered from a compiled snapshot (hit) or that compiled one "
            "(miss).",
            ["result"],
            registry=self.registry,
        )
        self._bound: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}
        # Children bound once: the check path increments them without a label lookup.
        self._allowed, self._denied = checks.labels("allow"), checks.labels("deny")
        self._hits, self._misses = cache.labels("hit"), cache.labels("miss")
        self.registry.register(_CacheCollector(rolegate))
        if rolegate.decisions is not None:  # None: decisions are not audited at all
            self.registry.register(_TrailCollector(rolegate))

    def count_checks(self, answers: Sequence[bool], *, compiles: int) -> None:
        """Count the decisions of one check request: ``answers``, which needed ``compiles``
        snapshots compiled (the cache misses among them)."""
        allowed = sum(answers)
        if allowed:
            self._allowed.inc(allowed)
        if allowed < len(answers):
            self._denied.inc(len(answers) - allowed)
        misses = min(compiles, len(answers))
        if misses:
            self._misses.inc(misses)
        if misses < len(answers):
            self._hits.inc(len(answers) - misses)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and time it."""
        # The labelled children, bound once per (method, route, status): a label lookup takes a
        # lock and builds tuples, more than the check it would count.
        children = self._bound.get((method, route, status))
        if children is None:
            children = (
                self.latency.labels(method, route),
                self.requests.labels(method, route, str(status)),
            )
            self._bound[(method, route, status)] = children
        latency, requests = children
        latency.observe(seconds)
        requests.inc()

    def render(self) -> bytes:
        """The current values in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class _CacheCollector(Collector):
    """Reads the authorization cache at scrape time (nothing is counted on the check path)."""

    def __init__(self, rolegate: Rolegate) -> None:
        self._rolegate = rolegate

    def collect(self) -> Iterator[Any]:
        stats = self._rolegate.cache_stats()
        yield GaugeMetricFamily(
            "rolegate_authz_snapshots", "Compiled (user, tenant) snapshots held.", stats.snapshots
        )
        yield GaugeMetricFamily(
            "rolegate_authz_policies", "Compiled tenant policies held.", stats.policies
        )
        yield CounterMetricFamily(
            "rolegate_authz_compiles",
            "Snapshots compiled since start: cache misses and recompiles after changes.",
            stats.compiles,
        )
        yield GaugeMetricFamily(
            "rolegate_policy_revision", "Newest policy revision applied here.", stats.revision
        )
        freshness = self._rolegate.freshness
        yield GaugeMetricFamily(
            "rolegate_policy_stale",
            "1 while the policy is not confirmed current within the bound (checks deny).",
            int(freshness.is_stale),
        )
        yield GaugeMetricFamily(
            "rolegate_policy_confirmed_age_seconds",
            "Seconds since a read of the policy revision last confirmed it current.",
            freshness.seconds_since_confirmed,
        )
        yield CounterMetricFamily(
            "rolegate_policy_stale_denials",
            "Checks denied because the policy was not confirmed current within the bound.",
            freshness.stale_denials,
        )


class _TrailCollector(Collector):
    """Reads the decision trail's counters at scrape time. A growing ``dropped`` means the
    writer cannot keep up (or the database refuses): audit records are being lost."""

    def __init__(self, rolegate: Rolegate) -> None:
        self._rolegate = rolegate

    def collect(self) -> Iterator[Any]:
        decisions = self._rolegate.decisions
        if decisions is None:
            return
        stats = decisions.trail.stats()
        yield CounterMetricFamily(
            "rolegate_audit_decisions_written",
            "Decision records (denied checks and calls, audited allows) written to the trail.",
            stats.written,
        )
        yield CounterMetricFamily(
            "rolegate_audit_decisions_dropped",
            "Decision records lost: the buffer was full, or writing them failed for good.",
            stats.dropped,
        )
        yield GaugeMetricFamily(
            "rolegate_audit_decisions_buffered",
            "Decision records waiting in the buffer to be written.",
            stats.buffered,
        )


class RequestMetrics:
    """ASGI middleware timing every HTTP request and counting it by route and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self._app, self._metrics = app, metrics
        self._templates: dict[Callable[..., Any], str] | None = None  # by endpoint, built once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_note)
        finally:
            template = self._template(scope)
            self._metrics.record(scope["method"], template, status, time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        """The template of the route that matched ``scope`` (its method or not), or
        :data:`UNMATCHED`."""
        template = getattr(scope.get("route"), "path", None)  # a FastAPI route puts itself there
        if template:
            return str(template)
        endpoint = scope.get("endpoint")  # a plain Starlette route only its endpoint
        if endpoint is None:
            return UNMATCHED
        if self._templates is None:  # the app's routes are all added before it serves
            self._templates = {}
            for route in iter_route_contexts(scope["app"].routes):
                if route.endpoint is not None and route.path_format:
                    self._templates.setdefault(route.endpoint, route.path_format)
        return self._templates.get(endpoint, UNMATCHED)
