"""The decision rule stated plainly, to hold rolegate's engine against.

Written from the specification, not from rolegate's code: plain loops over plain sets, nothing
compiled, nothing cached, no rolegate imports. In tenant T, user U may do permission P iff U is
active, a member of T, and holds an unexpired assignment in T (it stops counting the instant
``now >= expires_at``) to a role that, itself or through the roles it inherits transitively, is
granted P exactly or by a wildcard grant.

:class:`PolicyModel` is what a test believes it stored; the functions below it decide on plain
role maps, so the pure evaluator's unit tests share them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

Expiry = datetime | None
ChainTuple = tuple[tuple[str, ...], str]  # (assigned role, inherited roles..., ), matching grant

_EXACT_NAME = re.compile(r"[a-z0-9_.-]+(?::[a-z0-9_.-]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def is_permission(name: str) -> bool:
    """Whether ``name`` can be checked: ``resource:action`` segments or an UPPER_SNAKE name."""
    return len(name) <= 255 and _EXACT_NAME.fullmatch(name) is not None


def covers(grant: str, permission: str) -> bool:
    """Whether ``grant`` (an exact name or a pattern) covers the exact ``permission``.

    ``*`` alone matches anything; a trailing ``*`` segment matches one or more segments; any
    other ``*`` segment matches exactly one; every other segment matches itself.
    """
    if grant == "*":
        return True
    segments = grant.split(":")
    parts = [re.escape(s) if s != "*" else "[^:]+" for s in segments]
    if segments[-1] == "*":
        parts[-1] = "[^:]+(?::[^:]+)*"
    return re.fullmatch(":".join(parts), permission) is not None


@dataclass
class RoleSpec:
    """A role as stored: what it is granted directly and which roles it inherits directly."""

    grants: set[str] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)


Roles = Mapping[str, RoleSpec]


def role_specs(roles: Mapping[str, tuple[Iterable[str], Iterable[str]]]) -> dict[str, RoleSpec]:
    """Role specs from ``{name: (grants, parents)}``."""
    return {name: RoleSpec(set(grants), set(parents)) for name, (grants, parents) in roles.items()}


def reachable(roles: Roles, start: Iterable[str]) -> set[str]:
    """The roles ``start`` holds, itself and every role inherited, by repeated set union."""
    held = {name for name in start if name in roles}
    while True:
        grown = held | {p for name in held for p in roles[name].parents if p in roles}
        if grown == held:
            return held
        held = grown


def chains(roles: Roles, assigned: Iterable[str], permission: str) -> frozenset[ChainTuple]:
    """Every path from an assigned role up its parents to a direct grant covering ``permission``."""
    found: set[ChainTuple] = set()
    pending: list[tuple[str, ...]] = [(name,) for name in assigned if name in roles]
    while pending:
        path = pending.pop()
        role = roles[path[-1]]
        found.update((path, grant) for grant in role.grants if covers(grant, permission))
        pending.extend(
            (*path, parent) for parent in role.parents if parent in roles and parent not in path
        )
    return frozenset(found)


def is_unexpired(expires_at: Expiry, now: datetime) -> bool:
    """Whether an assignment still counts at ``now``: it stops at the instant it expires."""
    return expires_at is None or now < expires_at


@dataclass(frozen=True)
class Expected:
    """What the reference decides: allowed, the reason code, and every allowing chain."""

    allowed: bool
    reason: str
    chains: frozenset[ChainTuple] = frozenset()


def decide(
    roles: Roles, assignments: Mapping[str, Expiry], permission: str, *, now: datetime
) -> Expected:
    """The decision for an active member holding ``assignments`` (role name to expiry)."""
    if not is_permission(permission):
        return Expected(False, "invalid_permission")
    active = [role for role, expires in assignments.items() if is_unexpired(expires, now)]
    found = chains(roles, active, permission)
    if found:
        return Expected(True, "granted", found)
    expired = [role for role in assignments if role not in active]
    if chains(roles, expired, permission):
        return Expected(False, "assignment_expired")
    return Expected(False, "no_role_grants_it")


def active_roles(assignments: Mapping[str, Expiry], *, now: datetime) -> set[str]:
    """The assigned roles that still count at ``now``."""
    return {role for role, expires in assignments.items() if is_unexpired(expires, now)}


def held_grants(roles: Roles, assignments: Mapping[str, Expiry], *, now: datetime) -> list[str]:
    """Every grant (exact name or pattern) of every role held at ``now``, sorted."""
    held = reachable(roles, active_roles(assignments, now=now))
    return sorted({grant for name in held for grant in roles[name].grants})


# --- what a test believes it stored ---------------------------------------------------------


@dataclass
class TenantModel:
    """One tenant: its roles, the names defined in it, its members and their assignments."""

    roles: dict[str, RoleSpec] = field(default_factory=dict)
    permissions: set[str] = field(default_factory=set)  # defined exact names and patterns
    members: set[str] = field(default_factory=set)
    assignments: dict[str, dict[str, Expiry]] = field(default_factory=dict)  # user -> role -> end

    def assignments_of(self, user: str) -> dict[str, Expiry]:
        """``user``'s assignments here, role to expiry."""
        return self.assignments.get(user, {})


