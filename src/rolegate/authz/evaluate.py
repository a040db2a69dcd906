"""Deciding a permission on a compiled :class:`Snapshot`: pure, no I/O, no database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rolegate.authz.decision import Decision, Reason
from rolegate.authz.snapshot import RoleNode, Snapshot
from rolegate.errors import InvalidName
from rolegate.names import grant_covers, parse_permission


def decide(snapshot: Snapshot, permission: str, *, now: datetime) -> Decision:
    """Decide whether the snapshot's user may do ``permission`` in its tenant at ``now``."""
    refusal = _refusal(snapshot)
    if refusal is not None:
        return Decision.deny(refusal)
    try:
        parse_permission(permission)
    except InvalidName:
        return Decision.deny(Reason.INVALID_PERMISSION)
    active = [a.role for a in snapshot.assignments if a.is_active(now)]
    if _any_role_grants(snapshot, active, permission):
        return Decision.allow()
    expired = [a.role for a in snapshot.assignments if not a.is_active(now)]
    if _any_role_grants(snapshot, expired, permission):
        return Decision.deny(Reason.ASSIGNMENT_EXPIRED)
    return Decision.deny(Reason.NO_ROLE_GRANTS_IT)


def _refusal(snapshot: Snapshot) -> Reason | None:
    if not snapshot.tenant_exists:
        return Reason.UNKNOWN_TENANT
    if not snapshot.user_exists:
        return Reason.UNKNOWN_USER
    if not snapshot.is_active:
        return Reason.INACTIVE_USER
    if not snapshot.is_member:
        return Reason.NO_MEMBERSHIP
    return None


def _any_role_grants(snapshot: Snapshot, roles: Iterable[str], permission: str) -> bool:
    return any(_role_grants(node, permission) for node in reachable_roles(snapshot, roles))


def _role_grants(node: RoleNode, permission: str) -> bool:
    return permission in node.grants or any(grant_covers(g, permission) for g in node.grants)


def reachable_roles(snapshot: Snapshot, start: Iterable[str]) -> list[RoleNode]:
    """The roles in ``start`` and every role they inherit, transitively, each once."""
    seen: dict[str, RoleNode] = {}
    pending = list(start)
    while pending:
        name = pending.pop()
        node = snapshot.roles.get(name)
        if node is None or name in seen:
            continue
        seen[name] = node
        pending.extend(node.inherits)
    return list(seen.values())
