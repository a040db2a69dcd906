"""Schema migrations: upgrade a database to the version this rolegate needs, or say it isn't."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from rolegate.db.engine import Database, translating
from rolegate.errors import SchemaNotCurrent

_MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this version of rolegate ships."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "rolegate ships at least one migration"
    return head


def current_revision(db: Database) -> str | None:
    """The migration the database is at, or None for an empty database."""
    # An unreachable server or unopenable file is typed, not a driver error.
    with translating("cannot read the database"), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` in one transaction.

    The connection is handed over outside a transaction: the environment (migrations/env.py)
    switches SQLite's foreign keys off before beginning it, and checks them before committing.
    """
    config = _config()
    with translating("cannot upgrade the database"), db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_current(db: Database, *, auto_upgrade: bool) -> None:
    """Upgrade when allowed, else raise :class:`SchemaNotCurrent` unless the schema is at head."""
    head = head_revision()
    current = current_revision(db)
    if current == head:
        return
    if not auto_upgrade:
        raise SchemaNotCurrent(current, head)
    upgrade(db)
