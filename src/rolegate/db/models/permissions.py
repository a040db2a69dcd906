"""Resources and the permissions (``resource:action``) defined on them, per tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base, Timestamps, uuid_pk


class ResourceRecord(Base):
    """A kind of thing permissions act on (``documents``, ``billing:invoices``)."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "id"),  # target of same-tenant composite keys
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1000), default="")


class PermissionRecord(Timestamps, Base):
    """A permission name, exact (``documents:read``) or a grantable pattern (``documents:*``)."""

    __tablename__ = "permissions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "id"),
        # The resource must belong to the same tenant: enforced by the key, not by code alone.
        ForeignKeyConstraint(
            ["tenant_id", "resource_id"],
            ["resources.tenant_id", "resources.id"],
            ondelete="CASCADE",
            name="fk_permissions_resource_id_resources",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    # NULL for UPPER_SNAKE names and for patterns whose resource part is '*'.
    resource_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1000), default="")
    # Allowed checks of an audited permission are recorded too, not only denials.
    audited: Mapped[bool] = mapped_column(default=False)
