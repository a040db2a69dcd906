"""Role assignments: which users hold which roles in a tenant, optionally until a given time."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.db.lookup import Ref
from rolegate.db.models import RoleRecord, TenantRecord, UserRecord, UserRoleRecord
from rolegate.entities import Assignment
from rolegate.errors import AssignmentNotFound, InvalidExpiry
from rolegate.services._context import (
    ServiceContext,
    require_role,
    require_tenant,
    require_user,
)
from rolegate.services.memberships import join_tenant
from rolegate.types import UserId


def assignment_entity(
    row: UserRoleRecord,
    tenant: TenantRecord,
    user: UserRecord,
    role: RoleRecord,
    *,
    revision: int = 0,
) -> Assignment:
    """The public value of an assignment row."""
    return Assignment(
        tenant.slug,
        UserId(user.id),
        user.username,
        role.name,
        row.granted_at,
        row.granted_by,
        row.expires_at,
        revision,
    )


class AssignmentService:
    """Assigns roles to users (making them members of the tenant) and takes them back."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def assign(
        self,
        tenant: Ref,
        user: Ref,
        role: Ref,
        *,
        expires_at: datetime | None = None,
        actor: str | None = None,
    ) -> Assignment:
        """Give ``user`` ``role`` in ``tenant``, until ``expires_at`` if given.

        Assigning a role the user already holds sets the new expiry (or none): the way to
        extend or shorten time-bound access.
        """
        expires_at = self._check_expiry(expires_at)
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            user_row, role_row = require_user(tx, user), require_role(tx, tenant_row, role)
            join_tenant(self._ctx, tx, tenant_row, user_row, actor=actor)
            row = tx.get(UserRoleRecord, (user_row.id, role_row.id))
            unchanged = row is not None and row.expires_at == expires_at
            if row is None:
                row = self._insert(tx, tenant_row, user_row, role_row, expires_at, actor)
            elif not unchanged:
                before = row.expires_at
                row.expires_at = expires_at
                tx.flush()
                self._audit(
                    tx,
                    "role.assignment_changed",
                    tenant_row,
                    user_row,
                    role_row,
                    actor,
                    {"before": {"expires_at": before}, "after": {"expires_at": expires_at}},
                )
            revision = (
                self._ctx.current_revision(tx)  # nothing to change, nothing to bump
                if unchanged
                else self._ctx.bump(tx, Change.member(tenant_row.id, user_row.id))
            )
            return assignment_entity(row, tenant_row, user_row, role_row, revision=revision)

    def unassign(self, tenant: Ref, user: Ref, role: Ref, *, actor: str | None = None) -> int:
        """Take ``role`` away from ``user`` in ``tenant`` (the membership stays); return the
        revision."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            user_row, role_row = require_user(tx, user), require_role(tx, tenant_row, role)
            row = tx.get(UserRoleRecord, (user_row.id, role_row.id))
            if row is None:
                raise AssignmentNotFound(
                    f"{role_row.name} to {user_row.username}", tenant=tenant_row.slug
                )
            expires_at = row.expires_at
            tx.delete(row)
            tx.flush()
            self._audit(
                tx,
                "role.unassigned",
                tenant_row,
                user_row,
                role_row,
                actor,
                {"before": {"expires_at": expires_at}},
            )
            return self._ctx.bump(tx, Change.member(tenant_row.id, user_row.id))

    def list(
        self,
        tenant: Ref,
        *,
        user: Ref | None = None,
        role: Ref | None = None,
        include_expired: bool = True,
    ) -> list[Assignment]:
        """Assignments in ``tenant`` by username then role, optionally for one user or role."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            query = (
                select(UserRoleRecord, UserRecord, RoleRecord)
                .join(UserRecord, UserRecord.id == UserRoleRecord.user_id)
                .join(RoleRecord, RoleRecord.id == UserRoleRecord.role_id)
                .where(UserRoleRecord.tenant_id == tenant_row.id)
                .order_by(UserRecord.username_key, RoleRecord.name)
            )
            if user is not None:
                query = query.where(UserRoleRecord.user_id == require_user(session, user).id)
            if role is not None:
                query = query.where(
                    UserRoleRecord.role_id == require_role(session, tenant_row, role).id
                )
            found = [assignment_entity(a, tenant_row, u, r) for a, u, r in session.execute(query)]
        now = self._ctx.now()
        return found if include_expired else [a for a in found if not a.is_expired(now)]

    def _insert(
        self,
        tx: Session,
        tenant: TenantRecord,
        user: UserRecord,
        role: RoleRecord,
        expires_at: datetime | None,
        actor: str | None,
    ) -> UserRoleRecord:
        row = UserRoleRecord(
            user_id=user.id,
            role_id=role.id,
            tenant_id=tenant.id,
            granted_at=self._ctx.now(),
            granted_by=self._ctx.actor(actor),
            expires_at=expires_at,
        )
        tx.add(row)
        tx.flush()
        self._audit(
            tx, "role.assigned", tenant, user, role, actor, {"after": {"expires_at": expires_at}}
        )
        return row

    def _audit(
        self,
        tx: Session,
        action: str,
        tenant: TenantRecord,
        user: UserRecord,
        role: RoleRecord,
        actor: str | None,
        details: dict[str, object],
    ) -> None:
        self._ctx.audit(
            tx,
            action,
            "user",
            user.id,
            tenant_id=tenant.id,
            actor=actor,
            details={"username": user.username, "role": role.name, **details},
        )

    def _check_expiry(self, expires_at: datetime | None) -> datetime | None:
        """The expiry in UTC, as the database gives it back, so values and audit agree."""
        if expires_at is None:
            return None
        if expires_at.tzinfo is None:
            raise InvalidExpiry("expires_at needs a time zone (use UTC)")
        if expires_at <= self._ctx.now():
            raise InvalidExpiry(f"expires_at {expires_at.isoformat()} is not in the future")
        return expires_at.astimezone(UTC)
