"""SQLite migrates with foreign keys off and checked: a table copy (batch operation) cascades
into no other table, and a migration that leaves a dangling reference is rolled back whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from rolegate import MigrationBrokeReferences, Rolegate, StorageError
from rolegate.db.engine import Database
from rolegate.db.migrate import current_revision, head_revision, upgrade
from tests.factories import FAST_HASHER
from tests.migrations.conftest import MIGRATIONS
from tests.migrations.filler import count_rows, typed_tables

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ACME, ALICE, BOB = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'rolegate.db'}")
    yield database
    database.dispose()


def _foreign_keys(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one())


def _acme_at_0002(db: Database) -> None:
    """Tenant acme: alice is a member holding ``reader`` (documents:read), bob a member only."""
    upgrade(db, "0002")
    resource, permission, role = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    account: dict[str, Any] = {
        "full_name": "",
        "password_hash": None,
        "is_active": True,
        "preferences": {},
    }
    rows: dict[str, list[dict[str, Any]]] = {
        "tenants": [{"id": ACME, "slug": "acme", "name": "Acme"}],
        "users": [
            {"id": ALICE, "username": "alice", "username_key": "alice", **account},
            {"id": BOB, "username": "bob", "username_key": "bob", **account},
        ],
        "memberships": [
            {"tenant_id": ACME, "user_id": ALICE, "joined_at": NOW},
            {"tenant_id": ACME, "user_id": BOB, "joined_at": NOW},
        ],
        "resources": [{"id": resource, "tenant_id": ACME, "name": "documents", "description": ""}],
        "permissions": [
            {"id": permission, "tenant_id": ACME, "name": "documents:read", "action": "read"}
            | {"resource_id": resource, "description": ""}
        ],
        "roles": [{"id": role, "tenant_id": ACME, "name": "reader", "description": ""}],
        "role_permissions": [
            {"id": uuid.uuid4(), "tenant_id": ACME, "role_id": role, "permission_id": permission}
            | {"granted_at": NOW, "granted_by": "system"}
        ],
        "user_roles": [
            {"user_id": ALICE, "role_id": role, "tenant_id": ACME, "granted_at": NOW}
            | {"granted_by": "system", "expires_at": None}
        ],
    }
    with db.engine.begin() as connection:
        tables = typed_tables(connection)
        for name, values in rows.items():
            stamped = [{"created_at": NOW, "updated_at": NOW, **row} for row in values]
            columns = set(tables[name].c.keys())
            connection.execute(
                tables[name].insert(),
                [{k: v for k, v in r.items() if k in columns} for r in stamped],
            )


def test_upgrading_from_0002_keeps_every_membership_and_assignment(db: Database) -> None:
    _acme_at_0002(db)
    with db.engine.connect() as connection:
        before = count_rows(connection)

    upgrade(db)

    with db.engine.connect() as connection:
        after = count_rows(connection)
    assert after["memberships"] == before["memberships"] == 2
    assert after["user_roles"] == before["user_roles"] == 1
    assert _foreign_keys(db) == 1, "the pooled connection has its foreign keys back on"
    with Rolegate(str(db.url), hasher=FAST_HASHER) as rg:
        assert rg.check("alice", "documents:read", tenant="acme")
        assert not rg.check("bob", "documents:read", tenant="acme")


def test_a_migration_leaving_a_dangling_reference_is_rolled_back(
    db: Database, tmp_path: Path
) -> None:
    _acme_at_0002(db)
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "9999_orphans.py").write_text(
        f'revision = "9999"\ndown_revision = "{head_revision()}"\n'
        "branch_labels = depends_on = None\n\n"
        "from alembic import op\n\n"
        'def upgrade() -> None:\n    op.execute("DELETE FROM users")\n\n'
        "def downgrade() -> None:\n    pass\n"
    )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", f"{MIGRATIONS / 'versions'}:{versions}")

    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, head_revision())
        assert _pragma(connection) == 1, "foreign keys are back on for this connection"
        with pytest.raises(MigrationBrokeReferences) as raised:
            command.upgrade(config, "9999")
        assert _pragma(connection) == 1, "and back on after a rolled back upgrade too"

    assert raised.value.code == "migration_broke_references"
    assert raised.value.violations == {"memberships -> users": 2}
    assert current_revision(db) == head_revision()
    with db.engine.connect() as connection:
        assert count_rows(connection)["users"] == 2


def _pragma(connection: Connection) -> int:
    value = int(connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one())
    connection.rollback()  # hand the next migration a connection outside any transaction
    return value


def test_a_connection_already_in_a_transaction_is_refused(db: Database) -> None:
    """Foreign keys cannot be switched off inside a transaction: migrating anyway could
    cascade, so the environment refuses before running anything."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection, pytest.raises(StorageError, match="outside any"):
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert current_revision(db) is None
