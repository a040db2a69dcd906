"""Bodies of the ``/v1/auth`` endpoints.

Request models forbid unknown fields, so a client can never set more than the endpoint reads
(mass assignment, OWASP API3:2023). Passwords are ``SecretStr``: they print as ``**********``.
Responses carry no hash or secret beyond the tokens issued to the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from rolegate.api.schemas.common import name_rule
from rolegate.entities import Session, Tenant, TokenPair, User
from rolegate.names import EMAIL_PATTERN, TENANT_SLUG_PATTERN, USERNAME_PATTERN, any_of, or_uuid

# The service refuses passwords over 1 KiB of UTF-8 before hashing; this bound only stops
# absurd bodies early (4 bytes at most per character).
_PASSWORD_CHARS = 4096
_TOKEN_CHARS = 8192


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Request):
    """Log in to `tenant` by username or email; `new_password` when a change is required."""

    username: str = Field(
        max_length=254,
        description="username or email address",
        json_schema_extra=name_rule(any_of(USERNAME_PATTERN, EMAIL_PATTERN)),
    )
    password: SecretStr = Field(max_length=_PASSWORD_CHARS)
    tenant: str = Field(
        "default",
        max_length=254,
        description="tenant slug or id",
        json_schema_extra=name_rule(or_uuid(TENANT_SLUG_PATTERN)),
    )
    new_password: SecretStr | None = Field(None, max_length=_PASSWORD_CHARS)


class RefreshRequest(_Request):
    """Exchange a refresh token for a new token pair."""

    refresh_token: str = Field(max_length=_TOKEN_CHARS)


class PasswordChangeRequest(_Request):
    """Replace the caller's password; every other session of the caller ends."""

    current_password: SecretStr = Field(max_length=_PASSWORD_CHARS)
    new_password: SecretStr = Field(max_length=_PASSWORD_CHARS)


class TokenResponse(BaseModel):
    """A token pair, shaped as an OAuth 2.0 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str
    session_id: UUID
    tenant: str = Field(description="slug of the tenant the session is in")

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        """The response for ``pair``."""
        return cls(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
            session_id=pair.session.id,
            tenant=pair.session.tenant,
        )


class SessionFields(BaseModel):
    """What every view of a session shows: when, from where, on what device."""

    id: UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    created_ip: str | None
    last_ip: str | None
    device: str

    @staticmethod
    def fields_of(session: Session) -> dict[str, Any]:
        """The shared fields of ``session``, by name."""
        return {name: getattr(session, name) for name in SessionFields.model_fields}


class SessionRead(SessionFields):
    """One of the caller's sessions; `current` marks the one the request's token belongs to."""

    tenant: str
    is_active: bool
    current: bool

    @classmethod
    def of(cls, session: Session, *, current_id: UUID) -> SessionRead:
        """The view of ``session`` for the caller whose session is ``current_id``."""
        return cls(
            **cls.fields_of(session),
            tenant=session.tenant,
            is_active=session.is_active,
            current=session.id == current_id,
        )


class SessionsEnded(BaseModel):
    """How many sessions a request ended."""

    ended: int


class UserSummary(BaseModel):
    """Who the caller is."""

    id: UUID
    username: str
    email: str | None
    full_name: str


class TenantSummary(BaseModel):
    """The tenant the caller's session is in."""

    id: UUID
    slug: str


class MeRead(BaseModel):
    """The caller: user, tenant and session, with the roles and permissions held there now."""

    user: UserSummary
    tenant: TenantSummary
    session_id: UUID
    roles: list[str]
    permissions: list[str]

    @classmethod
    def of(
        cls,
        user: User,
        tenant: Tenant,
        *,
        session_id: UUID,
        roles: list[str],
        permissions: list[str],
    ) -> MeRead:
        """The view of ``user`` in ``tenant``."""
        return cls(
            user=UserSummary(
                id=user.id, username=user.username, email=user.email, full_name=user.full_name
            ),
            tenant=TenantSummary(id=tenant.id, slug=tenant.slug),
            session_id=session_id,
            roles=roles,
            permissions=permissions,
        )
