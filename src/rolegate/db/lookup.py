"""Finding stored objects by id or by their unique name, shared by the services and the compiler.

A reference is a ``UUID`` (an id) or a ``str`` (a slug or name; a string that names nothing but
parses as a UUID is tried as an id too, so the CLI can take either).
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.db.models import PermissionRecord, RoleRecord, TenantRecord, UserRecord
from rolegate.names import username_key

Ref = str | UUID


def _as_uuid(ref: Ref) -> UUID | None:
    if isinstance(ref, UUID):
        return ref
    try:
        return UUID(ref)
    except ValueError:
        return None


def find_tenant(session: Session, ref: Ref) -> TenantRecord | None:
    """The tenant with this slug or id."""
    if isinstance(ref, str):
        found = session.scalars(select(TenantRecord).where(TenantRecord.slug == ref)).first()
        if found is not None:
            return found
    ident = _as_uuid(ref)
    return session.get(TenantRecord, ident) if ident is not None else None


def find_user(session: Session, ref: Ref) -> UserRecord | None:
    """The user with this username (case-insensitive) or id."""
    if isinstance(ref, str):
        key = username_key(ref)
        found = session.scalars(select(UserRecord).where(UserRecord.username_key == key)).first()
        if found is not None:
            return found
    ident = _as_uuid(ref)
    return session.get(UserRecord, ident) if ident is not None else None


def find_role(session: Session, tenant_id: UUID, ref: Ref) -> RoleRecord | None:
    """The role with this name or id in the tenant; a role of another tenant is not found."""
    query = select(RoleRecord).where(RoleRecord.tenant_id == tenant_id)
    if isinstance(ref, str):
        found = session.scalars(query.where(RoleRecord.name == ref)).first()
        if found is not None:
            return found
    ident = _as_uuid(ref)
    return session.scalars(query.where(RoleRecord.id == ident)).first() if ident else None


def find_permission(session: Session, tenant_id: UUID, ref: Ref) -> PermissionRecord | None:
    """The permission (or pattern) with this name or id in the tenant."""
    query = select(PermissionRecord).where(PermissionRecord.tenant_id == tenant_id)
    if isinstance(ref, str):
        found = session.scalars(query.where(PermissionRecord.name == ref)).first()
        if found is not None:
            return found
    ident = _as_uuid(ref)
    return session.scalars(query.where(PermissionRecord.id == ident)).first() if ident else None
