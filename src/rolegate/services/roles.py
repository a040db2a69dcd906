"""Roles: their life cycle, their grants of permissions, and their inheritance of other roles."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.db.lookup import Ref, find_permission
from rolegate.db.models import (
    PermissionRecord,
    RoleInheritanceRecord,
    RolePermissionRecord,
    RoleRecord,
    TenantRecord,
    UserRoleRecord,
)
from rolegate.entities import Role
from rolegate.errors import (
    GrantExists,
    GrantNotFound,
    InheritanceCycle,
    InheritanceExists,
    InheritanceNotFound,
    PermissionNotFound,
    RoleExists,
)
from rolegate.names import parse_grant, parse_role_name
from rolegate.services._context import ServiceContext, require_role, require_tenant
from rolegate.services.permissions import add_permission
from rolegate.services.resources import description_text
from rolegate.types import RoleId


class RoleService:
    """Maintains roles, their grants and their inheritance; every change is audited."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def create(
        self,
        tenant: Ref,
        name: str,
        *,
        description: str = "",
        permissions: Sequence[str] = (),
        inherits: Sequence[Ref] = (),
        actor: str | None = None,
    ) -> Role:
        """Create a role, granting ``permissions`` and inheriting ``inherits``, all or nothing."""
        name, description = parse_role_name(name), description_text(description)
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            self._assert_free(tx, tenant_row, name)
            now = self._ctx.now()
            row = RoleRecord(
                tenant_id=tenant_row.id,
                name=name,
                description=description,
                created_at=now,
                updated_at=now,
            )
            tx.add(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "role.created",
                "role",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"after": {"name": name, "description": description}},
            )
            for permission in permissions:
                self._grant(tx, tenant_row, row, permission, actor)
            for parent in inherits:
                self._inherit(tx, tenant_row, row, require_role(tx, tenant_row, parent), actor)
            return self._committed(tx, tenant_row, row)

    def get(self, tenant: Ref, role: Ref) -> Role:
        """The role with this name or id, with its direct grants and parents."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            return role_entities(session, tenant_row, [require_role(session, tenant_row, role)])[0]

    def list(self, tenant: Ref) -> list[Role]:
        """The tenant's roles, by name."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            rows = session.scalars(
                select(RoleRecord)
                .where(RoleRecord.tenant_id == tenant_row.id)
                .order_by(RoleRecord.name)
            ).all()
            return role_entities(session, tenant_row, rows)

    def update(
        self,
        tenant: Ref,
        role: Ref,
        *,
        name: str | None = None,
        description: str | None = None,
        actor: str | None = None,
    ) -> Role:
        """Rename a role or change its description; grants and holders are unaffected."""
        new_name = parse_role_name(name) if name is not None else None
        new_description = description_text(description) if description is not None else None
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_role(tx, tenant_row, role)
            before = {"name": row.name, "description": row.description}
            if new_name is not None and new_name != row.name:
                self._assert_free(tx, tenant_row, new_name)
                row.name = new_name
            if new_description is not None:
                row.description = new_description
            row.updated_at = self._ctx.now()
            self._ctx.audit(
                tx,
                "role.updated",
                "role",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={
                    "before": before,
                    "after": {"name": row.name, "description": row.description},
                },
            )
            return self._committed(tx, tenant_row, row)

    def delete(self, tenant: Ref, role: Ref, *, actor: str | None = None) -> int:
        """Delete a role with its grants, inheritance edges and assignments; return the revision."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_role(tx, tenant_row, role)
            entity = role_entities(tx, tenant_row, [row])[0]
            holders = _count(tx, UserRoleRecord, UserRoleRecord.role_id == row.id)
            heirs = _count(
                tx, RoleInheritanceRecord, RoleInheritanceRecord.inherited_role_id == row.id
            )
            tx.delete(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "role.deleted",
                "role",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={
                    "before": {
                        "name": entity.name,
                        "permissions": entity.permissions,
                        "inherits": entity.inherits,
                    },
                    "cascaded": {"assignments": holders, "inherited_by": heirs},
                },
            )
            return self._ctx.bump(tx, Change.role(tenant_row.id, row.id))

    def grant(self, tenant: Ref, role: Ref, permission: str, *, actor: str | None = None) -> Role:
        """Grant ``permission`` to ``role``; a pattern (``reports:*``) is defined on first grant."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_role(tx, tenant_row, role)
            self._grant(tx, tenant_row, row, permission, actor)
            return self._committed(tx, tenant_row, row)

    def revoke(self, tenant: Ref, role: Ref, permission: str, *, actor: str | None = None) -> Role:
        """Take ``permission`` (exactly as granted) away from ``role``."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_role(tx, tenant_row, role)
            found = find_permission(tx, tenant_row.id, permission)
            grant = tx.scalars(
                select(RolePermissionRecord).where(
                    RolePermissionRecord.role_id == row.id,
                    RolePermissionRecord.permission_id == (found.id if found else None),
                )
            ).first()
            if found is None or grant is None:
                raise GrantNotFound(f"{permission} to {row.name}", tenant=tenant_row.slug)
            tx.delete(grant)
            tx.flush()
            self._ctx.audit(
                tx,
                "role.permission_revoked",
                "role",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"role": row.name, "permission": found.name},
            )
            return self._committed(tx, tenant_row, row)

    def inherit(self, tenant: Ref, role: Ref, inherited: Ref, *, actor: str | None = None) -> Role:
        """Make ``role`` inherit every permission of ``inherited`` (same tenant, no cycles)."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_role(tx, tenant_row, role)
            self._inherit(tx, tenant_row, row, require_role(tx, tenant_row, inherited), actor)
            return self._committed(tx, tenant_row, row)

    def uninherit(
        self, tenant: Ref, role: Ref, inherited: Ref, *, actor: str | None = None
    ) -> Role:
        """Stop ``role`` inheriting from ``inherited``."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_role(tx, tenant_row, role)
            parent = require_role(tx, tenant_row, inherited)
            edge = tx.get(RoleInheritanceRecord, (row.id, parent.id))
            if edge is None:
                raise InheritanceNotFound(f"{row.name} -> {parent.name}", tenant=tenant_row.slug)
            tx.delete(edge)
            tx.flush()
            self._ctx.audit(
                tx,
                "role.uninherited",
                "role",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"role": row.name, "inherited": parent.name},
            )
            return self._committed(tx, tenant_row, row)

    def _committed(self, tx: Session, tenant: TenantRecord, row: RoleRecord) -> Role:
        """Bump the revision for a change to ``row`` and return the role as committed."""
        revision = self._ctx.bump(tx, Change.role(tenant.id, row.id))
        return replace(role_entities(tx, tenant, [row])[0], revision=revision)

    def _grant(
        self, tx: Session, tenant: TenantRecord, row: RoleRecord, permission: str, actor: str | None
    ) -> None:
        parts = parse_grant(permission)
        found = find_permission(tx, tenant.id, parts.name)
        if found is None and not parts.is_pattern:
            raise PermissionNotFound(parts.name, tenant=tenant.slug)
        if found is None:
            found = add_permission(self._ctx, tx, tenant, parts, description="", actor=actor)
        existing = select(RolePermissionRecord.id).where(
            RolePermissionRecord.role_id == row.id, RolePermissionRecord.permission_id == found.id
        )
        if tx.scalar(existing) is not None:
            raise GrantExists(f"{parts.name} to {row.name}", tenant=tenant.slug)
        tx.add(
            RolePermissionRecord(
                tenant_id=tenant.id,
                role_id=row.id,
                permission_id=found.id,
                granted_at=self._ctx.now(),
                granted_by=self._ctx.actor(actor),
            )
        )
        tx.flush()
        self._ctx.audit(
            tx,
            "role.permission_granted",
            "role",
            row.id,
            tenant_id=tenant.id,
            actor=actor,
            details={"role": row.name, "permission": parts.name},
        )

    def _inherit(
        self,
        tx: Session,
        tenant: TenantRecord,
        row: RoleRecord,
        parent: RoleRecord,
        actor: str | None,
    ) -> None:
        if tx.get(RoleInheritanceRecord, (row.id, parent.id)) is not None:
            raise InheritanceExists(f"{row.name} -> {parent.name}", tenant=tenant.slug)
        cycle = _path(tx, tenant.id, start=parent.id, goal=row.id)
        if cycle is not None:
            raise InheritanceCycle([row.name, *cycle], tenant=tenant.slug)
        tx.add(
            RoleInheritanceRecord(
                tenant_id=tenant.id,
                role_id=row.id,
                inherited_role_id=parent.id,
                created_at=self._ctx.now(),
                created_by=self._ctx.actor(actor),
            )
        )
        tx.flush()
        self._ctx.audit(
            tx,
            "role.inherited",
            "role",
            row.id,
            tenant_id=tenant.id,
            actor=actor,
            details={"role": row.name, "inherited": parent.name},
        )

    @staticmethod
    def _assert_free(tx: Session, tenant: TenantRecord, name: str) -> None:
        taken = select(RoleRecord.id).where(
            RoleRecord.tenant_id == tenant.id, RoleRecord.name == name
        )
        if tx.scalar(taken) is not None:
            raise RoleExists(name, tenant=tenant.slug)


def _path(tx: Session, tenant_id: UUID, *, start: UUID, goal: UUID) -> list[str] | None:
    """Role names along an inheritance path from ``start`` to ``goal``, or None if there is none."""
    edges = tx.execute(
        select(RoleInheritanceRecord.role_id, RoleInheritanceRecord.inherited_role_id).where(
            RoleInheritanceRecord.tenant_id == tenant_id
        )
    )
    parents: defaultdict[UUID, list[UUID]] = defaultdict(list)
    for child, parent in edges:
        parents[child].append(parent)
    came_from: dict[UUID, UUID | None] = {start: None}
    pending = [start]
    while pending:
        current = pending.pop()
        if current == goal:
            return _names(tx, _walk_back(came_from, goal))
        for parent in parents[current]:
            if parent not in came_from:
                came_from[parent] = current
                pending.append(parent)
    return None


def _walk_back(came_from: dict[UUID, UUID | None], goal: UUID) -> list[UUID]:
    path: list[UUID] = []
    node: UUID | None = goal
    while node is not None:
        path.append(node)
        node = came_from[node]
    return path[::-1]


def _names(tx: Session, ids: list[UUID]) -> list[str]:
    names = dict(
        tx.execute(select(RoleRecord.id, RoleRecord.name).where(RoleRecord.id.in_(ids))).all()
    )
    return [names[i] for i in ids]


def role_entities(session: Session, tenant: TenantRecord, rows: Sequence[RoleRecord]) -> list[Role]:
    """Public values of role rows, with grants and parents loaded in two queries."""
    ids = [row.id for row in rows]
    grants: defaultdict[UUID, list[str]] = defaultdict(list)
    for role_id, permission in session.execute(
        select(RolePermissionRecord.role_id, PermissionRecord.name)
        .join(PermissionRecord, PermissionRecord.id == RolePermissionRecord.permission_id)
        .where(RolePermissionRecord.role_id.in_(ids))
        .order_by(PermissionRecord.name)
    ):
        grants[role_id].append(permission)
    parent_role = RoleRecord.__table__.alias("parent_role")
    parents: defaultdict[UUID, list[str]] = defaultdict(list)
    for role_id, parent in session.execute(
        select(RoleInheritanceRecord.role_id, parent_role.c.name)
        .join(parent_role, parent_role.c.id == RoleInheritanceRecord.inherited_role_id)
        .where(RoleInheritanceRecord.role_id.in_(ids))
        .order_by(parent_role.c.name)
    ):
        parents[role_id].append(parent)
    return [
        Role(
            RoleId(row.id),
            tenant.slug,
            row.name,
            row.description,
            tuple(grants[row.id]),
            tuple(parents[row.id]),
            row.created_at,
            row.updated_at,
        )
        for row in rows
    ]


def _count(
    tx: Session,
    model: type[UserRoleRecord] | type[RoleInheritanceRecord],
    condition: ColumnElement[bool],
) -> int:
    return tx.scalar(select(func.count()).select_from(model).where(condition)) or 0
