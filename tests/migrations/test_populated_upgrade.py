"""Migrations never lose a row: for every revision, a populated database upgrades to head with
every table's rows still there, unchanged (ARCHITECTURE.md invariant 8).

The revisions are read from the script directory, so one added later is covered without a line
changed here.
"""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from pytest_alembic import MigrationContext

from rolegate.db.engine import Database
from tests.migrations.conftest import MIGRATIONS
from tests.migrations.filler import count_rows, fill, read_back, typed_tables


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return [
        script.revision
        for script in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))
    ]


@pytest.mark.parametrize("revision", _revisions())
def test_a_populated_database_upgrades_to_head_without_losing_a_row(
    alembic_runner: MigrationContext, empty_db: Database, revision: str
) -> None:
    alembic_runner.migrate_up_to(revision)
    with empty_db.engine.begin() as connection:
        filled = fill(connection)
        before = count_rows(connection)
    assert set(filled.rows) == set(before), "the filler covers every table"

    alembic_runner.migrate_up_to("heads")

    with empty_db.engine.connect() as connection:
        after = count_rows(connection)
        head = typed_tables(connection)
        assert set(before) <= set(after), "no table is dropped"
        shrunk = {
            name: (before[name], after[name]) for name in before if after[name] < before[name]
        }
        assert not shrunk, f"rows lost (before, after): {shrunk}"
        for table, rows in filled.rows.items():
            for row in rows:
                assert set(row) <= set(head[table].c.keys()), f"columns of {table} dropped"
                stored = read_back(connection, head[table], row, filled.keys[table])
                assert stored is not None, f"{table} row {row} is gone"
                assert {name: stored[name] for name in row} == row, f"{table} row changed"
