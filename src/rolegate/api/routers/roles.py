"""``/v1/tenants/{tenant}/roles`` and role assignments: who may do what in a tenant.

Reading needs ``rolegate:roles:read``; changing roles, their grants and inheritance
``rolegate:roles:write``; assigning ``rolegate:roles:assign``. Nobody hands out what they do
not hold: a role may be given only permissions the caller holds, and assigned only when the
caller holds every permission it carries, inherited ones included, unless the caller holds
``rolegate:roles:escalate`` (403 ``escalation_denied``, listing ``missing``, and audited).

A role's ``ETag`` changes with anything its value shows, grants and parents included; send it
back as ``If-Match`` on PATCH and DELETE to change only what was read (412 otherwise).
``PUT`` of a grant or a parent creates it (201) and is 409 when it exists already; ``PUT`` of an
assignment is idempotent: 201 when new, 200 when it was there (its expiry set as given).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status

from rolegate.api.deps import Caller, RolegateDep, requires
from rolegate.api.schemas.common import Cursor, Limit, SortOrder, name_rule, stated
from rolegate.api.schemas.roles import (
    AssignmentPage,
    AssignmentPut,
    AssignmentRead,
    RoleCreate,
    RolePage,
    RoleRead,
    RoleUpdate,
)
from rolegate.builtins import ROLES_ASSIGN, ROLES_READ, ROLES_WRITE
from rolegate.entities import Role
from rolegate.etags import entity_tag
from rolegate.limits import MAX_INHERITANCE_DEPTH
from rolegate.names import (
    GRANT_PATTERN,
    MAX_PERMISSION_LENGTH,
    MAX_ROLE_NAME_LENGTH,
    MAX_USERNAME_LENGTH,
    ROLE_NAME_PATTERN,
    USERNAME_PATTERN,
    or_uuid,
)
from rolegate.pages import DEFAULT_PAGE_SIZE, RoleSort

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["roles"])

Reader = Annotated[Caller, Depends(requires(ROLES_READ))]
Writer = Annotated[Caller, Depends(requires(ROLES_WRITE))]
Assigner = Annotated[Caller, Depends(requires(ROLES_ASSIGN))]

_ROLE_REF = name_rule(or_uuid(ROLE_NAME_PATTERN))
RolePath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ROLE_NAME_LENGTH,
        description="role name or id",
        json_schema_extra=_ROLE_REF,
    ),
]
ParentPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ROLE_NAME_LENGTH,
        description="name or id of the inherited role",
        json_schema_extra=_ROLE_REF,
    ),
]
PermissionPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_PERMISSION_LENGTH,
        description="permission or pattern",
        json_schema_extra=name_rule(GRANT_PATTERN),
    ),
]
UserPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_USERNAME_LENGTH,
        description="username or id",
        json_schema_extra=name_rule(USERNAME_PATTERN),
    ),
]
IfMatch = Annotated[
    str | None,
    Header(max_length=1024, description="the ETag read; 412 when the role changed since"),
]


def _read(role: Role, response: Response) -> RoleRead:
    """The view of ``role``, its entity tag set as the response's ``ETag``."""
    response.headers["ETag"] = entity_tag(role)
    return RoleRead.of(role)


