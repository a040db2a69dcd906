"""The outcome of a permission check: a value that says whether, why, and through what."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """Why a decision came out as it did; stable codes for logs and clients."""

    GRANTED = "granted"
    UNKNOWN_TENANT = "unknown_tenant"
    UNKNOWN_USER = "unknown_user"
    INACTIVE_USER = "inactive_user"
    NO_MEMBERSHIP = "no_membership"
    INVALID_PERMISSION = "invalid_permission"
    ASSIGNMENT_EXPIRED = "assignment_expired"
    NO_ROLE_GRANTS_IT = "no_role_grants_it"
    ERROR = "error"  # deciding failed; fail closed
    STALE = "stale"  # the policy could not be confirmed current within the bound; fail closed


@dataclass(frozen=True, slots=True)
class Chain:
    """One way a permission is held: the assigned role, the roles inherited on the way, and the
    grant that matched (a pattern such as ``reports:*`` when a wildcard did)."""

    roles: tuple[str, ...]
    grant: str

    def __str__(self) -> str:
        return " -> ".join((*self.roles, self.grant))


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed``, the ``reason`` code and, when allowed, every chain that allows it."""

    allowed: bool
    reason: Reason
    # Two decisions are equal when their outcome is: chains and revision are the evidence.
    chains: tuple[Chain, ...] = field(default=(), compare=False)
    revision: int = field(default=0, compare=False)  # the policy revision decided at

    @classmethod
    def allow(cls, chains: tuple[Chain, ...] = (), *, revision: int = 0) -> Decision:
        """An allowing decision, through ``chains``."""
        return cls(True, Reason.GRANTED, chains, revision)

    @classmethod
    def deny(cls, reason: Reason, *, revision: int = 0) -> Decision:
        """A denying decision for ``reason``."""
        return cls(False, reason, (), revision)

    def __bool__(self) -> bool:
        return self.allowed
