"""Frozen structures holding everything a decision for one (user, tenant) needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class RoleNode:
    """A compiled role: its direct grants (exact names and patterns) and direct parents."""

    name: str
    grants: frozenset[str]
    inherits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AssignmentNode:
    """A role the user holds in the tenant, until ``expires_at`` when set."""

    role: str
    expires_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        """Whether the assignment still counts at ``now`` (it stops the instant it expires)."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A (user, tenant) compiled for evaluation; ``roles`` holds every role reachable from
    the assignments."""

    tenant_exists: bool
    user_exists: bool
    is_active: bool = False
    is_member: bool = False
    assignments: tuple[AssignmentNode, ...] = ()
    roles: Mapping[str, RoleNode] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def unknown(cls, *, tenant_exists: bool, user_exists: bool) -> Snapshot:
        """A snapshot for a tenant or user that does not exist: every check denies."""
        return cls(tenant_exists=tenant_exists, user_exists=user_exists)
