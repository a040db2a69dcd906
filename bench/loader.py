"""Writing a generated :class:`~bench.workload.Workload` into a migrated rolegate database.

Rows go in by bulk ``INSERT`` (SQLAlchemy Core, many rows per statement) rather than through the
services one change at a time: the services audit and bump the revision per row, which is right
for an application and far too slow for 100,000 users. The rows respect every constraint of the
schema (composite same-tenant keys, case-folded username keys, aware UTC timestamps).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, make_url, text
from sqlalchemy.orm import Session

from bench.workload import TenantPolicy, Workload
from rolegate import Rolegate, Settings
from rolegate.db.base import Base
from rolegate.db.engine import Database
from rolegate.db.migrate import upgrade
from rolegate.db.models import (
    MembershipRecord,
    PermissionRecord,
    ResourceRecord,
    RoleInheritanceRecord,
    RolePermissionRecord,
    RoleRecord,
    TenantRecord,
    UserRecord,
    UserRoleRecord,
)
from rolegate.names import username_key

Row = dict[str, Any]
LOADER = "bench"  # the actor recorded in created_by / granted_by


@dataclass(frozen=True, slots=True)
class LoadReport:
    """How long loading took and how many rows it wrote."""

    seconds: float
    rows: int


def prepare(url: str) -> None:
    """Give ``url`` an empty, migrated schema: SQLite by deleting the file and letting
    ``Rolegate`` create and upgrade it, PostgreSQL by dropping the ``public`` schema and running
    the migrations."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        for suffix in ("", "-wal", "-shm"):
            if path:
                Path(path + suffix).unlink(missing_ok=True)
        Rolegate(url, settings=Settings(watch_changes=False)).close()
        return
    db = Database(url)
    try:
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(db)
    finally:
        db.dispose()


def load(workload: Workload, url: str) -> LoadReport:
    """Wipe ``url``, migrate it and write ``workload`` into it in one transaction."""
    started = time.perf_counter()
    prepare(url)
    db = Database(url)
    rows = 0
    try:
        with Session(db.engine) as session, session.begin():
            for model, batch in _rows(workload):
                session.execute(insert(model), batch)
                rows += len(batch)
    finally:
        db.dispose()
    return LoadReport(time.perf_counter() - started, rows)


class _Ids:
    """uuid4 values drawn from a seeded generator, so every run writes the same ids."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def new(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def _rows(workload: Workload) -> Iterator[tuple[type[Base], list[Row]]]:
    """Each table's rows in an order the foreign keys accept."""
    ids, now = _Ids(workload.spec.seed), datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    tenant_ids = {t.slug: ids.new() for t in workload.tenants}
    user_ids = {u: ids.new() for u in workload.users}
    yield (
        TenantRecord,
        [
            {"id": tenant_ids[t.slug], "slug": t.slug, "name": t.slug.title(), **stamps}
            for t in workload.tenants
        ],
    )
    yield UserRecord, [_user(user_ids[u], u, stamps) for u in workload.users]
    yield (
        MembershipRecord,
        [
            {"tenant_id": tenant_ids[t.slug], "user_id": user_ids[u], "joined_at": now}
            for t in workload.tenants
            for u in t.members
        ],
    )
    for tenant in workload.tenants:
        yield from _tenant_rows(tenant, tenant_ids[tenant.slug], user_ids, ids, now)


def _user(user_id: uuid.UUID, username: str, stamps: Row) -> Row:
    return {
        "id": user_id,
        "username": username,
        "username_key": username_key(username),
        "email": None,
        "email_key": None,
        "full_name": "",
        "password_hash": None,
        "is_active": True,
        "preferences": {},
        "last_login_at": None,
        **stamps,
    }


def _tenant_rows(
    tenant: TenantPolicy,
    tenant_id: uuid.UUID,
    user_ids: dict[str, uuid.UUID],
    ids: _Ids,
    now: datetime,
) -> Iterator[tuple[type[Base], list[Row]]]:
    """Resources, permissions (exact and patterns), roles, inheritance, grants, assignments."""
    stamps = {"created_at": now, "updated_at": now}
    resources = {p.rpartition(":")[0]: ids.new() for p in tenant.permissions}
    yield (
        ResourceRecord,
        [
            {"id": rid, "tenant_id": tenant_id, "name": name, "description": ""}
            for name, rid in resources.items()
        ],
    )
    names = [*tenant.permissions, *sorted(tenant.patterns)]
    permission_ids = {name: ids.new() for name in names}
    yield (
        PermissionRecord,
        [_permission(n, permission_ids[n], tenant_id, resources, stamps) for n in names],
    )
    role_ids = {role: ids.new() for role in tenant.grants}
    yield (
        RoleRecord,
        [
            {"id": rid, "tenant_id": tenant_id, "name": role, "description": "", **stamps}
            for role, rid in role_ids.items()
        ],
    )
    link = {"tenant_id": tenant_id, "created_at": now, "created_by": LOADER}
    yield (
        RoleInheritanceRecord,
        [
            {"role_id": role_ids[role], "inherited_role_id": role_ids[parent], **link}
            for role, parents in tenant.parents.items()
            for parent in parents
        ],
    )
    grant = {"tenant_id": tenant_id, "granted_at": now, "granted_by": LOADER}
    yield (
        RolePermissionRecord,
        [
            {
                "id": ids.new(),
                "role_id": role_ids[role],
                "permission_id": permission_ids[g],
                **grant,
            }
            for role, grants in tenant.grants.items()
            for g in grants
        ],
    )
    yield (
        UserRoleRecord,
        [
            {"user_id": user_ids[user], "role_id": role_ids[role], "expires_at": None, **grant}
            for user, roles in tenant.members.items()
            for role in roles
        ],
    )


def _permission(
    name: str, pid: uuid.UUID, tenant_id: uuid.UUID, resources: dict[str, uuid.UUID], stamps: Row
) -> Row:
    # As rolegate stores them: a pattern whose resource part is '*' has no resource row.
    resource, _, action = name.rpartition(":")
    return {
        "id": pid,
        "tenant_id": tenant_id,
        "name": name,
        "resource_id": resources.get(resource),
        "action": action,
        "description": "",
        **stamps,
    }
