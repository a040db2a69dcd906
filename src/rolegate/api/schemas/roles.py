"""Bodies of the role and assignment endpoints under ``/v1/tenants/{tenant}``.

Request models forbid unknown fields (:mod:`.common`): ids, tenants, timestamps and
``granted_by`` are the server's to set, and a body naming one is refused whole.
Lists in a body are capped at :data:`MAX_BATCH` items, as a page is at 1000.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from rolegate.api.schemas.common import GrantName, PatchModel, RequestModel, RoleName, RoleRef
from rolegate.durations import DurationText
from rolegate.entities import Assignment, Role
from rolegate.limits import MAX_DESCRIPTION, MAX_INHERITANCE_DEPTH
from rolegate.pages import Page

#: The most permissions or parent roles one request may name.
MAX_BATCH: Final = 256

#: A permission or pattern named in a body.
PermissionName = GrantName


class RoleCreate(RequestModel):
    """A new role, with the permissions it is granted and the roles it inherits."""

    name: RoleName
    description: str = Field("", max_length=MAX_DESCRIPTION)
    permissions: list[PermissionName] = Field(
        default_factory=list,
        max_length=MAX_BATCH,
        description=f"permissions or patterns to grant (at most {MAX_BATCH})",
    )
    inherits: list[RoleRef] = Field(
        default_factory=list,
        max_length=MAX_BATCH,
        description=(
            f"names or ids of roles to inherit (at most {MAX_BATCH}); no chain of inheritance "
            f"may grow longer than {MAX_INHERITANCE_DEPTH} levels"
        ),
    )


class RoleUpdate(PatchModel):
    """Changes to a role; a field left out stays as it is. `permissions` and
    `inherits` replace the whole set: what is missing is revoked, what is new is added."""

    name: RoleName | None = None
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    permissions: list[PermissionName] | None = Field(
        None, max_length=MAX_BATCH, description="the complete set of direct grants"
    )
    inherits: list[RoleRef] | None = Field(
        None,
        max_length=MAX_BATCH,
        description=f"the complete set of direct parents (chains: {MAX_INHERITANCE_DEPTH} deep)",
    )


class RoleRead(BaseModel):
    """A role with its direct grants and the roles it directly inherits, by name."""

    id: UUID
    name: str
    description: str
    permissions: list[str]
    inherits: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, role: Role) -> RoleRead:
        """The view of ``role``."""
        return cls(
            id=role.id,
            name=role.name,
            description=role.description,
            permissions=list(role.permissions),
            inherits=list(role.inherits),
            created_at=role.created_at,
            updated_at=role.updated_at,
        )


class RolePage(BaseModel):
    """One page of roles; `next_cursor` is null on the last page."""

    items: list[RoleRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Role]) -> RolePage:
        """The view of ``page``."""
        return cls(items=[RoleRead.of(r) for r in page.items], next_cursor=page.next_cursor)


class AssignmentPut(RequestModel):
    """The assignment to hold: until `expires_at`, for `expires_in` from now, or without
    end. The two are exclusive."""

    expires_at: datetime | None = Field(
        None,
        description="when the assignment ends: an ISO 8601 timestamp with a time zone",
        examples=["2030-01-31T18:00:00Z"],
    )
    expires_in: DurationText | None = Field(
        None,
        description=(
            "how long from now the assignment lasts: an ISO 8601 duration (P7D, PT90M, "
            "P1DT12H) or 90s, 90m, 12h, 7d, 2w; the response gives the expires_at it makes"
        ),
        examples=["P7D", "12h"],
    )

    @model_validator(mode="after")
    def _one_end(self) -> AssignmentPut:
        if self.expires_at is not None and self.expires_in is not None:
            raise ValueError("give expires_at or expires_in, not both")
        return self


class AssignmentRead(BaseModel):
    """A user's assignment to a role."""

    user_id: UUID
    username: str
    role: str
    granted_at: datetime
    granted_by: str = Field(description="who assigned it: a user id, or system")
    expires_at: datetime | None

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentRead:
        """The view of ``assignment``."""
        return cls(
            user_id=assignment.user_id,
            username=assignment.username,
            role=assignment.role,
            granted_at=assignment.granted_at,
            granted_by=assignment.granted_by,
            expires_at=assignment.expires_at,
        )


class AssignmentPage(BaseModel):
    """One page of assignments; `next_cursor` is null on the last page."""

    items: list[AssignmentRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Assignment]) -> AssignmentPage:
        """The view of ``page``."""
        return cls(items=[AssignmentRead.of(a) for a in page.items], next_cursor=page.next_cursor)
