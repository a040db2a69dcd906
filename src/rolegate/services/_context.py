"""What every service shares: the database, the audit recorder, the clock, and lookups that
raise typed errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from rolegate.audit.origin import current_origin
from rolegate.audit.recorder import AuditEntry, AuditRecorder
from rolegate.authz.changes import Change
from rolegate.authz.compile import read_revision
from rolegate.authz.watch import CHANNEL
from rolegate.db.engine import Database
from rolegate.db.lookup import find_permission, find_role, find_tenant, find_user
from rolegate.db.models import (
    PermissionRecord,
    PolicyChangeRecord,
    PolicyStateRecord,
    RoleRecord,
    TenantRecord,
    UserRecord,
)
from rolegate.errors import PermissionNotFound, RoleNotFound, TenantNotFound, UserNotFound
from rolegate.types import Clock, Ref

SYSTEM_ACTOR = "system"
_COMMITTED = "rolegate.committed"  # Session.info key: (changes, revision) of the transaction


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """The collaborators services are built from; one per :class:`rolegate.Rolegate`."""

    db: Database
    recorder: AuditRecorder
    clock: Clock
    default_actor: str = SYSTEM_ACTOR
    #: Called after each commit with the changes and the revision it committed, so this
    #: process's compiled snapshots are stale for not one check.
    on_commit: Callable[[Sequence[Change], int], None] | None = None

    def now(self) -> datetime:
        """The current time from the injected clock."""
        return self.clock()

    def actor(self, actor: str | None) -> str:
        """The actor to record: the one given, else this context's default."""
        return actor or self.default_actor

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction for a change, its audit event and its revision bump."""
        with self.db.transaction() as session:
            yield session
            self.recorder.write_staged(session)  # last: see AuditRecorder on lock order
        committed = session.info.get(_COMMITTED)
        if committed is not None and self.on_commit is not None:
            self.on_commit(*committed)

    def bump(self, session: Session, *changes: Change) -> int:
        """Take the next policy revision for this transaction and record what it changes.

        The UPDATE locks the revision row until commit, so revisions commit in order; on
        PostgreSQL the NOTIFY reaches other processes' watchers at commit, not before.
        """
        revision = session.execute(
            update(PolicyStateRecord)
            .where(PolicyStateRecord.id == 1)
            .values(revision=PolicyStateRecord.revision + 1)
            .returning(PolicyStateRecord.revision)
        ).scalar_one()
        if changes:
            session.execute(
                insert(PolicyChangeRecord),
                [
                    {
                        "revision": revision,
                        "scope": c.scope.value,
                        "tenant_id": c.tenant_id,
                        "subject_id": c.subject_id,
                    }
                    for c in changes
                ],
            )
        if not self.db.is_sqlite:
            session.execute(select(func.pg_notify(CHANNEL, str(revision))))
        previous = session.info.get(_COMMITTED, ((), 0))[0]
        session.info[_COMMITTED] = ((*previous, *changes), revision)
        return revision

    def current_revision(self, session: Session) -> int:
        """The policy revision as the session sees it (for calls that changed nothing)."""
        return read_revision(session)

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
        outcome: str | None = None,
    ) -> None:
        """Record ``action`` on the target in the same transaction as the change it describes,
        with the origin of the request under way (address, agent, request id), if any."""
        entry = AuditEntry(
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            actor=self.actor(actor),
            tenant_id=tenant_id,
            details=details or {},
            outcome=outcome,
        )
        self.recorder.record(session, entry, at=self.now(), origin=current_origin())


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
