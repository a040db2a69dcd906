"""Audit events, written in the same transaction as the change they describe, and the records
that make them tamper-evident: each chain's head, and signed anchors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base, utcnow, uuid_pk


class AuditEventRecord(Base):
    """One audited action. ``tenant_id`` is no foreign key: the trail outlives deleted tenants.

    Events are append-only: rolegate never updates one, and deletes them only when pruning a
    chain's oldest events, leaving a signed anchor (:class:`AuditAnchorRecord`). ``seq`` numbers
    the events of one chain (``chain_id``: the tenant's id, or the nil UUID for events about no
    tenant) from 1; ``hash`` covers every column and ``prev_hash`` (see rolegate.audit.chain).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        # Named as migration 0005 created it; the naming convention would say ..._chain_id_seq,
        # and renaming a constraint is not worth a migration.
        UniqueConstraint("chain_id", "seq", name="uq_audit_events_chain_id"),
        Index("ix_audit_events_tenant_time", "tenant_id", "occurred_at"),
        Index("ix_audit_events_time", "occurred_at", "chain_id", "seq"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    chain_id: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[uuid.UUID | None]  # None for global objects such as users
    actor: Mapped[str] = mapped_column(String(200))
    actor_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AuditChainRecord(Base):
    """A chain's head: the number and hash of its last event. Writers lock this row, so the
    events of one chain are numbered in commit order even with many writers at once."""

    __tablename__ = "audit_chains"

    chain_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchorRecord(Base):
    """A chain head signed with the token signing key: ``seal`` (proves no event up to ``seq``
    was cut off the end) or ``prune`` (where the stored chain now begins)."""

    __tablename__ = "audit_anchors"
    __table_args__ = (Index("ix_audit_anchors_chain", "chain_id", "seq"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    chain_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(10))
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kid: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(Text)  # a compact JWS over the fields above
