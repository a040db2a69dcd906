"""What rolegate needs in every database to protect itself with itself: the two built-in tenants,
the built-in ``rolegate:`` permissions and the ``tenant-admin`` role that holds them all.

The HTTP API guards each route with one of these permissions, checked by the same engine as any
application permission. The ``rolegate:`` prefix is reserved: nobody defines, changes or deletes
a permission or resource under it by hand, and ``tenant-admin`` keeps exactly the built-in
grants. Holding a built-in permission in the platform tenant means holding it in every tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Final

from rolegate.errors import BuiltinProtected
from rolegate.names import SEPARATOR

#: The tenant every database has, so single-tenant applications can ignore tenancy.
DEFAULT_TENANT_SLUG: Final = "default"
DEFAULT_TENANT_ID: Final = uuid.UUID("00000000-0000-0000-0000-000000000001")
#: The tenant that holds the platform admins, who manage tenants and may act in any tenant.
PLATFORM_TENANT_SLUG: Final = "platform"
PLATFORM_TENANT_ID: Final = uuid.UUID("00000000-0000-0000-0000-000000000002")

RESERVED_PREFIX: Final = "rolegate"
TENANT_ADMIN: Final = "tenant-admin"

USERS_READ: Final = "rolegate:users:read"
USERS_WRITE: Final = "rolegate:users:write"
ROLES_READ: Final = "rolegate:roles:read"
ROLES_WRITE: Final = "rolegate:roles:write"
ROLES_ASSIGN: Final = "rolegate:roles:assign"
ROLES_ESCALATE: Final = "rolegate:roles:escalate"
PERMISSIONS_READ: Final = "rolegate:permissions:read"
PERMISSIONS_WRITE: Final = "rolegate:permissions:write"
SESSIONS_READ: Final = "rolegate:sessions:read"
SESSIONS_REVOKE: Final = "rolegate:sessions:revoke"
AUDIT_READ: Final = "rolegate:audit:read"
CHECK: Final = "rolegate:check"
TENANTS_READ: Final = "rolegate:tenants:read"
TENANTS_WRITE: Final = "rolegate:tenants:write"
METRICS_READ: Final = "rolegate:metrics:read"

#: The built-in permissions of every tenant, with what each lets its holder do.
TENANT_PERMISSIONS: Final[Mapping[str, str]] = {
    USERS_READ: "See the tenant's members, their accounts and memberships",
    USERS_WRITE: "Create, change and remove members and their accounts",
    ROLES_READ: "See roles, their grants, inheritance and assignments",
    ROLES_WRITE: "Create, change and delete roles, their grants and inheritance",
    ROLES_ASSIGN: "Assign roles to members and take them away",
    ROLES_ESCALATE: "Grant or assign permissions one does not hold oneself",
    PERMISSIONS_READ: "See resources and permissions",
    PERMISSIONS_WRITE: "Define, describe and delete resources and permissions",
    SESSIONS_READ: "See members' sessions and login history",
    SESSIONS_REVOKE: "End members' sessions and unlock locked accounts",
    AUDIT_READ: "Read the tenant's audit trail",
    CHECK: "Ask the check API what any member may do",
}

#: Built-in permissions only the platform tenant has: managing tenants themselves, and reading
#: the service's own metrics (migration 0007 added it to existing databases).
PLATFORM_PERMISSIONS: Final[Mapping[str, str]] = {
    TENANTS_READ: "See every tenant",
    TENANTS_WRITE: "Create, rename and delete tenants",
    METRICS_READ: "Read the service's Prometheus metrics at /metrics",
}


def builtin_permissions(tenant_id: object) -> Mapping[str, str]:
    """The built-in permissions of the tenant with this id."""
    if tenant_id == PLATFORM_TENANT_ID:
        return {**TENANT_PERMISSIONS, **PLATFORM_PERMISSIONS}
    return TENANT_PERMISSIONS


def is_reserved(name: str) -> bool:
    """Whether a permission, pattern or resource name lies under the reserved prefix."""
    return name == RESERVED_PREFIX or name.startswith(RESERVED_PREFIX + SEPARATOR)


def refuse_reserved(name: str) -> None:
    """:class:`BuiltinProtected` for a name under the reserved ``rolegate:`` prefix."""
    if is_reserved(name):
        raise BuiltinProtected(f"{name!r}: names under 'rolegate:' are reserved for built-ins")


def refuse_tenant_admin(role: str) -> None:
    """:class:`BuiltinProtected` when the role named ``role`` is the built-in ``tenant-admin``."""
    if role == TENANT_ADMIN:
        raise BuiltinProtected(f"the built-in role {TENANT_ADMIN!r} cannot be changed")
