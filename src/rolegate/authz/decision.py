"""The outcome of a permission check: a value that says whether, and why."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed`` and the ``reason`` code; build with :meth:`allow` or :meth:`deny`."""

    allowed: bool
    reason: Reason

    @classmethod
    def allow(cls) -> Decision:
        """An allowing decision."""
        return cls(True, Reason.GRANTED)

    @classmethod
    def deny(cls, reason: Reason) -> Decision:
        """A denying decision for ``reason``."""
        return cls(False, reason)

    def __bool__(self) -> bool:
        return self.allowed
