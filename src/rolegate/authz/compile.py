"""Compiling stored policy into frozen structures: a tenant's roles, one (user, tenant)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from types import MappingProxyType
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.decision import Reason
from rolegate.authz.snapshot import (
    NEVER,
    AssignmentNode,
    Grants,
    RoleNode,
    Snapshot,
    TenantPolicy,
    grants_of,
)
from rolegate.db.lookup import Ref, find_tenant, find_user
from rolegate.db.models import (
    MembershipRecord,
    PermissionRecord,
    PolicyStateRecord,
    RoleInheritanceRecord,
    RolePermissionRecord,
    RoleRecord,
    TenantRecord,
    UserRecord,
    UserRoleRecord,
)

PolicySource = Callable[[Session, TenantRecord, int], TenantPolicy]


def read_revision(session: Session) -> int:
    """The policy revision the session's snapshot of the database is at."""
    return session.scalar(select(PolicyStateRecord.revision).where(PolicyStateRecord.id == 1)) or 0


def compile_policy(session: Session, tenant: TenantRecord, revision: int) -> TenantPolicy:
    """Compile every role of ``tenant``: direct grants, parents, and transitive closures."""
    names = dict(
        session.execute(
            select(RoleRecord.id, RoleRecord.name).where(RoleRecord.tenant_id == tenant.id)
        ).all()
    )
    parents: defaultdict[UUID, list[UUID]] = defaultdict(list)
    for role_id, parent_id in session.execute(
        select(RoleInheritanceRecord.role_id, RoleInheritanceRecord.inherited_role_id).where(
            RoleInheritanceRecord.tenant_id == tenant.id
        )
    ).all():
        parents[role_id].append(parent_id)
    direct: defaultdict[UUID, list[str]] = defaultdict(list)
    for role_id, permission in session.execute(
        select(RolePermissionRecord.role_id, PermissionRecord.name)
        .join(PermissionRecord, PermissionRecord.id == RolePermissionRecord.permission_id)
        .where(RolePermissionRecord.tenant_id == tenant.id)
    ).all():
        direct[role_id].append(permission)
    nodes: dict[UUID, RoleNode] = {}
    for role_id in names:
        _compile_role(role_id, names, parents, direct, nodes, ())
    by_name = {node.name: node for node in nodes.values()}
    return TenantPolicy(tenant.id, tenant.slug, MappingProxyType(by_name), revision)


def _compile_role(
    role_id: UUID,
    names: dict[UUID, str],
    parents: dict[UUID, list[UUID]],
    direct: dict[UUID, list[str]],
    nodes: dict[UUID, RoleNode],
    visiting: tuple[UUID, ...],
) -> RoleNode:
    """Compile one role after its parents (memoised), so closures are built bottom-up."""
    if role_id in nodes:
        return nodes[role_id]
    own = grants_of(direct[role_id])
    ancestors = [
        _compile_role(p, names, parents, direct, nodes, (*visiting, role_id))
        for p in parents[role_id]
        if p not in visiting
    ]  # stored graphs are acyclic
    closure_names = set(own.names).union(*(a.closure.names for a in ancestors))
    closure = own if not ancestors else grants_of(closure_names)
    reach = frozenset({role_id}).union(*(a.reach for a in ancestors))
    node = RoleNode(
        role_id,
        names[role_id],
        own,
        tuple(sorted(a.name for a in ancestors)),
        closure if closure.names else Grants(frozenset()),
        reach,
    )
    nodes[role_id] = node
    return node


def compile_snapshot(
    session: Session,
    *,
    user: Ref,
    tenant: Ref,
    now: float,
    policy_source: PolicySource = compile_policy,
) -> Snapshot:
    """Read what deciding for ``user`` in ``tenant`` needs and compile it for ``now``."""
    revision = read_revision(session)
    tenant_row = find_tenant(session, tenant)
    if tenant_row is None:
        return Snapshot.denied(Reason.UNKNOWN_TENANT, revision=revision)
    user_row = find_user(session, user)
    if user_row is None:
        return Snapshot.denied(Reason.UNKNOWN_USER, tenant_id=tenant_row.id, revision=revision)
    refusal = _refusal(session, tenant_row, user_row)
    if refusal is not None:
        return Snapshot.denied(
            refusal, tenant_id=tenant_row.id, user_id=user_row.id, revision=revision
        )
    rows = session.execute(
        select(RoleRecord.name, UserRoleRecord.expires_at)
        .join(RoleRecord, RoleRecord.id == UserRoleRecord.role_id)
        .where(UserRoleRecord.tenant_id == tenant_row.id, UserRoleRecord.user_id == user_row.id)
        .order_by(RoleRecord.name)
    ).all()
    assignments = tuple(
        AssignmentNode(name, NEVER if expires is None else expires.timestamp())
        for name, expires in rows
    )
    policy = policy_source(session, tenant_row, revision)
    return Snapshot.granted(policy, user_row.id, assignments, now=now, revision=revision)


def _refusal(session: Session, tenant: TenantRecord, user: UserRecord) -> Reason | None:
    if not user.is_active:
        return Reason.INACTIVE_USER
    if session.get(MembershipRecord, (tenant.id, user.id)) is None:
        return Reason.NO_MEMBERSHIP
    return None
