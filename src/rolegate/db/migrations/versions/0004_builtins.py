"""built-in rolegate permissions, the tenant-admin role, the platform tenant

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 16:00:00

Every tenant gets the ``rolegate:`` permissions and a ``tenant-admin`` role granted them all; the
platform tenant, which holds the platform admins, is created. A migration is frozen in time, so
the names are written out here rather than imported from the code that provisions new tenants.

Names already in use are never adopted with new powers: a tenant called ``platform`` and roles
called ``tenant-admin`` are renamed (suffixed with their id) before the built-ins are made.
Existing permissions called like a built-in are reused, as they mean the same thing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PLATFORM_ID = uuid.UUID("00000000-0000-0000-0000-000000000002")
TENANT_ADMIN = "tenant-admin"
SYSTEM = "system"

TENANT_PERMISSIONS = {
    "rolegate:users:read": "See the tenant's members, their accounts and memberships",
    "rolegate:users:write": "Create, change and remove members and their accounts",
    "rolegate:roles:read": "See roles, their grants, inheritance and assignments",
    "rolegate:roles:write": "Create, change and delete roles, their grants and inheritance",
    "rolegate:roles:assign": "Assign roles to members and take them away",
    "rolegate:roles:escalate": "Grant or assign permissions one does not hold oneself",
    "rolegate:permissions:read": "See resources and permissions",
    "rolegate:permissions:write": "Define, describe and delete resources and permissions",
    "rolegate:sessions:read": "See members' sessions and login history",
    "rolegate:sessions:revoke": "End members' sessions and unlock locked accounts",
    "rolegate:audit:read": "Read the tenant's audit trail",
    "rolegate:check": "Ask the check API what any member may do",
}
PLATFORM_PERMISSIONS = {
    "rolegate:tenants:read": "See every tenant",
    "rolegate:tenants:write": "Create, rename and delete tenants",
}

_TIME = sa.DateTime(timezone=True)
tenants = sa.table(
    "tenants",
    sa.column("id", sa.Uuid()),
    sa.column("slug", sa.String()),
    sa.column("name", sa.String()),
    sa.column("created_at", _TIME),
    sa.column("updated_at", _TIME),
)
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
    sa.column("created_at", _TIME),
    sa.column("updated_at", _TIME),
)
roles = sa.table(
    "roles",
    sa.column("id", sa.Uuid()),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("description", sa.String()),
    sa.column("created_at", _TIME),
    sa.column("updated_at", _TIME),
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


def upgrade() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    squatter = connection.execute(
        sa.select(tenants.c.id).where(tenants.c.slug == "platform", tenants.c.id != PLATFORM_ID)
    ).scalar()
    if squatter is not None:
        connection.execute(
            tenants.update()
            .where(tenants.c.id == squatter)
            .values(slug=f"platform-{squatter.hex[:8]}", updated_at=now)
        )
    connection.execute(
        tenants.insert().values(
            id=PLATFORM_ID, slug="platform", name="Platform", created_at=now, updated_at=now
        )
    )
    squatting_roles = sa.select(roles.c.id).where(roles.c.name == TENANT_ADMIN)
    for role_id in connection.execute(squatting_roles).scalars().all():  # read before renaming
        connection.execute(
            roles.update()
            .where(roles.c.id == role_id)
            .values(name=f"{TENANT_ADMIN}-{role_id.hex[:8]}", updated_at=now)
        )
    for tenant_id in connection.execute(sa.select(tenants.c.id)).scalars().all():
        wanted = dict(TENANT_PERMISSIONS)
        if tenant_id == PLATFORM_ID:
            wanted.update(PLATFORM_PERMISSIONS)
        _provision(connection, tenant_id, wanted, now)
    connection.execute(
        policy_state.update()
        .where(policy_state.c.id == 1)
        .values(revision=policy_state.c.revision + 1)
    )


def _provision(
    connection: sa.Connection, tenant_id: uuid.UUID, wanted: dict[str, str], now: datetime
) -> None:
    role_id = uuid.uuid4()
    connection.execute(
        roles.insert().values(
            id=role_id,
            tenant_id=tenant_id,
            name=TENANT_ADMIN,
            description="Built in: every rolegate permission in this tenant",
            created_at=now,
            updated_at=now,
        )
    )
    for name, description in wanted.items():
        resource_name, action = name.rsplit(":", 1)
        permission_id = connection.execute(
            sa.select(permissions.c.id).where(
                permissions.c.tenant_id == tenant_id, permissions.c.name == name
            )
        ).scalar()
        if permission_id is None:
            permission_id = uuid.uuid4()
            connection.execute(
                permissions.insert().values(
                    id=permission_id,
                    tenant_id=tenant_id,
                    name=name,
                    resource_id=_resource(connection, tenant_id, resource_name),
                    action=action,
                    description=description,
                    created_at=now,
                    updated_at=now,
                )
            )
        connection.execute(
            grants.insert().values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                role_id=role_id,
                permission_id=permission_id,
                granted_at=now,
                granted_by=SYSTEM,
            )
        )


def _resource(connection: sa.Connection, tenant_id: uuid.UUID, name: str) -> uuid.UUID:
    found = connection.execute(
        sa.select(resources.c.id).where(
            resources.c.tenant_id == tenant_id, resources.c.name == name
        )
    ).scalar()
    if isinstance(found, uuid.UUID):
        return found
    resource_id = uuid.uuid4()
    connection.execute(
        resources.insert().values(id=resource_id, tenant_id=tenant_id, name=name, description="")
    )
    return resource_id


def downgrade() -> None:
    connection = op.get_bind()
    builtin = [*TENANT_PERMISSIONS, *PLATFORM_PERMISSIONS]
    admin_roles = sa.select(roles.c.id).where(roles.c.name == TENANT_ADMIN)
    connection.execute(grants.delete().where(grants.c.role_id.in_(admin_roles)))
    connection.execute(roles.delete().where(roles.c.name == TENANT_ADMIN))
    builtin_ids = sa.select(permissions.c.id).where(permissions.c.name.in_(builtin))
    connection.execute(grants.delete().where(grants.c.permission_id.in_(builtin_ids)))
    connection.execute(permissions.delete().where(permissions.c.name.in_(builtin)))
    reserved = sa.or_(resources.c.name == "rolegate", resources.c.name.like("rolegate:%"))
    connection.execute(resources.delete().where(reserved))  # "rolegate" holds rolegate:check
    connection.execute(tenants.delete().where(tenants.c.id == PLATFORM_ID))
