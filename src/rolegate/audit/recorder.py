"""Writes audit entries into the caller's transaction, so a change and its event commit together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from rolegate.audit.redact import redact
from rolegate.db.models import AuditEventRecord


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action; ``details`` hold before/after values and are redacted on write."""

    action: str  # dotted verb: "role.permission_granted"
    target_type: str
    target_id: str
    actor: str
    tenant_id: UUID | None = None  # None for global objects (users)
    details: dict[str, Any] = field(default_factory=dict)


class AuditRecorder:
    """Adds :class:`AuditEntry` rows to a session that the caller commits."""

    def record(self, session: Session, entry: AuditEntry, *, at: datetime) -> AuditEventRecord:
        """Stage ``entry`` in ``session`` at time ``at`` and flush it, so a failure surfaces now."""
        event = AuditEventRecord(
            occurred_at=at,
            tenant_id=entry.tenant_id,
            actor=entry.actor,
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            details=_json_safe(redact(entry.details)),
        )
        session.add(event)
        session.flush()
        return event


def _json_safe(value: Any) -> Any:
    """Timestamps and ids as ISO strings, so details serialise the same on every backend."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, date | UUID):
        return value.isoformat() if isinstance(value, date) else str(value)
    return value
