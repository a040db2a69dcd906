"""``rg.auth``'s login history: every attempt, as operators and tenant administrators read it.

The attempts are written by the one credential check
(:class:`rolegate.services._login.PasswordCheck`), with the outcome and the client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import false, select

from rolegate.db.lookup import find_user
from rolegate.db.models import LoginAttemptRecord
from rolegate.entities import LoginAttempt
from rolegate.errors import InvalidInput
from rolegate.pages import DEFAULT_PAGE_SIZE, Page
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.services.pages import Order, page_of, paged
from rolegate.types import Ref, TenantId, UserId

MAX_HISTORY: Final = 1000


class LoginAttemptService:
    """The recorded login attempts, across tenants or one tenant's."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

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
