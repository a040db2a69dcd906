"""``/metrics`` on a listen address of its own (``ROLEGATE_METRICS_ADDRESS``), without a token.

A Prometheus server inside the network then scrapes a port the public never reaches, and the
main listener serves no ``/metrics`` at all. The listener runs in the server process, on its
event loop, for as long as the app's lifespan: it reads the very registry the app records into.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rolegate.api.metrics import CONTENT_TYPE, Metrics
from rolegate.errors import InvalidConfiguration

METRICS_PATH: Final = "/metrics"


def metrics_app(metrics: Metrics) -> Starlette:
    """An app serving ``metrics`` at ``/metrics`` to anyone who reaches it, and nothing else."""

    async def scrape(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return Starlette(routes=[Route(METRICS_PATH, scrape, methods=["GET"])])


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9100`` for IPv6) as a host and a port."""
    host, colon, port = address.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidConfiguration(f"metrics_address {address!r} is not host:port")
    return host, int(port)


@asynccontextmanager
async def metrics_listener(metrics: Metrics, address: str) -> AsyncIterator[None]:
    """Serve :func:`metrics_app` on ``address`` for the span of the block.

    The socket is bound here, so a port in use is a clear :class:`InvalidConfiguration` at
    start-up. uvicorn's ``Server.serve`` is not used: it would take over the process's signal
    handlers, which belong to the main server.
    """
    host, port = split_address(address)
    try:
        sock = socket.create_server((host, port), family=_family(host))
    except OSError as exc:
        raise InvalidConfiguration(f"metrics_address {address!r}: {exc.strerror}") from None
    config = uvicorn.Config(
        metrics_app(metrics), lifespan="off", log_config=None, server_header=False
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
        yield
    finally:
        await server.shutdown(sockets=[sock])


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
