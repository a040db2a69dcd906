"""``/v1/tenants/{tenant}/resources`` and ``/permissions``: what a tenant's roles can be granted.

Reading needs ``rolegate:permissions:read``, changing ``rolegate:permissions:write``. Anything
outside the caller's tenant, or missing, is the same 404. Names under ``rolegate:`` are the
built-ins: they are listed, but changing them is 409 ``builtin_protected``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from rolegate.api.deps import Caller, RolegateDep, requires
from rolegate.api.schemas.common import Cursor, Limit, name_rule, stated
from rolegate.api.schemas.permissions import (
    DescriptionUpdate,
    PermissionCreate,
    PermissionPage,
    PermissionRead,
    PermissionUpdate,
    ResourceCreate,
    ResourcePage,
    ResourceRead,
)
from rolegate.builtins import PERMISSIONS_READ, PERMISSIONS_WRITE
from rolegate.names import GRANT_PATTERN, MAX_PERMISSION_LENGTH, RESOURCE_PATTERN, or_uuid
from rolegate.pages import DEFAULT_PAGE_SIZE

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["permissions"])

Reader = Annotated[Caller, Depends(requires(PERMISSIONS_READ))]
Writer = Annotated[Caller, Depends(requires(PERMISSIONS_WRITE))]
Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_PERMISSION_LENGTH,
        description="name or id",
        json_schema_extra=name_rule(or_uuid(GRANT_PATTERN)),
    ),
]
ResourcePath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_PERMISSION_LENGTH,
        description="name or id",
        json_schema_extra=name_rule(or_uuid(RESOURCE_PATTERN)),
    ),
]
NamePrefix = Annotated[
    str | None, Query(max_length=MAX_PERMISSION_LENGTH, description="only names starting so")
]


@router.get("/resources")
def list_resources(
    caller: Reader,
    rolegate: RolegateDep,
    name_prefix: NamePrefix = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> ResourcePage:
    """The tenant's resources by name, a page at a time."""
    page = rolegate.resources.page(
        caller.tenant_id, name_prefix=name_prefix, cursor=cursor, limit=limit
    )
    return ResourcePage.of(page)


@router.post("/resources", status_code=status.HTTP_201_CREATED)
def create_resource(
    body: ResourceCreate,
    caller: Writer,
    rolegate: RolegateDep,
    request: Request,
    response: Response,
) -> ResourceRead:
    """Create a resource; its permissions are created on their own (or with their names)."""
    resource = rolegate.resources.create(
        caller.tenant_id, body.name, description=body.description, actor=caller.actor
    )
    response.headers["Location"] = str(
        request.url_for("get_resource", **_at(request, resource.name))
    )
    return ResourceRead.of(resource)


@router.get("/resources/{name}")
def get_resource(name: ResourcePath, caller: Reader, rolegate: RolegateDep) -> ResourceRead:
    """One resource, by name or id."""
    return ResourceRead.of(rolegate.resources.get(caller.tenant_id, name))


@router.patch("/resources/{name}")
def update_resource(
    name: ResourcePath, body: DescriptionUpdate, caller: Writer, rolegate: RolegateDep
) -> ResourceRead:
    """Change a resource's description."""
    resource = rolegate.resources.update(
        caller.tenant_id, name, description=body.description, actor=caller.actor
    )
    return ResourceRead.of(resource)


@router.delete("/resources/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_resource(name: ResourcePath, caller: Writer, rolegate: RolegateDep) -> None:
    """Delete a resource with its permissions: every role loses its grants of them."""
    rolegate.resources.delete(caller.tenant_id, name, actor=caller.actor)


@router.get("/permissions")
def list_permissions(
    caller: Reader,
    rolegate: RolegateDep,
    resource: Annotated[
        Annotated[str, stated(RESOURCE_PATTERN)] | None,
        Query(max_length=MAX_PERMISSION_LENGTH, description="only this resource's"),
    ] = None,
    name_prefix: NamePrefix = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> PermissionPage:
    """The tenant's permissions and patterns by name, a page at a time."""
    page = rolegate.permissions.page(
        caller.tenant_id, resource=resource, name_prefix=name_prefix, cursor=cursor, limit=limit
    )
    return PermissionPage.of(page)


@router.post("/permissions", status_code=status.HTTP_201_CREATED)
def create_permission(
    body: PermissionCreate,
    caller: Writer,
    rolegate: RolegateDep,
    request: Request,
    response: Response,
) -> PermissionRead:
    """Define a permission or a pattern (its resource too, when new)."""
    permission = rolegate.permissions.create(
        caller.tenant_id,
        body.name,
        description=body.description,
        audited=body.audited,
        actor=caller.actor,
    )
    location = request.url_for("get_permission", **_at(request, permission.name))
    response.headers["Location"] = str(location)
    return PermissionRead.of(permission)


@router.get("/permissions/{name}")
def get_permission(name: Name, caller: Reader, rolegate: RolegateDep) -> PermissionRead:
    """One permission, by name (`documents:read`) or id."""
    return PermissionRead.of(rolegate.permissions.get(caller.tenant_id, name))


@router.patch("/permissions/{name}")
def update_permission(
    name: Name, body: PermissionUpdate, caller: Writer, rolegate: RolegateDep
) -> PermissionRead:
    """Change a permission's description, or whether its allowed checks are audited."""
    permission = rolegate.permissions.update(
        caller.tenant_id,
        name,
        description=body.description,
        audited=body.audited,
        actor=caller.actor,
    )
    return PermissionRead.of(permission)


@router.delete("/permissions/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_permission(name: Name, caller: Writer, rolegate: RolegateDep) -> None:
    """Delete a permission: every role granted it loses the grant."""
    rolegate.permissions.delete(caller.tenant_id, name, actor=caller.actor)


def _at(request: Request, name: str) -> dict[str, str]:
    """Path parameters naming ``name`` in the tenant of the request's path."""
    return {"tenant": request.path_params["tenant"], "name": name}