@dataclass
class PolicyModel:
    """Tenants and users as a test stored them, mutated alongside rolegate."""

    tenants: dict[str, TenantModel] = field(default_factory=dict)
    users: dict[str, bool] = field(default_factory=dict)  # username -> is_active

    def explain(self, tenant: str, user: str, permission: str, *, now: datetime) -> Expected:
        """The decision, with the reason codes' precedence: who, then what, then how."""
        refusal = self.refusal(tenant, user)
        if refusal is not None:
            return Expected(False, refusal)
        model = self.tenants[tenant]
        return decide(model.roles, model.assignments_of(user), permission, now=now)

    def refusal(self, tenant: str, user: str) -> str | None:
        """Why ``user`` holds nothing at all in ``tenant``, or None."""
        if tenant not in self.tenants:
            return "unknown_tenant"
        if user not in self.users:
            return "unknown_user"
        if not self.users[user]:
            return "inactive_user"
        if user not in self.tenants[tenant].members:
            return "no_membership"
        return None

    def permissions_of(self, tenant: str, user: str, *, now: datetime) -> list[str]:
        """Every grant ``user`` holds in ``tenant`` at ``now``, sorted; none when refused."""
        if self.refusal(tenant, user) is not None:
            return []
        model = self.tenants[tenant]
        return held_grants(model.roles, model.assignments_of(user), now=now)

    def roles_of(self, tenant: str, user: str, *, now: datetime) -> set[str]:
        """Every role ``user`` holds in ``tenant`` at ``now``, assigned or inherited."""
        if self.refusal(tenant, user) is not None:
            return set()
        model = self.tenants[tenant]
        return reachable(model.roles, active_roles(model.assignments_of(user), now=now))

    def holders(self, tenant: str, permission: str, *, now: datetime) -> dict[str, list[str]]:
        """Who may do ``permission`` in ``tenant``: username to the assigned roles it comes
        through, sorted."""
        model = self.tenants[tenant]
        found: dict[str, list[str]] = {}
        for user in model.members:
            if not self.users.get(user, False) or not is_permission(permission):
                continue
            through = sorted(
                role
                for role in active_roles(model.assignments_of(user), now=now)
                if chains(model.roles, [role], permission)
            )
            if through:
                found[user] = through
        return found

    # --- changes, as the services define them ---------------------------------------------------

    def would_cycle(self, tenant: str, role: str, parent: str) -> bool:
        """Whether ``role`` inheriting ``parent`` would close a cycle."""
        return role in reachable(self.tenants[tenant].roles, [parent])

    def delete_role(self, tenant: str, role: str) -> None:
        """A role goes with its grants, the edges to and from it, and its assignments."""
        model = self.tenants[tenant]
        del model.roles[role]
        for spec in model.roles.values():
            spec.parents.discard(role)
        for held in model.assignments.values():
            held.pop(role, None)

    def delete_permission(self, tenant: str, name: str) -> None:
        """A permission goes with every grant of it."""
        model = self.tenants[tenant]
        model.permissions.discard(name)
        for spec in model.roles.values():
            spec.grants.discard(name)

    def assign(self, tenant: str, user: str, role: str, expires_at: Expiry) -> None:
        """Assigning makes the user a member; assigning again sets the new expiry."""
        model = self.tenants[tenant]
        model.members.add(user)
        model.assignments.setdefault(user, {})[role] = expires_at

    def remove_member(self, tenant: str, user: str) -> None:
        """A membership goes with the roles held through it."""
        model = self.tenants[tenant]
        model.members.discard(user)
        model.assignments.pop(user, None)

    def delete_user(self, user: str) -> None:
        """A user goes with every membership and assignment."""
        del self.users[user]
        for tenant in self.tenants:
            self.remove_member(tenant, user)
