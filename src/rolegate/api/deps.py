"""What endpoints depend on: the app's :class:`Rolegate`, the client's address, the caller.

Dependencies that may touch the database are plain ``def`` functions, which FastAPI runs in its
threadpool, so the event loop never waits on a query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final
from uuid import UUID

from fastapi import Depends, Header, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rolegate.api.metrics import Metrics
from rolegate.api.origin import client_address, identify_caller
from rolegate.api.schemas.common import name_rule
from rolegate.authn.tokens import bearer_token
from rolegate.builtins import PLATFORM_TENANT_ID, PLATFORM_TENANT_SLUG
from rolegate.entities import Principal
from rolegate.errors import AuthenticationFailed, Forbidden
from rolegate.facade import Rolegate
from rolegate.names import TENANT_SLUG_PATTERN, or_uuid


def metrics_of(request: Request) -> Metrics:
    """The app's Prometheus instruments."""
    metrics: Metrics = request.app.state.metrics
    return metrics


def rolegate_of(request: Request) -> Rolegate:
    """The :class:`Rolegate` that :func:`rolegate.api.app.create_app` stored on the app."""
    rolegate: Rolegate = request.app.state.rolegate
    return rolegate


def client_ip(request: Request) -> str | None:
    """The client's address: the socket peer's, or the one a trusted proxy forwarded (the same
    rule as the audit trail's, :func:`rolegate.api.origin.client_address`)."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, request.app.state.trusted_proxies)


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
    request: Request,
    rolegate: Annotated[Rolegate, Depends(rolegate_of)],
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER_SCHEME)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The verified caller, after catching up with every change committed by any process (one
    read of the revision): a session or role revoked through any server, and acknowledged
    before this request arrived, counts for it. The request's origin names the caller from
    here on: a refusal by :func:`requires` is audited as theirs."""
    rolegate.catch_up()
    principal = verify_bearer(rolegate, authorization)
    identify_caller(principal, request.scope)
    return principal


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
    str,
    Path(
        min_length=1,
        max_length=64,
        description="the tenant's slug or id",
        json_schema_extra=name_rule(or_uuid(TENANT_SLUG_PATTERN)),
    ),
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
