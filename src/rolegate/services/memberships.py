"""Memberships: which users belong to which tenants."""

from __future__ import annotations

import builtins
from datetime import timedelta
from typing import Any, Final, overload
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.builtins import PLATFORM_TENANT_ID
from rolegate.db.lookup import find_user
from rolegate.db.models import (
    InvitationRecord,
    MembershipRecord,
    RoleRecord,
    SessionRecord,
    TenantRecord,
    UserRecord,
    UserRoleRecord,
)
from rolegate.entities import Invitation, Membership, Principal
from rolegate.errors import InvitationExists, MembershipExists, MembershipNotFound, UserNotFound
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.services._sessions import end_sessions
from rolegate.services.access import is_member_elsewhere
from rolegate.types import Ref, UserId

#: How long an invitation can be accepted, unless the facade is configured otherwise.
DEFAULT_INVITATION_TTL: Final = timedelta(days=7)


def membership_entity(
    row: MembershipRecord, tenant: TenantRecord, user: UserRecord, *, revision: int = 0
) -> Membership:
    """The public value of a membership row."""
    return Membership(tenant.slug, UserId(user.id), user.username, row.joined_at, revision)


def invitation_entity(
    row: InvitationRecord, tenant: TenantRecord, username: str, *, revision: int = 0
) -> Invitation:
    """The public value of an invitation row, naming the account as ``username``."""
    return Invitation(
        row.id, tenant.slug, UserId(row.user_id), username, row.created_at, row.expires_at, revision
    )


def join_tenant(
    ctx: ServiceContext,
    tx: Session,
    tenant: TenantRecord,
    user: UserRecord,
    *,
    actor: str | None,
    invitation: UUID | None = None,
) -> MembershipRecord | None:
    """Make ``user`` a member of ``tenant`` unless already; return the new row, or None.
    ``invitation`` names the invitation accepted, if the user joined by one."""
    if tx.get(MembershipRecord, (tenant.id, user.id)) is not None:
        return None
    row = MembershipRecord(tenant_id=tenant.id, user_id=user.id, joined_at=ctx.now())
    tx.add(row)
    tx.flush()
    details: dict[str, Any] = {"username": user.username}
    if invitation is not None:
        details["invitation"] = str(invitation)
    ctx.audit(
        tx, "membership.added", "user", user.id, tenant_id=tenant.id, actor=actor, details=details
    )
    return row


def needs_consent(
    tx: Session, caller: Principal | None, tenant: TenantRecord, user: UserRecord
) -> bool:
    """Whether ``user`` may join ``tenant`` for ``caller`` only by accepting an invitation: the
    account belongs to another tenant and the caller is no platform admin. Else a tenant's
    admin could pull in another tenant's account and read it (email, last login). Calls
    without a caller (the library, the CLI operator) are trusted, as in :mod:`.access`."""
    if caller is None or caller.tenant_id == PLATFORM_TENANT_ID:
        return False
    return is_member_elsewhere(tx, user.id, tenant.id)


def require_member(
    tx: Session, tenant: TenantRecord, ref: Ref, *, lock: bool = False
) -> UserRecord:
    """The user named by ``ref`` if a member of ``tenant``, else :class:`UserNotFound`: seen
    from a tenant, a user of another tenant and a user who does not exist read the same.

    With ``lock``, the user row is read afresh and locked until the transaction ends, before
    the membership is read: a concurrent change of either is seen, not overwritten.
    """
    found = find_user(tx, ref)
    if found is not None and lock:
        found = tx.get(UserRecord, found.id, with_for_update=True, populate_existing=True)
    if found is None or tx.get(MembershipRecord, (tenant.id, found.id)) is None:
        raise UserNotFound(str(ref), tenant=tenant.slug)
    return found


def leave_tenant(
    ctx: ServiceContext,
    tx: Session,
    row: MembershipRecord,
    tenant_row: TenantRecord,
    user_row: UserRecord,
    *,
    actor: str | None,
) -> int:
    """Delete membership ``row`` of ``user_row`` in ``tenant_row`` with the user's roles and
    sessions there, audited; return the revision."""
    roles = tx.scalars(
        select(RoleRecord.name)
        .join(UserRoleRecord, UserRoleRecord.role_id == RoleRecord.id)
        .where(UserRoleRecord.tenant_id == tenant_row.id, UserRoleRecord.user_id == user_row.id)
    ).all()
    ended = end_sessions(
        ctx,
        tx,
        SessionRecord.tenant_id == tenant_row.id,
        SessionRecord.user_id == user_row.id,
        reason="membership_removed",
        audit=False,
    )
    tx.delete(row)
    tx.flush()
    ctx.audit(
        tx,
        "membership.removed",
        "user",
        user_row.id,
        tenant_id=tenant_row.id,
        actor=actor,
        details={
            "username": user_row.username,
            "roles": sorted(roles),
            "sessions_ended": len(ended),
        },
    )
    return ctx.bump(tx, Change.member(tenant_row.id, user_row.id), *ended)


