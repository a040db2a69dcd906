"""Bodies of the tenant-level endpoints for members: their accounts, memberships, sessions and
login history.

Passwords are ``SecretStr`` (they print as ``**********``) and go one way: no response carries
a password hash or any other secret, only whether the account has a password.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr

from rolegate.api.schemas.auth import SessionFields
from rolegate.api.schemas.common import Email, PatchModel, RequestModel, Username, name_rule
from rolegate.entities import Invitation, Lockout, LoginAttempt, Membership, Session, User
from rolegate.limits import MAX_FULL_NAME
from rolegate.names import MAX_EMAIL_LENGTH, USERNAME_PATTERN
from rolegate.pages import Page
from rolegate.types import UNSET, Unset

# The service refuses passwords over 1 KiB of UTF-8 before hashing; this bound only stops
# absurd bodies early (4 bytes at most per character).
_PASSWORD_CHARS = 4096


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class UserCreate(RequestModel):
    """A new account, made a member of the tenant. Without `password` it cannot log in with
    one; with `must_change_password` the first login must choose a new one."""

    username: Username
    email: Email | None = None
    full_name: str = Field("", max_length=MAX_FULL_NAME)
    password: SecretStr | None = Field(None, max_length=_PASSWORD_CHARS)
    must_change_password: bool = False

    @property
    def password_text(self) -> str | None:
        """The password in clear, for the service that hashes it."""
        return _secret(self.password)


class UserUpdate(PatchModel):
    """Changes to an account; `"email": null` removes the address and `"password": null`
    the password. A new `password` ends every session of the user; `is_active: false` too.
    Changing the username, email, password or activation needs every permission the account
    holds, in every tenant it belongs to (403 `account_change_denied` otherwise)."""

    nullable: ClassVar[frozenset[str]] = frozenset({"email", "password"})

    username: Username | None = None
    email: Email | None = None
    full_name: str | None = Field(None, max_length=MAX_FULL_NAME)
    is_active: bool | None = None
    preferences: dict[str, Any] | None = None
    password: SecretStr | None = Field(None, max_length=_PASSWORD_CHARS)
    must_change_password: bool | None = None

    @property
    def email_change(self) -> str | None | Unset:
        """The new email address, None to remove it, or UNSET when not given."""
        return self.email if "email" in self.model_fields_set else UNSET

    @property
    def password_text(self) -> str | None:
        """The new password in clear, for the service that hashes it."""
        return _secret(self.password)

    @property
    def clears_password(self) -> bool:
        """Whether ``"password": null`` was sent: remove the password."""
        return "password" in self.model_fields_set and self.password is None


class MemberAdd(RequestModel):
    """An existing account to make a member of the tenant."""

    user: str = Field(
        min_length=1,
        max_length=MAX_EMAIL_LENGTH,
        description="username or id",
        json_schema_extra=name_rule(USERNAME_PATTERN),
    )


class UserRead(BaseModel):
    """An account: never its password hash, only whether it has a password."""

    id: UUID
    username: str
    email: str | None
    full_name: str
    is_active: bool
    has_password: bool
    must_change_password: bool
    preferences: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserRead:
        """The view of ``user``."""
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            full_name=user.full_name,
            is_active=user.is_active,
            has_password=user.has_password,
            must_change_password=user.must_change_password,
            preferences=user.preferences,
            created_at=user.created_at,
            updated_at=user.updated_at,
            last_login_at=user.last_login_at,
        )


class PageOfUsers(BaseModel):
    """One page of members; `next_cursor` is null on the last page."""

    items: list[UserRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[User]) -> PageOfUsers:
        """The view of ``page``."""
        return cls(items=[UserRead.of(u) for u in page.items], next_cursor=page.next_cursor)


class MembershipRead(BaseModel):
    """A user's membership of a tenant."""

    tenant: str = Field(description="the tenant's slug")
    user_id: UUID
    username: str
    joined_at: datetime

    @classmethod
    def of(cls, membership: Membership) -> MembershipRead:
        """The view of ``membership``."""
        return cls(
            tenant=membership.tenant,
            user_id=membership.user_id,
            username=membership.username,
            joined_at=membership.joined_at,
        )


class InvitationRead(BaseModel):
    """A pending invitation into a tenant. It names the account only as the inviter did (or,
    to the account itself, by its username), and nothing else about it."""

    id: UUID
    tenant: str = Field(description="the inviting tenant's slug")
    username: str = Field(description="the account, as the inviter named it")
    created_at: datetime
    expires_at: datetime = Field(description="after this, it can no longer be accepted")

    @classmethod
    def of(cls, invitation: Invitation) -> InvitationRead:
        """The view of ``invitation``."""
        return cls(
            id=invitation.id,
            tenant=invitation.tenant,
            username=invitation.username,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


class MemberSessionRead(SessionFields):
    """A live session of a member in the tenant."""

    user_id: UUID

    @classmethod
    def of(cls, session: Session) -> MemberSessionRead:
        """The view of ``session``."""
        return cls(**cls.fields_of(session), user_id=session.user_id)


class PageOfSessions(BaseModel):
    """One page of sessions, newest first; `next_cursor` is null on the last page."""

    items: list[MemberSessionRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Session]) -> PageOfSessions:
        """The view of ``page``."""
        items = [MemberSessionRead.of(s) for s in page.items]
        return cls(items=items, next_cursor=page.next_cursor)


class LoginAttemptRead(BaseModel):
    """One login attempt in the tenant; never the password. `username` is as typed."""

    id: int
    occurred_at: datetime
    username: str
    user_id: UUID | None
    succeeded: bool
    reason: str
    ip: str | None
    user_agent: str

    @classmethod
    def of(cls, attempt: LoginAttempt) -> LoginAttemptRead:
        """The view of ``attempt``."""
        return cls(
            id=attempt.id,
            occurred_at=attempt.occurred_at,
            username=attempt.username,
            user_id=attempt.user_id,
            succeeded=attempt.succeeded,
            reason=attempt.reason,
            ip=attempt.ip,
            user_agent=attempt.user_agent,
        )


class PageOfLoginAttempts(BaseModel):
    """One page of login attempts, newest first; `next_cursor` is null on the last page."""

    items: list[LoginAttemptRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[LoginAttempt]) -> PageOfLoginAttempts:
        """The view of ``page``."""
        items = [LoginAttemptRead.of(a) for a in page.items]
        return cls(items=items, next_cursor=page.next_cursor)


class LockoutRead(BaseModel):
    """The brute-force protection state of a member's account in the tenant."""

    failures: int
    consecutive: int
    last_failure_at: datetime | None
    locked_until: datetime | None
    hard_locked: bool
    is_locked: bool

    @classmethod
    def of(cls, lockout: Lockout) -> LockoutRead:
        """The view of ``lockout``."""
        return cls(
            failures=lockout.failures,
            consecutive=lockout.consecutive,
            last_failure_at=lockout.last_failure_at,
            locked_until=lockout.locked_until,
            hard_locked=lockout.hard_locked,
            is_locked=lockout.is_locked,
        )
