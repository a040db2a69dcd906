"""Role assignments: which users hold which roles in a tenant, optionally until a given time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.db.lookup import find_role, find_user
from rolegate.db.models import (
    MembershipRecord,
    RoleRecord,
    TenantRecord,
    UserRecord,
    UserRoleRecord,
)
from rolegate.entities import Assignment, Principal
from rolegate.errors import AssignmentNotFound, InvalidExpiry, UserNotFound
from rolegate.pages import DEFAULT_PAGE_SIZE, Page
from rolegate.services._context import (
    ServiceContext,
    require_role,
    require_tenant,
    require_user,
)
from rolegate.services.access import audit_refusals, refuse_escalation, role_closure
from rolegate.services.memberships import join_tenant, needs_consent
from rolegate.services.pages import Order, page_of, paged
from rolegate.types import Ref, UserId

#: A listing of assignments, by username then role name (unique together in one tenant).
ASSIGNMENT_ORDER: Final = Order([UserRecord.username_key, RoleRecord.name])


@dataclass(frozen=True, slots=True)
class AssignmentOutcome:
    """What :meth:`AssignmentService.upsert` did: ``created`` a new assignment, or found one
    and set its expiry (``changed`` says whether that differed)."""

    assignment: Assignment
    created: bool
    changed: bool


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
        expires_in: timedelta | None = None,
        actor: str | None = None,
        caller: Principal | None = None,
        require_member: bool = False,
    ) -> Assignment:
        """Give ``user`` ``role`` in ``tenant``, until ``expires_at`` (or for ``expires_in``
        from now) if given.

        Assigning a role the user already holds sets the new expiry (or none): the way to
        extend or shorten time-bound access. See :meth:`upsert` for ``caller`` and
        ``require_member``.
        """
        return self.upsert(
            tenant,
            user,
            role,
            expires_at=expires_at,
            expires_in=expires_in,
            actor=actor,
            caller=caller,
            require_member=require_member,
        ).assignment

    def upsert(
        self,
        tenant: Ref,
        user: Ref,
        role: Ref,
        *,
        expires_at: datetime | None = None,
        expires_in: timedelta | None = None,
        actor: str | None = None,
        caller: Principal | None = None,
        require_member: bool = False,
    ) -> AssignmentOutcome:
        """:meth:`assign`, saying whether the assignment is new, changed, or was already so.

        Without ``require_member`` a user who is not a member of ``tenant`` joins it, unless it
        belongs to other tenants and ``caller`` is no platform admin: it must accept an
        invitation instead (:func:`.memberships.needs_consent`). With it, or then, such a user
        is :class:`UserNotFound`, exactly like one that does not exist: a tenant's
        administrators can neither pull other tenants' users in nor learn who exists. With a
        ``caller``, only a role whose every permission the caller holds itself, even to itself
        (see :mod:`.access`).

        Calls for one user in one tenant apply one after another (the membership row is locked),
        so identical concurrent calls make one assignment, audited once.
        """
        expires_at = self._check_expiry(expires_at, expires_in)
        with audit_refusals(self._ctx, caller, "role.assign"), self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            user_row = require_user(tx, user)
            member = _lock_membership(tx, tenant_row, user_row)
            # Joining by assignment is no back door: another tenant's account needs an invitation.
            if member is None and (
                require_member or needs_consent(tx, caller, tenant_row, user_row)
            ):
                raise UserNotFound(str(user))
            role_row = require_role(tx, tenant_row, role)
            refuse_escalation(
                self._ctx, tx, caller, tenant_row, lambda: role_closure(tx, tenant_row, role_row)
            )
            if member is None:
                join_tenant(self._ctx, tx, tenant_row, user_row, actor=actor)
            row = tx.get(UserRoleRecord, (user_row.id, role_row.id))
            created, changed = row is None, row is not None and row.expires_at != expires_at
            if row is None:
                row = self._insert(tx, tenant_row, user_row, role_row, expires_at, actor)
            elif changed:
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
                self._ctx.bump(tx, Change.member(tenant_row.id, user_row.id))
                if created or changed
                else self._ctx.current_revision(tx)  # nothing to change, nothing to bump
            )
            assignment = assignment_entity(row, tenant_row, user_row, role_row, revision=revision)
            return AssignmentOutcome(assignment, created=created, changed=changed)

    def unassign(
        self,
        tenant: Ref,
        user: Ref,
        role: Ref,
        *,
        actor: str | None = None,
        caller: Principal | None = None,
        require_member: bool = False,
    ) -> int:
        """Take ``role`` away from ``user`` in ``tenant`` (the membership stays); return the
        revision. With ``require_member``, a user who is not a member is :class:`UserNotFound`
        (see :meth:`upsert`). With a ``caller``, the same rule as assigning: only a role whose
        every permission the caller holds, so nobody strips a stronger member."""
        with audit_refusals(self._ctx, caller, "role.unassign"), self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            user_row = require_user(tx, user)
            if _lock_membership(tx, tenant_row, user_row) is None and require_member:
                raise UserNotFound(str(user))
            role_row = require_role(tx, tenant_row, role)
            row = tx.get(UserRoleRecord, (user_row.id, role_row.id))
            if row is None:
                raise AssignmentNotFound(
                    f"{role_row.name} to {user_row.username}", tenant=tenant_row.slug
                )
            refuse_escalation(
                self._ctx, tx, caller, tenant_row, lambda: role_closure(tx, tenant_row, role_row)
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
                _joined()
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

    def page(
        self,
        tenant: Ref,
        *,
        user: Ref | None = None,
        role: Ref | None = None,
        expired: bool | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Assignment]:
        """One page of the assignments in ``tenant``, by username then role.

        ``user`` and ``role`` narrow the listing; one that names nothing in the tenant (a
        missing user, or another tenant's) lists nothing, so a filter cannot probe who exists.
        ``expired`` keeps only expired (True) or only current (False) assignments.
        """
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            query = _joined().where(UserRoleRecord.tenant_id == tenant_row.id)
            if user is not None:
                found_user = find_user(session, user)
                query = query.where(
                    UserRoleRecord.user_id == found_user.id if found_user else false()
                )
            if role is not None:
                found_role = find_role(session, tenant_row.id, role)
                query = query.where(
                    UserRoleRecord.role_id == found_role.id if found_role else false()
                )
            if expired is not None:
                now = self._ctx.now()
                is_current = or_(
                    UserRoleRecord.expires_at.is_(None), UserRoleRecord.expires_at > now
                )
                query = query.where(~is_current if expired else is_current)
            rows = session.execute(
                paged(cast("Select[Any]", query), ASSIGNMENT_ORDER, cursor=cursor, limit=limit)
            ).all()  # three entities per row: `paged` is typed for one
            return page_of(
                rows,
                limit=limit,
                key=lambda row: [row[1].username_key, row[2].name],
                entity=lambda row: assignment_entity(row[0], tenant_row, row[1], row[2]),
            )

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

    def _check_expiry(
        self, expires_at: datetime | None, expires_in: timedelta | None
    ) -> datetime | None:
        """The expiry in UTC, as the database gives it back, so values and audit agree."""
        if expires_in is not None:
            if expires_at is not None:
                raise InvalidExpiry("give expires_at or expires_in, not both")
            if expires_in <= timedelta(0):
                raise InvalidExpiry(f"expires_in {expires_in} is not a positive duration")
            try:
                expires_at = self._ctx.now() + expires_in
            except OverflowError:
                raise InvalidExpiry("expires_in runs past the year 9999") from None
        if expires_at is None:
            return None
        if expires_at.tzinfo is None:
            raise InvalidExpiry("expires_at needs a time zone (use UTC)")
        if expires_at <= self._ctx.now():
            raise InvalidExpiry(f"expires_at {expires_at.isoformat()} is not in the future")
        return expires_at.astimezone(UTC)


def _joined() -> Select[UserRoleRecord, UserRecord, RoleRecord]:
    """Assignments with their users and roles."""
    return (
        select(UserRoleRecord, UserRecord, RoleRecord)
        .join(UserRecord, UserRecord.id == UserRoleRecord.user_id)
        .join(RoleRecord, RoleRecord.id == UserRoleRecord.role_id)
    )


def _lock_membership(
    tx: Session, tenant: TenantRecord, user: UserRecord
) -> MembershipRecord | None:
    """``user``'s membership of ``tenant``, locked until ``tx`` ends (``FOR NO KEY UPDATE`` on
    PostgreSQL: assignments referring to it are not blocked, changes for the same user wait;
    SQLite writers are serialized already); None if the user is not a member."""
    return tx.get(MembershipRecord, (tenant.id, user.id), with_for_update={"key_share": True})
