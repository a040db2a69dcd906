"""Builders, helpers and doubles of the outside world (the clock, a slow database, another
process); never of rolegate's own code."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import httpx
from alembic import command
from alembic.config import Config
from hypothesis import strategies as st
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from rolegate import Argon2Hasher, HolderPage, Rolegate, User
from rolegate.authz.snapshot import (
    NEVER,
    AssignmentNode,
    RoleNode,
    Snapshot,
    TenantPolicy,
    grants_of,
)
from rolegate.builtins import TENANT_ADMIN, is_reserved
from rolegate.cli import app
from rolegate.db import migrate
from rolegate.db.base import Base
from rolegate.db.engine import Database
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
#: The first platform admin's bootstrap password: single-use, its first login replaces it.
BOOTSTRAP_PASSWORD = "copper violin 7 meadow drift"


@dataclass
class FakeClock:
    """A clock that stands still until a test moves it."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        self.now += delta


def is_builtin(name: str) -> bool:
    """Whether a role, permission or resource called ``name`` is one rolegate gives every tenant
    (``tenant-admin``, anything under ``rolegate:``), not part of the policy a test built."""
    return name == TENANT_ADMIN or is_reserved(name)


def without_builtins(names: Iterable[str]) -> list[str]:
    """``names`` in their order, less the built-in ones (see :func:`is_builtin`)."""
    return [name for name in names if not is_builtin(name)]


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


def build_readers(rg: Rolegate, clock: FakeClock, tenant: str = "acme") -> None:
    """Who may read documents in ``tenant``, and who may not, for reverse lookups.

    viewer grants ``documents:read``; editor inherits viewer and adds ``documents:write``;
    reader holds ``*:read``. ann is a viewer, bob an editor, cat a reader and a viewer, eve a
    viewer for another hour; dan (a viewer) is deactivated, fay's viewer assignment has
    expired, gus is a member with no role, and hal is an editor in globex only.
    """
    rg.tenants.create(tenant)
    rg.tenants.create("globex")
    for slug in (tenant, "globex"):
        rg.permissions.create(slug, "documents:read")
        rg.permissions.create(slug, "documents:write")
        rg.roles.create(slug, "viewer", permissions=["documents:read"])
        rg.roles.create(slug, "editor", permissions=["documents:write"], inherits=["viewer"])
    rg.roles.create(tenant, "reader", permissions=["*:read"])
    for name in ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal"):
        rg.users.create(name)
    rg.assignments.assign(tenant, "ann", "viewer")
    rg.assignments.assign(tenant, "bob", "editor")
    rg.assignments.assign(tenant, "cat", "reader")
    rg.assignments.assign(tenant, "cat", "viewer")
    rg.assignments.assign(tenant, "dan", "viewer")
    rg.users.deactivate("dan")
    rg.assignments.assign(tenant, "eve", "viewer", expires_at=clock.now + timedelta(hours=2))
    rg.assignments.assign(tenant, "fay", "viewer", expires_at=clock.now + timedelta(minutes=30))
    rg.memberships.add(tenant, "gus")
    rg.assignments.assign("globex", "hal", "editor")
    clock.advance(timedelta(hours=1))


def all_holders(
    rg: Rolegate, permission: str, *, tenant: str, limit: int, at_least: int | None = None
) -> list[HolderPage]:
    """Every page of ``who_can``, following ``next_cursor`` to the end (at most 100 pages)."""
    pages = [rg.who_can(permission, tenant=tenant, limit=limit, at_least=at_least)]
    while pages[-1].next_cursor is not None and len(pages) < 100:
        cursor = pages[-1].next_cursor
        pages.append(rg.who_can(permission, tenant=tenant, limit=limit, cursor=cursor))
    assert pages[-1].next_cursor is None, "who_can never reached its last page"
    return pages


def wait_until(predicate: Callable[[], bool], *, timeout: float) -> float | None:
    """Poll ``predicate`` until it holds; the seconds that took, or None after ``timeout``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(0.005)


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


class CountingHasher:
    """:data:`FAST_HASHER` counting its calls: proves equal work for every login failure, as
    Django proves #20760 (the argon2 work itself is real)."""

    def __init__(self, inner: Argon2Hasher = FAST_HASHER) -> None:
        self._inner = inner
        self.hashes = self.verifies = 0

    def hash(self, password: str) -> str:
        self.hashes += 1
        return self._inner.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        self.verifies += 1
        return self._inner.verify(password, encoded)

    def needs_rehash(self, encoded: str) -> bool:
        return self._inner.needs_rehash(encoded)

    def reset(self) -> None:
        """Start counting from zero."""
        self.hashes = self.verifies = 0


