"""rolegate: role-based access control for Python, as a library and as a service.

::

    from rolegate import Rolegate
    rg = Rolegate("sqlite:///app.db")
    rg.check("alice", "documents:read", tenant="acme")
"""

from rolegate.authn.passwords import Argon2Hasher, PasswordHasher
from rolegate.authz.cache import CacheStats
from rolegate.authz.decision import Chain, Decision, Reason
from rolegate.authz.evaluate import HeldRole
from rolegate.authz.holders import Holder, HolderPage
from rolegate.config import Settings
from rolegate.entities import Assignment, Membership, Permission, Resource, Role, Tenant, User
from rolegate.errors import (
    AlreadyExists,
    AssignmentNotFound,
    ConcurrentChange,
    Conflict,
    GrantExists,
    GrantNotFound,
    InheritanceCycle,
    InheritanceExists,
    InheritanceNotFound,
    InvalidExpiry,
    InvalidInput,
    InvalidName,
    InvalidPassword,
    MembershipExists,
    MembershipNotFound,
    NotFound,
    PermissionExists,
    PermissionNotFound,
    ResourceExists,
    ResourceNotFound,
    RoleExists,
    RolegateError,
    RoleNotFound,
    SchemaNotCurrent,
    StorageError,
    TenantExists,
    TenantNotFound,
    TenantProtected,
    UserExists,
    UserNotFound,
)
from rolegate.facade import Rolegate
from rolegate.types import PermissionId, ResourceId, RoleId, TenantId, UserId

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Argon2Hasher",
    "Assignment",
    "AssignmentNotFound",
    "CacheStats",
    "Chain",
    "ConcurrentChange",
    "Conflict",
    "Decision",
    "GrantExists",
    "GrantNotFound",
    "HeldRole",
    "Holder",
    "HolderPage",
    "InheritanceCycle",
    "InheritanceExists",
    "InheritanceNotFound",
    "InvalidExpiry",
    "InvalidInput",
    "InvalidName",
    "InvalidPassword",
    "Membership",
    "MembershipExists",
    "MembershipNotFound",
    "NotFound",
    "PasswordHasher",
    "Permission",
    "PermissionExists",
    "PermissionId",
    "PermissionNotFound",
    "Reason",
    "Resource",
    "ResourceExists",
    "ResourceId",
    "ResourceNotFound",
    "Role",
    "RoleExists",
    "RoleId",
    "RoleNotFound",
    "Rolegate",
    "RolegateError",
    "SchemaNotCurrent",
    "Settings",
    "StorageError",
    "Tenant",
    "TenantExists",
    "TenantId",
    "TenantNotFound",
    "TenantProtected",
    "User",
    "UserExists",
    "UserId",
    "UserNotFound",
]
