"""Invitations: an account that belongs to other tenants joins one more only by consenting.

A tenant's admin who adds such an account (:meth:`MembershipService.add` with a caller that is
no platform admin) gets an invitation, not a member. The account, logged in to any of its
tenants, lists its invitations and accepts or declines each; the tenant lists the ones it sent
and revokes them. Only pending invitations are rows: accepting, declining and revoking delete
the row, and the audit trail keeps the history. An invitation is seen only by its account and
its tenant: any other id, like a missing one, is :class:`InvitationNotFound`.
"""

from __future__ import annotations

import builtins
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.db.models import InvitationRecord, MembershipRecord, TenantRecord, UserRecord
from rolegate.entities import Invitation, Membership
from rolegate.errors import InvitationExpired, InvitationNotFound
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.services.memberships import invitation_entity, join_tenant, membership_entity
from rolegate.types import Ref, UserId


class InvitationService:
    """Lists, accepts, declines and revokes pending invitations into tenants."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def list_for_user(self, user: Ref) -> list[Invitation]:
        """The invitations ``user`` may still accept, oldest first."""
        with self._ctx.db.reading() as session:
            user_row = require_user(session, user)
            rows = session.execute(
                select(InvitationRecord, TenantRecord)
                .join(TenantRecord, TenantRecord.id == InvitationRecord.tenant_id)
                .where(
                    InvitationRecord.user_id == user_row.id,
                    InvitationRecord.expires_at > self._ctx.now(),
                )
                .order_by(InvitationRecord.created_at, InvitationRecord.id)
            )
            return [invitation_entity(i, t, user_row.username) for i, t in rows]

    def list(self, tenant: Ref) -> builtins.list[Invitation]:
        """The invitations ``tenant`` sent that can still be accepted, oldest first."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            rows = session.execute(
                select(InvitationRecord, UserRecord.username)
                .join(UserRecord, UserRecord.id == InvitationRecord.user_id)
                .where(
                    InvitationRecord.tenant_id == tenant_row.id,
                    InvitationRecord.expires_at > self._ctx.now(),
                )
                .order_by(InvitationRecord.created_at, InvitationRecord.id)
            )
            return [invitation_entity(i, tenant_row, name) for i, name in rows]

    def accept(self, invitation: UUID, *, user: UserId, actor: str | None = None) -> Membership:
        """Make ``user`` a member of the tenant that invited it, audited as
        ``membership.added`` naming the invitation; an expired one is
        :class:`InvitationExpired`."""
        with self._ctx.transaction() as tx:
            row = _addressed_to(tx, invitation, user)
            if row.expires_at <= self._ctx.now():
                raise InvitationExpired(row.id)
            tenant_row = tx.get_one(TenantRecord, row.tenant_id)
            user_row = tx.get_one(UserRecord, row.user_id)
            tx.delete(row)
            tx.flush()
            joined = join_tenant(
                self._ctx, tx, tenant_row, user_row, actor=actor or str(user), invitation=row.id
            )
            if joined is None:  # made a member meanwhile (by a platform admin): nothing to join
                return self._existing(tx, tenant_row, user_row)
            revision = self._ctx.bump(tx, Change.member(tenant_row.id, user_row.id))
            return membership_entity(joined, tenant_row, user_row, revision=revision)

    def decline(self, invitation: UUID, *, user: UserId, actor: str | None = None) -> None:
        """Delete an invitation addressed to ``user`` (expired or not), audited."""
        with self._ctx.transaction() as tx:
            row = _addressed_to(tx, invitation, user)
            self._end(tx, row, "membership.invitation_declined", actor or str(user))

    def revoke(self, tenant: Ref, invitation: UUID, *, actor: str | None = None) -> None:
        """Withdraw an invitation ``tenant`` sent (expired or not), audited."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = tx.get(InvitationRecord, invitation, with_for_update=True)
            if row is None or row.tenant_id != tenant_row.id:
                raise InvitationNotFound(str(invitation), tenant=tenant_row.slug)
            self._end(tx, row, "membership.invitation_revoked", actor)

    def _end(self, tx: Session, row: InvitationRecord, action: str, actor: str | None) -> None:
        tx.delete(row)
        tx.flush()
        self._ctx.audit(
            tx,
            action,
            "user",
            row.user_id,
            tenant_id=row.tenant_id,
            actor=actor,
            details={"invitation": str(row.id)},
        )
        # No membership came or went, so no check changes: there is no revision to take.

    def _existing(self, tx: Session, tenant: TenantRecord, user: UserRecord) -> Membership:
        member = tx.get_one(MembershipRecord, (tenant.id, user.id))
        return membership_entity(member, tenant, user, revision=self._ctx.current_revision(tx))


def _addressed_to(tx: Session, invitation: UUID, user: UserId) -> InvitationRecord:
    """The invitation ``invitation`` if addressed to ``user``, locked; anyone else's is
    :class:`InvitationNotFound`, as a missing one is."""
    row = tx.get(InvitationRecord, invitation, with_for_update=True)
    if row is None or row.user_id != user:
        raise InvitationNotFound(str(invitation))
    return row
