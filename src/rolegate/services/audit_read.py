"""Filters of audit listings and the value an event row is returned as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select

from rolegate.db.models import AuditEventRecord
from rolegate.entities import AuditEvent
from rolegate.errors import InvalidInput
from rolegate.limits import MAX_FILTER_LENGTH
from rolegate.services.pages import starts_with
from rolegate.types import TenantId


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What an audit listing keeps: exact actor and outcome, an action or ``prefix*``, a target
    ``type`` or ``type:id``, and a time range (``since`` inclusive, ``until`` exclusive)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("actor", "action", "target", "outcome"):
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= MAX_FILTER_LENGTH:
                raise InvalidInput(f"{name} must be 1 to {MAX_FILTER_LENGTH} characters")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"{name} must be a time-zone aware datetime")

    def apply(self, query: Select[Any], chain: ColumnElement[bool] | None) -> Select[Any]:
        """``query`` (of events) narrowed to what this filter and ``chain`` keep."""
        event = AuditEventRecord
        conditions: list[ColumnElement[bool]] = [] if chain is None else [chain]
        if self.actor is not None:
            conditions.append(event.actor == self.actor)
        if self.action is not None:
            if self.action.endswith("*"):
                conditions.append(starts_with(event.action, self.action[:-1]))
            else:
                conditions.append(event.action == self.action)
        if self.target is not None:
            target_type, _, target_id = self.target.partition(":")
            conditions.append(event.target_type == target_type)
            if target_id:
                conditions.append(event.target_id == target_id)
        if self.outcome is not None:
            conditions.append(event.outcome == self.outcome)
        if self.since is not None:
            conditions.append(event.occurred_at >= self.since)
        if self.until is not None:
            conditions.append(event.occurred_at < self.until)
        return query.where(*conditions)


def event_entity(row: AuditEventRecord) -> AuditEvent:
    """The public value of an event row."""
    return AuditEvent(
        id=row.id,
        chain_id=row.chain_id,
        seq=row.seq,
        occurred_at=row.occurred_at,
        tenant_id=None if row.tenant_id is None else TenantId(row.tenant_id),
        actor=row.actor,
        actor_ip=row.actor_ip,
        user_agent=row.user_agent,
        request_id=row.request_id,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        outcome=row.outcome,
        details=dict(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
