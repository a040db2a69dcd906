"""the built-in rolegate:metrics:read permission, granted to the platform tenant-admin role

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:00:00

``/metrics`` needs a bearer token whose principal holds ``rolegate:metrics:read`` in the
platform tenant (or a listener of its own). The platform tenant gets the permission, under its
own ``rolegate:metrics`` resource, and its ``tenant-admin`` role is granted it, as 0004 did for
the other built-ins. A migration is frozen in time, so the names are written out here.

Idempotent on any database: a resource, permission or grant already there is reused, and a
database without the platform tenant or its ``tenant-admin`` role (which 0004 made) gets only
what it can hold. The policy revision is bumped, with a tenant change, so running servers
recompile the platform tenant.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PLATFORM_ID = uuid.UUID("00000000-0000-0000-0000-000000000002")
TENANT_ADMIN = "tenant-admin"
SYSTEM = "system"
RESOURCE = "rolegate:metrics"
ACTION = "read"
PERMISSION = f"{RESOURCE}:{ACTION}"
DESCRIPTION = "Read the service's Prometheus metrics at /metrics"

_TIME = sa.DateTime(timezone=True)
tenants = sa.table("tenants", sa.column("id", sa.Uuid()))
resources = sa.table(
    "resources",
    sa.column("id", sa.Uuid()),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("description", sa.String()),
)
permissions = sa.table(
    "permissions",
    sa.column("id", sa.Uuid()),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("resource_id", sa.Uuid()),
    sa.column("action", sa.String()),
    sa.column("description", sa.String()),
    sa.column("audited", sa.Boolean()),
    sa.column("created_at", _TIME),
    sa.column("updated_at", _TIME),
)
roles = sa.table(
    "roles", sa.column("id", sa.Uuid()), sa.column("tenant_id", sa.Uuid()), sa.column("name")
)
grants = sa.table(
    "role_permissions",
    sa.column("id", sa.Uuid()),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("role_id", sa.Uuid()),
    sa.column("permission_id", sa.Uuid()),
    sa.column("granted_at", _TIME),
    sa.column("granted_by", sa.String()),
)
policy_state = sa.table("policy_state", sa.column("id", sa.Integer()), sa.column("revision"))
policy_changes = sa.table(
    "policy_changes",
    sa.column("revision", sa.BigInteger()),
    sa.column("scope", sa.String()),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("subject_id", sa.Uuid()),
)


def upgrade() -> None:
    connection = op.get_bind()
    platform = connection.execute(sa.select(tenants.c.id).where(tenants.c.id == PLATFORM_ID))
    if platform.scalar() is None:
        return  # no platform tenant to hold it; nothing else may
    now = datetime.now(UTC)
    permission_id = _permission(connection, now)
    admin = connection.execute(
        sa.select(roles.c.id).where(roles.c.tenant_id == PLATFORM_ID, roles.c.name == TENANT_ADMIN)
    ).scalar()
    if admin is not None and not _granted(connection, admin, permission_id):
        connection.execute(
            grants.insert().values(
                id=uuid.uuid4(),
                tenant_id=PLATFORM_ID,
                role_id=admin,
                permission_id=permission_id,
                granted_at=now,
                granted_by=SYSTEM,
            )
        )
    _bump(connection)


def _permission(connection: sa.Connection, now: datetime) -> uuid.UUID:
    """The platform's ``rolegate:metrics:read``, made (with its resource) unless it exists."""
    found = connection.execute(
        sa.select(permissions.c.id).where(
            permissions.c.tenant_id == PLATFORM_ID, permissions.c.name == PERMISSION
        )
    ).scalar()
    if isinstance(found, uuid.UUID):
        return found
    resource_id = connection.execute(
        sa.select(resources.c.id).where(
            resources.c.tenant_id == PLATFORM_ID, resources.c.name == RESOURCE
        )
    ).scalar()
    if resource_id is None:
        resource_id = uuid.uuid4()
        connection.execute(
            resources.insert().values(
                id=resource_id, tenant_id=PLATFORM_ID, name=RESOURCE, description=""
            )
        )
    permission_id = uuid.uuid4()
    connection.execute(
        permissions.insert().values(
            id=permission_id,
            tenant_id=PLATFORM_ID,
            name=PERMISSION,
            resource_id=resource_id,
            action=ACTION,
            description=DESCRIPTION,
            audited=False,
            created_at=now,
            updated_at=now,
        )
    )
    return permission_id


def _granted(connection: sa.Connection, role_id: uuid.UUID, permission_id: uuid.UUID) -> bool:
    found = connection.execute(
        sa.select(grants.c.id).where(
            grants.c.role_id == role_id, grants.c.permission_id == permission_id
        )
    ).first()
    return found is not None


def _bump(connection: sa.Connection) -> None:
    """Take the next policy revision and record the platform tenant as changed in it."""
    connection.execute(
        policy_state.update()
        .where(policy_state.c.id == 1)
        .values(revision=policy_state.c.revision + 1)
    )
    revision_now = connection.execute(
        sa.select(policy_state.c.revision).where(policy_state.c.id == 1)
    ).scalar()
    if revision_now is not None:  # a database whose state row is missing has nobody to tell
        connection.execute(
            policy_changes.insert().values(
                revision=revision_now, scope="tenant", tenant_id=PLATFORM_ID, subject_id=None
            )
        )


def downgrade() -> None:
    connection = op.get_bind()
    held = sa.select(permissions.c.id).where(
        permissions.c.tenant_id == PLATFORM_ID, permissions.c.name == PERMISSION
    )
    connection.execute(grants.delete().where(grants.c.permission_id.in_(held)))
    connection.execute(
        permissions.delete().where(
            permissions.c.tenant_id == PLATFORM_ID, permissions.c.name == PERMISSION
        )
    )
    still_used = sa.select(permissions.c.id).where(permissions.c.resource_id == resources.c.id)
    connection.execute(
        resources.delete().where(
            resources.c.tenant_id == PLATFORM_ID,
            resources.c.name == RESOURCE,
            ~sa.exists(still_used),
        )
    )
    platform = connection.execute(sa.select(tenants.c.id).where(tenants.c.id == PLATFORM_ID))
    if platform.scalar() is not None:
        _bump(connection)
