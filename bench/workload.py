"""The benchmark's policy, generated from a fixed seed: tenants, roles, grants, users, queries.

Everything here is plain data with names only (no ids, no database), so the same policy feeds
rolegate (through :mod:`bench.loader`), pycasbin (through :mod:`bench.casbin_peer`) and the
reference answers that both are checked against. The reference expands wildcards on its own,
without rolegate's code, so it also checks rolegate's wildcard semantics.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

RESOURCES = (
    "accounts", "assets", "budgets", "campaigns", "contracts",
    "customers", "devices", "documents", "employees", "incidents",
    "invoices", "licenses", "orders", "payments", "products",
    "projects", "reports", "shipments", "tickets", "vendors",
)  # fmt: skip
ACTIONS = ("read", "write", "delete", "share", "approve")

CHAINS = 5  # roles form CHAINS chains of CHAIN_LENGTH, each role inheriting the next one down
CHAIN_LENGTH = 5  # so the longest inheritance path has CHAIN_LENGTH - 1 = 4 links
GRANTS_PER_ROLE = 4
DEFAULT_SEED = 1_234_567


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """How big the generated policy is; the defaults are the issue's figures."""

    tenants: int = 20
    users: int = 10_000
    roles_per_user: int = 2
    wildcard_share: float = 0.10  # of all grants
    queries: int = 20_000
    spare_users: int = 200  # never queried: the cold checks change and time these
    seed: int = DEFAULT_SEED


class Query(NamedTuple):
    """One check: what a caller passes, and the answer the reference expects.

    A tuple of strings and a bool, which the cyclic collector stops tracking after one pass, so
    the benchmark's own queries do not lengthen the GC pauses it measures.
    """

    user: str  # the username, as callers pass it
    permission: str
    tenant: str  # the tenant slug
    allowed: bool


@dataclass  # no slots: ``closures`` is a cached_property
class TenantPolicy:
    """One tenant's roles, grants and members, by name."""

    slug: str
    permissions: tuple[str, ...]  # the exact permissions defined (patterns are not listed)
    parents: dict[str, tuple[str, ...]]  # role -> roles it inherits directly
    grants: dict[str, tuple[str, ...]]  # role -> grants (exact names and patterns)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # username -> roles

    @property
    def patterns(self) -> frozenset[str]:
        """Every pattern granted to some role (each is also stored as a permission row)."""
        return frozenset(g for grants in self.grants.values() for g in grants if "*" in g)

    @cached_property
    def closures(self) -> dict[str, frozenset[str]]:
        """Every exact permission each role holds, inherited and wildcards expanded."""
        found: dict[str, frozenset[str]] = {}

        def closure(role: str) -> frozenset[str]:
            if role not in found:
                own = expand(self.grants[role], self.permissions)
                found[role] = own.union(*(closure(p) for p in self.parents[role]))
            return found[role]

        for role in self.grants:
            closure(role)
        return found

    def held(self, user: str) -> frozenset[str]:
        """The exact permissions ``user`` holds here (empty for a non-member)."""
        return frozenset().union(*(self.closures[r] for r in self.members.get(user, ())))


@dataclass(slots=True)
class Workload:
    """The whole generated policy and the queries timed against it."""

    spec: WorkloadSpec
    tenants: list[TenantPolicy]
    users: list[str]
    queries: list[Query]
    spare: list[tuple[str, str]]  # (username, tenant slug) of members never queried

    def tenant(self, slug: str) -> TenantPolicy:
        """The tenant with this slug."""
        return self.tenants[int(slug.rsplit("-", 1)[1])]

    def members(self) -> list[tuple[str, str]]:
        """Every (username, tenant slug) membership, in user order (so tenants interleave)."""
        home = {user: tenant.slug for tenant in self.tenants for user in tenant.members}
        return [(user, home[user]) for user in self.users if user in home]


