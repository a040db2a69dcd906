"""The policy revision: one counter bumped by every mutating transaction, and the change log
that tells other processes what to invalidate."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rolegate.db.base import Base

#: ``BIGINT`` on PostgreSQL; ``INTEGER`` on SQLite, where only that is an auto-increment rowid.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class PolicyStateRecord(Base):
    """The single row holding the current policy revision.

    Every mutating transaction updates this row, so revisions commit in the order they are
    numbered: a reader that has seen revision N has seen every change up to N (a sequence alone
    would let N+1 commit before N).
    """

    __tablename__ = "policy_state"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    revision: Mapped[int] = mapped_column(BigInteger)


class PolicyChangeRecord(Base):
    """What one revision changed, for precise invalidation of compiled authorization data."""

    __tablename__ = "policy_changes"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    revision: Mapped[int] = mapped_column(BigInteger, index=True)
    scope: Mapped[str] = mapped_column(String(20))  # rolegate.authz.changes.Scope
    tenant_id: Mapped[uuid.UUID | None]
    subject_id: Mapped[uuid.UUID | None]  # the role or user, by scope
