"""The audit trail over HTTP: a tenant's events for its auditors (``rolegate:audit:read``), every
chain for platform auditors (``/v1/audit``), and every caller's own security events
(``/v1/auth/me/events``).

Times in filters must carry a time zone (``2024-05-01T00:00:00Z``): a naive one is a 422, as
guessing its zone would silently shift the window by hours.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from rolegate.api.deps import Caller, CurrentPrincipal, RolegateDep, requires, requires_platform
from rolegate.api.schemas.audit import AuditEventPage, Outcome
from rolegate.api.schemas.common import Cursor, Limit, stated
from rolegate.builtins import AUDIT_READ
from rolegate.limits import MAX_FILTER_LENGTH
from rolegate.names import TENANT_SLUG_PATTERN, chain_ref, or_uuid
from rolegate.pages import DEFAULT_PAGE_SIZE

router = APIRouter(tags=["audit"])

Auditor = Annotated[Caller, Depends(requires(AUDIT_READ))]
PlatformAuditor = Annotated[Caller, Depends(requires_platform(AUDIT_READ))]


ActorFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_FILTER_LENGTH, description="only events by this actor"),
]
ActionFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_FILTER_LENGTH,
        description="only this action (role.created), or a prefix ending in * (role.*)",
    ),
]
TargetFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_FILTER_LENGTH,
        description="only events about this target: a type (role) or a type and id (role:<id>)",
    ),
]
Since = Annotated[AwareDatetime | None, Query(description="from this time on (inclusive)")]
Until = Annotated[AwareDatetime | None, Query(description="before this time (exclusive)")]
OutcomeFilter = Annotated[Outcome | None, Query(description="only events ending so")]


class EventFilters:
    """The filters both listings take, as query parameters (a class dependency: declared once)."""

    def __init__(
        self,
        actor: ActorFilter = None,
        action: ActionFilter = None,
        target: TargetFilter = None,
        outcome: OutcomeFilter = None,
        since: Since = None,
        until: Until = None,
    ) -> None:
        self.keywords: dict[str, Any] = {
            "actor": actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            "since": since,
            "until": until,
        }


Filters = Annotated[EventFilters, Depends()]


@router.get("/v1/tenants/{tenant}/audit")
def tenant_events(
    caller: Auditor,
    rolegate: RolegateDep,
    filters: Filters,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> AuditEventPage:
    """One page of the tenant's audit events, newest first."""
    page = rolegate.audit.events(
        tenant=caller.tenant_id, cursor=cursor, limit=limit, **filters.keywords
    )
    return AuditEventPage.of(page)


@router.get("/v1/audit")
def all_events(
    _caller: PlatformAuditor,
    rolegate: RolegateDep,
    filters: Filters,
    tenant: Annotated[
        Annotated[str, stated(or_uuid(TENANT_SLUG_PATTERN))] | None,
        Query(
            min_length=1,
            max_length=64,
            description="only this tenant's chain: slug or id (a deleted tenant's id too; the "
            "nil UUID for the global chain of accounts and keys)",
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> AuditEventPage:
    """One page of every tenant's events and the global chain's, newest first (platform)."""
    page = rolegate.audit.events(
        tenant=chain_ref(tenant), cursor=cursor, limit=limit, **filters.keywords
    )
    return AuditEventPage.of(page)


@router.get("/v1/auth/me/events")
def my_events(
    principal: CurrentPrincipal,
    rolegate: RolegateDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> AuditEventPage:
    """One page of the caller's own security events in every tenant, newest first: sign-ins
    and failed attempts, lockouts, sessions ended, password changes, refused grants."""
    page = rolegate.audit.user_events(principal.user_id, cursor=cursor, limit=limit)
    return AuditEventPage.of(page)
