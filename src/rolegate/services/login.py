"""``rg.auth``'s logins: opening a session with a password, changing the password, and
rotating refresh tokens (RFC 9700 §4.14 for the refresh-token rules).

Every credential check takes the one path of :class:`rolegate.services._login.PasswordCheck`;
this module opens the session it allows and issues the token pair for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rolegate.authn.devices import device_label
from rolegate.authn.keys import Signer
from rolegate.authn.tokens import (
    REFRESH_PREFIX,
    TokenRules,
    issue_access_token,
    new_refresh_token,
    refresh_token_hash,
)
from rolegate.builtins import DEFAULT_TENANT_SLUG
from rolegate.db.models import (
    RefreshTokenRecord,
    SessionRecord,
    TenantRecord,
    UserRecord,
)
from rolegate.entities import TokenPair
from rolegate.errors import InvalidToken, RefreshTokenReused
from rolegate.services._context import ServiceContext, require_user
from rolegate.services._login import Client, PasswordCheck
from rolegate.services._sessions import end_sessions, session_entity
from rolegate.services.keys import KeyService
from rolegate.types import Ref

_MAX_REFRESH_TOKEN: Final = 100

#: (roles, permissions) of a user in a tenant, for the optional token claims.
ClaimsSource = Callable[[UUID, UUID], tuple[Sequence[str], Sequence[str]]]


class LoginService:
    """Opens sessions on a checked password, and keeps them going by refresh-token rotation."""

    def __init__(
        self,
        ctx: ServiceContext,
        check: PasswordCheck,
        keys: KeyService,
        rules: TokenRules,
        *,
        access_ttl: timedelta,
        idle_timeout: timedelta,
        lifetime: timedelta,
        claims: ClaimsSource | None = None,
        claims_limit: int = 200,
    ) -> None:
        self._ctx, self._check, self._keys, self._rules = ctx, check, keys, rules
        self._access_ttl, self._idle_timeout, self._lifetime = access_ttl, idle_timeout, lifetime
        self._claims, self._claims_limit = claims, claims_limit

    def login(
        self,
        username_or_email: str,
        password: str,
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        ip: str | None = None,
        user_agent: str | None = None,
        new_password: str | None = None,
    ) -> TokenPair:
        """Check the password and open a session in ``tenant``. Every kind of failure about
        the account (a lockout too) raises the same :class:`InvalidCredentials`; a throttled
        client or tenant raises :class:`LoginThrottled`, whatever the name. With
        ``new_password`` the password is changed in
        the same step; an account whose password an administrator set raises
        :class:`PasswordChangeRequired` until it is given."""
        client = Client.of(ip, user_agent)
        device = device_label(client.user_agent)
        refresh, digest = new_refresh_token()
        signer = self._keys.signer()  # before anything is written: no session without a token

        def open_session(tx: Session, user: UserRecord, tenant_row: TenantRecord) -> SessionRecord:
            now = self._ctx.now()
            if new_password is not None:  # a new password ends the sessions of the old one
                ended = end_sessions(
                    self._ctx, tx, SessionRecord.user_id == user.id, reason="password_changed"
                )
                if ended:
                    self._ctx.bump(tx, *ended)
            return self._open(tx, user, tenant_row, client, device, digest, now=now)

        row, tenant_row = self._check.run(
            username_or_email, password, tenant, client, open_session, new_password=new_password
        )
        return self._pair(row, tenant_row.slug, refresh, signer)

    def _open(
        self,
        tx: Session,
        user: UserRecord,
        tenant_row: TenantRecord,
        client: Client,
        device: str,
        refresh_digest: str,
        *,
        now: datetime,
    ) -> SessionRecord:
        """A new session of ``user`` in ``tenant_row`` from ``client``, and its first refresh
        token (by digest: the token itself is only ever returned, never stored)."""
        row = SessionRecord(
            user_id=user.id,
            tenant_id=tenant_row.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + self._lifetime,
            created_ip=client.ip,
            created_user_agent=client.user_agent,
            last_ip=client.ip,
            last_user_agent=client.user_agent,
            device=device,
        )
        tx.add(row)
        tx.flush()
        tx.add(RefreshTokenRecord(session_id=row.id, token_hash=refresh_digest, created_at=now))
        return row

    def change_password(
        self,
        user: Ref,
        current: str,
        new: str,
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        ip: str | None = None,
        user_agent: str | None = None,
        keep_session: UUID | None = None,
    ) -> int:
        """Replace the password after checking the current one (a wrong one counts as a failed
        login in ``tenant``). Every session but ``keep_session`` ends. Returns the revision."""
        client = Client.of(ip, user_agent)
        with self._ctx.db.reading() as session:
            name = require_user(session, user).username

        def replace(tx: Session, row: UserRecord, tenant_row: TenantRecord) -> int:
            keep = () if keep_session is None else (SessionRecord.id != keep_session,)
            ended = end_sessions(
                self._ctx, tx, SessionRecord.user_id == row.id, *keep, reason="password_changed"
            )
            self._ctx.audit(
                tx, "user.password_changed", "user", row.id, tenant_id=None, actor=str(row.id)
            )
            return self._ctx.bump(tx, *ended)

        revision, _ = self._check.run(
            name, current, tenant, client, replace, new_password=new, purpose="password_change"
        )
        return revision

    def refresh(
        self, refresh_token: str, *, ip: str | None = None, user_agent: str | None = None
    ) -> TokenPair:
        """Exchange a refresh token for a new pair; the old token dies in the same transaction.

        A token presented again after its rotation revokes its whole session and raises
        :class:`RefreshTokenReused`: one of the two presenters is not the client it was issued
        to, and we cannot tell which (RFC 9700 §4.14.2).
        """
        client = Client.of(ip, user_agent)
        if (
            not isinstance(refresh_token, str)
            or not refresh_token.startswith(REFRESH_PREFIX)
            or len(refresh_token) > _MAX_REFRESH_TOKEN
        ):
            raise InvalidToken(reason="malformed_refresh_token")
        successor, digest = new_refresh_token()
        signer = self._keys.signer()
        outcome = "ok"
        with self._ctx.transaction() as tx:
            found = tx.execute(
                select(RefreshTokenRecord, SessionRecord, TenantRecord.slug)
                .join(SessionRecord, SessionRecord.id == RefreshTokenRecord.session_id)
                .join(TenantRecord, TenantRecord.id == SessionRecord.tenant_id)
                .where(RefreshTokenRecord.token_hash == refresh_token_hash(refresh_token))
            ).first()
            if found is None:
                raise InvalidToken(reason="unknown_refresh_token")
            token, row, slug = found
            outcome = self._rotate(tx, token, row, client, digest)
        if outcome == "reused":
            raise RefreshTokenReused()
        if outcome != "ok":
            raise InvalidToken(reason=outcome)
        return self._pair(row, slug, successor, signer)

    def _rotate(
        self,
        tx: Session,
        token: RefreshTokenRecord,
        row: SessionRecord,
        client: Client,
        successor_digest: str,
    ) -> str:
        now = self._ctx.now()
        if row.revoked_at is not None:
            return "session_revoked"
        if token.used_at is not None or not _claim(tx, token, now):
            self._end(tx, row, "refresh_token_reused", audit_action="auth.refresh_token_reused")
            return "reused"
        user = tx.get(UserRecord, row.user_id)
        if now >= row.expires_at or now >= row.last_used_at + self._idle_timeout:
            self._end(tx, row, "expired")
            return "session_expired"
        if user is None or not user.is_active:
            self._end(tx, row, "user_deactivated")
            return "inactive"
        tx.add(RefreshTokenRecord(session_id=row.id, token_hash=successor_digest, created_at=now))
        row.last_used_at, row.last_ip, row.last_user_agent = now, client.ip, client.user_agent
        tx.flush()
        return "ok"

    def _end(self, tx: Session, row: SessionRecord, reason: str, *, audit_action: str = "") -> None:
        changes = end_sessions(self._ctx, tx, SessionRecord.id == row.id, reason=reason)
        if audit_action:
            self._ctx.audit(
                tx,
                audit_action,
                "session",
                row.id,
                tenant_id=row.tenant_id,
                actor="system",
                details={"user_id": row.user_id},
            )
        self._ctx.bump(tx, *changes)

    def _pair(
        self, row: SessionRecord, tenant_slug: str, refresh: str, signer: Signer
    ) -> TokenPair:
        now = self._ctx.now()
        expires_at = min(now + self._access_ttl, row.expires_at)
        access = issue_access_token(
            signer,
            self._rules,
            user_id=row.user_id,
            tenant_id=row.tenant_id,
            session_id=row.id,
            issued_at=now,
            expires_at=expires_at,
            extra=self._extra_claims(row.user_id, row.tenant_id),
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            access_expires_at=expires_at,
            expires_in=int((expires_at - now).total_seconds()),
            session=session_entity(row, tenant_slug, now=self._ctx.now(), idle=self._idle_timeout),
        )

    def _extra_claims(self, user_id: UUID, tenant_id: UUID) -> dict[str, Any]:
        """Roles and permissions for downstream services deciding alone; stale for at most the
        token lifetime. Past the size cap they are left out and ``perms_truncated`` says so."""
        if self._claims is None:
            return {}
        roles, permissions = self._claims(user_id, tenant_id)
        if len(roles) + len(permissions) > self._claims_limit:
            return {"perms_truncated": True}
        return {"roles": list(roles), "permissions": list(permissions)}


def _claim(tx: Session, token: RefreshTokenRecord, now: datetime) -> bool:
    """Mark ``token`` used if nobody has: the one UPDATE that makes rotation atomic. A
    concurrent refresh waits on the row lock, then matches no row (READ COMMITTED re-check)."""
    result = tx.execute(
        update(RefreshTokenRecord)
        .where(RefreshTokenRecord.id == token.id, RefreshTokenRecord.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
