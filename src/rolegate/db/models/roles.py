"""Roles, what they inherit, what they are granted, and who holds them.

Every link table carries ``tenant_id`` and points at its ends through ``(tenant_id, id)``
composite keys, so the database itself refuses a link between two tenants.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base, Timestamps, utcnow, uuid_pk


class RoleRecord(Timestamps, Base):
    """A named set of permissions in one tenant."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), UniqueConstraint("tenant_id", "id"))

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(1000), default="")


def _role_key(table: str, column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", column],
        ["roles.tenant_id", "roles.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_{column}_roles",
    )


class RoleInheritanceRecord(Base):
    """``role_id`` inherits every permission of ``inherited_role_id`` (same tenant, no cycles)."""

    __tablename__ = "role_inheritance"
    __table_args__ = (
        _role_key("role_inheritance", "role_id"),
        _role_key("role_inheritance", "inherited_role_id"),
        CheckConstraint("role_id <> inherited_role_id", name="not_self"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    role_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    inherited_role_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class RolePermissionRecord(Base):
    """A grant of one permission (or pattern) to one role."""

    __tablename__ = "role_permissions"
    __table_args__ = (
        UniqueConstraint("role_id", "permission_id"),
        _role_key("role_permissions", "role_id"),
        ForeignKeyConstraint(
            ["tenant_id", "permission_id"],
            ["permissions.tenant_id", "permissions.id"],
            ondelete="CASCADE",
            name="fk_role_permissions_permission_id_permissions",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    role_id: Mapped[uuid.UUID] = mapped_column(index=True)
    permission_id: Mapped[uuid.UUID] = mapped_column(index=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(200))


class UserRoleRecord(Base):
    """A user's assignment to a role, optionally until ``expires_at``.

    The ``(tenant_id, user_id)`` key into memberships means an assignment cannot outlive the
    membership it depends on.
    """

    __tablename__ = "user_roles"
    __table_args__ = (
        _role_key("user_roles", "role_id"),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["memberships.tenant_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_user_roles_user_id_memberships",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