@router.get("/roles")
def list_roles(
    caller: Reader,
    rolegate: RolegateDep,
    name_prefix: Annotated[str | None, Query(max_length=64)] = None,
    sort: RoleSort = "name",
    order: SortOrder = "asc",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> RolePage:
    """The tenant's roles, a page at a time."""
    page = rolegate.roles.page(
        caller.tenant_id,
        name_prefix=name_prefix,
        sort=sort,
        descending=order == "desc",
        cursor=cursor,
        limit=limit,
    )
    return RolePage.of(page)


@router.post("/roles", status_code=status.HTTP_201_CREATED)
def create_role(
    body: RoleCreate, caller: Writer, rolegate: RolegateDep, request: Request, response: Response
) -> RoleRead:
    """Create a role with its grants and parents, all or nothing (409 if the name is taken)."""
    role = rolegate.roles.create(
        caller.tenant_id,
        body.name,
        description=body.description,
        permissions=body.permissions,
        inherits=body.inherits,
        actor=caller.actor,
        caller=caller.principal,
    )
    location = request.url_for("get_role", tenant=request.path_params["tenant"], role=role.id)
    response.headers["Location"] = str(location)
    return _read(role, response)


@router.get("/roles/{role}")
def get_role(role: RolePath, caller: Reader, rolegate: RolegateDep, response: Response) -> RoleRead:
    """One role, by name or id, with its `ETag`."""
    return _read(rolegate.roles.get(caller.tenant_id, role), response)


@router.patch("/roles/{role}")
def update_role(
    role: RolePath,
    body: RoleUpdate,
    caller: Writer,
    rolegate: RolegateDep,
    response: Response,
    if_match: IfMatch = None,
) -> RoleRead:
    """Rename a role, describe it, or replace its grants or parents, in one transaction."""
    updated = rolegate.roles.update(
        caller.tenant_id,
        role,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
        inherits=body.inherits,
        if_match=if_match,
        actor=caller.actor,
        caller=caller.principal,
    )
    return _read(updated, response)


@router.delete("/roles/{role}", status_code=status.HTTP_204_NO_CONTENT)
def delete_role(
    role: RolePath, caller: Writer, rolegate: RolegateDep, if_match: IfMatch = None
) -> None:
    """Delete a role with its grants, inheritance and assignments."""
    rolegate.roles.delete(caller.tenant_id, role, if_match=if_match, actor=caller.actor)


@router.put("/roles/{role}/permissions/{permission}", status_code=status.HTTP_201_CREATED)
def grant_permission(
    role: RolePath,
    permission: PermissionPath,
    caller: Writer,
    rolegate: RolegateDep,
    response: Response,
) -> RoleRead:
    """Grant a permission or pattern (a pattern is defined on first grant); 409 if granted."""
    granted = rolegate.roles.grant(
        caller.tenant_id, role, permission, actor=caller.actor, caller=caller.principal
    )
    return _read(granted, response)


@router.delete("/roles/{role}/permissions/{permission}")
def revoke_permission(
    role: RolePath,
    permission: PermissionPath,
    caller: Writer,
    rolegate: RolegateDep,
    response: Response,
) -> RoleRead:
    """Take a grant away; the role as it is now."""
    return _read(
        rolegate.roles.revoke(caller.tenant_id, role, permission, actor=caller.actor), response
    )


@router.put(
    "/roles/{role}/inherits/{parent}",
    status_code=status.HTTP_201_CREATED,
    description=(
        "Make the role inherit every permission of `parent` (same tenant). 409 if it does "
        "already or if that would close a cycle; 422 if a chain of inheritance would get longer "
        f"than {MAX_INHERITANCE_DEPTH} levels."
    ),
)
def inherit_role(
    role: RolePath, parent: ParentPath, caller: Writer, rolegate: RolegateDep, response: Response
) -> RoleRead:
    """Make the role inherit `parent`."""
    inheriting = rolegate.roles.inherit(
        caller.tenant_id, role, parent, actor=caller.actor, caller=caller.principal
    )
    return _read(inheriting, response)


@router.delete("/roles/{role}/inherits/{parent}")
def uninherit_role(
    role: RolePath, parent: ParentPath, caller: Writer, rolegate: RolegateDep, response: Response
) -> RoleRead:
    """Stop the role inheriting `parent`; the role as it is now."""
    return _read(
        rolegate.roles.uninherit(caller.tenant_id, role, parent, actor=caller.actor), response
    )


@router.get("/assignments")
def list_assignments(
    caller: Reader,
    rolegate: RolegateDep,
    user: Annotated[
        Annotated[str, stated(USERNAME_PATTERN)] | None, Query(max_length=MAX_USERNAME_LENGTH)
    ] = None,
    role: Annotated[
        Annotated[str, stated(or_uuid(ROLE_NAME_PATTERN))] | None,
        Query(max_length=MAX_ROLE_NAME_LENGTH),
    ] = None,
    expired: Annotated[bool | None, Query(description="only expired, or only current")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> AssignmentPage:
    """The tenant's assignments by username then role, a page at a time."""
    page = rolegate.assignments.page(
        caller.tenant_id, user=user, role=role, expired=expired, cursor=cursor, limit=limit
    )
    return AssignmentPage.of(page)


@router.put(
    "/users/{user}/roles/{role}",
    responses={status.HTTP_201_CREATED: {"model": AssignmentRead, "description": "assigned"}},
)
def assign_role(
    user: UserPath,
    role: RolePath,
    caller: Assigner,
    rolegate: RolegateDep,
    response: Response,
    body: Annotated[AssignmentPut | None, Body()] = None,
) -> AssignmentRead:
    """Assign a role to a member (201), or set the expiry of the assignment it holds (200).
    A user who is not a member of the tenant is 404, exactly like one that does not exist."""
    outcome = rolegate.assignments.upsert(
        caller.tenant_id,
        user,
        role,
        expires_at=body.expires_at if body else None,
        expires_in=body.expires_in if body else None,
        actor=caller.actor,
        caller=caller.principal,
        require_member=True,
    )
    response.status_code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
    return AssignmentRead.of(outcome.assignment)


@router.delete("/users/{user}/roles/{role}", status_code=status.HTTP_204_NO_CONTENT)
def unassign_role(user: UserPath, role: RolePath, caller: Assigner, rolegate: RolegateDep) -> None:
    """Take a role away from a member (the membership stays)."""
    rolegate.assignments.unassign(
        caller.tenant_id,
        user,
        role,
        actor=caller.actor,
        caller=caller.principal,
        require_member=True,
    )
