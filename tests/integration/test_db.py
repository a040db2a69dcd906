"""The database layer on real backends: migrations, SQLite settings, URLs, time zones, keys,
error translation, and concurrent writers."""

from __future__ import annotations

import gc
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from rolegate import (
    ConcurrentChange,
    InvalidInput,
    Rolegate,
    SchemaNotCurrent,
    Settings,
    StorageError,
)
from rolegate.builtins import DEFAULT_TENANT_ID
from rolegate.db.base import Base
from rolegate.db.engine import Database
from rolegate.db.migrate import current_revision, head_revision
from rolegate.db.models import MembershipRecord, RoleInheritanceRecord, TenantRecord
from tests.factories import (
    FAST_HASHER,
    FakeClock,
    audit_events,
    build_two_tenants,
    count_rows,
    is_sqlite,
    link_rows,
    with_query,
    without_builtins,
)

TABLES = {table.name for table in Base.metadata.sorted_tables}

# --- migrations --------------------------------------------------------------------------------


def test_an_empty_database_is_upgraded_to_head_when_allowed(empty_database_url: str) -> None:
    with Rolegate(empty_database_url, hasher=FAST_HASHER, auto_upgrade=True) as rg:
        assert TABLES | {"alembic_version"} <= set(inspect(rg.db.engine).get_table_names())
        assert current_revision(rg.db) == head_revision()
        assert rg.tenants.get("default").id == DEFAULT_TENANT_ID
        rg.upgrade()  # upgrading a current database is a no-op
        assert [t.slug for t in rg.tenants.list()] == ["default", "platform"]


def test_by_default_only_sqlite_is_upgraded_on_first_use(empty_database_url: str) -> None:
    settings = Settings(auto_upgrade=None)  # the default, whatever the environment says
    if empty_database_url.startswith("sqlite"):
        with Rolegate(empty_database_url, settings=settings, hasher=FAST_HASHER) as rg:
            assert TABLES <= set(inspect(rg.db.engine).get_table_names())
            assert current_revision(rg.db) == head_revision()
            assert rg.tenants.get("default").id == DEFAULT_TENANT_ID
    else:
        with pytest.raises(SchemaNotCurrent):
            Rolegate(empty_database_url, settings=settings, hasher=FAST_HASHER)


def test_a_database_that_is_not_migrated_is_refused_and_left_alone(
    empty_database_url: str,
) -> None:
    with pytest.raises(SchemaNotCurrent) as caught:
        Rolegate(empty_database_url, hasher=FAST_HASHER, auto_upgrade=False)
    error = caught.value
    assert (error.current, error.head) == (None, head_revision())
    assert error.code == "schema_not_current" and isinstance(error, StorageError)
    assert "rolegate db upgrade" in str(error)
    # The refused instance is unreachable once its traceback goes: a connection it left open
    # would be closed by the collector now, with a ResourceWarning (an error in this suite).
    del caught, error
    gc.collect()
    probe = Database(empty_database_url)
    try:
        assert inspect(probe.engine).get_table_names() == []
    finally:
        probe.dispose()


@pytest.mark.parametrize(
    "url", ["sqlite:////nonexistent-rolegate-dir/x.db", "postgresql://nobody@127.0.0.1:1/none"]
)
def test_a_database_that_cannot_be_reached_is_a_storage_error(url: str) -> None:
    with pytest.raises(StorageError) as caught:
        Rolegate(url, hasher=FAST_HASHER)
    assert not isinstance(caught.value, SchemaNotCurrent)


# --- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@localhost/db",
        "postgres://u@localhost/db",
        "postgresql+psycopg://u@localhost/db",
    ],
)
def test_a_bare_postgresql_url_selects_psycopg(url: str) -> None:
    db = Database(url)  # no connection is made until one is needed
    try:
        assert db.url.drivername == "postgresql+psycopg"
        assert db.engine.dialect.driver == "psycopg"
        assert not db.is_sqlite
    finally:
        db.dispose()


def test_the_test_database_runs_on_the_expected_driver(rg: Rolegate) -> None:
    expected = "pysqlite" if is_sqlite(rg) else "psycopg"
    assert rg.db.engine.dialect.driver == expected
    with rg.db.reading() as session:
        assert session.scalar(select(TenantRecord.slug)) == "default"


@pytest.mark.parametrize(
    "url", ["mysql://u@localhost/db", "oracle://u@localhost/db", "not a url", ""]
)
def test_an_unsupported_or_malformed_url_is_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput):
        Database(url)
    with pytest.raises(InvalidInput):
        Rolegate(url, hasher=FAST_HASHER)


# --- SQLite settings ---------------------------------------------------------------------------


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(sqlite_rg: Rolegate) -> None:
    with sqlite_rg.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    with sqlite_rg.db.transaction() as tx:
        assert tx.execute(select(1)).scalar() == 1
        assert tx.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_writers_take_the_write_lock_when_they_begin(sqlite_rg: Rolegate) -> None:
    path = sqlite_rg.db.url.database
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)  # never waits for a lock
    try:
        with sqlite_rg.db.reading() as session:
            session.execute(select(TenantRecord.slug)).all()
            other.execute("CREATE TABLE written_beside_a_reader (x)")  # readers block nobody
        with sqlite_rg.db.transaction() as tx:
            tx.execute(select(TenantRecord.slug)).all()  # nothing written, yet the lock is held
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("CREATE TABLE written_beside_a_writer (x)")
    finally:
        other.close()


# --- time zones --------------------------------------------------------------------------------