class MembershipService:
    """Adds users to tenants and removes them (with their role assignments there)."""

    def __init__(
        self, ctx: ServiceContext, *, invitation_ttl: timedelta = DEFAULT_INVITATION_TTL
    ) -> None:
        self._ctx, self._invitation_ttl = ctx, invitation_ttl

    @overload
    def add(
        self, tenant: Ref, user: Ref, *, actor: str | None = None, caller: None = None
    ) -> Membership: ...

    @overload
    def add(
        self, tenant: Ref, user: Ref, *, actor: str | None = None, caller: Principal
    ) -> Membership | Invitation: ...

    def add(
        self,
        tenant: Ref,
        user: Ref,
        *,
        actor: str | None = None,
        caller: Principal | None = None,
    ) -> Membership | Invitation:
        """Make ``user`` a member of ``tenant``, or, when the account belongs to other tenants
        and ``caller`` is no platform admin (see :func:`needs_consent`), invite it: the
        :class:`Invitation` returned is accepted or declined by the account itself
        (:class:`~rolegate.services.invitations.InvitationService`)."""
        with self._ctx.transaction() as tx:
            tenant_row, user_row = require_tenant(tx, tenant), require_user(tx, user)
            if tx.get(MembershipRecord, (tenant_row.id, user_row.id)) is not None:
                raise MembershipExists(user_row.username, tenant=tenant_row.slug)
            if needs_consent(tx, caller, tenant_row, user_row):
                return self._invite(tx, tenant_row, user_row, named=str(user), actor=actor)
            row = join_tenant(self._ctx, tx, tenant_row, user_row, actor=actor)
            if row is None:
                raise MembershipExists(user_row.username, tenant=tenant_row.slug)
            revision = self._ctx.bump(tx, Change.member(tenant_row.id, user_row.id))
            return membership_entity(row, tenant_row, user_row, revision=revision)

    def _invite(
        self, tx: Session, tenant: TenantRecord, user: UserRecord, *, named: str, actor: str | None
    ) -> Invitation:
        """Stage an invitation of ``user`` into ``tenant`` (one live one per pair; an expired
        one is replaced), audited as ``membership.invited`` under the name the inviter used."""
        now = self._ctx.now()
        row = tx.scalar(
            select(InvitationRecord).where(
                InvitationRecord.tenant_id == tenant.id, InvitationRecord.user_id == user.id
            )
        )
        if row is not None and row.expires_at > now:
            raise InvitationExists(named, tenant=tenant.slug)
        if row is not None:
            tx.delete(row)
            tx.flush()
        row = InvitationRecord(
            tenant_id=tenant.id,
            user_id=user.id,
            invited_by=self._ctx.actor(actor),
            created_at=now,
            expires_at=now + self._invitation_ttl,
        )
        tx.add(row)
        tx.flush()
        self._ctx.audit(
            tx,
            "membership.invited",
            "user",
            user.id,
            tenant_id=tenant.id,
            actor=actor,
            details={"invitation": str(row.id), "user": named, "expires_at": row.expires_at},
        )
        # Nothing a check reads has changed (the account is no member yet): nothing to bump.
        return invitation_entity(row, tenant, named, revision=self._ctx.current_revision(tx))

    def remove(self, tenant: Ref, user: Ref, *, actor: str | None = None) -> int:
        """End ``user``'s membership of ``tenant`` (their roles there go with it); return the
        revision."""
        with self._ctx.transaction() as tx:
            tenant_row, user_row = require_tenant(tx, tenant), require_user(tx, user)
            row = tx.get(MembershipRecord, (tenant_row.id, user_row.id))
            if row is None:
                raise MembershipNotFound(user_row.username, tenant=tenant_row.slug)
            return leave_tenant(self._ctx, tx, row, tenant_row, user_row, actor=actor)

    def list(self, tenant: Ref) -> list[Membership]:
        """The members of ``tenant``, by username."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            rows = session.execute(
                select(MembershipRecord, UserRecord)
                .join(UserRecord, UserRecord.id == MembershipRecord.user_id)
                .where(MembershipRecord.tenant_id == tenant_row.id)
                .order_by(UserRecord.username_key)
            )
            return [membership_entity(m, tenant_row, u) for m, u in rows]

    def of_user(self, user: Ref) -> builtins.list[Membership]:
        """The tenants ``user`` belongs to, by slug."""
        with self._ctx.db.reading() as session:
            user_row = require_user(session, user)
            rows = session.execute(
                select(MembershipRecord, TenantRecord)
                .join(TenantRecord, TenantRecord.id == MembershipRecord.tenant_id)
                .where(MembershipRecord.user_id == user_row.id)
                .order_by(TenantRecord.slug)
            )
            return [membership_entity(m, t, user_row) for m, t in rows]
