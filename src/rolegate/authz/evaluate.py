"""Deciding on a compiled :class:`Snapshot` with reasons and chains: pure functions, no I/O,
no database. The check itself, which answers with a bool, is :mod:`rolegate.authz.check`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from rolegate.authz.decision import Chain, Decision, Reason
from rolegate.authz.snapshot import (
    NEVER,
    AssignmentNode,
    Snapshot,
    TenantPolicy,
    is_permission_name,
)


def decide(snapshot: Snapshot, permission: str, *, now: float) -> Decision:
    """The full decision for ``permission`` at ``now``, with every chain that allows it."""
    revision = snapshot.revision
    if snapshot.denial is not None:
        return Decision.deny(snapshot.denial, revision=revision)
    if not is_permission_name(permission):
        return Decision.deny(Reason.INVALID_PERMISSION, revision=revision)
    active = [a for a in snapshot.assignments if a.is_active(now)]
    found = tuple(chains(snapshot, permission, active))
    if found:
        return Decision.allow(found, revision=revision)
    expired = [a for a in snapshot.assignments if not a.is_active(now)]
    if any(True for _ in chains(snapshot, permission, expired)):
        return Decision.deny(Reason.ASSIGNMENT_EXPIRED, revision=revision)
    return Decision.deny(Reason.NO_ROLE_GRANTS_IT, revision=revision)


def chains(
    snapshot: Snapshot, permission: str, assignments: list[AssignmentNode]
) -> Iterator[Chain]:
    """Every path from an assignment through inherited roles to a grant covering ``permission``."""
    policy = snapshot.policy
    if policy is None:
        return
    for assignment in assignments:
        yield from _paths(policy, (assignment.role,), permission)


def _paths(policy: TenantPolicy, path: tuple[str, ...], permission: str) -> Iterator[Chain]:
    node = policy.roles.get(path[-1])
    if node is None or not node.closure.covers(permission):
        return  # nothing below this role holds it: prune the walk
    for grant in node.grants.matching(permission):
        yield Chain(path, grant)
    for parent in node.inherits:
        if parent not in path:  # the graph is acyclic when stored; guard anyway
            yield from _paths(policy, (*path, parent), permission)


@dataclass(frozen=True, slots=True)
class HeldRole:
    """A role a user holds: assigned directly, or inherited through ``via`` (the assigned role
    first), with the expiry of the assignment it comes through."""

    name: str
    via: tuple[str, ...]
    expires_at: datetime | None

    @property
    def is_direct(self) -> bool:
        """Whether the role is assigned to the user rather than inherited."""
        return not self.via


def held_roles(snapshot: Snapshot, *, now: float) -> list[HeldRole]:
    """Every role the user holds at ``now``, directly or inherited, each once (shortest path)."""
    policy = snapshot.policy
    if snapshot.denial is not None or policy is None:
        return []
    held: dict[str, HeldRole] = {}
    pending: list[tuple[str, tuple[str, ...], float]] = [
        (a.role, (), a.expires_at) for a in snapshot.assignments if a.is_active(now)
    ]
    while pending:
        name, via, expires = pending.pop(0)
        node = policy.roles.get(name)
        if node is None or (name in held and len(held[name].via) <= len(via)):
            continue
        held[name] = HeldRole(
            name, via, None if expires == NEVER else datetime.fromtimestamp(expires, UTC)
        )
        pending.extend((parent, (*via, name), expires) for parent in node.inherits)
    return sorted(held.values(), key=lambda role: (len(role.via), role.name))


def effective_permissions(snapshot: Snapshot, *, now: float) -> tuple[str, ...]:
    """Every permission and pattern the user holds at ``now``, sorted."""
    if snapshot.denial is not None:
        return ()
    return tuple(sorted(snapshot.at(now).grants.names))
