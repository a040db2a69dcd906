"""Session rows: ending them inside any transaction, and their public value."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.db.models import SessionRecord
from rolegate.entities import Session as SessionValue
from rolegate.services._context import ServiceContext
from rolegate.types import SessionId, TenantId, UserId


def end_sessions(
    ctx: ServiceContext,
    tx: Session,
    *conditions: ColumnElement[bool],
    reason: str,
    actor: str | None = None,
    audit: bool = True,
) -> list[Change]:
    """Revoke every live session matching ``conditions``; return the changes to commit with it.

    Ending a session is a change like any other: it is audited and bumps the revision, so every
    process forgets the session before it verifies one more of its tokens.
    """
    now = ctx.now()
    ended = tx.execute(
        update(SessionRecord)
        .where(SessionRecord.revoked_at.is_(None), *conditions)
        .values(revoked_at=now, revoked_reason=reason)
        .returning(SessionRecord.id, SessionRecord.tenant_id, SessionRecord.user_id)
        .execution_options(synchronize_session=False)
    ).all()
    for session_id, tenant_id, user_id in ended:
        if audit:
            ctx.audit(
                tx,
                "session.revoked",
                "session",
                session_id,
                tenant_id=tenant_id,
                actor=actor,
                details={"user_id": user_id, "reason": reason},
            )
    return [Change.session(tenant_id, session_id) for session_id, tenant_id, _ in ended]


def session_entity(
    row: SessionRecord, tenant: str, *, now: datetime, idle: timedelta, revision: int = 0
) -> SessionValue:
    """The public value of a session row, with ``is_active`` as of ``now``."""
    idle_expires_at = min(row.last_used_at + idle, row.expires_at)
    return SessionValue(
        id=SessionId(row.id),
        user_id=UserId(row.user_id),
        tenant_id=TenantId(row.tenant_id),
        tenant=tenant,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        idle_expires_at=idle_expires_at,
        created_ip=row.created_ip,
        created_user_agent=row.created_user_agent,
        last_ip=row.last_ip,
        last_user_agent=row.last_user_agent,
        device=row.device,
        revoked_at=row.revoked_at,
        revoked_reason=row.revoked_reason,
        is_active=row.revoked_at is None and now < idle_expires_at,
        revision=revision,
    )
