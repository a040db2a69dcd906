"""Every error rolegate raises, each with a stable ``code`` that clients may rely on.

::

    RolegateError
    ├── NotFound
    │   ├── TenantNotFound · UserNotFound · RoleNotFound · PermissionNotFound
    │   └── ResourceNotFound · MembershipNotFound · GrantNotFound
    │       · InheritanceNotFound · AssignmentNotFound · SessionNotFound
    │       · InvitationNotFound
    ├── AlreadyExists
    │   ├── TenantExists · UserExists · RoleExists · PermissionExists · ResourceExists
    │   └── MembershipExists · GrantExists · InheritanceExists · InvitationExists · LoginNameTaken
    ├── InvalidInput (also a ValueError)
    │   ├── InvalidName · InvalidPassword · InvalidExpiry · InvalidConfiguration
    ├── AuthenticationFailed
    │   ├── InvalidCredentials · PasswordChangeRequired · LoginThrottled
    │   └── InvalidToken
    │       └── RefreshTokenReused
    ├── Forbidden
    │   └── EscalationDenied · AccountChangeDenied
    ├── Conflict
    │   ├── InheritanceCycle · TenantProtected · BuiltinProtected · ConcurrentChange
    │   └── PreconditionFailed · InvitationExpired
    └── StorageError
        └── SchemaNotCurrent · MigrationBrokeReferences · CommitOutcomeUnknown · PolicyStale

The edges (CLI, HTTP) map these classes to exit codes and problem documents in one table each;
nothing else in rolegate raises bare ``Exception`` or ``RuntimeError``.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID


class RolegateError(Exception):
    """Base of every rolegate error; ``code`` is stable across releases."""

    code: ClassVar[str] = "rolegate_error"


class NotFound(RolegateError):
    """The named thing does not exist (or lies in another tenant, which reads the same)."""

    code: ClassVar[str] = "not_found"
    entity: ClassVar[str] = "object"

    def __init__(self, key: str, *, tenant: str | None = None) -> None:
        where = f" in tenant {tenant!r}" if tenant is not None else ""
        super().__init__(f"{self.entity} {key!r} not found{where}")
        self.key, self.tenant = key, tenant


class TenantNotFound(NotFound):
    code = "tenant_not_found"
    entity = "tenant"


class UserNotFound(NotFound):
    code = "user_not_found"
    entity = "user"


class RoleNotFound(NotFound):
    code = "role_not_found"
    entity = "role"


class PermissionNotFound(NotFound):
    """One or more permissions do not exist: ``names`` lists every one, ``key`` is the first."""

    code = "permission_not_found"
    entity = "permission"

    def __init__(self, name: str, *more: str, tenant: str | None = None) -> None:
        super().__init__(name, tenant=tenant)
        self.names = (name, *more)
        if more:  # one message for all of them, so a caller can fix them in one go
            where = f" in tenant {tenant!r}" if tenant is not None else ""
            listed = ", ".join(repr(each) for each in self.names)
            self.args = (f"permissions {listed} not found{where}",)


class ResourceNotFound(NotFound):
    code = "resource_not_found"
    entity = "resource"


class MembershipNotFound(NotFound):
    code = "membership_not_found"
    entity = "membership of user"


class GrantNotFound(NotFound):
    code = "grant_not_found"
    entity = "grant"


class InheritanceNotFound(NotFound):
    code = "inheritance_not_found"
    entity = "inheritance"


class AssignmentNotFound(NotFound):
    code = "assignment_not_found"
    entity = "assignment"


class SessionNotFound(NotFound):
    code = "session_not_found"
    entity = "session"


class InvitationNotFound(NotFound):
    """No such invitation, or one addressed to someone else, or of another tenant (the same
    answer, so invitation ids cannot be probed)."""

    code = "invitation_not_found"
    entity = "invitation"


class AlreadyExists(RolegateError):
    """A thing with the same unique name already exists."""

    code: ClassVar[str] = "already_exists"
    entity: ClassVar[str] = "object"

    def __init__(self, key: str, *, tenant: str | None = None) -> None:
        where = f" in tenant {tenant!r}" if tenant is not None else ""
        super().__init__(f"{self.entity} {key!r} already exists{where}")
        self.key, self.tenant = key, tenant


class TenantExists(AlreadyExists):
    code = "tenant_exists"
    entity = "tenant"


class UserExists(AlreadyExists):
    code = "user_exists"
    entity = "user"


class LoginNameTaken(AlreadyExists):
    """The username is another account's email address, or the email address another
    account's username: one login name would name two accounts."""

    code = "login_name_taken"
    entity = "login name"

    def __init__(self, key: str, *, tenant: str | None = None) -> None:
        RolegateError.__init__(
            self, f"{key!r} is already another account's username or email address"
        )
        self.key, self.tenant = key, tenant


