"""``rg.auth``: login, password change, refresh-token rotation, sessions, token verification.

Access tokens are verified once by signature and then served from memory until they expire;
whether their session still lives is remembered too, and forgotten by the change that ends it
in whichever process commits it (RFC 9700 §4.14 for the refresh-token rules).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session

from rolegate.authn.devices import device_label
from rolegate.authn.keys import Signer
from rolegate.authn.sessions import SessionLiveness
from rolegate.authn.throttle import CLEAR
from rolegate.authn.tokens import (
    REFRESH_PREFIX,
    TokenRules,
    decode_access_token,
    issue_access_token,
    new_refresh_token,
    refresh_token_hash,
)
from rolegate.authz.changes import Change, Scope
from rolegate.builtins import DEFAULT_TENANT_SLUG
from rolegate.db.lookup import Ref, find_user
from rolegate.db.models import (
    LoginAttemptRecord,
    LoginThrottleRecord,
    RefreshTokenRecord,
    SessionRecord,
    TenantRecord,
    UserRecord,
)
from rolegate.entities import Lockout, LoginAttempt, Principal, TokenPair
from rolegate.entities import Session as SessionValue
from rolegate.errors import InvalidInput, InvalidToken, RefreshTokenReused, SessionNotFound
from rolegate.pages import DEFAULT_PAGE_SIZE, Page
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.services._login import CheckPolicy, Client, PasswordCheck
from rolegate.services._sessions import end_sessions, session_entity
from rolegate.services._throttles import clear, lockout_value, state_of, throttle_key
from rolegate.services.keys import KeyService
from rolegate.services.memberships import require_member
from rolegate.services.pages import Order, page_of, paged
from rolegate.types import TenantId, UserId

MAX_HISTORY: Final = 1000
_MAX_REFRESH_TOKEN: Final = 100

#: (roles, permissions) of a user in a tenant, for the optional token claims.
ClaimsSource = Callable[[UUID, UUID], tuple[Sequence[str], Sequence[str]]]
SessionRef = UUID | str | SessionValue | Principal | TokenPair


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Lifetimes, limits and rules as plain values (the facade reads them from settings)."""

    rules: TokenRules
    access_ttl: timedelta = timedelta(minutes=10)
    idle_timeout: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    check: CheckPolicy = field(default_factory=CheckPolicy)
    permission_claims: bool = False
    claims_limit: int = 200
    token_cache_size: int = 100_000


