"""Bodies of the resource and permission endpoints under ``/v1/tenants/{tenant}``.

Request models forbid unknown fields (:mod:`.common`): only a name and a description are the
client's to set, and only the description can change.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from rolegate.api.schemas.common import RequestModel
from rolegate.entities import Permission, Resource
from rolegate.names import MAX_PERMISSION_LENGTH
from rolegate.services.pages import Page
from rolegate.services.resources import MAX_DESCRIPTION


class ResourceCreate(RequestModel):
    """A new resource, such as ``documents`` or ``billing:invoices``."""

    name: str = Field(max_length=MAX_PERMISSION_LENGTH)
    description: str = Field("", max_length=MAX_DESCRIPTION)


class PermissionCreate(RequestModel):
    """A new permission (``documents:read``, ``VIEW_DASHBOARD``) or pattern (``reports:*``);
    its resource is created with it when missing."""

    name: str = Field(max_length=MAX_PERMISSION_LENGTH)
    description: str = Field("", max_length=MAX_DESCRIPTION)


class DescriptionUpdate(RequestModel):
    """A new description: the one thing about a resource or permission that can change."""

    description: str = Field(max_length=MAX_DESCRIPTION)


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
            created_at=permission.created_at,
            updated_at=permission.updated_at,
        )


class ResourcePage(BaseModel):
    """One page of resources; ``next_cursor`` is null on the last page."""

    items: list[ResourceRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Resource]) -> ResourcePage:
        """The view of ``page``."""
        return cls(items=[ResourceRead.of(r) for r in page.items], next_cursor=page.next_cursor)


class PermissionPage(BaseModel):
    """One page of permissions and patterns; ``next_cursor`` is null on the last page."""

    items: list[PermissionRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Permission]) -> PermissionPage:
        """The view of ``page``."""
        return cls(items=[PermissionRead.of(p) for p in page.items], next_cursor=page.next_cursor)
