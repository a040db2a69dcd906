"""Fixtures for the command line: the real ``rolegate`` app on a fresh database of each backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from rolegate import Rolegate
from tests.factories import Cli


@pytest.fixture
def bare_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """The ``rolegate`` command with cheap argon2id and wide tables, for tests that pick the URL.

    ``ROLEGATE_DATABASE_URL`` names a scratch file so that a test can never touch ./rolegate.db.
    """
    monkeypatch.setenv("ROLEGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'scratch.db'}")
    monkeypatch.setenv("ROLEGATE_ARGON2_MEMORY_KIB", "8")  # real argon2id, cheap parameters
    monkeypatch.setenv("ROLEGATE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that Rich never wraps a table cell
    for name in ("ROLEGATE_DEBUG", "ROLEGATE_AUTO_UPGRADE", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    return Cli()


@pytest.fixture
def cli(bare_cli: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The ``rolegate`` command on the ``database_url`` database, named by the environment."""
    monkeypatch.setenv("ROLEGATE_DATABASE_URL", database_url)
    return bare_cli


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def undecidable_url(fresh_sqlite_url: str) -> str:
    """A SQLite database on which every check of alice fails: its ``user_roles`` table is gone."""
    with Rolegate(fresh_sqlite_url) as rg:
        rg.users.create("alice")
        rg.roles.create("default", "viewer")
        rg.assignments.assign("default", "alice", "viewer")
        with rg.db.engine.begin() as connection:
            connection.execute(text("DROP TABLE user_roles"))
    return fresh_sqlite_url
