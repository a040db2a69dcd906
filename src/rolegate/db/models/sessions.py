"""Login sessions with their rotating refresh tokens, login attempts and the failure counters
of brute-force protection."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base, uuid_pk

#: ``BIGINT`` on PostgreSQL; ``INTEGER`` on SQLite, where only that is an auto-increment rowid.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class SessionRecord(Base):
    """One login of a user in a tenant, kept alive by refreshes until revoked or expired.

    It references the membership, so a session cannot outlive the user's place in the tenant.
    """

    __tablename__ = "sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["memberships.tenant_id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
        Index("ix_sessions_user_tenant", "user_id", "tenant_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID]
    tenant_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute lifetime; the idle timeout runs from last_used_at
    created_ip: Mapped[str | None] = mapped_column(String(45))
    created_user_agent: Mapped[str] = mapped_column(String(512), default="")
    last_ip: Mapped[str | None] = mapped_column(String(45))
    last_user_agent: Mapped[str] = mapped_column(String(512), default="")
    device: Mapped[str] = mapped_column(String(120), default="")
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshTokenRecord(Base):
    """One refresh token, stored only as its SHA-256; ``used_at`` is set when it is rotated."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginAttemptRecord(Base):
    """One login attempt, successful or not; never the password.

    No foreign keys: the history outlives deleted users and tenants, and records names that
    never existed.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_user_time", "user_id", "occurred_at"),
        Index("ix_login_attempts_tenant_time", "tenant_id", "occurred_at"),
    )

    # A sequence, so attempts within one clock tick still list in the order they happened.
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(254))  # as typed, cut to 254 characters
    user_id: Mapped[uuid.UUID | None]
    tenant: Mapped[str] = mapped_column(String(63))  # as given
    tenant_id: Mapped[uuid.UUID | None]
    succeeded: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(40))  # internal; callers only ever see one error
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str] = mapped_column(String(512), default="")


class LoginThrottleRecord(Base):
    """Failure counters of one account in one tenant (``user:<tenant>:<user>``) or one client
    address (``ip:<address>``); see :mod:`rolegate.authn.throttle`."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(default=0)
    consecutive: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    hard_locked: Mapped[bool] = mapped_column(default=False)
