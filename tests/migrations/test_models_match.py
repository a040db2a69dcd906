"""The ORM models describe exactly the schema the migrations make: after upgrading to head,
Alembic's autogenerate finds nothing to do."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext as AlembicContext
from pytest_alembic import MigrationContext

from rolegate.db.base import Base
from rolegate.db.engine import Database


def test_autogenerate_finds_no_difference_between_models_and_migrations(
    alembic_runner: MigrationContext, empty_db: Database
) -> None:
    alembic_runner.migrate_up_to("heads")
    with empty_db.engine.connect() as connection:
        context = AlembicContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert not differences, "\n".join(map(str, differences))
