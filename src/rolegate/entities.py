"""The value types rolegate's library API returns: frozen snapshots of stored objects.

They are plain data: reading one never touches the database, and changing the stored
object never changes a value already returned. A value returned by a change carries the policy
``revision`` that change committed; pass it as ``at_least=`` to a check to be sure the check
sees the change (reads leave it 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rolegate.types import PermissionId, ResourceId, RoleId, TenantId, UserId


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant, named by its ``slug``."""

    id: TenantId
    slug: str
    name: str
    created_at: datetime
    updated_at: datetime
    revision: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class User:
    """A user account; the password hash never leaves the database, only ``has_password``."""

    id: UserId
    username: str
    email: str | None
    full_name: str
    is_active: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    preferences: dict[str, Any] = field(default_factory=dict)
    revision: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's membership of a tenant."""

    tenant: str
    user_id: UserId
    username: str
    joined_at: datetime
    revision: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource permissions act on."""

    id: ResourceId
    tenant: str
    name: str
    description: str
    revision: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Permission:
    """A permission, or a pattern such as ``documents:*`` that roles may be granted."""

    id: PermissionId
    tenant: str
    name: str
    resource: str | None
    action: str
    description: str
    created_at: datetime
    updated_at: datetime
    revision: int = field(default=0, compare=False)

    @property
    def is_pattern(self) -> bool:
        """True for wildcard patterns, which only grants use."""
        return "*" in self.name.split(":")


@dataclass(frozen=True, slots=True)
class Role:
    """A role with its direct grants and the roles it directly inherits."""

    id: RoleId
    tenant: str
    name: str
    description: str
    permissions: tuple[str, ...]
    inherits: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    revision: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Assignment:
    """A user's assignment to a role in a tenant, optionally time-bound."""

    tenant: str
    user_id: UserId
    username: str
    role: str
    granted_at: datetime
    granted_by: str
    expires_at: datetime | None
    revision: int = field(default=0, compare=False)

    def is_expired(self, now: datetime) -> bool:
        """Whether the assignment no longer counts at ``now``."""
        return self.expires_at is not None and self.expires_at <= now
