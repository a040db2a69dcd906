"""What a caller may do to rolegate itself: rolegate's own permissions, checked by its own engine.

Two rules live here, and only here:

* **Acting in a tenant.** A caller acts in the tenant of its session. Holding a built-in
  permission in the platform tenant counts in every tenant: that is what a platform admin is.
  Any other tenant does not exist for the caller: it answers "not found", exactly as a missing
  one does, so tenants cannot be probed (ARCHITECTURE invariant 1).
* **No privilege escalation** (Kubernetes RBAC's ``escalate`` and ``bind`` verbs). A caller may
  grant a role a permission, make it inherit a role, or assign a role only when it already holds
  every permission that hands out (inherited ones included), unless it holds
  ``rolegate:roles:escalate``. Self-assignment gets no exception; taking a role away needs
  the same as giving it. A refusal is audited.
* **No account takeover** (the bind rule applied to accounts, ARCHITECTURE invariant 9).
  Setting or clearing another account's password, changing its username, email or activation,
  or removing its membership needs, in every tenant the change reaches, every permission the
  account holds there (or ``rolegate:roles:escalate`` there). Platform members get no pass:
  their platform grants are what counts for them in other tenants, so only a platform admin
  changes a platform admin. A refusal is audited and names the rule, not the account's grants.

Calls without a caller (the library, the CLI) are trusted, as the process holding the database
credentials can change anything anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rolegate.audit.origin import current_origin
from rolegate.authz.compile import compile_policy, compile_snapshot
from rolegate.authz.snapshot import Snapshot
from rolegate.builtins import PLATFORM_TENANT_ID, ROLES_ESCALATE
from rolegate.db.models import (
    MembershipRecord,
    RoleRecord,
    TenantRecord,
    UserRecord,
    UserRoleRecord,
)
from rolegate.entities import Principal
from rolegate.errors import AccountChangeDenied, EscalationDenied, Forbidden, TenantNotFound
from rolegate.names import grant_covers
from rolegate.services._context import ServiceContext
from rolegate.services.decisions import API_DENIED, DecisionLog
from rolegate.types import Ref

#: The compiled view of (tenant, user) the engine answers checks from.
SnapshotSource = Callable[[Ref, Ref], Snapshot]


def acting_tenant(caller: Principal, tenant_id: UUID) -> UUID:
    """The tenant whose grants count for ``caller`` acting in ``tenant_id``: its own, or the
    platform tenant's for a platform session."""
    return caller.tenant_id if caller.tenant_id == tenant_id else PLATFORM_TENANT_ID


class AccessService:
    """Authorizes API callers against rolegate's built-in permissions."""

    def __init__(
        self,
        ctx: ServiceContext,
        snapshots: SnapshotSource,
        decisions: DecisionLog | None = None,
    ) -> None:
        self._ctx, self._snapshots, self._decisions = ctx, snapshots, decisions

    def authorize(self, caller: Principal, permission: str, *, tenant: Ref) -> UUID:
        """The id of ``tenant`` if ``caller`` may do ``permission`` there.

        Raises :class:`TenantNotFound` for a tenant that does not exist *or* is not the caller's
        (the same answer), and :class:`Forbidden` when the caller lacks the permission.
        """
        target = self._snapshots(tenant, caller.user_id).tenant_id
        if target is None:
            raise TenantNotFound(str(tenant))
        if caller.tenant_id not in (target, PLATFORM_TENANT_ID):
            raise TenantNotFound(str(tenant))
        source = self._snapshots(acting_tenant(caller, target), caller.user_id)
        # ``_snapshots`` hands out a snapshot valid now (expired assignments already dropped).
        if source.denial is not None or not source.grants.covers(permission):
            if self._decisions is not None:  # a denied API call: a security event
                at = self._ctx.now().timestamp()
                origin = current_origin()
                record = (source, permission, tenant, caller.user_id, at, origin, API_DENIED)
                self._decisions.offer(record)
            raise Forbidden(permission, tenant=str(tenant))
        return target


def refuse_escalation(
    ctx: ServiceContext,
    tx: Session,
    caller: Principal | None,
    tenant: TenantRecord,
    handed_out: Callable[[], Iterable[str]],
) -> None:
    """:class:`EscalationDenied` unless ``caller`` holds every grant ``handed_out()`` names
    (exactly, or through a pattern covering it) or holds ``rolegate:roles:escalate``.

    The caller's grants are compiled inside ``tx``, so they are those the change commits over.
    """
    if caller is None:
        return
    wanted = set(handed_out())
    if not wanted:
        return
    missing = _shortfall(caller_grants(ctx, tx, caller, tenant.id), wanted)
    if missing:
        raise EscalationDenied(missing, tenant=tenant.slug, tenant_id=tenant.id)


def caller_grants(
    ctx: ServiceContext, tx: Session, caller: Principal, tenant_id: UUID
) -> tuple[str, ...]:
    """What ``caller`` holds acting in ``tenant_id`` (see :func:`acting_tenant`), now."""
    snapshot = compile_snapshot(
        tx, user=caller.user_id, tenant=acting_tenant(caller, tenant_id), now=ctx.now().timestamp()
    )
    return () if snapshot.denial is not None else tuple(snapshot.grants.names)


