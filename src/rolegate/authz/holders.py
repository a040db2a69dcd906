"""Reverse lookups: who holds a permission in a tenant, complete and cursor-paginated."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rolegate.authz.snapshot import TenantPolicy
from rolegate.db.models import RoleRecord, UserRecord, UserRoleRecord
from rolegate.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Holder:
    """A user who holds the permission, and the assigned roles they hold it through."""

    user_id: UUID
    username: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HolderPage:
    """One page of holders; pass ``next_cursor`` back for the next page (None: the last)."""

    holders: tuple[Holder, ...]
    next_cursor: str | None


def encode_cursor(username_key: str) -> str:
    """An opaque cursor after the user with this key."""
    return base64.urlsafe_b64encode(username_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The username key a cursor points after; :class:`InvalidInput` when malformed."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(f"malformed cursor {cursor!r}") from None
    if not key or "\x00" in key:  # no username key is empty or holds NUL
        raise InvalidInput(f"malformed cursor {cursor!r}")
    return key


def holders_page(
    session: Session,
    policy: TenantPolicy,
    permission: str,
    *,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> HolderPage:
    """Active members holding ``permission`` through an unexpired assignment, by username."""
    after = decode_cursor(cursor) if cursor is not None else None
    role_ids = [node.id for node in policy.roles.values() if node.closure.covers(permission)]
    if not role_ids:
        return HolderPage((), None)
    holding = (
        select(UserRecord.id, UserRecord.username, UserRecord.username_key)
        .join(UserRoleRecord, UserRoleRecord.user_id == UserRecord.id)
        .where(
            UserRoleRecord.tenant_id == policy.tenant_id,
            UserRoleRecord.role_id.in_(role_ids),
            or_(UserRoleRecord.expires_at.is_(None), UserRoleRecord.expires_at > now),
            UserRecord.is_active.is_(True),
        )
        .group_by(UserRecord.id, UserRecord.username, UserRecord.username_key)
        .order_by(UserRecord.username_key)
        .limit(limit + 1)
    )
    if after is not None:
        holding = holding.where(UserRecord.username_key > after)
    users = session.execute(holding).all()
    page, more = users[:limit], len(users) > limit
    roles: defaultdict[UUID, list[str]] = defaultdict(list)
    for user_id, role in session.execute(
        select(UserRoleRecord.user_id, RoleRecord.name)
        .join(RoleRecord, RoleRecord.id == UserRoleRecord.role_id)
        .where(
            UserRoleRecord.user_id.in_([u.id for u in page]),
            UserRoleRecord.role_id.in_(role_ids),
            or_(UserRoleRecord.expires_at.is_(None), UserRoleRecord.expires_at > now),
        )
        .order_by(RoleRecord.name)
    ).all():
        roles[user_id].append(role)
    holders = tuple(Holder(u.id, u.username, tuple(roles[u.id])) for u in page)
    return HolderPage(holders, encode_cursor(page[-1].username_key) if more else None)
