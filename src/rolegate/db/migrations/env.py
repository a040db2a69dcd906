"""Alembic environment: runs migrations on the connection rolegate hands over.

The rule every migration gets from here, without having to remember it: **on SQLite, migrations
run with foreign keys off, and the result is checked before it commits.** A batch operation
(``op.batch_alter_table``) alters a SQLite table by copying it, dropping the original and
renaming the copy; with foreign keys on, that drop is a delete of every row, and ``ON DELETE
CASCADE`` empties every table below it (0003 on ``users`` emptied ``memberships`` and
``user_roles``). So the whole run happens with ``PRAGMA foreign_keys = OFF``, as SQLite's own
procedure for altering tables says (https://www.sqlite.org/lang_altertable.html#otheralter),
then ``PRAGMA foreign_key_check`` must find nothing, or :class:`MigrationBrokeReferences`
rolls everything back. The pragma is a no-op inside a transaction, so it is set before this
environment begins the one transaction all migrations run in, and put back after it ends: the
pool hands the connection on.

What this asks of a migration: never rely on a cascade. On SQLite nothing cascades while
migrating; a migration that deletes parent rows deletes their children itself, or the check
refuses it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, Engine

from rolegate.db.base import Base
from rolegate.db.models import __all__ as _registered  # noqa: F401  (registers every table)
from rolegate.errors import MigrationBrokeReferences, StorageError

config = context.config


def run_migrations(connection: Connection) -> None:
    """Migrate on ``connection`` in one transaction; batch mode lets SQLite alter tables by
    copy-and-move, with foreign keys off and checked before the commit."""
    with _foreign_keys_off(connection), connection.begin():
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():  # inside ours: Alembic opens none of its own
            context.run_migrations()
        _check_references(connection)


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys off for the block and back as they were after it."""
    if connection.dialect.name != "sqlite":
        yield  # PostgreSQL alters tables in place: nothing is copied, nothing cascades
        return
    if connection.in_transaction():
        raise StorageError(
            "SQLite migrations need a connection outside any transaction "
            "(foreign keys cannot be switched off inside one)"
        )
    driver = connection.connection.driver_connection
    assert driver is not None
    # On the driver connection: through SQLAlchemy, the PRAGMA would first begin a transaction.
    was_on = driver.execute("PRAGMA foreign_keys").fetchone()[0]
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA foreign_keys = {'ON' if was_on else 'OFF'}")


def _check_references(connection: Connection) -> None:
    """Raise :class:`MigrationBrokeReferences` when a row points at a row that is not there."""
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL enforced every foreign key as the migrations ran
    found = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if found:
        links = Counter(f"{table} -> {parent}" for table, _rowid, parent, _key in found)
        raise MigrationBrokeReferences(dict(links))


_connectable = config.attributes.get("connection")
if _connectable is None:
    raise SystemExit("run migrations through `rolegate db upgrade`, which supplies the connection")
if isinstance(_connectable, Engine):  # as pytest-alembic hands it over
    with _connectable.connect() as _connection:
        run_migrations(_connection)
else:
    run_migrations(_connectable)
