"""Fixtures: a fresh rolegate database per test, on SQLite and (when configured) PostgreSQL.

PostgreSQL runs when ``ROLEGATE_TEST_POSTGRES_URL`` names a database the suite may wipe;
otherwise that leg is skipped and the run says so at the end. With
``ROLEGATE_REQUIRE_POSTGRES=1`` (CI) a missing PostgreSQL fails the run instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from rolegate import Rolegate
from rolegate.db.base import Base
from rolegate.db.engine import Database
from rolegate.db.migrate import upgrade
from tests.factories import FAST_HASHER, FakeClock
from tests.pgserver import PrivatePostgres, postgres_bin

POSTGRES_URL = os.environ.get("ROLEGATE_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("ROLEGATE_REQUIRE_POSTGRES", "") == "1"
_postgres_skips: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_POSTGRES and not POSTGRES_URL:
        raise pytest.UsageError(
            "ROLEGATE_REQUIRE_POSTGRES=1 but ROLEGATE_TEST_POSTGRES_URL is unset"
        )


_SKIP_REASON = "PostgreSQL leg: ROLEGATE_TEST_POSTGRES_URL is unset"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Counted from the reports, which reach the controlling process under pytest-xdist too.
    if report.skipped and _SKIP_REASON in str(report.longrepr):
        _postgres_skips.append(report.nodeid)


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


def _worker_database(url: str) -> str:
    """``url`` itself, or under pytest-xdist a database of this worker's own beside it
    (``<name>_gw0``), created on first use: workers must not wipe each other's tables."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = Database(url)
    name = f"{base.url.database}_{worker}"
    try:
        with base.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            found = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        base.dispose()
    return base.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL database this test process may wipe."""
    return _worker_database(POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[Database]:
    """The PostgreSQL test database, migrated once per run, with a copy of every row the
    migrations seed (schema ``seed``) for :func:`_reset_postgres` to put back."""
    db = Database(postgres_url)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(db)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS seed CASCADE; CREATE SCHEMA seed"))
        for table in Base.metadata.sorted_tables:
            connection.execute(text(f"CREATE TABLE seed.{table.name} AS TABLE public.{table.name}"))
    yield db
    db.dispose()


def _reset_postgres(db: Database) -> None:
    """Empty every table and put back what the migrations seeded: a freshly migrated database."""
    tables = Base.metadata.sorted_tables  # parents first
    with db.transaction() as tx:
        tx.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)} CASCADE"))
        for table in tables:
            tx.execute(text(f"INSERT INTO public.{table.name} SELECT * FROM seed.{table.name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A URL of an empty, migrated rolegate database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "rolegate.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    if not POSTGRES_URL:
        pytest.skip(_SKIP_REASON)
    _reset_postgres(request.getfixturevalue("postgres_database"))
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test moves it."""
    return FakeClock()


@pytest.fixture
def rg(database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """A Rolegate on a fresh database, with a fake clock and cheap (real) argon2id."""
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock) as instance:
        yield instance


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL server of this test's own, to crash, stop or cut off; skipped (or,
    under ``ROLEGATE_REQUIRE_POSTGRES=1``, failed) when PostgreSQL is not installed."""
    bindir = postgres_bin()
    if bindir is None:
        if REQUIRE_POSTGRES:
            pytest.fail("ROLEGATE_REQUIRE_POSTGRES=1 but no PostgreSQL binaries are installed")
        pytest.skip(_SKIP_REASON)
    server = PrivatePostgres(bindir)
    try:
        server.start()
        yield server
    finally:
        server.remove()
