"""Compiling stored policy into frozen structures: a tenant's roles, one (user, tenant)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.decision import Reason
from rolegate.authz.snapshot import (
    EMPTY_GRANTS,
    NEVER,
    AssignmentNode,
    RoleNode,
    Snapshot,
    TenantPolicy,
    grants_of,
)
from rolegate.db.lookup import find_tenant, find_user
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
from rolegate.names import username_key
from rolegate.types import Ref

PolicySource = Callable[[Session, UUID, str, int], TenantPolicy]


#: The current policy revision.
REVISION: Final = select(PolicyStateRecord.revision).where(PolicyStateRecord.id == 1)


def read_revision(session: Session) -> int:
    """The policy revision the session's snapshot of the database is at."""
    return session.scalar(REVISION) or 0


def compile_policy(session: Session, tenant_id: UUID, slug: str, revision: int) -> TenantPolicy:
    """Compile every role of a tenant: direct grants, parents, and transitive closures."""
    names = dict(
        session.execute(
            select(RoleRecord.id, RoleRecord.name).where(RoleRecord.tenant_id == tenant_id)
        ).all()
    )
    parents: defaultdict[UUID, list[UUID]] = defaultdict(list)
    for role_id, parent_id in session.execute(
        select(RoleInheritanceRecord.role_id, RoleInheritanceRecord.inherited_role_id).where(
            RoleInheritanceRecord.tenant_id == tenant_id
        )
    ).all():
        parents[role_id].append(parent_id)
    direct: defaultdict[UUID, list[str]] = defaultdict(list)
    for role_id, permission in session.execute(
        select(RolePermissionRecord.role_id, PermissionRecord.name)
        .join(PermissionRecord, PermissionRecord.id == RolePermissionRecord.permission_id)
        .where(RolePermissionRecord.tenant_id == tenant_id)
    ).all():
        direct[role_id].append(permission)
    nodes: dict[UUID, RoleNode] = {}
    for role_id in names:
        _compile_role(role_id, names, parents, direct, nodes, ())
    by_name = {node.name: node for node in nodes.values()}
    audited = session.scalars(
        select(PermissionRecord.name).where(
            PermissionRecord.tenant_id == tenant_id, PermissionRecord.audited.is_(True)
        )
    ).all()
    return TenantPolicy(
        tenant_id, slug, MappingProxyType(by_name), revision, audited=frozenset(audited)
    )


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
        closure if closure.names else EMPTY_GRANTS,
        reach,
    )
    nodes[role_id] = node
    return node


@dataclass(frozen=True, slots=True)
class Subject:
    """Who and where a snapshot is for, as one read found them (None: no such thing)."""

    revision: int
    tenant_id: UUID | None = None
    tenant_slug: str = ""
    user_id: UUID | None = None
    is_active: bool = False
    is_member: bool = False


def read_subject(session: Session, *, user: Ref, tenant: Ref) -> Subject:
    """Revision, tenant, user and membership in one query when both are named by name (the
    usual case: a cold check pays one round trip here, not four); by lookups otherwise."""
    if isinstance(user, str) and isinstance(tenant, str) and "\x00" not in user + tenant:
        is_member = (
            select(MembershipRecord.user_id)
            .where(
                MembershipRecord.tenant_id == TenantRecord.id,
                MembershipRecord.user_id == UserRecord.id,
            )
            .exists()
        )
        revision = select(PolicyStateRecord.revision).where(PolicyStateRecord.id == 1)
        row = session.execute(
            select(
                revision.scalar_subquery(),
                TenantRecord.id,
                TenantRecord.slug,
                UserRecord.id,
                UserRecord.is_active,
                is_member,
            )
            .select_from(TenantRecord)
            .outerjoin(UserRecord, UserRecord.username_key == username_key(user))
            .where(TenantRecord.slug == tenant)
        ).first()
        if row is not None and row[3] is not None:
            return Subject(row[0] or 0, row[1], row[2], row[3], row[4], bool(row[5]))
    return _look_up_subject(session, user=user, tenant=tenant)


def _look_up_subject(session: Session, *, user: Ref, tenant: Ref) -> Subject:
    revision = read_revision(session)
    tenant_row = find_tenant(session, tenant)
    if tenant_row is None:
        return Subject(revision)
    user_row = find_user(session, user)
    if user_row is None:
        return Subject(revision, tenant_row.id, tenant_row.slug)
    is_member = session.get(MembershipRecord, (tenant_row.id, user_row.id)) is not None
    return Subject(
        revision, tenant_row.id, tenant_row.slug, user_row.id, user_row.is_active, is_member
    )


def compile_snapshot(
    session: Session,
    *,
    user: Ref,
    tenant: Ref,
    now: float,
    policy_source: PolicySource = compile_policy,
) -> Snapshot:
    """Read what deciding for ``user`` in ``tenant`` needs and compile it for ``now``."""
    subject = read_subject(session, user=user, tenant=tenant)
    revision = subject.revision
    if subject.tenant_id is None:
        return Snapshot.denied(Reason.UNKNOWN_TENANT, revision=revision)
    if subject.user_id is None:
        return Snapshot.denied(Reason.UNKNOWN_USER, tenant_id=subject.tenant_id, revision=revision)
    refusal = None if subject.is_active else Reason.INACTIVE_USER
    if refusal is None and not subject.is_member:
        refusal = Reason.NO_MEMBERSHIP
    if refusal is not None:
        return Snapshot.denied(
            refusal, tenant_id=subject.tenant_id, user_id=subject.user_id, revision=revision
        )
    rows = session.execute(
        select(RoleRecord.name, UserRoleRecord.expires_at)
        .join(RoleRecord, RoleRecord.id == UserRoleRecord.role_id)
        .where(
            UserRoleRecord.tenant_id == subject.tenant_id, UserRoleRecord.user_id == subject.user_id
        )
        .order_by(RoleRecord.name)
    ).all()
    assignments = tuple(
        AssignmentNode(name, NEVER if expires is None else expires.timestamp())
        for name, expires in rows
    )
    policy = policy_source(session, subject.tenant_id, subject.tenant_slug, revision)
    return Snapshot.granted(policy, subject.user_id, assignments, now=now, revision=revision)
