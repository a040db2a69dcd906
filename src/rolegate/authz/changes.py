"""What a committed change invalidates: the vocabulary shared by writers and the cache."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Scope(StrEnum):
    """How far a change reaches into compiled authorization data."""

    TENANT = "tenant"  # everything of one tenant (created, renamed, deleted, resources deleted)
    ROLE = "role"  # one role: its grants, parents, name; holders of it and of its heirs
    MEMBER = "member"  # one user in one tenant: membership and assignments
    USER = "user"  # one user everywhere: created, renamed, (de)activated, deleted
    SESSION = "session"  # one login session ended: tokens of it stop verifying
    KEYS = "keys"  # the token signing keys changed: reload them


@dataclass(frozen=True, slots=True)
class Change:
    """One invalidation, recorded with the revision that committed it."""

    scope: Scope
    tenant_id: UUID | None = None
    subject_id: UUID | None = None  # the role, the user (MEMBER, USER) or the session

    @classmethod
    def tenant(cls, tenant_id: UUID) -> Change:
        """Everything compiled for ``tenant_id`` is stale."""
        return cls(Scope.TENANT, tenant_id)

    @classmethod
    def role(cls, tenant_id: UUID, role_id: UUID) -> Change:
        """Role ``role_id`` changed: its holders and the holders of roles inheriting it."""
        return cls(Scope.ROLE, tenant_id, role_id)

    @classmethod
    def member(cls, tenant_id: UUID, user_id: UUID) -> Change:
        """``user_id``'s membership or assignments in ``tenant_id`` changed."""
        return cls(Scope.MEMBER, tenant_id, user_id)

    @classmethod
    def user(cls, user_id: UUID) -> Change:
        """``user_id`` changed in a way that matters in every tenant."""
        return cls(Scope.USER, None, user_id)

    @classmethod
    def session(cls, tenant_id: UUID, session_id: UUID) -> Change:
        """Session ``session_id`` ended (revoked, or deleted with its user or tenant)."""
        return cls(Scope.SESSION, tenant_id, session_id)

    @classmethod
    def keys(cls) -> Change:
        """A signing key was added or retired."""
        return cls(Scope.KEYS)
