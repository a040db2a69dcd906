"""Bodies of the resource and permission endpoints under ``/v1/tenants/{tenant}``.

Request models forbid unknown fields (:mod:`.common`): only a name, a description and (for a
permission) whether its allowed checks are audited are the client's to set; the name never
changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from rolegate.api.schemas.common import GrantName, PatchModel, RequestModel, ResourceName
from rolegate.entities import Permission, Resource
from rolegate.limits import MAX_DESCRIPTION
from rolegate.pages import Page


class ResourceCreate(RequestModel):
    """A new resource, such as `documents` or `billing:invoices`."""

    name: ResourceName
    description: str = Field("", max_length=MAX_DESCRIPTION)


class PermissionCreate(RequestModel):
    """A new permission (`documents:read`, `VIEW_DASHBOARD`) or pattern (`reports:*`);
    its resource is created with it when missing."""

    name: GrantName
    description: str = Field("", max_length=MAX_DESCRIPTION)
    audited: bool = Field(False, description="record allowed checks too, not only denials")


class DescriptionUpdate(RequestModel):
    """A new description: the one thing about a resource that can change."""

    description: str = Field(max_length=MAX_DESCRIPTION)


class PermissionUpdate(PatchModel):
    """Changes to a permission: its description, whether its allowed checks are audited (a
    built-in's may be, though it cannot be described anew)."""

    at_least_one: ClassVar[bool] = True

    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    audited: bool | None = None

    @model_validator(mode="after")
    def _refuse_nothing(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give description, audited or both")
        return self


class ResourceRead(BaseModel):
    """A resource permissions act on."""

    id: UUID
    name: str
    description: str

    @classmethod
    def of(cls, resource: Resource) -> ResourceRead:
        """The view of ``resource``."""
        return cls(id=resource.id, name=resource.name, description=resource.description)


class PermissionRead(BaseModel):
    """A permission, or a pattern that roles may be granted."""

    id: UUID
    name: str
    resource: str | None = Field(description="null for UPPER_SNAKE names and '*' resources")
    action: str
    description: str
    is_pattern: bool
    audited: bool = Field(description="allowed checks are recorded in the audit trail too")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, permission: Permission) -> PermissionRead:
        """The view of ``permission``."""
        return cls(
            id=permission.id,
            name=permission.name,
            resource=permission.resource,
            action=permission.action,
            description=permission.description,
            is_pattern=permission.is_pattern,
            audited=permission.audited,
            created_at=permission.created_at,
            updated_at=permission.updated_at,
        )


class ResourcePage(BaseModel):
    """One page of resources; `next_cursor` is null on the last page."""

    items: list[ResourceRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Resource]) -> ResourcePage:
        """The view of ``page``."""
        return cls(items=[ResourceRead.of(r) for r in page.items], next_cursor=page.next_cursor)


class PermissionPage(BaseModel):
    """One page of permissions and patterns; `next_cursor` is null on the last page."""

    items: list[PermissionRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Permission]) -> PermissionPage:
        """The view of ``page``."""
        return cls(items=[PermissionRead.of(p) for p in page.items], next_cursor=page.next_cursor)
