"""Permissions: ``resource:action`` names (and grantable patterns) defined per tenant."""

from __future__ import annotations

from typing import Any, Final, cast

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.builtins import refuse_reserved
from rolegate.db.lookup import find_permission
from rolegate.db.models import PermissionRecord, ResourceRecord, RolePermissionRecord, TenantRecord
from rolegate.entities import Permission
from rolegate.errors import InvalidName, PermissionExists
from rolegate.names import PermissionParts, grant_covers, parse_grant, parse_permission
from rolegate.pages import DEFAULT_PAGE_SIZE, Page
from rolegate.services._context import ServiceContext, require_permission, require_tenant
from rolegate.services.pages import Order, page_of, paged, starts_with
from rolegate.services.resources import (
    description_text,
    ensure_resource,
    find_resource,
)
from rolegate.types import PermissionId, Ref

#: A listing of permissions, by name.
PERMISSION_ORDER: Final = Order([PermissionRecord.name, PermissionRecord.id])


def permission_entity(
    row: PermissionRecord, tenant: TenantRecord, resource: str | None, *, revision: int = 0
) -> Permission:
    """The public value of a permission row."""
    return Permission(
        PermissionId(row.id),
        tenant.slug,
        row.name,
        resource,
        row.action,
        row.description,
        row.created_at,
        row.updated_at,
        row.audited,
        revision,
    )


def add_permission(
    ctx: ServiceContext,
    tx: Session,
    tenant: TenantRecord,
    parts: PermissionParts,
    *,
    description: str,
    actor: str | None,
    audited: bool = False,
) -> PermissionRecord:
    """Insert a permission (creating its resource on demand) and audit it."""
    resource = (
        ensure_resource(ctx, tx, tenant, parts.resource, actor=actor) if parts.resource else None
    )
    now = ctx.now()
    row = PermissionRecord(
        tenant_id=tenant.id,
        name=parts.name,
        resource_id=resource.id if resource else None,
        action=parts.action,
        description=description,
        audited=audited,
        created_at=now,
        updated_at=now,
    )
    tx.add(row)
    tx.flush()
    ctx.audit(
        tx,
        "permission.created",
        "permission",
        row.id,
        tenant_id=tenant.id,
        actor=actor,
        details={"after": {"name": parts.name, "description": description, "audited": audited}},
    )
    return row