def test_timestamps_come_back_aware_utc(database_url: str, clock: FakeClock) -> None:
    # A PostgreSQL session in another zone must not leak its zone into rolegate's values.
    url = (
        database_url
        if database_url.startswith("sqlite")
        else (with_query(database_url, options="-ctimezone=Asia/Tokyo"))
    )
    clock.advance(timedelta(microseconds=123456))
    with Rolegate(url, hasher=FAST_HASHER, clock=clock) as rg:
        rg.tenants.create("acme")
        rg.users.create("alice")
        expiry = clock.now + timedelta(days=1)
        rg.permissions.create("acme", "documents:read")
        rg.roles.create("acme", "viewer")
        rg.assignments.assign("acme", "alice", "viewer", expires_at=expiry)
        values = [
            rg.tenants.get("acme").created_at,
            rg.users.get("alice").updated_at,
            rg.roles.get("acme", "viewer").created_at,
            rg.assignments.list("acme")[0].granted_at,
            *(e.occurred_at for e in audit_events(rg)),
        ]
        [stored_expiry] = [a.expires_at for a in rg.assignments.list("acme")]
    for value in values:
        assert value.tzinfo is UTC and value == clock.now
    assert stored_expiry is not None and stored_expiry.tzinfo is UTC and stored_expiry == expiry


# --- keys: the database itself keeps tenants apart ---------------------------------------------


LINK_TABLES = ["role_inheritance", "role_permissions", "user_roles", "permissions"]


@pytest.mark.parametrize("table", LINK_TABLES)
def test_the_database_refuses_a_link_between_two_tenants(rg: Rolegate, table: str) -> None:
    user_id, tenants = build_two_tenants(rg)
    acme, globex = tenants["acme"], tenants["globex"]
    record, row = link_rows(user_id, owner=acme, ends=globex)[table]
    before = count_rows(rg, table)
    with pytest.raises(IntegrityError), rg.db.engine.begin() as connection:
        connection.execute(insert(record).values(**row))
    assert count_rows(rg, table) == before
    # The control: the same row within one tenant is accepted.
    record, row = link_rows(user_id, owner=acme, ends=acme)[table]
    with rg.db.engine.begin() as connection:
        connection.execute(insert(record).values(**row))
    assert count_rows(rg, table) == before + 1


# --- database errors leave as typed rolegate errors --------------------------------------------


def test_a_unique_race_is_a_concurrent_change(rg: Rolegate) -> None:
    # What a concurrent writer committing the same slug first looks like to this transaction.
    with pytest.raises(ConcurrentChange) as caught, rg.db.transaction() as tx:
        tx.add(TenantRecord(slug="default", name="Again"))
    assert isinstance(caught.value.__cause__, IntegrityError)
    assert [t.slug for t in rg.tenants.list()] == ["default", "platform"]


def test_a_vanished_reference_is_a_concurrent_change(rg: Rolegate) -> None:
    # What a user deleted by a concurrent transaction looks like to one adding a membership.
    with pytest.raises(ConcurrentChange), rg.db.transaction() as tx:
        tx.add(MembershipRecord(tenant_id=DEFAULT_TENANT_ID, user_id=uuid4()))
    assert count_rows(rg, "memberships") == 0


def test_any_other_refusal_is_a_storage_error(rg: Rolegate) -> None:
    role = rg.roles.create("default", "viewer")
    with pytest.raises(StorageError) as caught, rg.db.transaction() as tx:
        tx.add(
            RoleInheritanceRecord(
                tenant_id=DEFAULT_TENANT_ID,
                role_id=role.id,
                inherited_role_id=role.id,
                created_by="sql",
            )
        )
    assert not isinstance(caught.value, ConcurrentChange)
    assert count_rows(rg, "role_inheritance") == 0


# --- concurrent writers ------------------------------------------------------------------------


def test_concurrent_writers_all_succeed_with_their_audit_events(
    database_url: str, clock: FakeClock
) -> None:
    per_worker, workers = 12, 2
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock) as setup:
        setup.tenants.create("acme")
        setup.permissions.create("acme", "documents:read")
        setup.roles.create("acme", "viewer", permissions=["documents:read"])
        for worker in range(workers):
            for i in range(per_worker):
                setup.users.create(f"user-{worker}-{i}")
    # One Rolegate per worker, as two processes would have; all made before any thread starts.
    instances = [Rolegate(database_url, hasher=FAST_HASHER, clock=clock) for _ in range(workers)]
    start = threading.Barrier(workers)

    def write(worker: int) -> None:
        rg = instances[worker]
        start.wait()
        for i in range(per_worker):
            rg.assignments.assign("acme", f"user-{worker}-{i}", "viewer")
            rg.permissions.create("acme", f"area{worker}:action{i}")

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(write, worker) for worker in range(workers)]
        for future in futures:
            future.result()  # re-raises a worker's error, such as "database is locked"
    finally:
        for instance in instances:
            instance.close()
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock) as rg:
        total = workers * per_worker

        def created(kind: str) -> list[str]:  # acme's own, less its built-ins
            events = audit_events(rg, action=f"{kind}.created")
            return without_builtins(e.details["after"]["name"] for e in events)

        assert len(rg.assignments.list("acme")) == total
        assert len(without_builtins(p.name for p in rg.permissions.list("acme"))) == 1 + total
        assert len(audit_events(rg, action="role.assigned")) == total
        assert len(audit_events(rg, action="membership.added")) == total
        assert len(created("permission")) == 1 + total
        assert len(created("resource")) == 1 + workers
        assert all(
            rg.check(a.username, "documents:read", tenant="acme")
            for a in rg.assignments.list("acme")
        )
