"""What every service shares: the database, the audit recorder, the clock, and lookups that
raise typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from rolegate.audit.recorder import AuditEntry, AuditRecorder
from rolegate.db.engine import Database
from rolegate.db.lookup import Ref, find_permission, find_role, find_tenant, find_user
from rolegate.db.models import PermissionRecord, RoleRecord, TenantRecord, UserRecord
from rolegate.errors import PermissionNotFound, RoleNotFound, TenantNotFound, UserNotFound
from rolegate.types import Clock

SYSTEM_ACTOR = "system"


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """The collaborators services are built from; one per :class:`rolegate.Rolegate`."""

    db: Database
    recorder: AuditRecorder
    clock: Clock
    default_actor: str = SYSTEM_ACTOR

    def now(self) -> datetime:
        """The current time from the injected clock."""
        return self.clock()

    def actor(self, actor: str | None) -> str:
        """The actor to record: the one given, else this context's default."""
        return actor or self.default_actor

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction for a change and its audit event."""
        with self.db.transaction() as session:
            yield session

    def audit(
        self,
        session: Session,
        action: str,
        target_type: str,
        target_id: object,
        *,
        tenant_id: UUID | None,
        actor: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record ``action`` on the target in the same transaction as the change it describes."""
        entry = AuditEntry(
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            actor=self.actor(actor),
            tenant_id=tenant_id,
            details=details or {},
        )
        self.recorder.record(session, entry, at=self.now())


def require_tenant(session: Session, ref: Ref) -> TenantRecord:
    """The tenant named by ``ref`` or :class:`TenantNotFound`."""
    found = find_tenant(session, ref)
    if found is None:
        raise TenantNotFound(str(ref))
    return found


def require_user(session: Session, ref: Ref) -> UserRecord:
    """The user named by ``ref`` or :class:`UserNotFound`."""
    found = find_user(session, ref)
    if found is None:
        raise UserNotFound(str(ref))
    return found


def require_role(session: Session, tenant: TenantRecord, ref: Ref) -> RoleRecord:
    """The role named by ``ref`` in ``tenant`` or :class:`RoleNotFound`."""
    found = find_role(session, tenant.id, ref)
    if found is None:
        raise RoleNotFound(str(ref), tenant=tenant.slug)
    return found


def require_permission(session: Session, tenant: TenantRecord, ref: Ref) -> PermissionRecord:
    """The permission named by ``ref`` in ``tenant`` or :class:`PermissionNotFound`."""
    found = find_permission(session, tenant.id, ref)
    if found is None:
        raise PermissionNotFound(str(ref), tenant=tenant.slug)
    return found
