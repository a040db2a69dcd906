"""Builders, helpers and doubles of the outside world (the clock); never of rolegate's own code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from uuid import UUID, uuid4

from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from rolegate import Argon2Hasher, Rolegate
from rolegate.authz.snapshot import AssignmentNode, RoleNode, Snapshot
from rolegate.cli import app
from rolegate.db.base import Base
from rolegate.db.models import (
    AuditEventRecord,
    PermissionRecord,
    RoleInheritanceRecord,
    RolePermissionRecord,
    UserRecord,
    UserRoleRecord,
)

#: Real argon2id with the smallest parameters: tests exercise hashing without paying for it.
FAST_HASHER = Argon2Hasher(memory_kib=8, time_cost=1, parallelism=1)

PASSWORD = "violet staple orbit 9 lantern"


@dataclass
class FakeClock:
    """A clock that stands still until a test moves it."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        self.now += delta


def build_documents_policy(rg: Rolegate, tenant: str = "acme") -> None:
    """The README's policy: viewer < editor (with ``reports:*``), auditor < viewer; alice edits."""
    rg.tenants.create(tenant, name=f"{tenant.title()} Inc.")
    rg.permissions.create(tenant, "documents:read")
    rg.permissions.create(tenant, "documents:write")
    rg.roles.create(tenant, "viewer", permissions=["documents:read"])
    rg.roles.create(tenant, "editor", permissions=["documents:write"], inherits=["viewer"])
    rg.roles.grant(tenant, "editor", "reports:*")
    rg.roles.create(tenant, "auditor")
    rg.roles.inherit(tenant, "auditor", "viewer")
    if not any(u.username == "alice" for u in rg.users.list()):
        rg.users.create("alice", email="alice@example.com")
    rg.assignments.assign(tenant, "alice", "editor")


@dataclass(frozen=True)
class TenantIds:
    """The ids of what :func:`build_two_tenants` put in one tenant."""

    tenant: UUID
    role: UUID
    other_role: UUID
    permission: UUID
    resource: UUID


def build_two_tenants(rg: Rolegate) -> tuple[UUID, dict[str, TenantIds]]:
    """Alice, a member of acme and globex, each with roles viewer and editor and documents:read."""
    alice = rg.users.create("alice")
    tenants = {}
    for slug in ("acme", "globex"):
        tenant = rg.tenants.create(slug)
        rg.memberships.add(slug, "alice")
        tenants[slug] = TenantIds(
            tenant=tenant.id,
            role=rg.roles.create(slug, "viewer").id,
            other_role=rg.roles.create(slug, "editor").id,
            permission=rg.permissions.create(slug, "documents:read").id,
            resource=rg.resources.get(slug, "documents").id,
        )
    return alice.id, tenants


def link_rows(
    user_id: UUID, *, owner: TenantIds, ends: TenantIds
) -> dict[str, tuple[type[Base], dict[str, Any]]]:
    """One row per table that links two tenant-owned things: it belongs to ``owner`` and points
    at the role, permission or resource of ``ends`` (the same tenant, or another)."""
    at = FakeClock().now
    return {
        "role_inheritance": (
            RoleInheritanceRecord,
            {
                "tenant_id": owner.tenant,
                "role_id": owner.role,
                "inherited_role_id": ends.other_role,
                "created_at": at,
                "created_by": "sql",
            },
        ),
        "role_permissions": (
            RolePermissionRecord,
            {
                "id": uuid4(),
                "tenant_id": owner.tenant,
                "role_id": owner.role,
                "permission_id": ends.permission,
                "granted_at": at,
                "granted_by": "sql",
            },
        ),
        "user_roles": (
            UserRoleRecord,
            {
                "user_id": user_id,
                "role_id": ends.role,
                "tenant_id": owner.tenant,
                "granted_at": at,
                "granted_by": "sql",
            },
        ),
        "permissions": (
            PermissionRecord,
            {
                "id": uuid4(),
                "tenant_id": owner.tenant,
                "name": "documents:write",
                "resource_id": ends.resource,
                "action": "write",
                "description": "",
                "created_at": at,
                "updated_at": at,
            },
        ),
    }


