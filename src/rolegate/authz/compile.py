"""Compiling the stored policy of one (user, tenant) into a frozen :class:`Snapshot`."""

from __future__ import annotations

from collections import defaultdict
from types import MappingProxyType
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.snapshot import AssignmentNode, RoleNode, Snapshot
from rolegate.db.lookup import Ref, find_tenant, find_user
from rolegate.db.models import (
    MembershipRecord,
    PermissionRecord,
    RoleInheritanceRecord,
    RolePermissionRecord,
    RoleRecord,
    UserRoleRecord,
)


def compile_snapshot(session: Session, *, user: Ref, tenant: Ref) -> Snapshot:
    """Read what deciding for ``user`` in ``tenant`` needs, in a handful of queries."""
    tenant_row = find_tenant(session, tenant)
    user_row = find_user(session, user)
    if tenant_row is None or user_row is None:
        return Snapshot.unknown(
            tenant_exists=tenant_row is not None, user_exists=user_row is not None
        )
    is_member = session.get(MembershipRecord, (tenant_row.id, user_row.id)) is not None
    assignments = _assignments(session, tenant_row.id, user_row.id)
    return Snapshot(
        tenant_exists=True,
        user_exists=True,
        is_active=user_row.is_active,
        is_member=is_member,
        assignments=assignments,
        roles=_role_graph(session, tenant_row.id),
    )


def _assignments(session: Session, tenant_id: UUID, user_id: UUID) -> tuple[AssignmentNode, ...]:
    rows = session.execute(
        select(RoleRecord.name, UserRoleRecord.expires_at)
        .join(RoleRecord, RoleRecord.id == UserRoleRecord.role_id)
        .where(UserRoleRecord.tenant_id == tenant_id, UserRoleRecord.user_id == user_id)
        .order_by(RoleRecord.name)
    ).all()
    return tuple(AssignmentNode(name, expires_at) for name, expires_at in rows)


def _role_graph(session: Session, tenant_id: UUID) -> MappingProxyType[str, RoleNode]:
    names = dict(
        session.execute(
            select(RoleRecord.id, RoleRecord.name).where(RoleRecord.tenant_id == tenant_id)
        ).all()
    )
    parents: defaultdict[UUID, list[str]] = defaultdict(list)
    for role_id, parent_id in session.execute(
        select(RoleInheritanceRecord.role_id, RoleInheritanceRecord.inherited_role_id).where(
            RoleInheritanceRecord.tenant_id == tenant_id
        )
    ):
        parents[role_id].append(names[parent_id])
    grants: defaultdict[UUID, set[str]] = defaultdict(set)
    for role_id, permission in session.execute(
        select(RolePermissionRecord.role_id, PermissionRecord.name)
        .join(PermissionRecord, PermissionRecord.id == RolePermissionRecord.permission_id)
        .where(RolePermissionRecord.tenant_id == tenant_id)
    ):
        grants[role_id].add(permission)
    nodes = {
        name: RoleNode(name, frozenset(grants[role_id]), tuple(sorted(parents[role_id])))
        for role_id, name in names.items()
    }
    return MappingProxyType(nodes)
