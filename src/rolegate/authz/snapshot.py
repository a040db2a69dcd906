"""Frozen structures holding everything a decision needs: pure data, no I/O.

A tenant's roles compile once into a :class:`TenantPolicy` whose :class:`Grants` are shared by
every holder; a (user, tenant) compiles into a small :class:`Snapshot` pointing at them. None
of these objects refer back to their owners, so they form no reference cycles and the cyclic
garbage collector never has to untangle them. The one mutable part is a snapshot's
:class:`Recency` mark, which the cache's eviction reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from uuid import UUID

from rolegate.authz.decision import Reason
from rolegate.errors import InvalidName
from rolegate.names import grant_covers, parse_permission

NEVER = math.inf  # a ``valid_until`` that never comes
MAX_MATCHED = 4096  # pattern answers remembered per Grants object


@lru_cache(maxsize=65_536)
def is_permission_name(name: str) -> bool:
    """Whether ``name`` is a well-formed exact permission (memoised: checks repeat names)."""
    try:
        parse_permission(name)
    except InvalidName:
        return False
    return True


@dataclass(frozen=True, slots=True, eq=False)
class Grants:
    """A compiled set of grants: exact names answer by set membership, patterns by matching."""

    exact: frozenset[str]
    patterns: tuple[str, ...] = ()
    # Pattern answers by permission. A Grants object is shared by every holder of the same
    # roles and never changes, so each answer is computed once; the bound keeps a flood of
    # distinct names from growing it without limit.
    _matched: dict[str, bool] = field(default_factory=dict, repr=False)

    def covers(self, permission: str) -> bool:
        """Whether these grants allow ``permission`` (an invalid name is never covered)."""
        if permission in self.exact:
            return True
        return bool(self.patterns) and self.pattern_covers(permission)

    def pattern_covers(self, permission: str) -> bool:
        """Whether one of the patterns covers ``permission``."""
        known = self._matched.get(permission)
        if known is not None:
            return known
        found = is_permission_name(permission) and any(
            grant_covers(pattern, permission) for pattern in self.patterns
        )
        if len(self._matched) < MAX_MATCHED:
            self._matched[permission] = found
        return found

    def matching(self, permission: str) -> list[str]:
        """The grants (exact name or patterns) that cover ``permission``."""
        if not is_permission_name(permission):
            return []
        exact = [permission] if permission in self.exact else []
        return exact + [p for p in self.patterns if grant_covers(p, permission)]

    @property
    def names(self) -> frozenset[str]:
        """Every grant held, exact names and patterns alike."""
        return self.exact | frozenset(self.patterns)


EMPTY_GRANTS = Grants(frozenset())


def grants_of(names: Iterable[str]) -> Grants:
    """Split grant names into exact names and patterns."""
    exact: set[str] = set()
    patterns: set[str] = set()
    for name in names:
        (patterns if "*" in name.split(":") else exact).add(name)
    return Grants(frozenset(exact), tuple(sorted(patterns)))


@dataclass(frozen=True, slots=True, eq=False)
class RoleNode:
    """A compiled role: its direct grants, its direct parents, and everything it holds."""

    id: UUID
    name: str
    grants: Grants  # granted to this role directly
    inherits: tuple[str, ...]  # direct parents, by name
    closure: Grants  # its own grants and those of every role it inherits, transitively
    reach: frozenset[UUID]  # ids of this role and of every role it inherits


@dataclass(frozen=True, slots=True, eq=False)
class TenantPolicy:
    """A tenant's roles, compiled; shared by every snapshot of the tenant."""

    tenant_id: UUID
    slug: str
    roles: Mapping[str, RoleNode]
    revision: int
    audited: frozenset[str] = frozenset()  # permissions whose allowed checks are recorded too
    _unions: dict[frozenset[str], Grants] = field(default_factory=dict, repr=False)
    _reaches: dict[frozenset[str], frozenset[UUID]] = field(default_factory=dict, repr=False)

    def union(self, role_names: frozenset[str]) -> Grants:
        """The grants of holding all of ``role_names``; one shared object per combination."""
        found = self._unions.get(role_names)
        if found is None:
            nodes = [self.roles[name] for name in role_names if name in self.roles]
            if len(nodes) == 1:
                found = nodes[0].closure
            else:
                exact = frozenset().union(*(n.closure.exact for n in nodes))
                patterns = tuple(sorted({p for n in nodes for p in n.closure.patterns}))
                found = Grants(exact, patterns) if exact or patterns else EMPTY_GRANTS
            self._unions[role_names] = found
        return found

    def reach(self, role_names: frozenset[str]) -> frozenset[UUID]:
        """Ids of ``role_names`` and every role they inherit; one shared set per combination."""
        found = self._reaches.get(role_names)
        if found is None:
            found = frozenset().union(
                *(self.roles[name].reach for name in role_names if name in self.roles)
            )
            self._reaches[role_names] = found
        return found


