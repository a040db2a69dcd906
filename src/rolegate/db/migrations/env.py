"""Alembic environment: runs migrations on the connection rolegate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from rolegate.db.base import Base
from rolegate.db.models import __all__ as _registered  # noqa: F401  (registers every table)

config = context.config


def run_migrations(connection: Connection) -> None:
    """Migrate on ``connection``; batch mode lets SQLite alter tables by copy-and-move."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = config.attributes.get("connection")
if _connection is None:
    raise SystemExit("run migrations through `rolegate db upgrade`, which supplies the connection")
run_migrations(_connection)
