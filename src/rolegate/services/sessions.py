"""``rg.auth``'s sessions: listing them, for their user and for their tenant's administrators,
and ending them (logout, revocation).

Every session ends through :func:`rolegate.services._sessions.end_sessions`, inside the
transaction of the change that ends it, so every process forgets it before it accepts one more
of its tokens (see :mod:`rolegate.services.tokens`).
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import false, select

from rolegate.db.lookup import find_user
from rolegate.db.models import SessionRecord, TenantRecord
from rolegate.entities import Principal, TokenPair
from rolegate.entities import Session as SessionValue
from rolegate.errors import InvalidInput, SessionNotFound
from rolegate.pages import DEFAULT_PAGE_SIZE, Page
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.services._sessions import end_sessions, session_entity
from rolegate.services.pages import Order, page_of, paged
from rolegate.types import Ref

#: What names a session: its id (or its text), the session, a token pair or a principal of it.
SessionRef = Ref | SessionValue | Principal | TokenPair


class SessionService:
    """Sessions as their user and their tenant's administrators see and end them."""

    def __init__(self, ctx: ServiceContext, *, idle_timeout: timedelta) -> None:
        self._ctx, self._idle_timeout = ctx, idle_timeout

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

    # --- a tenant's sessions, as its administrators see them --------------------------------

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
                SessionRecord.last_used_at > now - self._idle_timeout,
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

    def _entity(self, row: SessionRecord, slug: str, *, revision: int = 0) -> SessionValue:
        return session_entity(
            row, slug, now=self._ctx.now(), idle=self._idle_timeout, revision=revision
        )


def _session_id(session: SessionRef) -> UUID:
    """The id ``session`` names; text that is no id is :class:`SessionNotFound`."""
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
