"""``rolegate db upgrade`` and ``rolegate db current``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolegate.db.migrate import head_revision
from tests.factories import Cli

HEAD = head_revision()


def test_upgrade_creates_the_schema_of_a_fresh_database(
    bare_cli: Cli, fresh_sqlite_url: str
) -> None:
    before = bare_cli.ok("--database-url", fresh_sqlite_url, "db", "current")
    assert "current revision: none" in before
    assert "not at head: run `rolegate db upgrade`" in before

    upgraded = bare_cli.ok("--database-url", fresh_sqlite_url, "db", "upgrade")

    assert upgraded == f"upgraded database from revision none to {HEAD}\n"
    after = bare_cli.ok("--database-url", fresh_sqlite_url, "db", "current")
    assert after.splitlines() == [
        f"current revision: {HEAD}",
        f"head revision:    {HEAD}",
        "up to date",
    ]
    assert "default" in bare_cli.ok("--database-url", fresh_sqlite_url, "tenant", "list")


def test_upgrade_of_a_current_database_changes_nothing(cli: Cli) -> None:
    assert cli.ok("db", "upgrade") == f"database already at revision {HEAD}\n"
    assert cli.ok("db", "current").endswith("up to date\n")


def test_commands_on_an_unmigrated_database_say_to_upgrade(
    bare_cli: Cli, fresh_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLEGATE_AUTO_UPGRADE", "false")

    line = bare_cli.fails("--database-url", fresh_sqlite_url, "tenant", "list")

    assert line == (
        f"error: database schema is at nothing, rolegate needs {HEAD}: run `rolegate db upgrade`"
    )


def test_the_database_url_option_wins_over_the_setting(
    bare_cli: Cli, fresh_sqlite_url: str, tmp_path: Path
) -> None:
    bare_cli.ok("--database-url", fresh_sqlite_url, "db", "upgrade")

    assert (tmp_path / "fresh.db").exists()
    assert not (tmp_path / "scratch.db").exists()  # what ROLEGATE_DATABASE_URL names
