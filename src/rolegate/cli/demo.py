"""``rolegate demo``: a small policy in tenant ``demo``, then sample checks and their reasons.

Safe to run again and again: each step creates only what is missing and never changes what
exists, so it neither duplicates the demo nor undoes what someone changed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import typer

from rolegate.cli._common import open_rolegate
from rolegate.cli._output import print_table, say
from rolegate.cli.assignments import print_assignments
from rolegate.cli.roles import print_roles
from rolegate.errors import UserNotFound
from rolegate.facade import Rolegate

DEMO_TENANT: Final = "demo"

PERMISSIONS: Final = {
    "documents:read": "Read documents",
    "documents:write": "Create and edit documents",
    "documents:delete": "Delete documents",
    "reports:read": "Read reports",
    "reports:export": "Export reports",
}


@dataclass(frozen=True, slots=True)
class DemoRole:
    """A role the demo creates, with its grants and parents."""

    name: str
    description: str
    grants: tuple[str, ...]
    inherits: tuple[str, ...] = ()


ROLES: Final = (  # parents before the roles that inherit them
    DemoRole("viewer", "Reads documents", ("documents:read",)),
    DemoRole(
        "editor", "Writes documents, and reads them as a viewer", ("documents:write",), ("viewer",)
    ),
    DemoRole("analyst", "Everything on reports, through a wildcard", ("reports:*",), ("viewer",)),
)


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A user the demo creates with one role in the demo tenant."""

    username: str
    full_name: str
    role: str
    valid_for: timedelta | None = None  # None: a permanent assignment
    is_active: bool = True


USERS: Final = (
    DemoUser("alice", "Alice Example", "editor"),
    DemoUser("bob", "Bob Example", "analyst", valid_for=timedelta(days=7)),
    DemoUser("carol", "Carol Example", "viewer", is_active=False),
)

CHECKS: Final = (  # (user, permission), chosen to show every kind of answer
    ("alice", "documents:write"),
    ("alice", "documents:read"),
    ("alice", "documents:delete"),
    ("bob", "reports:export"),
    ("bob", "documents:write"),
    ("carol", "documents:read"),
    ("mallory", "documents:read"),
    ("alice", "not a permission"),
)


def demo(ctx: typer.Context) -> None:
    """Set up a demo tenant (idempotently) and print its policy and sample checks."""
    with open_rolegate(ctx) as rg:
        created = _ensure_tenant(rg) + _ensure_permissions(rg) + _ensure_roles(rg)
        created += _ensure_users(rg) + _ensure_assignments(rg)
        _print_demo(rg)
    say(
        f"created {created} objects in tenant {DEMO_TENANT!r}"
        if created
        else f"tenant {DEMO_TENANT!r} was already set up; nothing created"
    )
    say(f"try: rolegate check {DEMO_TENANT} alice documents:write --explain")


def _ensure_tenant(rg: Rolegate) -> int:
    if any(t.slug == DEMO_TENANT for t in rg.tenants.list()):
        return 0
    rg.tenants.create(DEMO_TENANT, name="Demo Inc.")
    return 1


def _ensure_permissions(rg: Rolegate) -> int:
    existing = {p.name for p in rg.permissions.list(DEMO_TENANT)}
    missing = [name for name in PERMISSIONS if name not in existing]
    for name in missing:
        rg.permissions.create(DEMO_TENANT, name, description=PERMISSIONS[name])
    return len(missing)


def _ensure_roles(rg: Rolegate) -> int:
    existing = {r.name for r in rg.roles.list(DEMO_TENANT)}
    missing = [role for role in ROLES if role.name not in existing]
    for role in missing:
        rg.roles.create(
            DEMO_TENANT,
            role.name,
            description=role.description,
            permissions=role.grants,
            inherits=role.inherits,
        )
    return len(missing)


def _ensure_users(rg: Rolegate) -> int:
    missing = [user for user in USERS if not _user_exists(rg, user.username)]
    for user in missing:
        # Only a user created here is deactivated: the demo never changes an existing account.
        rg.users.create(user.username, full_name=user.full_name, is_active=user.is_active)
    return len(missing)


def _user_exists(rg: Rolegate, username: str) -> bool:
    try:
        rg.users.get(username)  # the service's lookup: case-insensitive, as usernames are
    except UserNotFound:
        return False
    return True


def _ensure_assignments(rg: Rolegate) -> int:
    now = datetime.now(UTC)
    created = 0
    for user in USERS:
        held = rg.assignments.list(DEMO_TENANT, user=user.username, role=user.role)
        if any(not a.is_expired(now) for a in held):
            continue
        expires_at = now + user.valid_for if user.valid_for is not None else None
        rg.assignments.assign(DEMO_TENANT, user.username, user.role, expires_at=expires_at)
        created += 1
    return created


def _print_demo(rg: Rolegate) -> None:
    print_roles(f"Roles in tenant {DEMO_TENANT}", rg.roles.list(DEMO_TENANT))
    print_assignments(f"Assignments in tenant {DEMO_TENANT}", rg.assignments.list(DEMO_TENANT))
    rows = []
    for user, permission in CHECKS:
        decision = rg.explain(user, permission, tenant=DEMO_TENANT)
        rows.append([user, permission, "allowed" if decision else "denied", str(decision.reason)])
    print_table("Sample checks", ["user", "permission", "decision", "reason"], rows)
