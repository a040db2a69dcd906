"""Bodies of the audit trail endpoints: events as stored, a page at a time.

An event is returned whole, ``prev_hash`` and ``hash`` included, so a client holding a run of
events can check their links itself (``hash`` chains to the next event's ``prev_hash``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from rolegate.entities import AuditEvent
from rolegate.pages import Page

#: How an event ended: done, failed, or refused for want of a permission.
Outcome = Literal["success", "failure", "denied"]


class AuditEventRead(BaseModel):
    """One event of the audit trail: who did what to which target, from where, and how it
    ended."""

    id: UUID
    chain_id: UUID = Field(description="the tenant's id; the nil UUID for events about none")
    seq: int = Field(description="the event's place in its chain, from 1")
    occurred_at: datetime
    tenant_id: UUID | None
    actor: str = Field(description="the user id of whoever acted, or 'system'")
    actor_ip: str | None
    user_agent: str | None
    request_id: str | None = Field(description="the X-Request-ID of the request that did it")
    action: str = Field(description="what happened: role.created, auth.login_failed, ...")
    target_type: str
    target_id: str
    outcome: str = Field(description="success, failure or denied")
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventRead:
        """The view of ``event``."""
        return cls(
            id=event.id,
            chain_id=event.chain_id,
            seq=event.seq,
            occurred_at=event.occurred_at,
            tenant_id=event.tenant_id,
            actor=event.actor,
            actor_ip=event.actor_ip,
            user_agent=event.user_agent,
            request_id=event.request_id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            outcome=event.outcome,
            details=event.details,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


class AuditEventPage(BaseModel):
    """One page of audit events, newest first; `next_cursor` is null on the last page."""

    items: list[AuditEventRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[AuditEvent]) -> AuditEventPage:
        """The view of ``page``."""
        return cls(items=[AuditEventRead.of(e) for e in page.items], next_cursor=page.next_cursor)
