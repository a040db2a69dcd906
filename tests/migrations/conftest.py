"""Fixtures for the migration harness: an empty database of each backend, and pytest-alembic's
runner on it (``alembic_runner``: move through the history, see where the database is).

pytest-alembic is used as a library, its pytest plugin switched off (``-p no:pytest_alembic`` in
pyproject.toml): the plugin binds its built-in tests to ``tests/conftest.py`` through a
collector that fails on pytest 9 (``TestCollector`` sets ``_nodeid``, which pytest 9 nodes no
longer have), breaking collection of the whole suite. Its runner and history are what we use.

The PostgreSQL leg migrates in a schema of its own (``rg_migrations``, dropped after each test)
inside the test database, so it never disturbs the migrated ``public`` schema that the rest of
the suite resets between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_alembic import Config, MigrationContext, runner
from sqlalchemy import text
from sqlalchemy.engine import make_url

from rolegate.db import migrate
from rolegate.db.engine import Database
from tests.conftest import _SKIP_REASON, POSTGRES_URL

MIGRATIONS = Path(migrate.__file__).with_name("migrations")
SCHEMA = "rg_migrations"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database (no tables at all) of each backend, opened as rolegate opens it."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'migrating.db'}")
        yield db
        db.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip(_SKIP_REASON)
    url = make_url(request.getfixturevalue("postgres_url"))
    admin = Database(url)
    with admin.engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"))
    db = Database(url.update_query_dict({"options": f"-csearch_path={SCHEMA}"}))
    try:
        yield db
    finally:
        db.dispose()
        with admin.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


@pytest.fixture
def alembic_runner(empty_db: Database) -> Iterator[MigrationContext]:
    """pytest-alembic's runner on :func:`empty_db`, running rolegate's own environment (env.py)
    on rolegate's engine, with its SQLite pragmas, as ``rolegate db upgrade`` does."""
    config = Config.from_raw_config({"script_location": str(MIGRATIONS)})
    with runner(config=config, engine=empty_db.engine) as context:
        yield context
