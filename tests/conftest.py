"""Fixtures: a fresh rolegate database per test, on SQLite and (when configured) PostgreSQL.

PostgreSQL runs when ``ROLEGATE_TEST_POSTGRES_URL`` names a database the suite may wipe;
otherwise that leg is skipped and the run says so at the end. With
``ROLEGATE_REQUIRE_POSTGRES=1`` (CI) a missing PostgreSQL fails the run instead.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from rolegate import Rolegate
from rolegate.db.base import Base
from rolegate.db.engine import Database
from rolegate.db.migrate import upgrade
from rolegate.db.models import (
    DEFAULT_TENANT_ID,
    DEFAULT_TENANT_SLUG,
    PLATFORM_TENANT_ID,
    PLATFORM_TENANT_SLUG,
    PolicyStateRecord,
    TenantRecord,
)
from tests.factories import FAST_HASHER, FakeClock

POSTGRES_URL = os.environ.get("ROLEGATE_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("ROLEGATE_REQUIRE_POSTGRES", "") == "1"
_postgres_skips: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_POSTGRES and not POSTGRES_URL:
        raise pytest.UsageError(
            "ROLEGATE_REQUIRE_POSTGRES=1 but ROLEGATE_TEST_POSTGRES_URL is unset"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_POSTGRES and _postgres_skips:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_skips:
        terminalreporter.write_sep(
            "!",
            f"PostgreSQL leg SKIPPED ({len(_postgres_skips)} tests): "
            "set ROLEGATE_TEST_POSTGRES_URL to run it",
            yellow=True,
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is what costs)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Database]:
    """The PostgreSQL test database, migrated once per run."""
    db = Database(POSTGRES_URL)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(db)
    yield db
    db.dispose()


#: Migration 0004, whose seeding of built-ins the reset below repeats.
_BUILTINS_MIGRATION = importlib.import_module("rolegate.db.migrations.versions.0004_builtins")


def _reset_postgres(db: Database) -> None:
    """Empty every table and seed what the migrations seed, as a freshly migrated database."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with db.transaction() as tx:
        tx.execute(text(f"TRUNCATE {tables} CASCADE"))
        tx.add(TenantRecord(id=DEFAULT_TENANT_ID, slug=DEFAULT_TENANT_SLUG, name="Default"))
        tx.add(TenantRecord(id=PLATFORM_TENANT_ID, slug=PLATFORM_TENANT_SLUG, name="Platform"))
        tx.add(PolicyStateRecord(id=1, revision=2))  # what migrations 0002 and 0004 leave
        tx.flush()
        now = datetime.now(UTC)
        for tenant_id in (DEFAULT_TENANT_ID, PLATFORM_TENANT_ID):
            wanted = dict(_BUILTINS_MIGRATION.TENANT_PERMISSIONS)
            if tenant_id == PLATFORM_TENANT_ID:
                wanted.update(_BUILTINS_MIGRATION.PLATFORM_PERMISSIONS)
            _BUILTINS_MIGRATION._provision(tx.connection(), tenant_id, wanted, now)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A URL of an empty, migrated rolegate database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "rolegate.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    if not POSTGRES_URL:
        _postgres_skips.append(request.node.nodeid)
        pytest.skip("PostgreSQL leg: ROLEGATE_TEST_POSTGRES_URL is unset")
    _reset_postgres(request.getfixturevalue("postgres_database"))
    return POSTGRES_URL


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test moves it."""
    return FakeClock()


@pytest.fixture
def rg(database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """A Rolegate on a fresh database, with a fake clock and cheap (real) argon2id."""
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock) as instance:
        yield instance