class AuthService:
    """Logins, sessions and tokens."""

    def __init__(
        self,
        ctx: ServiceContext,
        check: PasswordCheck,
        keys: KeyService,
        policy: AuthPolicy,
        *,
        timer: Callable[[], float],
        claims: ClaimsSource | None = None,
    ) -> None:
        self._ctx, self._check, self._keys, self._policy = ctx, check, keys, policy
        self._timer, self._claims = timer, claims
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._alive = SessionLiveness(policy.token_cache_size)

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
            row = SessionRecord(
                user_id=user.id,
                tenant_id=tenant_row.id,
                created_at=now,
                last_used_at=now,
                expires_at=now + self._policy.lifetime,
                created_ip=client.ip,
                created_user_agent=client.user_agent,
                last_ip=client.ip,
                last_user_agent=client.user_agent,
                device=device,
            )
            tx.add(row)
            tx.flush()
            tx.add(RefreshTokenRecord(session_id=row.id, token_hash=digest, created_at=now))
            return row

        row, tenant_row = self._check.run(
            username_or_email, password, tenant, client, open_session, new_password=new_password
        )
        return self._pair(row, tenant_row.slug, refresh, signer)

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
        if now >= row.expires_at or now >= row.last_used_at + self._policy.idle_timeout:
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

    def verify(self, token: str) -> Principal:
        """The principal of a valid access token whose session still lives; else
        :class:`InvalidToken`. A token seen before costs two dictionary lookups."""
        now = self._timer()
        # Not a string: decoding refuses it, and it may be unhashable (a list from JSON).
        cached = self._verified.get(token) if isinstance(token, str) else None
        if cached is None:
            cached = decode_access_token(
                token,
                self._keys.current(),
                self._policy.rules,
                now=now,
                reload=self._keys.reload_for_unknown_kid,
            )
            if len(self._verified) >= self._policy.token_cache_size:
                self._verified.pop(next(iter(self._verified)), None)
            self._verified[token] = cached
        principal, good_until = cached
        if now >= good_until:
            self._verified.pop(token, None)
            raise InvalidToken(reason="expired")
        alive = self._alive.get(principal.session_id)
        if alive is None:
            alive = self._load_alive(principal.session_id)
        if not alive:
            raise InvalidToken(reason="session_ended")
        return principal

    def _load_alive(self, session_id: UUID) -> bool:
        generation = self._alive.generation
        with self._ctx.db.reading() as session:
            revoked = session.execute(
                select(SessionRecord.revoked_at).where(SessionRecord.id == session_id)
            ).first()
        alive = revoked is not None and revoked[0] is None
        self._alive.remember(session_id, alive, generation)
        return alive

    def logout(self, session: SessionRef) -> int:
        """End ``session`` (an id, a session, a token pair, or the principal of its access
        token); return the revision. Logging out of an ended session changes nothing."""
        session_id = _session_id(session)
        with self._ctx.transaction() as tx:
            row = tx.get(SessionRecord, session_id)
            if row is None:
                raise SessionNotFound(str(session_id))
            changes = end_sessions(
                self._ctx,
                tx,
                SessionRecord.id == session_id,
                reason="logout",
                actor=str(row.user_id),
            )
            return self._ctx.bump(tx, *changes) if changes else self._ctx.current_revision(tx)

    def revoke_session(
        self,
        session: SessionRef,
        *,
        owner: UUID | None = None,
        reason: str = "revoked",
        actor: str | None = None,
    ) -> SessionValue:
        """End one session; return it as it now is. With ``owner``, only a session of that
        user is found: another user's reads as missing, so session ids cannot be probed."""
        session_id = _session_id(session)
        with self._ctx.transaction() as tx:
            found = tx.get(SessionRecord, session_id)
            if found is None or (owner is not None and found.user_id != owner):
                raise SessionNotFound(str(session_id))
            changes = end_sessions(
                self._ctx, tx, SessionRecord.id == session_id, reason=_reason(reason), actor=actor
            )
            revision = self._ctx.bump(tx, *changes) if changes else 0
            row = tx.get(SessionRecord, session_id, populate_existing=True)
            assert row is not None
            slug = tx.get_one(TenantRecord, row.tenant_id).slug
            return self._entity(row, slug, revision=revision)

    def revoke_all(
        self,
        user: Ref,
        *,
        tenant: Ref | None = None,
        except_session: SessionRef | None = None,
        reason: str = "revoked",
        actor: str | None = None,
    ) -> int:
        """End every live session of ``user`` (in ``tenant``, or everywhere), but
        ``except_session``: "log out my other devices". Returns how many ended."""
        with self._ctx.transaction() as tx:
            conditions = [SessionRecord.user_id == require_user(tx, user).id]
            if tenant is not None:
                conditions.append(SessionRecord.tenant_id == require_tenant(tx, tenant).id)
            if except_session is not None:
                conditions.append(SessionRecord.id != _session_id(except_session))
            changes = end_sessions(self._ctx, tx, *conditions, reason=_reason(reason), actor=actor)
            if changes:
                self._ctx.bump(tx, *changes)
            return len(changes)

    def sessions(
        self, user: Ref, *, tenant: Ref | None = None, include_ended: bool = False
    ) -> list[SessionValue]:
        """The user's sessions, newest first: live ones only unless ``include_ended``."""
        now = self._ctx.now()
        with self._ctx.db.reading() as session:
            query = (
                select(SessionRecord, TenantRecord.slug)
                .join(TenantRecord, TenantRecord.id == SessionRecord.tenant_id)
                .where(SessionRecord.user_id == require_user(session, user).id)
                .order_by(SessionRecord.created_at.desc(), SessionRecord.id)
            )
            if tenant is not None:
                query = query.where(SessionRecord.tenant_id == require_tenant(session, tenant).id)
            if not include_ended:
                query = query.where(
                    SessionRecord.revoked_at.is_(None), SessionRecord.expires_at > now
                )
            found = [self._entity(row, slug) for row, slug in session.execute(query)]
        return found if include_ended else [s for s in found if s.is_active]

    def login_history(
        self,
        *,
        user: Ref | None = None,
        tenant: Ref | None = None,
        limit: int = 100,
        before: datetime | None = None,
    ) -> list[LoginAttempt]:
        """Login attempts, newest first; ``before`` pages back in time."""
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidInput(f"limit must be between 1 and {MAX_HISTORY}")
        with self._ctx.db.reading() as session:
            query = select(LoginAttemptRecord).order_by(
                LoginAttemptRecord.occurred_at.desc(), LoginAttemptRecord.id.desc()
            )
            if user is not None:
                query = query.where(LoginAttemptRecord.user_id == require_user(session, user).id)
            if tenant is not None:
                tenant_id = require_tenant(session, tenant).id
                query = query.where(LoginAttemptRecord.tenant_id == tenant_id)
            if before is not None:
                query = query.where(LoginAttemptRecord.occurred_at < before)
            return [_attempt(row) for row in session.scalars(query.limit(limit))]

    def lockout(
        self, user: Ref | None = None, *, tenant: Ref = DEFAULT_TENANT_SLUG, ip: str | None = None
    ) -> Lockout:
        """The brute-force state of ``user``'s account in ``tenant``, or of client ``ip``."""
        with self._ctx.db.reading() as session:
            key = throttle_key(session, user, tenant, ip)
            state = state_of(session.get(LoginThrottleRecord, key))
        return lockout_value(key, state, now_locked=state.is_locked(self._ctx.now()))

    def unlock(
        self,
        user: Ref | None = None,
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        ip: str | None = None,
        actor: str | None = None,
    ) -> Lockout:
        """Clear the failures and any lockout of ``user`` in ``tenant`` (or of client ``ip``)."""
        with self._ctx.transaction() as tx:
            key = throttle_key(tx, user, tenant, ip)
            clear(self._ctx, tx, key, actor=actor)
        return lockout_value(key, CLEAR, now_locked=False)

    def jwks(self) -> dict[str, Any]:
        """The public signing keys as a JWK Set, for ``/.well-known/jwks.json``."""
        return self._keys.jwks()

    def apply(self, changes: Sequence[Change]) -> None:
        """Forget sessions that ended and keys that changed (any process's commits)."""
        ended = [c.subject_id for c in changes if c.scope is Scope.SESSION and c.subject_id]
        if ended:
            self._alive.forget(ended)
        if any(c.scope is Scope.KEYS for c in changes):
            self._keys.mark_stale()
            # A retired key's window now ends: remembered answers must not outlive it.
            self._verified = {}

    def _pair(
        self, row: SessionRecord, tenant_slug: str, refresh: str, signer: Signer
    ) -> TokenPair:
        now = self._ctx.now()
        expires_at = min(now + self._policy.access_ttl, row.expires_at)
        access = issue_access_token(
            signer,
            self._policy.rules,
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
            session=self._entity(row, tenant_slug),
        )

    def _extra_claims(self, user_id: UUID, tenant_id: UUID) -> dict[str, Any]:
        """Roles and permissions for downstream services deciding alone; stale for at most the
        token lifetime. Past the size cap they are left out and ``perms_truncated`` says so."""
        if not self._policy.permission_claims or self._claims is None:
            return {}
        roles, permissions = self._claims(user_id, tenant_id)
        if len(roles) + len(permissions) > self._policy.claims_limit:
            return {"perms_truncated": True}
        return {"roles": list(roles), "permissions": list(permissions)}

    def _entity(self, row: SessionRecord, slug: str, *, revision: int = 0) -> SessionValue:
        return session_entity(
            row, slug, now=self._ctx.now(), idle=self._policy.idle_timeout, revision=revision
        )

    # --- a tenant's sessions and logins, as its administrators see them ---------------------

    def tenant_sessions(
        self,
        tenant: Ref,
        *,
        user: Ref | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[SessionValue]:
        """One page of the live sessions in ``tenant`` (of ``user`` only, if given), newest
        first; pass ``next_cursor`` back for the next page."""
        now = self._ctx.now()
        order = Order((SessionRecord.created_at, SessionRecord.id), descending=True)
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            query = select(SessionRecord).where(
                SessionRecord.tenant_id == tenant_row.id,
                SessionRecord.revoked_at.is_(None),
                SessionRecord.expires_at > now,
                SessionRecord.last_used_at > now - self._policy.idle_timeout,
            )
            if user is not None:
                found = find_user(session, user)
                query = query.where(SessionRecord.user_id == found.id if found else false())
            rows = session.scalars(paged(query, order, cursor=cursor, limit=limit)).all()
            return page_of(
                rows,
                limit=limit,
                key=lambda row: (row.created_at, row.id),
                entity=lambda row: self._entity(row, tenant_row.slug),
            )

    def revoke_tenant_session(
        self, session: SessionRef, *, tenant: Ref, actor: str | None = None
    ) -> SessionValue:
        """End one session of ``tenant``; a session of another tenant is
        :class:`SessionNotFound`, as a missing one is, so session ids cannot be probed."""
        session_id = _session_id(session)
        with self._ctx.db.reading() as reading:
            tenant_id = require_tenant(reading, tenant).id
            found = reading.get(SessionRecord, session_id)
            if found is None or found.tenant_id != tenant_id:  # a session never changes tenant
                raise SessionNotFound(str(session_id))
        return self.revoke_session(session_id, actor=actor)

    def login_page(
        self,
        tenant: Ref,
        *,
        user: Ref | None = None,
        succeeded: bool | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[LoginAttempt]:
        """One page of the login attempts made in ``tenant`` (by ``user``, succeeded or
        not), newest first; pass ``next_cursor`` back for the next page."""
        order = Order((LoginAttemptRecord.id,), descending=True)
        with self._ctx.db.reading() as session:
            query = select(LoginAttemptRecord).where(
                LoginAttemptRecord.tenant_id == require_tenant(session, tenant).id
            )
            if user is not None:
                found = find_user(session, user)  # nobody's attempts for an unknown user
                query = query.where(LoginAttemptRecord.user_id == found.id if found else false())
            if succeeded is not None:
                query = query.where(LoginAttemptRecord.succeeded == succeeded)
            rows = session.scalars(paged(query, order, cursor=cursor, limit=limit)).all()
            return page_of(rows, limit=limit, key=lambda row: (row.id,), entity=_attempt)

    def unlock_member(self, user: Ref, *, tenant: Ref, actor: str | None = None) -> Lockout:
        """:meth:`unlock` a member of ``tenant``; anyone else is :class:`UserNotFound`, as a
        missing user is."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            member_id, tenant_id = require_member(session, tenant_row, user).id, tenant_row.id
        return self.unlock(member_id, tenant=tenant_id, actor=actor)


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


def _session_id(session: SessionRef) -> UUID:
    if isinstance(session, TokenPair):
        return session.session.id
    if isinstance(session, SessionValue):
        return session.id
    if isinstance(session, Principal):
        return session.session_id
    if isinstance(session, UUID):
        return session
    try:
        return UUID(str(session))
    except ValueError:
        raise SessionNotFound(str(session)) from None


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or not 0 < len(reason) <= 40 or not reason.isprintable():
        raise InvalidInput("a revocation reason is 1-40 printable characters")
    return reason


def _attempt(row: LoginAttemptRecord) -> LoginAttempt:
    return LoginAttempt(
        id=row.id,
        occurred_at=row.occurred_at,
        username=row.username,
        user_id=UserId(row.user_id) if row.user_id else None,
        tenant=row.tenant,
        tenant_id=TenantId(row.tenant_id) if row.tenant_id else None,
        succeeded=row.succeeded,
        reason=row.reason,
        ip=row.ip,
        user_agent=row.user_agent,
    )