class RoleExists(AlreadyExists):
    code = "role_exists"
    entity = "role"


class PermissionExists(AlreadyExists):
    code = "permission_exists"
    entity = "permission"


class ResourceExists(AlreadyExists):
    code = "resource_exists"
    entity = "resource"


class MembershipExists(AlreadyExists):
    code = "membership_exists"
    entity = "membership of user"


class GrantExists(AlreadyExists):
    code = "grant_exists"
    entity = "grant"


class InheritanceExists(AlreadyExists):
    code = "inheritance_exists"
    entity = "inheritance"


class InvitationExists(AlreadyExists):
    code = "invitation_exists"
    entity = "invitation of user"


class InvalidInput(RolegateError, ValueError):
    """A value breaks a rule; nothing was changed."""

    code: ClassVar[str] = "invalid_input"


class InvalidName(InvalidInput):
    """A name (slug, username, role, permission...) is not well formed; ``reason`` says why."""

    code = "invalid_name"

    _labels: ClassVar[dict[str, str]] = {
        "tenant": "tenant slug",
        "role": "role name",
        "permission": "permission name",
        "grant": "permission or pattern",
        "resource": "resource name",
        "email": "email address",
    }

    def __init__(self, kind: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {self._labels.get(kind, kind)} {value!r}: {reason}")
        self.kind, self.value, self.reason = kind, value, reason


class InvalidPassword(InvalidInput):
    """A password breaks the password policy; the message and ``rule`` say which rule
    (``too_short``, ``too_long``, ``not_text``, ``common``, ``contains_username``,
    ``contains_email``, ``contains_tenant``), never the password."""

    code = "invalid_password"

    def __init__(self, message: str, *, rule: str = "policy") -> None:
        super().__init__(message)
        self.rule = rule


class InvalidConfiguration(InvalidInput):
    """A setting or stored key cannot be used as configured; the message names the setting."""

    code = "invalid_configuration"


class InvalidExpiry(InvalidInput):
    """An expiry is in the past or has no time zone."""

    code = "invalid_expiry"


class AuthenticationFailed(RolegateError):
    """Credentials or a token were not accepted; ``reason`` is for logs, never for the caller."""

    code: ClassVar[str] = "authentication_failed"

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class InvalidCredentials(AuthenticationFailed):
    """Login failed. One error for an unknown user, a wrong password, an inactive or locked
    account and a missing membership, so the answer does not reveal which (OWASP ASVS 6.3)."""

    code = "invalid_credentials"

    def __init__(self, *, reason: str = "") -> None:
        super().__init__("invalid username or password", reason=reason)


class PasswordChangeRequired(AuthenticationFailed):
    """The password was right but must be changed first: log in again with ``new_password``."""

    code = "password_change_required"

    def __init__(self) -> None:
        super().__init__("the password must be changed before logging in", reason="must_change")


class LoginThrottled(AuthenticationFailed):
    """Too many failed logins from this client, or in this tenant: try again in ``retry_after``
    seconds. Never raised for one account's lockout, which reads as :class:`InvalidCredentials`
    so that it does not reveal that the account exists."""

    code = "login_throttled"

    def __init__(self, *, retry_after: int, reason: str = "") -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s", reason=reason)
        self.retry_after = retry_after


class InvalidToken(AuthenticationFailed):
    """An access or refresh token is malformed, forged, expired, or its session has ended."""

    code = "invalid_token"

    def __init__(self, *, reason: str = "") -> None:
        super().__init__("invalid or expired token", reason=reason)


class RefreshTokenReused(InvalidToken):
    """A refresh token was presented again after rotation: its whole session is now revoked
    (RFC 9700 §4.14.2)."""

    code = "refresh_token_reused"

    def __init__(self) -> None:
        super().__init__(reason="refresh_token_reused")


class Forbidden(RolegateError):
    """The caller is authenticated but does not hold the permission the action needs."""

    code: ClassVar[str] = "forbidden"

    def __init__(self, permission: str, *, tenant: str) -> None:
        super().__init__(f"this needs the permission {permission!r} in tenant {tenant!r}")
        self.permission, self.tenant = permission, tenant


class EscalationDenied(Forbidden):
    """The change would hand out permissions the caller does not hold itself (and the caller
    does not hold ``rolegate:roles:escalate``); ``missing`` names them."""

    code = "escalation_denied"

    def __init__(self, missing: list[str], *, tenant: str, tenant_id: UUID | None = None) -> None:
        RolegateError.__init__(
            self,
            "this would grant permissions you do not hold in tenant "
            f"{tenant!r}: {', '.join(missing)}",
        )
        self.permission, self.tenant, self.missing = "rolegate:roles:escalate", tenant, missing
        self.tenant_id = tenant_id


class AccountChangeDenied(Forbidden):
    """Changing this account (its password, login names or activation) or taking its roles
    away needs, in every tenant concerned, every permission the account holds there, or
    ``rolegate:roles:escalate`` there (the bind rule). ``missing`` and ``tenant`` say where the
    caller falls short, for the audit trail only: the message names the rule, not what the
    account holds."""

    code = "account_change_denied"
    rule: ClassVar[str] = "account_bind"

    def __init__(
        self,
        missing: list[str],
        *,
        tenant: str,
        target_id: UUID,
        tenant_id: UUID | None = None,
    ) -> None:
        RolegateError.__init__(
            self,
            "changing this account needs every permission it holds, in every tenant it "
            "belongs to (or rolegate:roles:escalate there)",
        )
        self.permission, self.tenant, self.missing = "rolegate:roles:escalate", tenant, missing
        self.target_id, self.tenant_id = target_id, tenant_id


class Conflict(RolegateError):
    """The change is well formed but contradicts the current state."""

    code: ClassVar[str] = "conflict"


class InheritanceCycle(Conflict):
    """Adding the edge would make a role inherit itself; ``path`` is the cycle it would close."""

    code = "inheritance_cycle"

    def __init__(self, path: list[str], *, tenant: str) -> None:
        super().__init__(f"inheritance cycle in tenant {tenant!r}: {' -> '.join(path)}")
        self.path, self.tenant = path, tenant


class TenantProtected(Conflict):
    """The default tenant cannot be deleted or renamed."""

    code = "tenant_protected"


class BuiltinProtected(Conflict):
    """Built-in objects (the ``rolegate:`` permissions, the ``tenant-admin`` role, the platform
    tenant) cannot be created, changed or deleted by hand."""

    code = "builtin_protected"


class PreconditionFailed(Conflict):
    """The object changed since the caller read it (its ETag no longer matches If-Match)."""

    code = "precondition_failed"

    def __init__(self, current: str) -> None:
        super().__init__("the object changed since it was read; read it again and retry")
        self.current = current


class InvitationExpired(Conflict):
    """The invitation's time ran out: it can be declined, not accepted; the tenant may invite
    again."""

    code = "invitation_expired"

    def __init__(self, invitation: UUID) -> None:
        super().__init__(f"invitation {str(invitation)!r} has expired")
        self.invitation = invitation


class ConcurrentChange(Conflict):
    """A concurrent transaction changed the same data first; retrying may succeed."""

    code = "concurrent_change"


class StorageError(RolegateError):
    """The database failed or refused the change; nothing was applied (unless it is a
    :class:`CommitOutcomeUnknown`)."""

    code: ClassVar[str] = "storage_error"


class CommitOutcomeUnknown(StorageError):
    """The connection to the database was lost while the change was committing: it may or may
    not have been applied, so read the state again before retrying."""

    code = "commit_outcome_unknown"


class SchemaNotCurrent(StorageError):
    """The database schema is not at the version this rolegate needs."""

    code = "schema_not_current"

    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"database schema is at {current or 'nothing'}, rolegate needs {head}: "
            "run `rolegate db upgrade`"
        )
        self.current, self.head = current, head


class MigrationBrokeReferences(StorageError):
    """After migrating, rows pointed at rows that do not exist (SQLite's foreign key check);
    the whole upgrade was rolled back, the database is as it was."""

    code = "migration_broke_references"

    def __init__(self, violations: dict[str, int]) -> None:
        listed = ", ".join(f"{link} ({count} rows)" for link, count in sorted(violations.items()))
        super().__init__(f"migration rolled back: rows would reference missing rows: {listed}")
        self.violations = violations


class PolicyStale(StorageError):
    """This process has not confirmed for longer than its staleness bound that its policy is
    current (the database does not answer): it denies rather than answer from a stale cache."""

    code = "policy_stale"

    def __init__(self, seconds: float, *, bound: float) -> None:
        super().__init__(
            f"the policy has not been confirmed current for {seconds:.1f} s "
            f"(the bound is {bound:g} s): denying until the database answers"
        )
        self.seconds, self.bound = seconds, bound

    @property
    def retry_after(self) -> int:
        """Whole seconds worth waiting before asking again: the bound, at least one."""
        return max(1, round(self.bound))
