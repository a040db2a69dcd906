"""What goes to the database: cold checks (compiling a snapshot) and ``who_can`` listings.

Run against SQLite and PostgreSQL alike. Each function leaves the policy as the reference
expects, except :func:`cold_after_change`, which gives the spare members a role and so must
come last.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from bench.measure import Spread, each, each_after, repeated
from bench.verify import expect
from bench.workload import Workload
from rolegate import Rolegate


def warm_policies(rg: Rolegate, workload: Workload) -> None:
    """Compile every tenant's role graph (once per tenant, shared by all its members)."""
    for tenant in workload.tenants:
        user = next(iter(tenant.members))
        expect(f"warm-up {user}@{tenant.slug}", rg.check(user, "x:y", tenant=tenant.slug), False)


def cold_first(rg: Rolegate, workload: Workload) -> Spread:
    """The first check ever made for each spare member, alternately allowed and denied."""
    asks = []
    for i, (user, slug) in enumerate(workload.spare):
        tenant = workload.tenant(slug)
        held = tenant.held(user)
        pool = sorted(held) if i % 2 == 0 else [p for p in tenant.permissions if p not in held]
        asks.append((user, slug, pool[0], i % 2 == 0))
    answers: list[bool] = []
    spread = each([partial(_check_into, answers, rg, u, p, s) for u, s, p, _ in asks])
    expect("cold first checks", answers, [allowed for *_, allowed in asks])
    return spread


def cold_after_change(rg: Rolegate, workload: Workload) -> Spread:
    """The first check for each spare member right after ``assignments.assign`` gave them a
    role they lacked (the assignment itself is not timed); each answer must show the role."""
    prepared = []
    for user, slug in workload.spare:
        tenant = workload.tenant(slug)
        role = next(r for r in sorted(tenant.grants) if r not in tenant.members[user])
        gained = sorted(tenant.closures[role] - tenant.held(user)) or sorted(tenant.closures[role])
        prepared.append((user, slug, role, gained[0]))
    answers: list[bool] = []
    spread = each_after(
        [
            (partial(rg.assignments.assign, s, u, role), partial(_check_into, answers, rg, u, p, s))
            for u, s, role, p in prepared
        ]
    )
    expect("checks after a change", answers, [True] * len(prepared))
    return spread


def _check_into(answers: list[bool], rg: Rolegate, user: str, permission: str, tenant: str) -> None:
    answers.append(rg.check(user, permission, tenant=tenant))


@dataclass(frozen=True, slots=True)
class Listing:
    """``who_can`` for one permission, followed page by page until ``next_cursor`` is None."""

    permission: str
    tenant: str
    holders: int
    pages: int
    full: Spread  # ns for the whole listing


def who_can(rg: Rolegate, workload: Workload, *, repeats: int) -> Listing:
    """List every holder of the first tenant's most-held permission; check the list first."""
    tenant = workload.tenants[0]
    held = {user: tenant.held(user) for user in tenant.members}
    permission = max(tenant.permissions, key=lambda p: sum(p in h for h in held.values()))

    def listing() -> tuple[list[str], int]:
        names: list[str] = []
        cursor, pages = None, 0
        while True:
            page = rg.who_can(permission, tenant=tenant.slug, cursor=cursor)
            names.extend(holder.username for holder in page.holders)
            pages += 1
            if page.next_cursor is None:
                return names, pages
            cursor = page.next_cursor

    names, pages = listing()
    expect(
        f"who_can {permission}",
        sorted(names),
        sorted(u for u, h in held.items() if permission in h),
    )
    return Listing(permission, tenant.slug, len(names), pages, repeated(listing, repeats=repeats))