def expand(grants: Iterable[str], permissions: Sequence[str]) -> frozenset[str]:
    """The exact permissions ``grants`` cover: ``res:*`` every action of ``res``, ``*:act`` every
    two-segment name ending in ``act``; written apart from rolegate's matcher on purpose."""
    covered: set[str] = set()
    for grant in grants:
        resource, _, action = grant.rpartition(":")
        if action == "*":
            covered.update(p for p in permissions if p.startswith(f"{resource}:"))
        elif resource == "*":
            covered.update(p for p in permissions if p.count(":") == 1 and p.endswith(f":{action}"))
        else:
            covered.add(grant)
    return frozenset(covered)


def role_name(chain: int, depth: int) -> str:
    """The role at ``depth`` (0 = top, inheriting most) of inheritance chain ``chain``."""
    return f"chain{chain}-depth{depth}"


def generate(spec: WorkloadSpec) -> Workload:
    """The policy and queries for ``spec``; the same spec always gives the same workload."""
    rng = random.Random(spec.seed)
    permissions = tuple(f"{r}:{a}" for r in RESOURCES for a in ACTIONS)
    tenants = [_tenant(rng, f"tenant-{t:02d}", permissions, spec) for t in range(spec.tenants)]
    users = [f"User{i:06d}" for i in range(spec.users)]
    for i, user in enumerate(users):  # one tenant per user, round-robin
        tenant = tenants[i % spec.tenants]
        tenant.members[user] = tuple(rng.sample(sorted(tenant.grants), spec.roles_per_user))
    queried = users[: spec.users - spec.spare_users]
    spare = [(users[i], tenants[i % spec.tenants].slug) for i in range(len(queried), spec.users)]
    queries = _queries(rng, tenants, queried, spec.queries)
    return Workload(spec, tenants, users, queries, spare)


def _tenant(
    rng: random.Random, slug: str, permissions: tuple[str, ...], spec: WorkloadSpec
) -> TenantPolicy:
    roles = [role_name(c, d) for c in range(CHAINS) for d in range(CHAIN_LENGTH)]
    parents: dict[str, tuple[str, ...]] = {}
    for c in range(CHAINS):
        for d in range(CHAIN_LENGTH):
            below = (role_name(c, d + 1),) if d + 1 < CHAIN_LENGTH else ()
            # The top of each chain also inherits the middle of the next: a DAG, not just lines.
            across = (role_name((c + 1) % CHAINS, CHAIN_LENGTH // 2),) if d == 0 else ()
            parents[role_name(c, d)] = below + across
    slots = len(roles) * GRANTS_PER_ROLE
    wild = set(rng.sample(range(slots), round(slots * spec.wildcard_share)))
    grants: dict[str, tuple[str, ...]] = {}
    for r, role in enumerate(roles):
        chosen: list[str] = []
        for slot in range(r * GRANTS_PER_ROLE, (r + 1) * GRANTS_PER_ROLE):
            pool = _patterns(permissions) if slot in wild else permissions
            chosen.append(rng.choice([g for g in pool if g not in chosen]))
        grants[role] = tuple(chosen)
    return TenantPolicy(slug, permissions, parents, grants)


def _patterns(permissions: Sequence[str]) -> list[str]:
    resources = sorted({p.rpartition(":")[0] for p in permissions})
    actions = sorted({p.rpartition(":")[2] for p in permissions})
    return [f"{r}:*" for r in resources] + [f"*:{a}" for a in actions]


def _queries(
    rng: random.Random, tenants: list[TenantPolicy], users: list[str], count: int
) -> list[Query]:
    """``count`` queries, exactly half of them allowed, over random members."""
    queries: list[Query] = []
    while len(queries) < count:
        index = rng.randrange(len(users))
        user, tenant = users[index], tenants[index % len(tenants)]
        want_allowed = len(queries) % 2 == 0
        held = tenant.held(user)
        pool = sorted(held) if want_allowed else [p for p in tenant.permissions if p not in held]
        if pool:
            queries.append(Query(user, rng.choice(pool), tenant.slug, want_allowed))
    rng.shuffle(queries)
    return queries