def member_with_password(
    rg: Rolegate, username: str = "alice", *, tenant: str = "acme", password: str = PASSWORD
) -> None:
    """Tenant ``tenant`` (created if missing) with ``username`` as a member who has a password."""
    if not any(t.slug == tenant for t in rg.tenants.list()):
        rg.tenants.create(tenant)
    rg.users.create(username, email=f"{username}@example.com", password=password)
    rg.memberships.add(tenant, username)


def metrics_scraper(rg: Rolegate, username: str = "prometheus") -> dict[str, str]:
    """The ``Authorization`` header of a Prometheus scraper: a platform member holding only
    ``rolegate:metrics:read``, logged in through the library (no login counted by the API)."""
    member_with_password(rg, username, tenant="platform")
    rg.roles.create("platform", "metrics-reader", permissions=["rolegate:metrics:read"])
    rg.assignments.assign("platform", username, "metrics-reader")
    tokens = rg.auth.login(username, PASSWORD, tenant="platform")
    return {"Authorization": f"Bearer {tokens.access_token}"}


def bootstrap_admin(rg: Rolegate, username: str = "root") -> User:
    """The first platform admin as after its one bootstrap login, which set :data:`PASSWORD`."""
    made = rg.platform.bootstrap(username=username, password=BOOTSTRAP_PASSWORD)
    assert made is not None
    rg.auth.login(username, BOOTSTRAP_PASSWORD, tenant="platform", new_password=PASSWORD)
    return made[0]


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


def count_rows(rg: Rolegate, table: str, *, tenant_id: UUID | None = None) -> int:
    """How many rows ``table`` holds (those of one tenant, if given), counted in SQL, not by the
    services."""
    rows = Base.metadata.tables[table]
    query = select(func.count()).select_from(rows)
    if tenant_id is not None:
        query = query.where(rows.c.tenant_id == tenant_id)
    with rg.db.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def stored_state(rg: Rolegate) -> dict[str, list[str]]:
    """Every row of every table but the audit trail, as sorted text: what a failed change
    must leave exactly as it was."""
    state = {}
    with rg.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if not table.name.startswith("audit_"):
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


# --- hand-built compiled structures for the pure evaluator --------------------------------------

#: ``{role: (grants, parents)}``: a tenant's roles as plain data.
RoleTable = Mapping[str, tuple[Iterable[str], Iterable[str]]]

USER_ID = UUID("00000000-0000-0000-0000-0000000000a1")


def role_id(name: str) -> UUID:
    """The id :func:`policy_of` gives role ``name`` (stable, so tests can name it)."""
    return uuid5(NAMESPACE_URL, f"rolegate-test:role:{name}")


def policy_of(roles: RoleTable, *, slug: str = "acme", revision: int = 1) -> TenantPolicy:
    """A compiled tenant policy built the simple way, without :mod:`rolegate.authz.compile`.

    Each role's closure is the union of the grants of every role it reaches by repeated set
    union of parents; parents that are not in ``roles`` are dropped, as a database would not
    hold them.
    """
    grants = {name: frozenset(granted) for name, (granted, _) in roles.items()}
    parents = {name: tuple(sorted(p for p in up if p in roles)) for name, (_, up) in roles.items()}
    nodes = {}
    for name in roles:
        reached = {name}
        while (grown := reached | {p for r in reached for p in parents[r]}) != reached:
            reached = grown
        nodes[name] = RoleNode(
            role_id(name),
            name,
            grants_of(grants[name]),
            parents[name],
            grants_of(g for r in reached for g in grants[r]),
            frozenset(role_id(r) for r in reached),
        )
    tenant_id = uuid5(NAMESPACE_URL, f"rolegate-test:tenant:{slug}")
    return TenantPolicy(tenant_id, slug, MappingProxyType(nodes), revision)


def snapshot_of(
    policy: TenantPolicy,
    assignments: Mapping[str, datetime | None] | None = None,
    *,
    now: datetime,
    revision: int = 1,
) -> Snapshot:
    """An active member's snapshot at ``now``, holding ``assignments`` (role to expiry)."""
    nodes = tuple(
        AssignmentNode(role, NEVER if expires is None else expires.timestamp())
        for role, expires in sorted((assignments or {}).items())
    )
    return Snapshot.granted(policy, USER_ID, nodes, now=now.timestamp(), revision=revision)


@dataclass(frozen=True)
class RandomPolicy:
    """A random role DAG, the assignments of one member, and a permission to check."""

    roles: dict[str, tuple[set[str], list[str]]]
    assignments: dict[str, datetime | None]
    permission: str


#: What random policies check: two- and three-segment names, UPPER_SNAKE, and one pattern
#: (which is not a checkable name).
CHECKED_NAMES = ("a:x", "a:y", "b:x", "b:c:x", "A_B", "a:*")
GRANTABLE = ("a:x", "a:y", "b:x", "b:c:x", "A_B", "a:*", "*:x", "b:*", "*")