def stored_password_hash(rg: Rolegate, username: str) -> str | None:
    """The password hash column, read with SQLAlchemy (the API never returns it)."""
    with rg.db.reading() as session:
        query = select(UserRecord.password_hash).where(UserRecord.username == username)
        return session.scalar(query)


def with_query(url: str, **params: str) -> str:
    """``url`` with extra query parameters (psycopg ``options``, for one)."""
    parsed = make_url(url)
    return parsed.update_query_dict(params).render_as_string(hide_password=False)


def is_sqlite(rg: Rolegate) -> bool:
    """Whether ``rg`` runs on SQLite (some SQL below differs by backend)."""
    return rg.db.is_sqlite


# --- the audit trail, read with SQLAlchemy straight from the database ----------------------------


def audit_events(rg: Rolegate, *, action: str | None = None) -> list[AuditEventRecord]:
    """Every stored audit event (or those of one ``action``), in a stable order."""
    query = select(AuditEventRecord)
    if action is not None:
        query = query.where(AuditEventRecord.action == action)
    with rg.db.reading() as session:
        events = list(session.scalars(query))
        session.expunge_all()  # keep them loaded: the reading session rolls back on exit
    return sorted(events, key=lambda e: (e.occurred_at, e.action, e.target_id))


def audit_json(rg: Rolegate) -> str:
    """All audit events as one JSON text: what a secret must never appear in."""
    with rg.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM audit_events")).mappings().all()
    return json.dumps([dict(row) for row in rows], default=str, ensure_ascii=False)


class AuditTail:
    """Remembers the events stored so far, so a test can read just those a call added."""

    def __init__(self, rg: Rolegate) -> None:
        self._rg = rg
        self._seen = {event.id for event in audit_events(rg)}

    def new_events(self) -> list[AuditEventRecord]:
        """The events stored since this tail was made (or last read), by action then target."""
        fresh = [e for e in audit_events(self._rg) if e.id not in self._seen]
        self._seen.update(e.id for e in fresh)
        return sorted(fresh, key=lambda e: (e.action, e.target_id))

    def new_actions(self) -> list[str]:
        """The actions of :meth:`new_events`, sorted."""
        return [e.action for e in self.new_events()]


def summary(event: AuditEventRecord) -> dict[str, Any]:
    """The addressing columns of an audit event, for one-line comparisons."""
    return {
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "tenant_id": event.tenant_id,
        "actor": event.actor,
    }


def count_rows(rg: Rolegate, table: str) -> int:
    """How many rows ``table`` holds, counted with plain SQL."""
    with rg.db.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def stored_state(rg: Rolegate) -> dict[str, list[str]]:
    """Every row of every table but the audit trail, as sorted text: what a failed change
    must leave exactly as it was."""
    state = {}
    with rg.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name != "audit_events":
                rows = connection.execute(select(table)).all()
                state[table.name] = sorted(repr(tuple(row)) for row in rows)
    return state


# --- making the audit store fail for real: a trigger that aborts every insert --------------------

_SQLITE_AUDIT_DOWN = """
CREATE TRIGGER audit_down BEFORE INSERT ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END
"""
_POSTGRES_AUDIT_DOWN = (
    """
    CREATE OR REPLACE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$
    """,
    """
    CREATE TRIGGER audit_down BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_down()
    """,
)


def break_audit_store(rg: Rolegate) -> None:
    """Install a trigger that makes every audit insert fail inside the database."""
    statements = (_SQLITE_AUDIT_DOWN,) if is_sqlite(rg) else _POSTGRES_AUDIT_DOWN
    with rg.db.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def repair_audit_store(rg: Rolegate) -> None:
    """Drop what :func:`break_audit_store` installed."""
    statements = (
        ("DROP TRIGGER IF EXISTS audit_down",)
        if is_sqlite(rg)
        else (
            "DROP TRIGGER IF EXISTS audit_down ON audit_events",
            "DROP FUNCTION IF EXISTS audit_down()",
        )
    )
    with rg.db.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


# --- hand-built snapshots for the pure evaluator -------------------------------------------------