def _shortfall(held: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The grants of ``wanted`` that ``held`` does not cover; none for an escalate holder."""
    held = tuple(held)
    if any(grant_covers(grant, ROLES_ESCALATE) for grant in held):
        return []
    return [want for want in sorted(wanted) if not any(grant_covers(g, want) for g in held)]


def account_grants(
    tx: Session, tenant: TenantRecord, user_id: UUID, now: datetime
) -> frozenset[str]:
    """Every grant ``user_id`` holds in ``tenant`` through unexpired assignments, whether the
    account is active or not: what activating it, or logging in as it, would hand over."""
    roles = frozenset(
        tx.scalars(
            select(RoleRecord.name)
            .join(UserRoleRecord, UserRoleRecord.role_id == RoleRecord.id)
            .where(
                UserRoleRecord.tenant_id == tenant.id,
                UserRoleRecord.user_id == user_id,
                or_(UserRoleRecord.expires_at.is_(None), UserRoleRecord.expires_at > now),
            )
        )
    )
    if not roles:
        return frozenset()
    return compile_policy(tx, tenant.id, tenant.slug, 0).union(roles).names


def refuse_account_change(
    ctx: ServiceContext,
    tx: Session,
    caller: Principal | None,
    target: UserRecord,
    *,
    only_in: TenantRecord | None = None,
    acting_in: UUID | None = None,
) -> None:
    """:class:`AccountChangeDenied` unless ``caller`` holds, in every tenant ``target``
    belongs to (or only in ``only_in``, for a change confined to one tenant), every grant
    ``target`` holds there, or ``rolegate:roles:escalate`` there.

    A change to one's own account hands nothing over and passes. ``acting_in`` is the tenant
    the change was asked in, whose trail records a refusal (the caller's own by default).
    """
    if caller is None or caller.user_id == target.id:
        return
    tenants = [only_in] if only_in is not None else _tenants_of(tx, target.id)
    now = ctx.now()
    for tenant in tenants:
        wanted = account_grants(tx, tenant, target.id, now)
        missing = _shortfall(caller_grants(ctx, tx, caller, tenant.id), wanted) if wanted else []
        if missing:
            raise AccountChangeDenied(
                missing,
                tenant=tenant.slug,
                target_id=target.id,
                tenant_id=acting_in or caller.tenant_id,
            )


def _tenants_of(tx: Session, user_id: UUID) -> list[TenantRecord]:
    return list(
        tx.scalars(
            select(TenantRecord)
            .join(MembershipRecord, MembershipRecord.tenant_id == TenantRecord.id)
            .where(MembershipRecord.user_id == user_id)
            .order_by(TenantRecord.slug)
        )
    )


def role_closure(tx: Session, tenant: TenantRecord, role: RoleRecord) -> frozenset[str]:
    """Every grant ``role`` carries, its own and those of every role it inherits."""
    policy = compile_policy(tx, tenant.id, tenant.slug, 0)
    node = policy.roles.get(role.name)
    return node.closure.names if node is not None else frozenset()


@contextmanager
def audit_refusals(ctx: ServiceContext, caller: Principal | None, action: str) -> Iterator[None]:
    """Record an :class:`EscalationDenied` or :class:`AccountChangeDenied` raised inside (after
    its transaction has rolled back, so the refusal is kept and the change is not), then let it
    propagate."""
    try:
        yield
    except AccountChangeDenied as denied:
        details = {"rule": denied.rule, "tenant": denied.tenant, "missing": denied.missing}
        _record_refusal(
            ctx,
            caller,
            "authz.account_change_denied",
            denied.target_id,
            denied.tenant_id,
            {"attempted": action, **details},
        )
        raise
    except EscalationDenied as denied:
        if caller is not None:
            _record_refusal(
                ctx,
                caller,
                "authz.escalation_denied",
                caller.user_id,
                denied.tenant_id,
                {"attempted": action, "missing": denied.missing},
            )
        raise


def _record_refusal(
    ctx: ServiceContext,
    caller: Principal | None,
    event: str,
    subject: UUID,
    tenant_id: UUID | None,
    details: dict[str, object],
) -> None:
    """Audit a refused change in a transaction of its own (the change's has rolled back)."""
    if caller is None:
        return
    with ctx.transaction() as tx:
        ctx.audit(
            tx,
            event,
            "user",
            subject,
            tenant_id=tenant_id,
            actor=str(caller.user_id),
            details=details,
        )


def is_member_elsewhere(tx: Session, user_id: UUID, tenant_id: UUID) -> bool:
    """Whether the user belongs to a tenant other than ``tenant_id``."""
    return (
        tx.scalar(
            select(MembershipRecord.tenant_id).where(
                MembershipRecord.user_id == user_id, MembershipRecord.tenant_id != tenant_id
            )
        )
        is not None
    )
