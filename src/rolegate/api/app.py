"""The app factory: ``create_app(rolegate)`` builds the HTTP service around one facade.

There is no module-level app: every test and every server process builds its own. For
``uvicorn --factory`` (and ``rolegate serve``), :func:`create_app_from_settings` builds the
facade from ``ROLEGATE_*`` settings as well.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Final

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rolegate import __version__
from rolegate.api.logs import redact_access_logs
from rolegate.api.metrics import Metrics, RequestMetrics
from rolegate.api.metrics_listener import metrics_listener
from rolegate.api.origin import RequestOrigin, trusted_networks
from rolegate.api.problems import (
    ERROR_RESPONSES,
    HTTP_PROBLEMS,
    install_problem_handlers,
    problem_response,
)
from rolegate.api.routers import (
    audit,
    auth,
    check,
    docs,
    health,
    metrics,
    permissions,
    roles,
    tenants,
    users,
)
from rolegate.config import Settings, audit_settings
from rolegate.errors import InvalidConfiguration
from rolegate.facade import Rolegate

log = logging.getLogger(__name__)

#: The largest request body accepted; every body this API reads is a few hundred bytes.
MAX_BODY_BYTES: Final = 1024 * 1024

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with a 413 problem: a declared
    ``Content-Length`` before the app runs, a streamed (chunked) body as its bytes arrive."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope``, counting the body it receives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            status = 413 if declared.isdigit() else 400
            detail = self._too_large if status == 413 else "invalid Content-Length header"
            await problem_response(HTTP_PROBLEMS[status], detail)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the endpoint's body read: FastAPI re-raises it, and the
                    # problem handlers answer it like any other HTTP error.
                    raise HTTPException(413, self._too_large)
            return message

        await self.app(scope, counted, send)

    @property
    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"


def create_app(
    rolegate: Rolegate, *, trusted_proxies: Sequence[str] = (), serve_metrics: bool = True
) -> FastAPI:
    """The HTTP service for ``rolegate``. ``X-Forwarded-For`` counts only from a peer in
    ``trusted_proxies`` (addresses or networks). ``/metrics`` is a route, for callers holding
    ``rolegate:metrics:read``, unless ``serve_metrics`` is False (a listener of its own serves
    them: :func:`~rolegate.api.metrics_listener.metrics_listener`). The caller keeps ownership
    of ``rolegate``."""
    return _build(
        rolegate, trusted_proxies=trusted_proxies, serve_metrics=serve_metrics, lifespan=None
    )


def create_app_from_settings() -> FastAPI:
    """The HTTP service on a :class:`Rolegate` built from settings, closed at shutdown:
    ``uvicorn --factory rolegate.api.app:create_app_from_settings``."""
    settings = Settings()
    refuse_unsafe(settings)
    rolegate = Rolegate(settings=settings)
    try:
        # The JWKS publishes a key from the first start, not from the first login: verifiers
        # that fetch it at their own start-up find the key tokens will be signed with.
        rolegate.keys.ensure_signing_key()
    except BaseException:
        rolegate.close()
        raise
    metrics_address = settings.metrics_address

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector()
        interval = rolegate.settings.audit_seal_interval
        sealer = asyncio.create_task(seal_every(rolegate, interval)) if interval else None
        try:
            async with AsyncExitStack() as listeners:
                if metrics_address is not None:
                    await listeners.enter_async_context(
                        metrics_listener(app.state.metrics, metrics_address)
                    )
                yield
        finally:
            if sealer is not None:
                sealer.cancel()
            rolegate.close()

    return _build(
        rolegate,
        trusted_proxies=settings.trusted_proxies,
        serve_metrics=metrics_address is None,
        lifespan=lifespan,
    )


async def seal_every(rolegate: Rolegate, interval: timedelta) -> None:
    """Sign every audit chain's head each ``interval`` (``ROLEGATE_AUDIT_SEAL_INTERVAL``), as
    ``rolegate audit seal`` would from cron; a failure is logged and the next round tries
    again. Every server node seals: extra seals of one head are harmless."""
    while True:
        await asyncio.sleep(interval.total_seconds())
        try:
            anchors = await run_in_threadpool(rolegate.audit.seal)
        except Exception:
            log.exception("sealing the audit chains failed; trying again in %s", interval)
        else:
            log.info("sealed %d audit chain heads", len(anchors))


def tune_garbage_collector() -> None:
    """Tune the collector for a server process, which this process now is.

    Every request allocates a few hundred objects, so with CPython's default threshold (700)
    young collections run every few requests, and full ones walk the ~100k long-lived objects
    of SQLAlchemy, pydantic and the compiled policy: pauses of 100 ms and more, the whole of the
    check API's p99 (docs/benchmarks.md). Freezing what exists after start-up takes those objects
    out of every collection, and a larger first threshold makes young collections rare.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def refuse_unsafe(settings: Settings) -> None:
    """In production (``ROLEGATE_ENV=production``), refuse an unsafe configuration, naming
    every setting that makes it so."""
    errors = [p for p in audit_settings(settings) if p.is_error]
    if settings.env == "production" and errors:
        raise InvalidConfiguration(
            "unsafe configuration for production: " + "; ".join(str(p) for p in errors)
        )


def _build(
    rolegate: Rolegate,
    *,
    trusted_proxies: Sequence[str],
    serve_metrics: bool,
    lifespan: Lifespan | None,
) -> FastAPI:
    app = FastAPI(
        title="rolegate",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,  # served by the docs router, from the package: no CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.rolegate = rolegate
    redact_access_logs()
    app.state.trusted_proxies = trusted = trusted_networks(trusted_proxies)
    app.state.metrics = instruments = Metrics(rolegate)
    install_problem_handlers(app)
    # The check routes first: routes are tried in order, and checks are the hot path.
    for module in (check, health, auth, tenants, users, permissions, roles, audit):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    if serve_metrics:
        app.include_router(metrics.router, responses=ERROR_RESPONSES)
    app.include_router(docs.router)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(RequestMetrics, metrics=instruments)  # counts the 413s too
    # Outermost: every answer, a 413 or a 500 too, carries the request id.
    app.add_middleware(RequestOrigin, trusted_proxies=trusted)
    return app
