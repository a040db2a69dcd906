"""Resources: the kinds of things permissions act on, created on demand from permission names."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authz.changes import Change
from rolegate.builtins import refuse_reserved
from rolegate.db.lookup import as_uuid
from rolegate.db.models import PermissionRecord, ResourceRecord, TenantRecord
from rolegate.entities import Resource
from rolegate.errors import InvalidInput, ResourceExists, ResourceNotFound
from rolegate.limits import MAX_DESCRIPTION
from rolegate.names import parse_resource_name
from rolegate.pages import DEFAULT_PAGE_SIZE, Page
from rolegate.services._context import ServiceContext, require_tenant
from rolegate.services.pages import Order, page_of, paged, sort_key, starts_with
from rolegate.types import Ref, ResourceId

#: A listing of resources, by name.
RESOURCE_ORDER: Final = Order([ResourceRecord.name, ResourceRecord.id])


def description_text(value: str) -> str:
    """A trimmed description, or :class:`InvalidInput` when too long."""
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        raise InvalidInput(f"description longer than {MAX_DESCRIPTION} characters")
    return value


def resource_entity(row: ResourceRecord, tenant: TenantRecord, *, revision: int = 0) -> Resource:
    """The public value of a resource row."""
    return Resource(ResourceId(row.id), tenant.slug, row.name, row.description, revision)


def find_resource(tx: Session, tenant: TenantRecord, name: str) -> ResourceRecord | None:
    """The resource called ``name`` in ``tenant``, if any."""
    return tx.scalars(
        select(ResourceRecord).where(
            ResourceRecord.tenant_id == tenant.id, ResourceRecord.name == name
        )
    ).first()


def ensure_resource(
    ctx: ServiceContext, tx: Session, tenant: TenantRecord, name: str, *, actor: str | None
) -> ResourceRecord:
    """The resource ``name`` in ``tenant``, created (and audited) if it does not exist yet."""
    row = find_resource(tx, tenant, name)
    if row is not None:
        return row
    row = ResourceRecord(tenant_id=tenant.id, name=parse_resource_name(name), description="")
    tx.add(row)
    tx.flush()
    ctx.audit(
        tx,
        "resource.created",
        "resource",
        row.id,
        tenant_id=tenant.id,
        actor=actor,
        details={"after": {"name": name}},
    )
    return row


class ResourceService:
    """Creates, describes and deletes resources; deleting one deletes its permissions."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def create(
        self, tenant: Ref, name: str, *, description: str = "", actor: str | None = None
    ) -> Resource:
        """Create resource ``name`` (such as ``documents`` or ``billing:invoices``)."""
        name, description = parse_resource_name(name), description_text(description)
        refuse_reserved(name)
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            if find_resource(tx, tenant_row, name) is not None:
                raise ResourceExists(name, tenant=tenant_row.slug)
            row = ResourceRecord(tenant_id=tenant_row.id, name=name, description=description)
            tx.add(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "resource.created",
                "resource",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"after": {"name": name, "description": description}},
            )
            return resource_entity(row, tenant_row, revision=self._ctx.bump(tx))

    def get(self, tenant: Ref, name: Ref) -> Resource:
        """The resource called ``name`` (or with that id) in ``tenant``."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            return resource_entity(self._require(session, tenant_row, name), tenant_row)

    def list(self, tenant: Ref) -> list[Resource]:
        """The tenant's resources, by name."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            rows = session.scalars(
                select(ResourceRecord)
                .where(ResourceRecord.tenant_id == tenant_row.id)
                .order_by(ResourceRecord.name)
            )
            return [resource_entity(row, tenant_row) for row in rows]

    def page(
        self,
        tenant: Ref,
        *,
        name_prefix: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Resource]:
        """One page of the tenant's resources by name, optionally only names with a prefix."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            query = select(ResourceRecord).where(ResourceRecord.tenant_id == tenant_row.id)
            if name_prefix:
                query = query.where(starts_with(ResourceRecord.name, name_prefix))
            rows = session.scalars(paged(query, RESOURCE_ORDER, cursor=cursor, limit=limit)).all()
            return page_of(
                rows,
                limit=limit,
                key=sort_key(RESOURCE_ORDER),
                entity=lambda row: resource_entity(row, tenant_row),
            )

    def update(
        self, tenant: Ref, name: Ref, *, description: str, actor: str | None = None
    ) -> Resource:
        """Change a resource's description."""
        description = description_text(description)
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = self._require(tx, tenant_row, name)
            refuse_reserved(row.name)
            before = row.description
            row.description = description
            self._ctx.audit(
                tx,
                "resource.updated",
                "resource",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={"before": {"description": before}, "after": {"description": description}},
            )
            return resource_entity(row, tenant_row, revision=self._ctx.bump(tx))

    def delete(self, tenant: Ref, name: Ref, *, actor: str | None = None) -> int:
        """Delete a resource with its permissions and every grant of them; return the revision."""
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = self._require(tx, tenant_row, name)
            refuse_reserved(row.name)
            permissions = tx.scalars(
                select(PermissionRecord.name).where(PermissionRecord.resource_id == row.id)
            ).all()
            tx.delete(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "resource.deleted",
                "resource",
                row.id,
                tenant_id=tenant_row.id,
                actor=actor,
                details={
                    "before": {"name": row.name},
                    "cascaded": {"permissions": sorted(permissions)},
                },
            )
            return self._ctx.bump(tx, Change.tenant(tenant_row.id))

    @staticmethod
    def _require(tx: Session, tenant: TenantRecord, ref: Ref) -> ResourceRecord:
        """The resource called ``ref``, or failing that with that id; else
        :class:`ResourceNotFound`, the same for a missing resource and another tenant's."""
        found = (
            find_resource(tx, tenant, ref) if isinstance(ref, str) and "\x00" not in ref else None
        )
        ident = as_uuid(ref) if found is None else None
        if ident is not None:
            found = tx.scalars(
                select(ResourceRecord).where(
                    ResourceRecord.tenant_id == tenant.id, ResourceRecord.id == ident
                )
            ).first()
        if found is None:
            raise ResourceNotFound(str(ref), tenant=tenant.slug)
        return found
