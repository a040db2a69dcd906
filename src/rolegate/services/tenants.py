"""Tenants: create, rename, delete (cascading to everything the tenant holds)."""

from __future__ import annotations

from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.builtins import (
    DEFAULT_TENANT_ID,
    PLATFORM_TENANT_ID,
    TENANT_ADMIN,
    builtin_permissions,
)
from rolegate.db.models import (
    MembershipRecord,
    PermissionRecord,
    RolePermissionRecord,
    RoleRecord,
    SessionRecord,
    TenantRecord,
)
from rolegate.entities import Tenant
from rolegate.errors import ConcurrentChange, InvalidInput, TenantExists, TenantProtected
from rolegate.limits import MAX_TENANT_NAME
from rolegate.names import parse_permission, parse_tenant_slug
from rolegate.pages import DEFAULT_PAGE_SIZE, Page, TenantSort
from rolegate.services._context import ServiceContext, require_tenant
from rolegate.services._sessions import end_sessions
from rolegate.services.pages import order_by, page_of, paged, sort_key, starts_with
from rolegate.services.permissions import add_permission
from rolegate.types import Ref, TenantId

_BUILT_IN = frozenset({DEFAULT_TENANT_ID, PLATFORM_TENANT_ID})

#: The keyset of each sort: its columns end with a unique one, so the order is total.
_SORTS: Final = {
    "slug": (TenantRecord.slug,),
    "created_at": (TenantRecord.created_at, TenantRecord.id),
}


def tenant_entity(row: TenantRecord, *, revision: int = 0) -> Tenant:
    """The public value of a tenant row (``revision``: the one a change committed)."""
    return Tenant(TenantId(row.id), row.slug, row.name, row.created_at, row.updated_at, revision)


def _display_name(name: str) -> str:
    name = name.strip()
    if not 0 < len(name) <= MAX_TENANT_NAME:
        raise InvalidInput(f"tenant name must be 1-{MAX_TENANT_NAME} characters")
    return name