@dataclass(frozen=True, slots=True, eq=False)
class AssignmentNode:
    """A role the user holds in the tenant, until ``expires_at`` (POSIX seconds) when set."""

    role: str
    expires_at: float = NEVER

    def is_active(self, now: float) -> bool:
        """Whether the assignment still counts at ``now`` (it stops the instant it expires)."""
        return now < self.expires_at


class Recency:
    """Whether a snapshot was read since the cache's eviction sweep last passed it: set by every
    check that reads the snapshot (one attribute store), cleared by the sweep (CLOCK)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = False


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """One (user, tenant), compiled: the hot path reads ``grants`` and ``valid_until`` only.

    ``grants`` are those of the assignments active when the snapshot was made; ``valid_until``
    is the next expiry, after which :meth:`at` must be asked for a fresh snapshot.
    """

    tenant_id: UUID | None
    user_id: UUID | None
    denial: Reason | None  # why everything is denied, or None
    policy: TenantPolicy | None = None
    assignments: tuple[AssignmentNode, ...] = ()
    grants: Grants = EMPTY_GRANTS
    valid_until: float = NEVER
    revision: int = 0
    footprint: frozenset[UUID] = frozenset()  # ids of every role reachable from an assignment
    # Copies of grants.exact / bool(grants.patterns) / valid_until < NEVER: the hot path reads
    # them directly, one attribute each, rather than following ``grants``.
    exact: frozenset[str] = frozenset()
    has_patterns: bool = False
    expiring: bool = False
    audited: frozenset[str] = frozenset()  # the policy's, read by the hot path after an allow
    # Shared with the snapshots :meth:`at` derives, which take this one's place in the cache.
    recency: Recency = field(default_factory=Recency, repr=False)

    @classmethod
    def denied(
        cls,
        reason: Reason,
        *,
        tenant_id: UUID | None = None,
        user_id: UUID | None = None,
        revision: int = 0,
    ) -> Snapshot:
        """A snapshot in which every check denies for ``reason``."""
        return cls(tenant_id, user_id, reason, revision=revision)

    @classmethod
    def granted(
        cls,
        policy: TenantPolicy,
        user_id: UUID,
        assignments: tuple[AssignmentNode, ...],
        *,
        now: float,
        revision: int,
    ) -> Snapshot:
        """A member's snapshot, with grants as of ``now``."""
        footprint = policy.reach(frozenset(a.role for a in assignments))
        base = cls(
            policy.tenant_id,
            user_id,
            None,
            policy,
            assignments,
            revision=revision,
            footprint=footprint,
            audited=policy.audited,
        )
        return base.at(now)

    def at(self, now: float) -> Snapshot:
        """This snapshot with grants recomputed for ``now`` (after an expiry)."""
        if self.policy is None:
            return self
        active = frozenset(a.role for a in self.assignments if a.is_active(now))
        upcoming = min(
            (a.expires_at for a in self.assignments if a.expires_at > now), default=NEVER
        )
        grants = self.policy.union(active)
        return replace(
            self,
            grants=grants,
            valid_until=upcoming,
            exact=grants.exact,
            has_patterns=bool(grants.patterns),
            expiring=upcoming != NEVER,
        )
