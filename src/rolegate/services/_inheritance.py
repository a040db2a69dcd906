"""The rules an inheritance edge must keep before it is stored: no cycle, and a bounded depth.

A tenant's inheritance graph is read whole (two UUID columns per edge), which is cheap next to
compiling the policy that every change triggers anyway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.db.models import RoleInheritanceRecord, RoleRecord, TenantRecord
from rolegate.errors import InheritanceCycle, InvalidInput
from rolegate.limits import MAX_INHERITANCE_DEPTH

Adjacency = Mapping[UUID, Sequence[UUID]]


def refuse_bad_edge(
    tx: Session, tenant: TenantRecord, role: RoleRecord, parent: RoleRecord
) -> None:
    """:class:`InheritanceCycle` if ``role`` inheriting ``parent`` would close a cycle, and
    :class:`InvalidInput` if it would make a chain longer than :data:`MAX_INHERITANCE_DEPTH`."""
    parents: defaultdict[UUID, list[UUID]] = defaultdict(list)
    children: defaultdict[UUID, list[UUID]] = defaultdict(list)
    edges = select(RoleInheritanceRecord.role_id, RoleInheritanceRecord.inherited_role_id).where(
        RoleInheritanceRecord.tenant_id == tenant.id
    )
    for child, inherited in tx.execute(edges):
        parents[child].append(inherited)
        children[inherited].append(child)
    cycle = _path(parents, start=parent.id, goal=role.id)
    if cycle is not None:
        raise InheritanceCycle([role.name, *_names(tx, cycle)], tenant=tenant.slug)
    depth = _longest(children, role.id) + 1 + _longest(parents, parent.id)
    if depth > MAX_INHERITANCE_DEPTH:
        raise InvalidInput(
            f"{role.name!r} inheriting {parent.name!r} would make a chain of {depth} inheritance "
            f"levels; at most {MAX_INHERITANCE_DEPTH} are allowed"
        )


def _path(parents: Adjacency, *, start: UUID, goal: UUID) -> list[UUID] | None:
    """Role ids along an inheritance path from ``start`` to ``goal``, or None if there is none."""
    came_from: dict[UUID, UUID | None] = {start: None}
    pending = [start]
    while pending:
        current = pending.pop()
        if current == goal:
            return _walk_back(came_from, goal)
        for parent in parents.get(current, ()):
            if parent not in came_from:
                came_from[parent] = current
                pending.append(parent)
    return None


def _walk_back(came_from: dict[UUID, UUID | None], goal: UUID) -> list[UUID]:
    path: list[UUID] = []
    node: UUID | None = goal
    while node is not None:
        path.append(node)
        node = came_from[node]
    return path[::-1]


def _longest(adjacency: Adjacency, start: UUID) -> int:
    """Edges on the longest path from ``start`` along ``adjacency`` (an acyclic graph).

    Iterative, so a hierarchy stored before the limit existed cannot exhaust the stack; a node
    is entered once, so even a corrupt cyclic graph ends.
    """
    memo: dict[UUID, int] = {}
    entered: set[UUID] = set()
    stack: list[tuple[UUID, bool]] = [(start, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            memo[node] = max((memo.get(n, 0) + 1 for n in adjacency.get(node, ())), default=0)
        elif node not in entered:
            entered.add(node)
            stack.append((node, True))
            stack.extend((n, False) for n in adjacency.get(node, ()) if n not in memo)
    return memo[start]


def _names(tx: Session, ids: list[UUID]) -> list[str]:
    names = dict(
        tx.execute(select(RoleRecord.id, RoleRecord.name).where(RoleRecord.id.in_(ids))).all()
    )
    return [names[i] for i in ids]
