"""What endpoints depend on: the app's :class:`Rolegate`, the client's address, the caller.

Dependencies that may touch the database are plain ``def`` functions, which FastAPI runs in its
threadpool, so the event loop never waits on a query.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Annotated

from fastapi import Depends, Header, Request

from rolegate.api.metrics import Metrics
from rolegate.authn.tokens import bearer_token
from rolegate.entities import Principal
from rolegate.errors import AuthenticationFailed
from rolegate.facade import Rolegate

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """Parse proxy addresses or networks (``10.0.0.1``, ``10.0.0.0/8``); bad ones raise."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def metrics_of(request: Request) -> Metrics:
    """The app's Prometheus instruments."""
    metrics: Metrics = request.app.state.metrics
    return metrics


def rolegate_of(request: Request) -> Rolegate:
    """The :class:`Rolegate` that :func:`rolegate.api.app.create_app` stored on the app."""
    rolegate: Rolegate = request.app.state.rolegate
    return rolegate


def _is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: Request) -> str | None:
    """The client's address: the socket peer's, unless the peer is a trusted proxy.

    Only then is ``X-Forwarded-For`` read, right to left: every proxy appends the address it
    saw, so the right-most address that is not a trusted proxy is the client, and anything left
    of it was written by the client itself and proves nothing (MDN, X-Forwarded-For, Security).
    """
    peer = request.client.host if request.client else None
    networks: Sequence[Network] = request.app.state.trusted_proxies
    if peer is None or not _is_trusted(peer, networks):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        try:
            address = str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a garbled entry: nothing left of it can be believed
        if not _is_trusted(address, networks):
            return address
    return hops[0] if hops else peer


def bearer_principal(
    rolegate: Annotated[Rolegate, Depends(rolegate_of)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The principal of the ``Authorization: Bearer`` token (RFC 6750 §2.1), verified.

    No header, or not a bearer one, is a 401 with a bare ``Bearer`` challenge (RFC 6750 §3.1:
    no error code when no credentials came); a bad token is :class:`InvalidToken`.
    """
    token = bearer_token(authorization)
    if token is None:
        raise AuthenticationFailed("a bearer token is required", reason="missing_bearer")
    return rolegate.auth.verify(token)


RolegateDep = Annotated[Rolegate, Depends(rolegate_of)]
MetricsDep = Annotated[Metrics, Depends(metrics_of)]
ClientIp = Annotated[str | None, Depends(client_ip)]
CurrentPrincipal = Annotated[Principal, Depends(bearer_principal)]
