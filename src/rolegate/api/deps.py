"""What endpoints depend on: the app's :class:`Rolegate`, the client's address, the caller.

Dependencies that may touch the database are plain ``def`` functions, which FastAPI runs in its
threadpool, so the event loop never waits on a query.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Final
from uuid import UUID

from fastapi import Depends, Header, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rolegate.api.metrics import Metrics
from rolegate.authn.tokens import bearer_token
from rolegate.db.models import PLATFORM_TENANT_ID, PLATFORM_TENANT_SLUG
from rolegate.entities import Principal
from rolegate.errors import AuthenticationFailed, Forbidden
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


#: Declares bearer authentication in the OpenAPI document, so /docs offers "Authorize"; the
#: header itself is parsed by :func:`bearer_token`, the one parser the integrations share.
BEARER_SCHEME: Final = HTTPBearer(
    auto_error=False, description="an access token from POST /v1/auth/login"
)


def verify_bearer(rolegate: Rolegate, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer`` header (RFC 6750 §2.1), verified against
    what this process has caught up with.

    No header, or not a bearer one, is a 401 with a bare ``Bearer`` challenge (RFC 6750 §3.1:
    no error code when no credentials came); a bad token is :class:`InvalidToken`.
    """
    token = bearer_token(authorization)
    if token is None:
        raise AuthenticationFailed("a bearer token is required", reason="missing_bearer")
    return rolegate.auth.verify(token)


def bearer_principal(
    rolegate: Annotated[Rolegate, Depends(rolegate_of)],
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER_SCHEME)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The verified caller, after catching up with every change committed by any process (one
    read of the revision): a session or role revoked through any server, and acknowledged
    before this request arrived, counts for it."""
    rolegate.catch_up()
    return verify_bearer(rolegate, authorization)


RolegateDep = Annotated[Rolegate, Depends(rolegate_of)]
MetricsDep = Annotated[Metrics, Depends(metrics_of)]
ClientIp = Annotated[str | None, Depends(client_ip)]
CurrentPrincipal = Annotated[Principal, Depends(bearer_principal)]


#: What a route declares it needs, read by the test that lists every route (deny by default):
#: a permission name, or one of these two.
PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"
GUARD: Final = "rolegate_requires"

setattr(bearer_principal, GUARD, AUTHENTICATED)


async def public() -> None:  # async: a no-op needs no trip to the threadpool
    """Declares a route open to anyone (login, health, keys): it needs no credentials."""


setattr(public, GUARD, PUBLIC)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller allowed to act in ``tenant_id``."""

    principal: Principal
    tenant_id: UUID

    @property
    def actor(self) -> str:
        """How audit events name the caller: its user id."""
        return str(self.principal.user_id)


TenantPath = Annotated[
    str, Path(min_length=1, max_length=64, description="the tenant's slug or id")
]


def requires(permission: str) -> Callable[..., Caller]:
    """A dependency admitting callers who hold ``permission`` in the ``{tenant}`` of the path
    (or in the platform tenant), decided after :func:`bearer_principal` has caught up with
    every committed change, so a revocation acknowledged by any server is honoured here."""

    def dependency(
        tenant: TenantPath, principal: CurrentPrincipal, rolegate: RolegateDep
    ) -> Caller:
        return Caller(principal, rolegate.access.authorize(principal, permission, tenant=tenant))

    setattr(dependency, GUARD, permission)
    return dependency


def requires_platform(permission: str) -> Callable[..., Caller]:
    """A dependency admitting callers who hold ``permission`` in the platform tenant; anyone
    else is refused with 403 (the platform tenant's existence is no secret)."""

    def dependency(principal: CurrentPrincipal, rolegate: RolegateDep) -> Caller:
        if principal.tenant_id != PLATFORM_TENANT_ID:
            raise Forbidden(permission, tenant=PLATFORM_TENANT_SLUG)
        target = rolegate.access.authorize(principal, permission, tenant=PLATFORM_TENANT_ID)
        return Caller(principal, target)

    setattr(dependency, GUARD, permission)
    return dependency
