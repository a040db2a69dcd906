"""Bodies of the ``/v1/tenants`` endpoints (platform administration)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from rolegate.api.schemas.common import PatchModel, RequestModel, TenantSlug
from rolegate.entities import Tenant
from rolegate.limits import MAX_TENANT_NAME
from rolegate.pages import Page

#: A display name: the service trims it and refuses an empty one, so it needs one non-space.
TenantName = Annotated[str, Field(max_length=MAX_TENANT_NAME, json_schema_extra={"pattern": r"\S"})]


class TenantCreate(RequestModel):
    """A new tenant; `name` (for display) defaults to the slug."""

    slug: TenantSlug
    name: TenantName | None = None


class TenantUpdate(PatchModel):
    """A new slug, display name, or both (the built-in tenants keep their slugs)."""

    slug: TenantSlug | None = None
    name: TenantName | None = None


class TenantRead(BaseModel):
    """A tenant."""

    id: UUID
    slug: str
    name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantRead:
        """The view of ``tenant``."""
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
        )


class PageOfTenants(BaseModel):
    """One page of tenants; `next_cursor` is null on the last page."""

    items: list[TenantRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Tenant]) -> PageOfTenants:
        """The view of ``page``."""
        return cls(items=[TenantRead.of(t) for t in page.items], next_cursor=page.next_cursor)