class PermissionService:
    """Defines, describes, lists and deletes permissions; deleting one revokes its grants."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def create(
        self,
        tenant: Ref,
        name: str,
        *,
        description: str = "",
        audited: bool = False,
        actor: str | None = None,
    ) -> Permission:
        """Define permission ``name`` (``documents:read``, ``VIEW_DASHBOARD``, or a pattern).

        An ``audited`` permission's allowed checks are recorded in the audit trail too.
        """
        parts, description = parse_grant(name), description_text(description)
        refuse_reserved(parts.name)
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            if find_permission(tx, tenant_row.id, parts.name) is not None:
                raise PermissionExists(parts.name, tenant=tenant_row.slug)
            row = add_permission(
                self._ctx,
                tx,
                tenant_row,
                parts,
                description=description,
                actor=actor,
                audited=audited,
            )
            # A new name changes no decision, but an audited one is recorded from now on.
            changes = (Change.tenant(tenant_row.id),) if audited else ()
            revision = self._ctx.bump(tx, *changes)
            return permission_entity(row, tenant_row, parts.resource, revision=revision)

    def get(self, tenant: Ref, name: Ref) -> Permission:
        """The permission called ``name`` (or with that id) in ``tenant``."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            row = require_permission(session, tenant_row, name)
            return permission_entity(row, tenant_row, _resource_name(session, row))

    def defines(self, tenant: Ref, name: str) -> bool:
        """Whether ``name`` is a permission of ``tenant`` or lies under one of its patterns
        (``reports:export`` under ``reports:*``): whether a check of it could ever be allowed."""
        try:
            parse_permission(name)
        except InvalidName:
            return False
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            defined = session.scalars(
                select(PermissionRecord.name).where(PermissionRecord.tenant_id == tenant_row.id)
            ).all()
        return any(grant_covers(pattern, name) for pattern in defined)

    def list(self, tenant: Ref, *, resource: str | None = None) -> list[Permission]:
        """The tenant's permissions by name, optionally only those of one resource."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            query = (
                select(PermissionRecord, ResourceRecord.name)
                .outerjoin(ResourceRecord, ResourceRecord.id == PermissionRecord.resource_id)
                .where(PermissionRecord.tenant_id == tenant_row.id)
                .order_by(PermissionRecord.name)
            )
            if resource is not None:
                found = find_resource(session, tenant_row, resource)
                if found is None:  # not `resource_id IS NULL`: that is every resource-less name
                    return []
                query = query.where(PermissionRecord.resource_id == found.id)
            return [permission_entity(row, tenant_row, res) for row, res in session.execute(query)]

    def page(
        self,
        tenant: Ref,
        *,
        resource: str | None = None,
        name_prefix: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Permission]:
        """One page of the tenant's permissions by name, optionally only those of one resource
        or with names that start with ``name_prefix``."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            query = (
                select(PermissionRecord, ResourceRecord.name)
                .outerjoin(ResourceRecord, ResourceRecord.id == PermissionRecord.resource_id)
                .where(PermissionRecord.tenant_id == tenant_row.id)
            )
            if resource is not None:
                # Joined on the name, not looked up first: an unknown resource lists nothing,
                # where `resource_id IS NULL` would list every resource-less name.
                named = "\x00" not in resource  # PostgreSQL refuses NUL in a parameter
                query = query.where(ResourceRecord.name == resource if named else false())
            if name_prefix:
                query = query.where(starts_with(PermissionRecord.name, name_prefix))
            # Two entities per row: `paged` is typed for one, so the query is passed as Select[Any].
            rows = session.execute(
                paged(cast("Select[Any]", query), PERMISSION_ORDER, cursor=cursor, limit=limit)
            ).all()
            return page_of(
                rows,
                limit=limit,
                key=lambda row: [row[0].name, row[0].id],
                entity=lambda row: permission_entity(row[0], tenant_row, row[1]),
            )

    def update(
        self,
        tenant: Ref,
        name: Ref,
        *,
        description: str | None = None,
        audited: bool | None = None,
        actor: str | None = None,
    ) -> Permission:
        """Change a permission's description, or whether its allowed checks are audited
        (None: unchanged). Built-in permissions may be audited, not described anew."""
        if description is not None:
            description = description_text(description)
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_permission(tx, tenant_row, name)
            if description is not None:
                refuse_reserved(row.name)
            before = {"description": row.description, "audited": row.audited}
            if description is not None:
                row.description = description
            if audited is not None:
                row.audited = audited
            row.updated_at = self._ctx.now()
            after = {"description": row.description, "audited": row.audited}
            self._ctx.audit(
                tx,
                "permission.updated",
                "permission",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"before": before, "after": after},
            )
            # Compiled policies carry the audited names: recompile the tenant's when it changes.
            changes = (Change.tenant(tenant_row.id),) if before["audited"] != row.audited else ()
            resource = _resource_name(tx, row)
            revision = self._ctx.bump(tx, *changes)
            return permission_entity(row, tenant_row, resource, revision=revision)

    def delete(self, tenant: Ref, name: Ref, *, actor: str | None = None) -> int:
        """Delete a permission (every role loses its grant of it); return the revision."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_permission(tx, tenant_row, name)
            if not parse_grant(row.name).is_pattern:  # a pattern granted as rolegate:* may go
                refuse_reserved(row.name)
            holders = tx.scalars(
                select(RolePermissionRecord.role_id).where(
                    RolePermissionRecord.permission_id == row.id
                )
            ).all()
            grants = len(holders)
            tx.delete(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "permission.deleted",
                "permission",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"before": {"name": row.name}, "cascaded": {"grants": grants}},
            )
            return self._ctx.bump(tx, *(Change.role(tenant_row.id, role_id) for role_id in holders))


def _resource_name(session: Session, row: PermissionRecord) -> str | None:
    if row.resource_id is None:
        return None
    return session.scalar(select(ResourceRecord.name).where(ResourceRecord.id == row.resource_id))
