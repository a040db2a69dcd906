"""Finding stored objects by id or by their unique name, shared by the services and the compiler.

A reference (:data:`rolegate.types.Ref`) is a ``UUID`` (an id) or a ``str`` (a slug or name; a
string that names nothing but parses as a UUID is tried as an id too, so the CLI can take either).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from rolegate.db.models import PermissionRecord, RoleRecord, TenantRecord, UserRecord
from rolegate.names import email_keys, username_key
from rolegate.types import Ref

log = logging.getLogger(__name__)

Record = TypeVar("Record", TenantRecord, UserRecord, RoleRecord, PermissionRecord)


def as_uuid(ref: Ref) -> UUID | None:
    """``ref`` as an id, if it is one or reads as one."""
    if isinstance(ref, UUID):
        return ref
    try:
        return UUID(ref)
    except ValueError:
        return None


def _find(
    session: Session,
    model: type[Record],
    ref: Ref,
    by_name: ColumnElement[bool] | None,
    *scope: ColumnElement[bool],
) -> Record | None:
    # A NUL byte can name nothing, and PostgreSQL refuses it in a query parameter.
    if isinstance(ref, str) and "\x00" in ref:
        return None
    query = select(model).where(*scope)
    if by_name is not None:
        found = session.scalars(query.where(by_name)).first()
        if found is not None:
            return found
    ident = as_uuid(ref)
    by_id: Any = model.id == ident
    return session.scalars(query.where(by_id)).first() if ident is not None else None


def find_tenant(session: Session, ref: Ref) -> TenantRecord | None:
    """The tenant with this slug or id."""
    by_slug = TenantRecord.slug == ref if isinstance(ref, str) else None
    return _find(session, TenantRecord, ref, by_slug)


def find_user(session: Session, ref: Ref) -> UserRecord | None:
    """The user with this username (case-insensitive) or id."""
    by_name = UserRecord.username_key == username_key(ref) if isinstance(ref, str) else None
    return _find(session, UserRecord, ref, by_name)


def find_login(session: Session, name: str) -> UserRecord | None:
    """The one user who logs in as ``name``: the account with it as its username or as its
    email address (never an id, which would let a login probe user ids).

    New names cannot collide (a username is never another account's email), but rows written
    before that rule may: a name that fits two accounts names neither, and is logged, so a
    planted username cannot capture another account's login by email. Fail closed.
    """
    if "\x00" in name:
        return None
    matches = UserRecord.username_key == username_key(name)
    if "@" in name:  # every email has one; a name without one is a username only
        # email_keys, not email_key: a row stored before addresses were normalised may hold
        # the key of the address as it was written (an ``xn--`` domain).
        matches = or_(matches, UserRecord.email_key.in_(email_keys(name)))
    found = session.scalars(select(UserRecord).where(matches).limit(2)).all()
    if len(found) > 1:
        log.warning(
            "login name fits two accounts (%s, %s), as one's username and the other's email: "
            "refused; rename one of them",
            *sorted(str(row.id) for row in found),
        )
        return None
    return found[0] if found else None


def find_role(session: Session, tenant_id: UUID, ref: Ref) -> RoleRecord | None:
    """The role with this name or id in the tenant; a role of another tenant is not found."""
    by_name = RoleRecord.name == ref if isinstance(ref, str) else None
    return _find(session, RoleRecord, ref, by_name, RoleRecord.tenant_id == tenant_id)


def find_permission(session: Session, tenant_id: UUID, ref: Ref) -> PermissionRecord | None:
    """The permission (or pattern) with this name or id in the tenant."""
    by_name = PermissionRecord.name == ref if isinstance(ref, str) else None
    return _find(session, PermissionRecord, ref, by_name, PermissionRecord.tenant_id == tenant_id)