@st.composite
def random_policies(draw: st.DrawFn, *, now: datetime) -> RandomPolicy:
    """A random role DAG (a role inherits only lower-numbered roles), random grants of names and
    patterns, assignments expired, expiring at ``now``, later or never, and a name to check."""
    expiries = [None, now - timedelta(hours=1), now, now + timedelta(hours=1), now + timedelta(2)]
    roles: dict[str, tuple[set[str], list[str]]] = {}
    for i in range(draw(st.integers(1, 7))):
        granted = draw(st.sets(st.sampled_from(GRANTABLE), max_size=3))
        parents = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        roles[f"r{i}"] = (granted, [f"r{p}" for p in sorted(parents)])
    held = draw(st.dictionaries(st.sampled_from(sorted(roles)), st.sampled_from(expiries)))
    return RandomPolicy(roles, held, draw(st.sampled_from(CHECKED_NAMES)))


# --- other processes and threads on the same database -------------------------------------------

CheckRequest = tuple[str, str, str, int | None]  # user, permission, tenant, at_least


def serve_checks(database_url: str, connection: Connection) -> None:
    """Run in another process: its own Rolegate (watching for changes, real clock) answering
    each :data:`CheckRequest` with ``check``, until sent None or the pipe closes."""
    with Rolegate(database_url, hasher=FAST_HASHER) as rg:
        connection.send("ready")
        while True:
            try:
                request: CheckRequest | None = connection.recv()
            except EOFError:  # the test process went away
                return
            if request is None:
                return
            user, permission, tenant, at_least = request
            connection.send(rg.check(user, permission, tenant=tenant, at_least=at_least))


class CheckProcess:
    """The test's end of a :func:`serve_checks` process; every wait on it is bounded."""

    def __init__(self, database_url: str, *, start_timeout: float = 60.0) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, as in production
        self._connection, child_end = context.Pipe()
        self._process = context.Process(
            target=serve_checks, args=(database_url, child_end), daemon=True
        )
        self._process.start()
        child_end.close()
        try:
            self._receive(start_timeout, "start")
        except BaseException:
            self.stop()
            raise

    def check(
        self, user: str, permission: str, *, tenant: str, at_least: int | None = None
    ) -> bool:
        """The other process's ``check``."""
        self._connection.send((user, permission, tenant, at_least))
        answer = self._receive(10.0, "answer")
        assert isinstance(answer, bool)
        return answer

    def _receive(self, timeout: float, what: str) -> object:
        if not self._connection.poll(timeout):
            raise AssertionError(f"the other process did not {what} within {timeout} s")
        return self._connection.recv()

    def stop(self) -> None:
        """Ask the process to end; terminate, then kill, whatever does not."""
        try:
            self._connection.send(None)
        except OSError:
            pass  # already gone
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._connection.close()
        self._process.close()


@contextmanager
def stalled_query(engine: Engine, *, table: str, thread: threading.Thread | str) -> Iterator[Gate]:
    """Make ``thread``'s (or the thread so named) first query naming ``table`` on ``engine``
    wait at the database driver until the test opens the gate: a slow database, so a race
    window is held open on purpose.

    Only the outside world is slowed: the statement runs unchanged once released.
    """
    gate = Gate()

    def is_stalled(current: threading.Thread) -> bool:
        return current.name == thread if isinstance(thread, str) else current is thread

    def stall(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if is_stalled(threading.current_thread()) and table in statement and not gate.reached:
            gate.reached = True
            gate.arrived.set()
            gate.opened.wait(timeout=30)

    event.listen(engine, "before_cursor_execute", stall)
    try:
        yield gate
    finally:
        gate.opened.set()
        event.remove(engine, "before_cursor_execute", stall)


@dataclass
class Gate:
    """Where :func:`stalled_query` holds its thread: ``arrived`` once stalled, until ``opened``."""

    arrived: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)
    reached: bool = False


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


# ---- the HTTP API --------------------------------------------------------------------------


@dataclass
class AuthActions:
    """Intent helpers over the ``/v1/auth`` endpoints (Flask's ``AuthActions``)."""

    client: httpx.AsyncClient

    async def login(
        self, username: str = "alice", *, tenant: str = "acme", password: str = PASSWORD
    ) -> dict[str, Any]:
        """Log in and return the token response; fails the test unless it is a 200."""
        response = await self.client.post(
            "/v1/auth/login", json={"username": username, "password": password, "tenant": tenant}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def bearer(tokens: dict[str, Any]) -> dict[str, str]:
        """The Authorization header for a token response."""
        return {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem of ``status`` with ``code``, and leaks no traceback;
    returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert set(body) >= {"type", "title", "status", "detail", "code"}
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def downgrade(db: Database, revision: str) -> None:
    """Migrate ``db`` down to ``revision`` with alembic (rolegate itself only ever upgrades)."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    with db.engine.connect() as connection:  # env.py begins and commits the transaction
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
