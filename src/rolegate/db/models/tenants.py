"""Tenants and the memberships that let global users into them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base, Timestamps, utcnow, uuid_pk


class TenantRecord(Timestamps, Base):
    """A tenant: an isolated set of resources, permissions, roles and members."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class MembershipRecord(Base):
    """A user's membership of a tenant; role assignments require one."""

    __tablename__ = "memberships"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvitationRecord(Base):
    """A pending invitation of an existing account, already a member elsewhere, into a tenant:
    the account joins only when it accepts while logged in (its consent), so no tenant can pull
    in another tenant's account and read it. Accepted, declined and revoked invitations are
    deleted; the audit trail keeps their history."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: The actor that invited (a user id, ``cli:<os user>`` or ``system``).
    invited_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)
