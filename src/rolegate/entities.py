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
from uuid import UUID

from rolegate.types import PermissionId, ResourceId, RoleId, SessionId, TenantId, UserId


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
    must_change_password: bool = False
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
class Invitation:
    """A pending invitation of an account into ``tenant``: it joins only when it accepts.

    ``username`` is the account as the inviter named it (a username as typed, or an id), so an
    invitation tells the inviting tenant nothing about the account it did not already know.
    """

    id: UUID
    tenant: str
    user_id: UserId
    username: str
    created_at: datetime
    expires_at: datetime
    revision: int = field(default=0, compare=False)

    def is_expired(self, now: datetime) -> bool:
        """Whether the invitation can no longer be accepted at ``now``."""
        return self.expires_at <= now


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
    audited: bool = False  # allowed checks are recorded in the audit trail, not only denials
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


@dataclass(frozen=True, slots=True)
class Session:
    """A login session: where it started, where it was last used, and whether it still lives.

    ``is_active`` was true when the value was read: not revoked, within its absolute lifetime
    (``expires_at``) and refreshed recently enough (``idle_expires_at``).
    """

    id: SessionId
    user_id: UserId
    tenant_id: TenantId
    tenant: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    created_ip: str | None
    created_user_agent: str
    last_ip: str | None
    last_user_agent: str
    device: str
    revoked_at: datetime | None
    revoked_reason: str | None
    is_active: bool
    revision: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified access token speaks for: the user, in one tenant, in one session."""

    user_id: UserId
    tenant_id: TenantId
    session_id: SessionId
    expires_at: datetime
    token_id: str  # the ``jti`` claim


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What login and refresh return. The tokens are secrets: they never appear in ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    expires_in: int  # seconds, as OAuth 2.0 token responses say it (RFC 6749 §5.1)
    session: Session
    token_type: str = "Bearer"


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One login attempt from the login history; ``reason`` is internal, for administrators."""

    id: int
    occurred_at: datetime
    username: str
    user_id: UserId | None
    tenant: str
    tenant_id: TenantId | None
    succeeded: bool
    reason: str
    ip: str | None
    user_agent: str


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A signing key as listed: never its private part."""

    kid: str
    algorithm: str
    created_at: datetime
    retired_at: datetime | None
    verify_until: datetime | None
    purpose: str  # "access" (tokens, in the JWKS) or "audit_seal" (seals and prune anchors)
    is_signing: bool  # the key new tokens (or seals) of its purpose are signed with
    public_jwk: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lockout:
    """The brute-force state of an account in a tenant, or of a client address."""

    key: str
    failures: int
    consecutive: int
    last_failure_at: datetime | None
    locked_until: datetime | None
    hard_locked: bool
    is_locked: bool


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event of the audit trail, as stored: ``seq`` and ``hash`` place it in its chain
    (``chain_id``: the tenant's id, or the nil UUID for events about no tenant)."""

    id: UUID
    chain_id: UUID
    seq: int
    occurred_at: datetime
    tenant_id: TenantId | None
    actor: str
    actor_ip: str | None
    user_agent: str | None
    request_id: str | None
    action: str
    target_type: str
    target_id: str
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        """The event as a JSON object (ids and times as strings): one line of an export."""
        return {
            "id": str(self.id),
            "chain_id": str(self.chain_id),
            "seq": self.seq,
            "occurred_at": self.occurred_at.isoformat(),
            "tenant_id": None if self.tenant_id is None else str(self.tenant_id),
            "actor": self.actor,
            "actor_ip": self.actor_ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "outcome": self.outcome,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What verifying one chain found: how many events hold together, and the first break."""

    chain_id: UUID
    label: str  # the tenant's slug, "global", or the id of a deleted tenant
    events: int  # events verified before the first break (all of them when intact)
    last_seq: int
    seals: int  # signed heads checked
    broken_at: UUID | None = None  # the first broken event, None if it is missing
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def is_intact(self) -> bool:
        """Whether every link, the head and every signed anchor check out."""
        return self.problem is None


@dataclass(frozen=True, slots=True)
class AuditAnchor:
    """A chain head signed with the token signing key, by ``audit seal`` or ``audit prune``."""

    chain_id: UUID
    label: str
    kind: str  # "seal" or "prune"
    seq: int
    hash: str
    created_at: datetime
    kid: str
    removed: int = 0  # events pruned, for a "prune" anchor
