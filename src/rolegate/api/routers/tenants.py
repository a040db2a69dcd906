"""``/v1/tenants``: the platform administrators' view of tenants.

Every route needs a platform permission (``rolegate:tenants:read`` or ``:write``) held in the
platform tenant: a tenant's own grants never reach here, however broad, so no tenant can rename
or delete itself or see the others.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from rolegate.api.deps import Caller, RolegateDep, TenantPath, requires_platform
from rolegate.api.schemas.common import Cursor, Limit, SortOrder
from rolegate.api.schemas.tenants import PageOfTenants, TenantCreate, TenantRead, TenantUpdate
from rolegate.builtins import TENANTS_READ, TENANTS_WRITE
from rolegate.pages import DEFAULT_PAGE_SIZE

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])

CanRead = Annotated[Caller, Depends(requires_platform(TENANTS_READ))]
CanWrite = Annotated[Caller, Depends(requires_platform(TENANTS_WRITE))]


@router.get("")
def list_tenants(
    caller: CanRead,
    rolegate: RolegateDep,
    slug_prefix: Annotated[str | None, Query(max_length=63)] = None,
    sort: Literal["slug", "created_at"] = "slug",
    order: SortOrder = "asc",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> PageOfTenants:
    """One page of tenants whose slug starts with `slug_prefix`; follow `next_cursor`."""
    page = rolegate.tenants.page(
        slug_prefix=slug_prefix,
        sort=sort,
        descending=order == "desc",
        cursor=cursor,
        limit=limit,
    )
    return PageOfTenants.of(page)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_tenant(
    body: TenantCreate, response: Response, caller: CanWrite, rolegate: RolegateDep
) -> TenantRead:
    """Create a tenant with its built-in permissions and `tenant-admin` role; 409
    `tenant_exists` if the slug is taken."""
    tenant = rolegate.tenants.create(body.slug, name=body.name, actor=caller.actor)
    response.headers["Location"] = f"/v1/tenants/{tenant.id}"
    return TenantRead.of(tenant)


@router.get("/{tenant}")
def get_tenant(tenant: TenantPath, caller: CanRead, rolegate: RolegateDep) -> TenantRead:
    """The tenant with this slug or id."""
    return TenantRead.of(rolegate.tenants.get(tenant))


@router.patch("/{tenant}")
def update_tenant(
    tenant: TenantPath, body: TenantUpdate, caller: CanWrite, rolegate: RolegateDep
) -> TenantRead:
    """Change the slug, the display name, or both; the built-in tenants keep their slugs."""
    changed = rolegate.tenants.rename(tenant, slug=body.slug, name=body.name, actor=caller.actor)
    return TenantRead.of(changed)


@router.delete("/{tenant}", status_code=status.HTTP_204_NO_CONTENT)
def delete_tenant(tenant: TenantPath, caller: CanWrite, rolegate: RolegateDep) -> None:
    """Delete a tenant and everything in it (its sessions end; its audit trail is kept)."""
    rolegate.tenants.delete(tenant, actor=caller.actor)
