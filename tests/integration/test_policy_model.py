"""Random walks through policy changes on both backends, every answer held against the reference.

Hypothesis drives two tenants, six users, role DAGs, exact and wildcard grants, assignments that
expire, a clock that moves, deactivation, membership removal and deletions. After every step,
each (tenant, user, permission) of a small universe, unknown names and an invalid one included,
gets the answer :mod:`tests.reference` derives from what the walk stored.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from rolegate import InheritanceCycle, Rolegate, Settings, TenantNotFound
from tests.factories import FAST_HASHER, FakeClock, all_holders
from tests.reference import PolicyModel, RoleSpec, TenantModel, is_unexpired

TENANTS = ("a", "b")
USERS = ("u0", "u1", "u2", "u3", "u4", "u5")
ROLES = ("r0", "r1", "r2", "r3")
EXACT = ("res:act", "res:sub:act", "doc:act")
PATTERNS = ("res:*", "*:act", "*")
#: What every step checks: names some grant covers and some none does, and two invalid names.
UNIVERSE = ("res:act", "res:sub:act", "doc:act", "doc:read", "RES_ACT", "res:*", "Res act")
#: What every step looks up holders of (each page is a read, so fewer): names covered by
#: different sets of grants. That nobody is listed for an invalid name is in test_authorization.
LOOKED_UP = ("res:act", "res:sub:act", "doc:act")

_walks = itertools.count()

tenants = st.sampled_from(TENANTS)
users = st.sampled_from(USERS)
roles = st.sampled_from(ROLES)
grantables = st.sampled_from(EXACT + PATTERNS)
# Minutes from now, and steps of the clock, on one grid: walks often land on an expiry exactly.
expiries = st.none() | st.sampled_from([5, 10, 15, 30])
clock_steps = st.sampled_from([0, 5, 10, 15])


class PolicyWalk(RuleBasedStateMachine):
    """One rolegate and one :class:`PolicyModel`, changed in step; names are unique per walk so
    walks can share a database."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.rg = Rolegate(
            database_url,
            hasher=FAST_HASHER,
            clock=self.clock,
            settings=Settings(watch_changes=False),  # what a step commits is all it may rely on
        )
        self.prefix = f"w{next(_walks)}"
        self.model = PolicyModel()
        self.revision = 0
        self.limit = 1

    def tenant(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def user(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def committed(self, revision: int) -> None:
        assert revision > self.revision, "a change returned an older revision"
        self.revision = revision

    def teardown(self) -> None:
        self.rg.close()

    @initialize(
        limit=st.integers(min_value=2, max_value=4),  # limit 1 is in test_authorization
        grants=st.lists(st.tuples(tenants, roles, grantables), max_size=10),
        edges=st.lists(st.tuples(tenants, roles, roles), max_size=6),
        assignments=st.lists(st.tuples(tenants, users, roles, expiries), max_size=10),
    )
    def start_from_a_random_policy(
        self,
        limit: int,
        grants: list[tuple[str, str, str]],
        edges: list[tuple[str, str, str]],
        assignments: list[tuple[str, str, str, int | None]],
    ) -> None:
        self.limit = limit
        for name in TENANTS:
            self.committed(self.rg.tenants.create(self.tenant(name)).revision)
            self.model.tenants[self.tenant(name)] = TenantModel()
        for name in USERS:
            self.ensure_user(name)
        for grant in grants:
            self.toggle_grant(*grant)
        for edge in edges:
            self.toggle_inheritance(*edge)
        for assignment in assignments:
            self.assign(*assignment)

    def ensure_user(self, name: str) -> str:
        """The user's name, after creating the user if the walk deleted it."""
        user = self.user(name)
        if user not in self.model.users:
            self.committed(self.rg.users.create(user).revision)
            self.model.users[user] = True
        return user

    def ensure_role(self, tenant: str, role: str) -> TenantModel:
        """The tenant's model, after creating ``role`` if the walk deleted it (or never made it)."""
        slug = self.tenant(tenant)
        model = self.model.tenants[slug]
        if role not in model.roles:
            self.committed(self.rg.roles.create(slug, role).revision)
            model.roles[role] = RoleSpec()
        return model

    # --- users and memberships ----------------------------------------------------------------

    @rule(name=users)
    def delete_user(self, name: str) -> None:
        user = self.user(name)
        if user in self.model.users:
            self.committed(self.rg.users.delete(user))
            self.model.delete_user(user)

    @rule(name=users)
    def toggle_active(self, name: str) -> None:
        user = self.ensure_user(name)
        active = not self.model.users[user]
        change = self.rg.users.activate if active else self.rg.users.deactivate
        self.committed(change(user).revision)
        self.model.users[user] = active

    @rule(tenant=tenants, name=users)
    def toggle_membership(self, tenant: str, name: str) -> None:
        slug, user = self.tenant(tenant), self.ensure_user(name)
        if user in self.model.tenants[slug].members:
            self.committed(self.rg.memberships.remove(slug, user))
            self.model.remove_member(slug, user)
        else:
            self.committed(self.rg.memberships.add(slug, user).revision)
            self.model.tenants[slug].members.add(user)

    # --- roles, grants and inheritance ----------------------------------------------------------

    @rule(tenant=tenants, role=roles)
    def delete_role(self, tenant: str, role: str) -> None:
        slug = self.tenant(tenant)
        if role in self.model.tenants[slug].roles:
            self.committed(self.rg.roles.delete(slug, role))
            self.model.delete_role(slug, role)

    @rule(tenant=tenants, role=roles, grant=grantables)
    def toggle_grant(self, tenant: str, role: str, grant: str) -> None:
        slug, model = self.tenant(tenant), self.ensure_role(tenant, role)
        if grant in model.roles[role].grants:
            self.committed(self.rg.roles.revoke(slug, role, grant).revision)
            model.roles[role].grants.discard(grant)
            return
        if grant in EXACT and grant not in model.permissions:
            self.committed(self.rg.permissions.create(slug, grant).revision)
        self.committed(self.rg.roles.grant(slug, role, grant).revision)
        model.permissions.add(grant)  # a pattern is defined by its first grant
        model.roles[role].grants.add(grant)

    @rule(tenant=tenants, name=grantables)
    def delete_permission(self, tenant: str, name: str) -> None:
        slug = self.tenant(tenant)
        if name in self.model.tenants[slug].permissions:
            self.committed(self.rg.permissions.delete(slug, name))
            self.model.delete_permission(slug, name)

    @rule(tenant=tenants, role=roles, parent=roles)
    def toggle_inheritance(self, tenant: str, role: str, parent: str) -> None:
        slug = self.tenant(tenant)
        self.ensure_role(tenant, parent)
        spec = self.ensure_role(tenant, role).roles[role]
        if parent in spec.parents:
            self.committed(self.rg.roles.uninherit(slug, role, parent).revision)
            spec.parents.discard(parent)
        elif self.model.would_cycle(slug, role, parent):
            try:
                self.rg.roles.inherit(slug, role, parent)
            except InheritanceCycle:
                return
            raise AssertionError(f"{role} inheriting {parent} closes a cycle yet was accepted")
        else:
            self.committed(self.rg.roles.inherit(slug, role, parent).revision)
            spec.parents.add(parent)

    # --- assignments and time -------------------------------------------------------------------

    @rule(tenant=tenants, name=users, role=roles, minutes=expiries)
    def assign(self, tenant: str, name: str, role: str, minutes: int | None) -> None:
        slug, user, model = (
            self.tenant(tenant),
            self.ensure_user(name),
            self.ensure_role(tenant, role),
        )
        expires_at = None if minutes is None else self.clock.now + timedelta(minutes=minutes)
        held = model.assignments_of(user)
        assignment = self.rg.assignments.assign(slug, user, role, expires_at=expires_at)
        if role in held and held[role] == expires_at:
            assert assignment.revision == self.revision  # nothing changed, nothing bumped
        else:
            self.committed(assignment.revision)
        self.model.assign(slug, user, role, expires_at)

    @rule(tenant=tenants, name=users, pick=st.integers(min_value=0, max_value=3))
    def unassign(self, tenant: str, name: str, pick: int) -> None:
        slug, user = self.tenant(tenant), self.user(name)
        held = sorted(self.model.tenants[slug].assignments_of(user))
        if held:
            role = held[pick % len(held)]
            self.committed(self.rg.assignments.unassign(slug, user, role))
            del self.model.tenants[slug].assignments[user][role]

    @rule(minutes=clock_steps)
    def advance_clock(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    # --- every answer, against the reference ----------------------------------------------------

    @invariant()
    def every_answer_agrees_with_the_reference(self) -> None:
        for tenant in [*map(self.tenant, TENANTS), self.tenant("none")]:
            for user in [*map(self.user, USERS), self.user("ghost")]:
                self.assert_user_agrees(tenant, user)
            pairs = [(u, p) for u in map(self.user, USERS) for p in UNIVERSE]
            expected = [
                self.model.explain(tenant, u, p, now=self.clock.now).allowed for u, p in pairs
            ]
            assert self.rg.check_pairs(pairs, tenant=tenant) == expected
            self.assert_holders_agree(tenant)

    def assert_user_agrees(self, tenant: str, user: str) -> None:
        now = self.clock.now
        expected = {p: self.model.explain(tenant, user, p, now=now) for p in UNIVERSE}
        for permission, reference in expected.items():
            where = f"{user} {permission} in {tenant}"
            assert self.rg.check(user, permission, tenant=tenant) is reference.allowed, where
            decision = self.rg.explain(user, permission, tenant=tenant)
            outcome = (decision.allowed, decision.reason)
            assert outcome == (reference.allowed, reference.reason), where
            chains = [(chain.roles, chain.grant) for chain in decision.chains]
            assert sorted(chains) == sorted(reference.chains), where
        answers = self.rg.check_many(user, UNIVERSE, tenant=tenant)
        assert answers == [expected[p].allowed for p in UNIVERSE]
        held = list(self.rg.permissions_of(user, tenant=tenant))
        assert held == self.model.permissions_of(tenant, user, now=now)
        roles = self.rg.roles_of(user, tenant=tenant)
        assert {role.name for role in roles} == self.model.roles_of(tenant, user, now=now)
        if self.model.refusal(tenant, user) is None:
            assigned = self.model.tenants[tenant].assignments_of(user)
            direct = {role.name: role.expires_at for role in roles if role.is_direct}
            assert direct == {r: e for r, e in assigned.items() if is_unexpired(e, now)}

    def assert_holders_agree(self, tenant: str) -> None:
        if tenant not in self.model.tenants:
            try:
                self.rg.who_can(UNIVERSE[0], tenant=tenant)
            except TenantNotFound:
                return
            raise AssertionError(f"who_can in unknown tenant {tenant} did not raise")
        for permission in LOOKED_UP:
            pages = all_holders(self.rg, permission, tenant=tenant, limit=self.limit)
            assert all(len(page.holders) <= self.limit for page in pages)
            listed = [holder.username for page in pages for holder in page.holders]
            assert listed == sorted(set(listed)), f"{permission}: out of order or repeated"
            found = {h.username: list(h.roles) for page in pages for h in page.holders}
            expected = self.model.holders(tenant, permission, now=self.clock.now)
            assert found == expected, permission


def test_random_policy_walks_agree_with_the_reference(database_url: str) -> None:
    class Walk(PolicyWalk):
        def __init__(self) -> None:
            super().__init__(database_url)

    run_state_machine_as_test(
        Walk,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
