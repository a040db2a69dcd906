"""The ORM records, one module per aggregate; importing this registers them all on ``Base``."""

from rolegate.db.models.audit import AuditAnchorRecord, AuditChainRecord, AuditEventRecord
from rolegate.db.models.keys import ACCESS_TOKEN_KEY, AUDIT_SEAL_KEY, SigningKeyRecord
from rolegate.db.models.permissions import PermissionRecord, ResourceRecord
from rolegate.db.models.policy import PolicyChangeRecord, PolicyStateRecord
from rolegate.db.models.roles import (
    RoleInheritanceRecord,
    RolePermissionRecord,
    RoleRecord,
    UserRoleRecord,
)
from rolegate.db.models.sessions import (
    LoginAttemptRecord,
    LoginThrottleRecord,
    RefreshTokenRecord,
    SessionRecord,
)
from rolegate.db.models.tenants import (
    InvitationRecord,
    MembershipRecord,
    TenantRecord,
)
from rolegate.db.models.users import UserRecord

__all__ = [
    "ACCESS_TOKEN_KEY",
    "AUDIT_SEAL_KEY",
    "AuditAnchorRecord",
    "AuditChainRecord",
    "AuditEventRecord",
    "InvitationRecord",
    "LoginAttemptRecord",
    "LoginThrottleRecord",
    "MembershipRecord",
    "PermissionRecord",
    "PolicyChangeRecord",
    "PolicyStateRecord",
    "RefreshTokenRecord",
    "ResourceRecord",
    "RoleInheritanceRecord",
    "RolePermissionRecord",
    "RoleRecord",
    "SessionRecord",
    "SigningKeyRecord",
    "TenantRecord",
    "UserRecord",
    "UserRoleRecord",
]
