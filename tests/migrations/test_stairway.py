"""Stairway: every revision upgrades, downgrades to the one before and upgrades again, leaving
the schema it made the first time; then the history walks back down to an empty database."""

from __future__ import annotations

from pytest_alembic import MigrationContext
from sqlalchemy import Connection, inspect

from rolegate.db.engine import Database


def _schema(connection: Connection) -> dict[str, list[str]]:
    """Every table (but Alembic's) with its columns, in order."""
    inspector = inspect(connection)
    return {
        table: [column["name"] for column in inspector.get_columns(table)]
        for table in sorted(inspector.get_table_names())
        if table != "alembic_version"
    }


def test_every_revision_upgrades_downgrades_and_upgrades_again(
    alembic_runner: MigrationContext, empty_db: Database
) -> None:
    revisions = alembic_runner.history.revisions[1:]  # after "base"; ends with "heads"
    steps = [revision for revision in revisions if revision != "heads"]
    assert steps, "the history has revisions"
    previous = "base"
    for revision in steps:
        alembic_runner.migrate_up_to(revision)
        with empty_db.engine.connect() as connection:
            made = _schema(connection)
        alembic_runner.migrate_down_to(previous)
        assert alembic_runner.current == previous, f"{revision} did not downgrade"
        alembic_runner.migrate_up_to(revision)
        assert alembic_runner.current == revision
        with empty_db.engine.connect() as connection:
            assert _schema(connection) == made, f"{revision} up-down-up changed the schema"
        previous = revision

    for revision in reversed(["base", *steps[:-1]]):
        alembic_runner.migrate_down_to(revision)
        assert alembic_runner.current == revision
    with empty_db.engine.connect() as connection:
        assert _schema(connection) == {}, "downgrading to base leaves no table behind"


def test_the_history_has_one_head(alembic_runner: MigrationContext) -> None:
    assert len(alembic_runner.heads) == 1, alembic_runner.heads
