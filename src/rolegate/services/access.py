"""What a caller may do to rolegate itself: rolegate's own permissions, checked by its own engine.

Two rules live here, and only here:

* **Acting in a tenant.** A caller acts in the tenant of its session. Holding a built-in
  permission in the platform tenant counts in every tenant: that is what a platform admin is.
  Any other tenant does not exist for the caller: it answers "not found", exactly as a missing
  one does, so tenants cannot be probed (ARCHITECTURE invariant 1).
* **No privilege escalation** (Kubernetes RBAC's ``escalate`` and ``bind`` verbs). A caller may
  grant a role a permission, make it inherit a role, or assign a role only when it already holds
  every permission that hands out (inherited ones included), unless it holds
  ``rolegate:roles:escalate``. Self-assignment gets no exception. A refusal is audited.

Calls without a caller (the library, the CLI) are trusted, as the process holding the database
credentials can change anything anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.audit.origin import current_origin
from rolegate.authz.compile import compile_policy, compile_snapshot
from rolegate.authz.snapshot import Snapshot
from rolegate.db.lookup import Ref
from rolegate.db.models import PLATFORM_TENANT_ID, MembershipRecord, RoleRecord, TenantRecord
from rolegate.entities import Principal
from rolegate.errors import EscalationDenied, Forbidden, TenantNotFound
from rolegate.names import grant_covers
from rolegate.services._context import ServiceContext
from rolegate.services.builtins import ROLES_ESCALATE
from rolegate.services.decisions import API_DENIED, DecisionLog

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
                record = (source, permission, caller.user_id, tenant, at, origin, API_DENIED)
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
    wanted = sorted(set(handed_out()))
    if not wanted:
        return
    snapshot = compile_snapshot(
        tx, user=caller.user_id, tenant=acting_tenant(caller, tenant.id), now=ctx.now().timestamp()
    )
    held = () if snapshot.denial is not None else tuple(snapshot.grants.names)
    if any(grant_covers(grant, ROLES_ESCALATE) for grant in held):
        return
    missing = [want for want in wanted if not any(grant_covers(grant, want) for grant in held)]
    if missing:
        raise EscalationDenied(missing, tenant=tenant.slug, tenant_id=tenant.id)


def role_closure(tx: Session, tenant: TenantRecord, role: RoleRecord) -> frozenset[str]:
    """Every grant ``role`` carries, its own and those of every role it inherits."""
    policy = compile_policy(tx, tenant.id, tenant.slug, 0)
    node = policy.roles.get(role.name)
    return node.closure.names if node is not None else frozenset()


@contextmanager
def audit_refusals(ctx: ServiceContext, caller: Principal | None, action: str) -> Iterator[None]:
    """Record an :class:`EscalationDenied` raised inside (after its transaction has rolled back,
    so the refusal is kept and the change is not), then let it propagate."""
    try:
        yield
    except EscalationDenied as denied:
        if caller is not None:
            with ctx.transaction() as tx:
                ctx.audit(
                    tx,
                    "authz.escalation_denied",
                    "user",
                    caller.user_id,
                    tenant_id=denied.tenant_id,
                    actor=str(caller.user_id),
                    details={"attempted": action, "missing": denied.missing},
                )
        raise


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