class TenantService:
    """Creates, renames, lists and deletes tenants."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def create(self, slug: str, *, name: str | None = None, actor: str | None = None) -> Tenant:
        """Create tenant ``slug``; ``name`` (display name) defaults to the slug."""
        slug = parse_tenant_slug(slug)
        display = _display_name(name if name is not None else slug)
        try:
            return self._create(slug, display, actor)
        except ConcurrentChange:
            # Another transaction committed the same slug between our check and our insert:
            # the caller's answer is the one it would have got a moment later.
            if self._slug_taken(slug):
                raise TenantExists(slug) from None
            raise

    def _create(self, slug: str, display: str, actor: str | None) -> Tenant:
        with self._ctx.transaction() as tx:
            if tx.scalar(select(TenantRecord.id).where(TenantRecord.slug == slug)) is not None:
                raise TenantExists(slug)
            now = self._ctx.now()
            row = TenantRecord(slug=slug, name=display, created_at=now, updated_at=now)
            tx.add(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "tenant.created",
                "tenant",
                row.id,
                tenant_id=row.id,
                actor=actor,
                details={"after": {"slug": slug, "name": display}},
            )
            provision_builtins(self._ctx, tx, row)
            revision = self._ctx.bump(tx, Change.tenant(row.id))
        return tenant_entity(row, revision=revision)

    def get(self, tenant: Ref) -> Tenant:
        """The tenant with this slug or id."""
        with self._ctx.db.reading() as session:
            return tenant_entity(require_tenant(session, tenant))

    def list(self) -> list[Tenant]:
        """Every tenant, by slug."""
        with self._ctx.db.reading() as session:
            rows = session.scalars(select(TenantRecord).order_by(TenantRecord.slug))
            return [tenant_entity(row) for row in rows]

    def page(
        self,
        *,
        slug_prefix: str | None = None,
        sort: TenantSort = "slug",
        descending: bool = False,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Tenant]:
        """One page of tenants whose slug starts with ``slug_prefix``, sorted by ``sort``;
        pass the page's ``next_cursor`` (with the same filter and sort) for the next one."""
        order = order_by(_SORTS, sort, descending=descending, what="tenants")
        query = select(TenantRecord)
        if slug_prefix:
            query = query.where(starts_with(TenantRecord.slug, slug_prefix))
        with self._ctx.db.reading() as session:
            rows = session.scalars(paged(query, order, cursor=cursor, limit=limit)).all()
            return page_of(
                rows,
                limit=limit,
                key=sort_key(order),
                entity=tenant_entity,
            )

    def rename(
        self,
        tenant: Ref,
        *,
        slug: str | None = None,
        name: str | None = None,
        actor: str | None = None,
    ) -> Tenant:
        """Change a tenant's slug, display name, or both."""
        new_slug = parse_tenant_slug(slug) if slug is not None else None
        new_name = _display_name(name) if name is not None else None
        with self._ctx.transaction() as tx:
            row = require_tenant(tx, tenant)
            before = {"slug": row.slug, "name": row.name}
            if new_slug is not None and new_slug != row.slug:
                if row.id in _BUILT_IN:
                    raise TenantProtected(f"the {row.slug} tenant's slug cannot change")
                if tx.scalar(select(TenantRecord.id).where(TenantRecord.slug == new_slug)):
                    raise TenantExists(new_slug)
                row.slug = new_slug
            if new_name is not None:
                row.name = new_name
            row.updated_at = self._ctx.now()
            after = {"slug": row.slug, "name": row.name}
            self._ctx.audit(
                tx,
                "tenant.updated",
                "tenant",
                row.id,
                tenant_id=row.id,
                actor=actor,
                details={"before": before, "after": after},
            )
            revision = self._ctx.bump(tx, Change.tenant(row.id))
        return tenant_entity(row, revision=revision)

    def delete(self, tenant: Ref, *, actor: str | None = None) -> int:
        """Delete a tenant and everything in it (its audit events are kept); return the revision."""
        with self._ctx.transaction() as tx:
            row = require_tenant(tx, tenant)
            if row.id in _BUILT_IN:
                raise TenantProtected(f"the {row.slug} tenant cannot be deleted")
            removed = {
                "roles": _count(tx, RoleRecord, row),
                "permissions": _count(tx, PermissionRecord, row),
                "memberships": _count(tx, MembershipRecord, row),
            }
            ended = end_sessions(
                self._ctx,
                tx,
                SessionRecord.tenant_id == row.id,
                reason="tenant_deleted",
                audit=False,
            )
            removed["sessions"] = len(ended)
            tx.delete(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "tenant.deleted",
                "tenant",
                row.id,
                tenant_id=row.id,
                actor=actor,
                details={"before": {"slug": row.slug, "name": row.name}, "cascaded": removed},
            )
            return self._ctx.bump(tx, Change.tenant(row.id), *ended)

    def _slug_taken(self, slug: str) -> bool:
        with self._ctx.db.reading() as session:
            found = session.scalar(select(TenantRecord.id).where(TenantRecord.slug == slug))
            return found is not None


def provision_builtins(ctx: ServiceContext, tx: Session, tenant: TenantRecord) -> None:
    """Give a new tenant its built-in ``rolegate:`` permissions and the ``tenant-admin`` role
    granted them all, audited like any change (migration 0004 did the same for older tenants)."""
    now, actor = ctx.now(), ctx.actor(None)
    wanted = builtin_permissions(tenant.id)
    role = RoleRecord(
        tenant_id=tenant.id,
        name=TENANT_ADMIN,
        description="Built in: every rolegate permission in this tenant",
        created_at=now,
        updated_at=now,
    )
    tx.add(role)
    tx.flush()
    for name, description in wanted.items():
        permission = add_permission(
            ctx, tx, tenant, parse_permission(name), description=description, actor=actor
        )
        tx.add(
            RolePermissionRecord(
                tenant_id=tenant.id,
                role_id=role.id,
                permission_id=permission.id,
                granted_at=now,
                granted_by=actor,
            )
        )
    tx.flush()
    ctx.audit(
        tx,
        "role.created",
        "role",
        role.id,
        tenant_id=tenant.id,
        actor=actor,
        details={"after": {"name": TENANT_ADMIN, "permissions": sorted(wanted)}},
    )


def _count(
    tx: Session,
    model: type[RoleRecord] | type[PermissionRecord] | type[MembershipRecord],
    tenant: TenantRecord,
) -> int:
    query = select(func.count()).select_from(model).where(model.tenant_id == tenant.id)
    return tx.scalar(query) or 0