def snapshot(
    roles: Mapping[str, tuple[Iterable[str], Iterable[str]]] | None = None,
    assignments: Mapping[str, datetime | None] | None = None,
    *,
    is_active: bool = True,
    is_member: bool = True,
) -> Snapshot:
    """A snapshot of a known, active member: ``roles`` maps a name to (grants, parents)."""
    nodes = {
        name: RoleNode(name, frozenset(grants), tuple(parents))
        for name, (grants, parents) in (roles or {}).items()
    }
    return Snapshot(
        tenant_exists=True,
        user_exists=True,
        is_active=is_active,
        is_member=is_member,
        assignments=tuple(
            AssignmentNode(role, expires) for role, expires in (assignments or {}).items()
        ),
        roles=MappingProxyType(nodes),
    )


@st.composite
def random_policies(draw: st.DrawFn, *, now: datetime) -> tuple[Snapshot, str]:
    """A snapshot with a random role DAG (a role inherits only lower-numbered roles), random
    grants from a small pool of names and patterns, random assignments expired, expiring at
    ``now`` or not, and a permission to check."""
    permissions = ["a:x", "a:y", "b:x", "b:c:x", "A_B"]
    grants = [*permissions, "a:*", "*:x", "b:*", "*"]
    expiries = [None, now - timedelta(hours=1), now, now + timedelta(hours=1)]
    roles: dict[str, tuple[Iterable[str], Iterable[str]]] = {}
    for i in range(6):
        granted = draw(st.sets(st.sampled_from(grants), max_size=2))
        parents = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        roles[f"r{i}"] = (granted, [f"r{p}" for p in sorted(parents)])
    held = draw(st.dictionaries(st.sampled_from(sorted(roles)), st.sampled_from(expiries)))
    return snapshot(roles, held), draw(st.sampled_from(permissions))


def reference_grants(snap: Snapshot, start: set[str], permission: str) -> bool:
    """The decision rule stated plainly: the roles ``start`` reaches, by repeated set union,
    hold a grant that covers ``permission``."""
    closure = set(start)
    while True:
        grown = closure | {parent for role in closure for parent in snap.roles[role].inherits}
        if grown == closure:
            break
        closure = grown
    return any(reference_covers(g, permission) for r in closure for g in snap.roles[r].grants)


def reference_covers(pattern: str, permission: str) -> bool:
    """An independent statement of the grant rule, as a regular expression.

    ``*`` alone matches anything; a trailing ``*`` segment matches one or more segments; any
    other ``*`` segment matches exactly one; every other segment matches itself.
    """
    if pattern == "*":
        return True
    segments = pattern.split(":")
    parts = [re.escape(s) if s != "*" else "[^:]+" for s in segments]
    if segments[-1] == "*":
        parts[-1] = "[^:]+(?::[^:]+)*"
    return re.fullmatch(":".join(parts), permission) is not None


# --- the command line, run in-process on the database the environment names -------------------


class Cli:
    """Runs the real ``rolegate`` app as a user types it; intent helpers assert the outcome."""

    def __init__(self) -> None:
        self._runner = CliRunner()

    def invoke(self, *args: str, input: str | None = None) -> Result:
        """Run ``rolegate *args`` with ``input`` on stdin and return the result, whatever it is."""
        return self._runner.invoke(app, list(args), input=input)

    def ok(self, *args: str, input: str | None = None) -> str:
        """Run a command that must succeed; return its stdout."""
        result = self.invoke(*args, input=input)
        assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
        return result.stdout

    def json(self, *args: str) -> Any:
        """Run a command with ``--json`` and return the parsed document."""
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str, input: str | None = None) -> str:
        """Run a command that must fail the CLI's way; return its one ``error:`` line."""
        return error_line(self.invoke(*args, input=input))


def error_line(result: Result) -> str:
    """The ``error: ...`` line of a failed command, after asserting the failure's shape.

    Exit code 2, nothing on stdout, exactly one line on stderr, never a traceback.
    """
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def usage_error(result: Result) -> str:
    """The text of a Click usage error (exit 2), whitespace and box drawing folded away."""
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output
    return " ".join(result.stderr.replace("│", " ").split())
