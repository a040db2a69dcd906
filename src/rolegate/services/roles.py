"""Roles: their life cycle, their grants of permissions, and their inheritance of other roles."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final
from uuid import UUID

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.builtins import refuse_tenant_admin
from rolegate.db.lookup import find_permission
from rolegate.db.models import (
    PermissionRecord,
    RoleInheritanceRecord,
    RolePermissionRecord,
    RoleRecord,
    TenantRecord,
    UserRoleRecord,
)
from rolegate.entities import Principal, Role
from rolegate.errors import (
    GrantExists,
    GrantNotFound,
    InheritanceExists,
    InheritanceNotFound,
    PermissionNotFound,
    RoleExists,
    RoleNotFound,
)
from rolegate.etags import require_match
from rolegate.names import parse_grant, parse_role_name
from rolegate.pages import DEFAULT_PAGE_SIZE, Page, RoleSort
from rolegate.services._context import ServiceContext, require_role, require_tenant
from rolegate.services._inheritance import refuse_bad_edge
from rolegate.services.access import audit_refusals, refuse_escalation, role_closure
from rolegate.services.pages import order_by, page_of, paged, sort_key, starts_with
from rolegate.services.permissions import add_permission
from rolegate.services.resources import description_text
from rolegate.types import Ref, RoleId

#: The keyset of each sort: its columns end with a unique one, so the order is total.
_SORTS: Final = {
    "name": (RoleRecord.name, RoleRecord.id),
    "created_at": (RoleRecord.created_at, RoleRecord.id),
}


class RoleService:
    """Maintains roles, their grants and their inheritance; every change is audited.

    Every change to a role locks its row first, so changes to one role apply one after another
    and an ``if_match`` test stays true until the change commits.
    """

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
        caller: Principal | None = None,
    ) -> Role:
        """Create a role, granting ``permissions`` and inheriting ``inherits``, all or nothing.

        With a ``caller``, only with what the caller holds itself (see :mod:`.access`).
        """
        name, description = parse_role_name(name), description_text(description)
        with audit_refusals(self._ctx, caller, "role.create"), self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = self._insert(tx, tenant_row, name, description)
            self._ctx.audit(
                tx,
                "role.created",
                "role",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"after": {"name": name, "description": description}},
            )
            refuse_unknown_permissions(tx, tenant_row, permissions)
            for permission in dict.fromkeys(permissions):
                self._grant(tx, tenant_row, row, permission, actor)
            for parent in dict.fromkeys(inherits):
                self._inherit(tx, tenant_row, row, require_role(tx, tenant_row, parent), actor)
            refuse_escalation(
                self._ctx, tx, caller, tenant_row, lambda: role_closure(tx, tenant_row, row)
            )
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

    def page(
        self,
        tenant: Ref,
        *,
        name_prefix: str | None = None,
        sort: RoleSort = "name",
        descending: bool = False,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Role]:
        """One page of the tenant's roles whose names start with ``name_prefix``, sorted by
        ``sort``; pass the page's ``next_cursor`` (same filter and sort) for the next one."""
        order = order_by(_SORTS, sort, descending=descending, what="roles")
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            query = select(RoleRecord).where(RoleRecord.tenant_id == tenant_row.id)
            if name_prefix:
                query = query.where(starts_with(RoleRecord.name, name_prefix))
            rows = session.scalars(paged(query, order, cursor=cursor, limit=limit)).all()
            found = page_of(rows, limit=limit, key=sort_key(order), entity=lambda row: row)
            return Page(role_entities(session, tenant_row, found.items), found.next_cursor)

    def update(
        self,
        tenant: Ref,
        role: Ref,
        *,
        name: str | None = None,
        description: str | None = None,
        permissions: Sequence[str] | None = None,
        inherits: Sequence[Ref] | None = None,
        if_match: str | None = None,
        actor: str | None = None,
        caller: Principal | None = None,
    ) -> Role:
        """Rename a role, change its description, replace its grants (``permissions``) or its
        parents (``inherits``), all in one transaction; None leaves a part as it is.

        ``if_match`` (an :func:`~.etags.entity_tag`) must still name the role's value, else
        :class:`PreconditionFailed`. With a ``caller``, what the change adds must be held by the
        caller (see :mod:`.access`); what it takes away needs nothing more.
        """
        new_name = parse_role_name(name) if name is not None else None
        new_description = description_text(description) if description is not None else None
        grants = None if permissions is None else [parse_grant(p).name for p in permissions]
        with audit_refusals(self._ctx, caller, "role.update"), self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = lock_role(tx, tenant_row, role)
            refuse_tenant_admin(row.name)
            current = role_entities(tx, tenant_row, [row])[0]
            require_match(if_match, current)
            if (name, description, permissions, inherits) == (None, None, None, None):
                return current  # nothing to change: no event, no new revision, the same tag
            parents = None
            if inherits is not None:
                parents = {p.id: p for p in (require_role(tx, tenant_row, r) for r in inherits)}
            added_grants = sorted(set(grants or ()) - set(current.permissions))
            refuse_unknown_permissions(tx, tenant_row, added_grants)
            added_parents = [p for p in (parents or {}).values() if p.name not in current.inherits]
            refuse_escalation(
                self._ctx,
                tx,
                caller,
                tenant_row,
                lambda: [*added_grants, *_closures(tx, tenant_row, added_parents)],
            )
            if new_name is not None or new_description is not None:
                self._describe(tx, tenant_row, row, new_name, new_description, actor)
            if grants is not None:
                self._replace_grants(tx, tenant_row, row, current.permissions, grants, actor)
            if parents is not None:
                self._replace_parents(tx, tenant_row, row, parents, actor)
            row.updated_at = self._ctx.now()
            return self._committed(tx, tenant_row, row)

    def delete(
        self, tenant: Ref, role: Ref, *, if_match: str | None = None, actor: str | None = None
    ) -> int:
        """Delete a role with its grants, inheritance edges and assignments; return the revision.

        ``if_match`` as for :meth:`update`.
        """
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = lock_role(tx, tenant_row, role)
            refuse_tenant_admin(row.name)
            entity = role_entities(tx, tenant_row, [row])[0]
            require_match(if_match, entity)
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

    def grant(
        self,
        tenant: Ref,
        role: Ref,
        permission: str,
        *,
        actor: str | None = None,
        caller: Principal | None = None,
    ) -> Role:
        """Grant ``permission`` to ``role``; a pattern (``reports:*``) is defined on first grant.

        With a ``caller``, only a permission the caller holds itself (see :mod:`.access`).
        """
        with audit_refusals(self._ctx, caller, "role.grant"), self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = lock_role(tx, tenant_row, role)
            refuse_tenant_admin(row.name)
            refuse_escalation(
                self._ctx, tx, caller, tenant_row, lambda: [parse_grant(permission).name]
            )
            self._grant(tx, tenant_row, row, permission, actor)
            return self._committed(tx, tenant_row, row)

    def revoke(self, tenant: Ref, role: Ref, permission: str, *, actor: str | None = None) -> Role:
        """Take ``permission`` (exactly as granted, by name or id) away from ``role``."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = lock_role(tx, tenant_row, role)
            refuse_tenant_admin(row.name)
            self._revoke(tx, tenant_row, row, permission, actor)
            return self._committed(tx, tenant_row, row)

    def inherit(
        self,
        tenant: Ref,
        role: Ref,
        inherited: Ref,
        *,
        actor: str | None = None,
        caller: Principal | None = None,
    ) -> Role:
        """Make ``role`` inherit every permission of ``inherited`` (same tenant, no cycles, at
        most :data:`rolegate.limits.MAX_INHERITANCE_DEPTH` levels in any chain).

        With a ``caller``, only if the caller holds all of them itself (see :mod:`.access`).
        """
        with audit_refusals(self._ctx, caller, "role.inherit"), self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = lock_role(tx, tenant_row, role)
            refuse_tenant_admin(row.name)
            parent = require_role(tx, tenant_row, inherited)
            refuse_escalation(
                self._ctx, tx, caller, tenant_row, lambda: role_closure(tx, tenant_row, parent)
            )
            self._inherit(tx, tenant_row, row, parent, actor)
            return self._committed(tx, tenant_row, row)

    def uninherit(
        self, tenant: Ref, role: Ref, inherited: Ref, *, actor: str | None = None
    ) -> Role:
        """Stop ``role`` inheriting from ``inherited``."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = lock_role(tx, tenant_row, role)
            refuse_tenant_admin(row.name)
            self._uninherit(tx, tenant_row, row, require_role(tx, tenant_row, inherited), actor)
            return self._committed(tx, tenant_row, row)

    def _committed(self, tx: Session, tenant: TenantRecord, row: RoleRecord) -> Role:
        """Bump the revision for a change to ``row`` and return the role as committed."""
        revision = self._ctx.bump(tx, Change.role(tenant.id, row.id))
        return replace(role_entities(tx, tenant, [row])[0], revision=revision)

    def _insert(self, tx: Session, tenant: TenantRecord, name: str, description: str) -> RoleRecord:
        """A new role row; a name taken first by a concurrent transaction is :class:`RoleExists`
        too (caught in a savepoint, so the transaction can still say which error it was)."""
        self._assert_free(tx, tenant, name)
        now = self._ctx.now()
        row = RoleRecord(
            tenant_id=tenant.id, name=name, description=description, created_at=now, updated_at=now
        )
        try:
            with tx.begin_nested():
                tx.add(row)
        except IntegrityError:
            self._assert_free(tx, tenant, name)
            raise
        return row

    def _describe(
        self,
        tx: Session,
        tenant: TenantRecord,
        row: RoleRecord,
        name: str | None,
        description: str | None,
        actor: str | None,
    ) -> None:
        before = {"name": row.name, "description": row.description}
        if name is not None and name != row.name:
            self._assert_free(tx, tenant, name)
            row.name = name
        if description is not None:
            row.description = description
        self._ctx.audit(
            tx,
            "role.updated",
            "role",
            row.id,
            tenant_id=tenant.id,
            actor=actor,
            details={"before": before, "after": {"name": row.name, "description": row.description}},
        )

    def _replace_grants(
        self,
        tx: Session,
        tenant: TenantRecord,
        row: RoleRecord,
        current: Sequence[str],
        wanted: Sequence[str],
        actor: str | None,
    ) -> None:
        """Revoke what ``wanted`` leaves out, then grant what it adds."""
        for revoked in sorted(set(current) - set(wanted)):
            self._revoke(tx, tenant, row, revoked, actor)
        for added in sorted(set(wanted) - set(current)):
            self._grant(tx, tenant, row, added, actor)

    def _replace_parents(
        self,
        tx: Session,
        tenant: TenantRecord,
        row: RoleRecord,
        wanted: Mapping[UUID, RoleRecord],
        actor: str | None,
    ) -> None:
        """Drop the parents ``wanted`` leaves out first (so a reordering is no cycle), then
        inherit the new ones."""
        current = {parent.id for parent in self._parents(tx, row)}
        for dropped in current - wanted.keys():
            self._uninherit(tx, tenant, row, tx.get_one(RoleRecord, dropped), actor)
        for parent_id, parent in wanted.items():
            if parent_id not in current:
                self._inherit(tx, tenant, row, parent, actor)

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

    def _revoke(
        self, tx: Session, tenant: TenantRecord, row: RoleRecord, permission: Ref, actor: str | None
    ) -> None:
        found = find_permission(tx, tenant.id, permission)
        grant = tx.scalars(
            select(RolePermissionRecord).where(
                RolePermissionRecord.role_id == row.id,
                RolePermissionRecord.permission_id == (found.id if found else None),
            )
        ).first()
        if found is None or grant is None:
            raise GrantNotFound(f"{permission} to {row.name}", tenant=tenant.slug)
        tx.delete(grant)
        tx.flush()
        self._ctx.audit(
            tx,
            "role.permission_revoked",
            "role",
            row.id,
            tenant_id=tenant.id,
            actor=actor,
            details={"role": row.name, "permission": found.name},
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
        refuse_bad_edge(tx, tenant, row, parent)
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

    def _uninherit(
        self,
        tx: Session,
        tenant: TenantRecord,
        row: RoleRecord,
        parent: RoleRecord,
        actor: str | None,
    ) -> None:
        edge = tx.get(RoleInheritanceRecord, (row.id, parent.id))
        if edge is None:
            raise InheritanceNotFound(f"{row.name} -> {parent.name}", tenant=tenant.slug)
        tx.delete(edge)
        tx.flush()
        self._ctx.audit(
            tx,
            "role.uninherited",
            "role",
            row.id,
            tenant_id=tenant.id,
            actor=actor,
            details={"role": row.name, "inherited": parent.name},
        )

    @staticmethod
    def _parents(tx: Session, row: RoleRecord) -> Sequence[RoleRecord]:
        """The roles ``row`` directly inherits."""
        edge = RoleInheritanceRecord.inherited_role_id == RoleRecord.id
        return tx.scalars(
            select(RoleRecord)
            .join(RoleInheritanceRecord, edge)
            .where(RoleInheritanceRecord.role_id == row.id)
        ).all()

    @staticmethod
    def _assert_free(tx: Session, tenant: TenantRecord, name: str) -> None:
        taken = select(RoleRecord.id).where(
            RoleRecord.tenant_id == tenant.id, RoleRecord.name == name
        )
        if tx.scalar(taken) is not None:
            raise RoleExists(name, tenant=tenant.slug)


def refuse_unknown_permissions(tx: Session, tenant: TenantRecord, grants: Sequence[str]) -> None:
    """:class:`PermissionNotFound` naming every one of ``grants`` that is neither a permission
    of ``tenant`` nor a pattern (patterns are defined on first grant), sorted by name."""
    exact = {p.name for p in map(parse_grant, grants) if not p.is_pattern}
    if not exact:
        return
    found = set(
        tx.scalars(
            select(PermissionRecord.name).where(
                PermissionRecord.tenant_id == tenant.id, PermissionRecord.name.in_(exact)
            )
        )
    )
    if missing := sorted(exact - found):
        raise PermissionNotFound(*missing, tenant=tenant.slug)


def _closures(tx: Session, tenant: TenantRecord, roles: Sequence[RoleRecord]) -> set[str]:
    """Every grant the ``roles`` carry, inherited ones included."""
    return {grant for role in roles for grant in role_closure(tx, tenant, role)}


def lock_role(tx: Session, tenant: TenantRecord, ref: Ref) -> RoleRecord:
    """The role named by ``ref``, read again and locked until ``tx`` ends (``FOR NO KEY
    UPDATE`` on PostgreSQL, so assignments and grants referring to it are not blocked; SQLite
    writers are serialized already). A role deleted meanwhile is :class:`RoleNotFound`."""
    found = require_role(tx, tenant, ref)
    locked = tx.scalars(
        select(RoleRecord)
        .where(RoleRecord.id == found.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if locked is None:
        raise RoleNotFound(str(ref), tenant=tenant.slug)
    return locked


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
