"""Fixtures for the integration suite: stored policies, a broken audit store, an empty database,
and more Rolegate instances on one database (as other processes would hold them)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from rolegate import Rolegate, Settings
from rolegate.db.engine import Database
from tests.factories import (
    FAST_HASHER,
    CheckProcess,
    FakeClock,
    break_audit_store,
    build_documents_policy,
    repair_audit_store,
    with_query,
)


@pytest.fixture
def audit_store_down(policy: Rolegate) -> Iterator[Rolegate]:
    """:func:`policy`, then a database trigger that aborts every audit insert (dropped after)."""
    break_audit_store(policy)
    try:
        yield policy
    finally:
        repair_audit_store(policy)


@pytest.fixture
def sqlite_rg(sqlite_template: Path, tmp_path: Path, clock: FakeClock) -> Iterator[Rolegate]:
    """A Rolegate on a fresh SQLite file, for what only SQLite has (pragmas, its write lock)."""
    path = tmp_path / "sqlite-only.db"
    shutil.copyfile(sqlite_template, path)
    with Rolegate(f"sqlite:///{path}", hasher=FAST_HASHER, clock=clock) as instance:
        yield instance


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each backend: nothing migrated, not even the default tenant.

    On PostgreSQL it is a fresh schema of the test database, named first on the search path and
    dropped afterwards, so the shared schema is never touched.
    """
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"rolegate_empty_{uuid.uuid4().hex[:12]}"
    admin = Database(database_url)
    with admin.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield with_query(database_url, options=f"-csearch_path={schema}")
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def policy(rg: Rolegate) -> Rolegate:
    """``rg`` holding the README's policy in tenant acme: alice is an editor there."""
    build_documents_policy(rg, "acme")
    return rg


@pytest.fixture
def acme_permissions(rg: Rolegate) -> Rolegate:
    """``rg`` with tenant acme and its two documents permissions, but no roles yet."""
    rg.tenants.create("acme")
    rg.permissions.create("acme", "documents:read")
    rg.permissions.create("acme", "documents:write")
    return rg


@pytest.fixture
def acme_roles(acme_permissions: Rolegate) -> Rolegate:
    """Tenant acme with roles viewer (documents:read) and editor (inherits viewer), user alice."""
    rg = acme_permissions
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    rg.roles.create("acme", "editor", permissions=["documents:write"], inherits=["viewer"])
    rg.users.create("alice")
    return rg


@pytest.fixture
def unwatched(database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """A Rolegate without the change watcher: it learns of changes from its own commits (and
    ``at_least``) only, so a test sees exactly what the commit path invalidated."""
    settings = Settings(watch_changes=False)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as instance:
        yield instance


@pytest.fixture
def peer(rg: Rolegate, database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """A second Rolegate on ``rg``'s database, without a watcher: it learns of ``rg``'s changes
    only when asked ``at_least`` their revision (or, past the staleness bound of 5 s, on its
    next check, which confirms the policy is current by reading the change log)."""
    settings = Settings(watch_changes=False)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as instance:
        yield instance


@pytest.fixture
def watching_peer(rg: Rolegate, database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """A second Rolegate on ``rg``'s database that watches for changes (LISTEN, or polling)."""
    settings = Settings(watch_changes=True)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as instance:
        yield instance


@pytest.fixture
def other_process(rg: Rolegate, database_url: str) -> Iterator[CheckProcess]:
    """Another process with its own Rolegate on ``rg``'s database, answering checks on request;
    always stopped (terminated if need be) after the test."""
    process = CheckProcess(database_url)
    try:
        yield process
    finally:
        process.stop()
