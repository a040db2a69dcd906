"""The authorization API end to end on both backends: batch checks, explanations with chains,
held permissions and roles, reverse lookups, revisions, and a cache that is never stale."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from uuid import uuid4

import pytest

from rolegate import (
    Chain,
    Decision,
    HeldRole,
    InvalidInput,
    Reason,
    Rolegate,
    Settings,
    TenantNotFound,
)
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    FakeClock,
    all_holders,
    build_documents_policy,
    build_readers,
    stalled_query,
    wait_until,
)

# --- check_many and check_pairs -----------------------------------------------------------------


def test_check_many_answers_each_permission_in_order(policy: Rolegate) -> None:
    wanted = ["documents:write", "billing:read", "documents:read", "reports:q1:x", "reports:*", ""]
    assert policy.check_many("alice", wanted, tenant="acme") == [
        True,
        False,
        True,
        True,
        False,  # a pattern is not a checkable name
        False,
    ]
    assert policy.check_many("alice", [], tenant="acme") == []


@pytest.mark.parametrize(
    ("user", "tenant"), [("nobody", "acme"), ("alice", "nope"), ("alice", "default")]
)
def test_check_many_denies_everything_to_whoever_holds_nothing(
    policy: Rolegate, user: str, tenant: str
) -> None:
    wanted = ["documents:read", "documents:write"]
    assert policy.check_many(user, iter(wanted), tenant=tenant) == [False, False]


def test_check_pairs_answers_each_user_and_permission_in_order(policy: Rolegate) -> None:
    policy.users.create("bob")
    policy.assignments.assign("acme", "bob", "viewer")
    pairs = [
        ("alice", "documents:write"),
        ("bob", "documents:write"),
        ("bob", "documents:read"),
        ("nobody", "documents:read"),
        ("alice", "documents:*"),
    ]
    assert policy.check_pairs(pairs, tenant="acme") == [True, False, True, False, False]
    assert policy.check_pairs(pairs, tenant="nope") == [False] * 5


# --- explain: reasons and chains ------------------------------------------------------------------


def test_explain_names_the_chain_through_inherited_roles(policy: Rolegate) -> None:
    decision = policy.explain("alice", "documents:read", tenant="acme")
    assert decision == Decision(True, Reason.GRANTED)
    assert decision.chains == (Chain(("editor", "viewer"), "documents:read"),)


def test_explain_reports_a_pattern_grant_as_the_pattern(policy: Rolegate) -> None:
    decision = policy.explain("alice", "reports:q1:summary", tenant="acme")
    assert decision.chains == (Chain(("editor",), "reports:*"),)


def test_diamond_inheritance_gives_two_chains(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.permissions.create("acme", "documents:read")
    rg.roles.create("acme", "base", permissions=["documents:read"])
    rg.roles.create("acme", "left", inherits=["base"])
    rg.roles.create("acme", "right", inherits=["base"])
    rg.roles.create("acme", "top", inherits=["left", "right"])
    rg.users.create("dana")
    rg.assignments.assign("acme", "dana", "top")
    decision = rg.explain("dana", "documents:read", tenant="acme")
    assert decision.allowed
    assert sorted(decision.chains, key=str) == [
        Chain(("top", "left", "base"), "documents:read"),
        Chain(("top", "right", "base"), "documents:read"),
    ]


def test_every_grant_that_matches_is_a_chain(policy: Rolegate) -> None:
    policy.roles.grant("acme", "viewer", "*:read")
    policy.roles.grant("acme", "editor", "*")
    chains = policy.explain("alice", "documents:read", tenant="acme").chains
    assert sorted(map(str, chains)) == [
        "editor -> *",
        "editor -> viewer -> *:read",
        "editor -> viewer -> documents:read",
    ]


def test_a_renamed_role_appears_by_its_new_name(policy: Rolegate) -> None:
    policy.roles.update("acme", "viewer", name="reader")
    assert policy.explain("alice", "documents:read", tenant="acme").chains == (
        Chain(("editor", "reader"), "documents:read"),
    )


def test_explain_says_when_only_an_expired_assignment_would_allow(
    policy: Rolegate, clock: FakeClock
) -> None:
    policy.assignments.assign("acme", "alice", "editor", expires_at=clock.now + timedelta(hours=1))
    clock.advance(timedelta(hours=1))
    assert policy.explain("alice", "documents:read", tenant="acme") == Decision.deny(
        Reason.ASSIGNMENT_EXPIRED
    )
    assert policy.explain("alice", "billing:read", tenant="acme") == Decision.deny(
        Reason.NO_ROLE_GRANTS_IT
    )


def test_a_decision_carries_the_revision_it_was_made_at(policy: Rolegate) -> None:
    revision = policy.roles.grant("acme", "viewer", "billing:*").revision
    assert policy.explain("alice", "billing:read", tenant="acme").revision == revision
    assert policy.explain("nobody", "billing:read", tenant="acme").revision == revision


# --- what a user holds ----------------------------------------------------------------------------


def test_permissions_of_lists_exact_names_and_patterns_held(policy: Rolegate) -> None:
    assert policy.permissions_of("alice", tenant="acme") == (
        "documents:read",
        "documents:write",
        "reports:*",
    )
    policy.users.create("bob")
    policy.assignments.assign("acme", "bob", "auditor")
    assert policy.permissions_of("bob", tenant="acme") == ("documents:read",)


def test_permissions_of_is_empty_for_whoever_holds_nothing(
    policy: Rolegate, clock: FakeClock
) -> None:
    assert policy.permissions_of("nobody", tenant="acme") == ()
    assert policy.permissions_of("alice", tenant="nope") == ()
    assert policy.permissions_of("alice", tenant="default") == ()
    policy.assignments.assign("acme", "alice", "editor", expires_at=clock.now + timedelta(hours=1))
    clock.advance(timedelta(hours=1))
    assert policy.permissions_of("alice", tenant="acme") == ()


def test_roles_of_lists_direct_and_inherited_roles_with_expiry(
    policy: Rolegate, clock: FakeClock
) -> None:
    until = clock.now + timedelta(hours=1)
    policy.assignments.assign("acme", "alice", "editor", expires_at=until)
    policy.assignments.assign("acme", "alice", "auditor")
    assert policy.roles_of("alice", tenant="acme") == [
        HeldRole("auditor", (), None),
        HeldRole("editor", (), until),
        HeldRole("viewer", ("auditor",), None),
    ]
    clock.advance(timedelta(hours=1))
    assert policy.roles_of("alice", tenant="acme") == [
        HeldRole("auditor", (), None),
        HeldRole("viewer", ("auditor",), None),
    ]


def test_roles_of_an_inherited_role_carries_its_assignments_expiry(
    policy: Rolegate, clock: FakeClock
) -> None:
    until = clock.now + timedelta(days=1)
    policy.assignments.assign("acme", "alice", "editor", expires_at=until)
    held = policy.roles_of("alice", tenant="acme")
    assert held == [HeldRole("editor", (), until), HeldRole("viewer", ("editor",), until)]
    assert [role.is_direct for role in held] == [True, False]
    assert held[1].expires_at is not None and held[1].expires_at.tzinfo is not None


def test_roles_of_is_empty_for_whoever_holds_nothing(policy: Rolegate) -> None:
    policy.users.create("bob")
    assert policy.roles_of("bob", tenant="acme") == []
    assert policy.roles_of("nobody", tenant="acme") == []
    assert policy.roles_of("alice", tenant="nope") == []
    policy.users.deactivate("alice")
    assert policy.roles_of("alice", tenant="acme") == []


# --- who_can ------------------------------------------------------------------------------------

READERS = {"ann": ("viewer",), "bob": ("editor",), "cat": ("reader", "viewer"), "eve": ("viewer",)}


@pytest.mark.parametrize("limit", [1, 2, 3, 1000])
def test_who_can_is_complete_across_pages(rg: Rolegate, clock: FakeClock, limit: int) -> None:
    build_readers(rg, clock)
    pages = all_holders(rg, "documents:read", tenant="acme", limit=limit)
    assert all(len(page.holders) <= limit for page in pages)
    assert len(pages) == math.ceil(len(READERS) / limit)
    listed = [holder.username for page in pages for holder in page.holders]
    assert listed == sorted(READERS)  # by username, each once
    assert {h.username: h.roles for page in pages for h in page.holders} == READERS


def test_who_can_names_users_by_id_too(rg: Rolegate, clock: FakeClock) -> None:
    build_readers(rg, clock)
    page = rg.who_can("documents:write", tenant=rg.tenants.get("acme").id)
    assert [(h.user_id, h.username, h.roles) for h in page.holders] == [
        (rg.users.get("bob").id, "bob", ("editor",))
    ]
    assert page.next_cursor is None


@pytest.mark.parametrize("permission", ["billing:write", "documents:*", "*", "Documents:read"])
def test_who_can_lists_nobody_for_what_nobody_holds(
    rg: Rolegate, clock: FakeClock, permission: str
) -> None:
    build_readers(rg, clock)
    page = rg.who_can(permission, tenant="acme")
    assert (page.holders, page.next_cursor) == ((), None)


def test_who_can_follows_grants_through_patterns(rg: Rolegate, clock: FakeClock) -> None:
    build_readers(rg, clock)
    page = rg.who_can("invoices:read", tenant="acme")  # only reader's *:read covers it
    assert [(h.username, h.roles) for h in page.holders] == [("cat", ("reader",))]


def test_who_can_sees_changes_and_time_at_once(rg: Rolegate, clock: FakeClock) -> None:
    build_readers(rg, clock)
    rg.users.activate("dan")
    rg.assignments.unassign("acme", "ann", "viewer")
    rg.roles.grant("acme", "reader", "documents:write")
    clock.advance(timedelta(hours=1))  # eve's assignment ends
    holders = all_holders(rg, "documents:read", tenant="acme", limit=2)
    assert [h.username for page in holders for h in page.holders] == ["bob", "cat", "dan"]
    writers = rg.who_can("documents:write", tenant="acme")
    assert [(h.username, h.roles) for h in writers.holders] == [
        ("bob", ("editor",)),
        ("cat", ("reader",)),
    ]


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_who_can_refuses_a_limit_out_of_range(rg: Rolegate, clock: FakeClock, limit: int) -> None:
    build_readers(rg, clock)
    with pytest.raises(InvalidInput, match="limit"):
        rg.who_can("documents:read", tenant="acme", limit=limit)


def test_who_can_in_an_unknown_tenant_is_not_found(rg: Rolegate) -> None:
    with pytest.raises(TenantNotFound):
        rg.who_can("documents:read", tenant="nope")
    with pytest.raises(TenantNotFound):
        rg.who_can("documents:read", tenant=uuid4())


@pytest.mark.parametrize("permission", ["documents:read", "billing:write"])
@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "!!!",  # nothing base64 at all
        "AA",  # base64 of a NUL byte: no username key holds one
    ],
)
def test_who_can_refuses_a_malformed_cursor(
    rg: Rolegate, clock: FakeClock, cursor: str, permission: str
) -> None:
    build_readers(rg, clock)
    with pytest.raises(InvalidInput, match="cursor"):
        rg.who_can(permission, tenant="acme", cursor=cursor)


# --- revisions ----------------------------------------------------------------------------------


def test_every_change_returns_a_newer_revision(rg: Rolegate, clock: FakeClock) -> None:
    later = clock.now + timedelta(hours=1)
    changes: list[Callable[[], int]] = [
        lambda: rg.tenants.create("acme").revision,
        lambda: rg.users.create("alice").revision,
        lambda: rg.resources.create("acme", "documents").revision,
        lambda: rg.permissions.create("acme", "documents:read").revision,
        lambda: rg.permissions.update("acme", "documents:read", description="Read").revision,
        lambda: rg.roles.create("acme", "viewer").revision,
        lambda: rg.roles.grant("acme", "viewer", "documents:read").revision,
        lambda: rg.roles.create("acme", "editor", inherits=["viewer"]).revision,
        lambda: rg.roles.uninherit("acme", "editor", "viewer").revision,
        lambda: rg.roles.inherit("acme", "editor", "viewer").revision,
        lambda: rg.roles.update("acme", "editor", description="Edits").revision,
        lambda: rg.memberships.add("acme", "alice").revision,
        lambda: rg.assignments.assign("acme", "alice", "editor", expires_at=later).revision,
        lambda: rg.assignments.assign("acme", "alice", "editor").revision,
        lambda: rg.users.update("alice", full_name="Alice").revision,
        lambda: rg.users.set_password("alice", PASSWORD).revision,
        lambda: rg.users.deactivate("alice").revision,
        lambda: rg.users.activate("alice").revision,
        lambda: rg.roles.revoke("acme", "viewer", "documents:read").revision,
        lambda: rg.assignments.unassign("acme", "alice", "editor"),
        lambda: rg.memberships.remove("acme", "alice"),
        lambda: rg.permissions.delete("acme", "documents:read"),
        lambda: rg.resources.delete("acme", "documents"),
        lambda: rg.roles.delete("acme", "editor"),
        lambda: rg.users.delete("alice"),
        lambda: rg.tenants.rename("acme", slug="acme2").revision,
        lambda: rg.tenants.delete("acme2"),
    ]
    revisions = [change() for change in changes]
    assert all(after > before for before, after in pairwise(revisions)), revisions
    rg.check("anyone", "a:b", at_least=revisions[-1])
    assert rg.revision >= revisions[-1]


def test_a_change_that_changes_nothing_returns_the_current_revision(policy: Rolegate) -> None:
    latest = policy.assignments.assign("acme", "alice", "auditor").revision
    assert policy.assignments.assign("acme", "alice", "auditor").revision == latest


# --- a second instance on the same database -----------------------------------------------------

ALICE_READS = ("alice", "documents:read")


def _check(rg: Rolegate, at_least: int | None) -> bool:
    return rg.check(*ALICE_READS, tenant="acme", at_least=at_least)


def _check_many(rg: Rolegate, at_least: int | None) -> bool:
    return rg.check_many("alice", ["documents:read"], tenant="acme", at_least=at_least)[0]


def _check_pairs(rg: Rolegate, at_least: int | None) -> bool:
    return rg.check_pairs([ALICE_READS], tenant="acme", at_least=at_least)[0]


def _explain(rg: Rolegate, at_least: int | None) -> bool:
    return rg.explain(*ALICE_READS, tenant="acme", at_least=at_least).allowed


def _permissions_of(rg: Rolegate, at_least: int | None) -> bool:
    return "documents:read" in rg.permissions_of("alice", tenant="acme", at_least=at_least)


def _roles_of(rg: Rolegate, at_least: int | None) -> bool:
    return "viewer" in {r.name for r in rg.roles_of("alice", tenant="acme", at_least=at_least)}


def _who_can(rg: Rolegate, at_least: int | None) -> bool:
    page = rg.who_can("documents:read", tenant="acme", at_least=at_least)
    return "alice" in {h.username for h in page.holders}


READS = [_check, _check_many, _check_pairs, _explain, _permissions_of, _roles_of, _who_can]


@pytest.mark.parametrize("read", READS, ids=lambda read: read.__name__.strip("_"))
def test_at_least_gives_a_second_instance_the_change_at_once(
    rg: Rolegate, peer: Rolegate, read: Callable[[Rolegate, int | None], bool]
) -> None:
    build_documents_policy(rg)
    assert read(peer, None)  # the peer has compiled what alice holds, and keeps it
    revision = rg.assignments.unassign("acme", "alice", "editor")
    assert not read(peer, revision)
    assert peer.revision >= revision
    restored = rg.assignments.assign("acme", "alice", "viewer").revision
    assert read(peer, restored)


def test_at_least_sees_a_revoke_made_by_another_instance(rg: Rolegate, peer: Rolegate) -> None:
    build_documents_policy(rg)
    assert peer.check("alice", "documents:read", tenant="acme")
    revoked = rg.roles.revoke("acme", "viewer", "documents:read").revision
    assert peer.explain("alice", "documents:read", tenant="acme", at_least=revoked) == (
        Decision.deny(Reason.NO_ROLE_GRANTS_IT)
    )
    assert peer.explain("alice", "documents:read", tenant="acme").revision >= revoked


def test_a_watching_instance_sees_another_instances_change_by_itself(
    rg: Rolegate, watching_peer: Rolegate
) -> None:
    build_documents_policy(rg)
    assert watching_peer.check("alice", "documents:read", tenant="acme")
    revoked = rg.roles.revoke("acme", "viewer", "documents:read").revision

    def peer_sees_it() -> bool:
        return not watching_peer.check("alice", "documents:read", tenant="acme")

    # About a second, with room for a loaded CI machine (the watcher's target is milliseconds).
    assert wait_until(peer_sees_it, timeout=2.0) is not None, "the watcher did not catch up"
    assert wait_until(lambda: watching_peer.revision >= revoked, timeout=2.0) is not None


# --- within one instance, a committed change is visible to the very next check ------------------


@dataclass(frozen=True)
class Change:
    """A change to the README policy, and what alice (or ``user``) may do right after it."""

    name: str
    apply: Callable[[Rolegate, FakeClock], object]
    after: Reason
    permission: str = "documents:read"
    user: str = "alice"
    tenant: str = "acme"
    prepare: Callable[[Rolegate, FakeClock], object] = lambda rg, clock: None

    @property
    def allowed_after(self) -> bool:
        return self.after is Reason.GRANTED


def _expire_after_an_hour(rg: Rolegate, clock: FakeClock) -> None:
    rg.assignments.assign("acme", "alice", "editor", expires_at=clock.now + timedelta(hours=1))


def _grant_billing(rg: Rolegate, clock: FakeClock) -> None:
    rg.roles.create("acme", "biller", permissions=["billing:*"])


CHANGES = [
    Change(
        "grant",
        lambda rg, clock: rg.roles.grant("acme", "viewer", "billing:*"),
        Reason.GRANTED,
        "billing:read",
    ),
    Change(
        "revoke",
        lambda rg, clock: rg.roles.revoke("acme", "viewer", "documents:read"),
        Reason.NO_ROLE_GRANTS_IT,
    ),
    Change(
        "inherit",
        lambda rg, clock: rg.roles.inherit("acme", "viewer", "biller"),
        Reason.GRANTED,
        "billing:read",
        prepare=_grant_billing,
    ),
    Change(
        "uninherit",
        lambda rg, clock: rg.roles.uninherit("acme", "editor", "viewer"),
        Reason.NO_ROLE_GRANTS_IT,
    ),
    Change(
        "assign",
        lambda rg, clock: rg.assignments.assign("acme", "bob", "viewer"),
        Reason.GRANTED,
        user="bob",
        prepare=lambda rg, clock: rg.memberships.add("acme", rg.users.create("bob").id),
    ),
    Change(
        "unassign",
        lambda rg, clock: rg.assignments.unassign("acme", "alice", "editor"),
        Reason.NO_ROLE_GRANTS_IT,
    ),
    Change(
        "expiry",
        lambda rg, clock: clock.advance(timedelta(hours=1)),
        Reason.ASSIGNMENT_EXPIRED,
        prepare=_expire_after_an_hour,
    ),
    Change(
        "deactivate",
        lambda rg, clock: rg.users.deactivate("alice"),
        Reason.INACTIVE_USER,
    ),
    Change(
        "activate",
        lambda rg, clock: rg.users.activate("alice"),
        Reason.GRANTED,
        prepare=lambda rg, clock: rg.users.deactivate("alice"),
    ),
    Change(
        "delete role",
        lambda rg, clock: rg.roles.delete("acme", "viewer"),
        Reason.NO_ROLE_GRANTS_IT,
    ),
    Change(
        "delete permission",
        lambda rg, clock: rg.permissions.delete("acme", "documents:read"),
        Reason.NO_ROLE_GRANTS_IT,
    ),
    Change(
        "delete pattern",
        lambda rg, clock: rg.permissions.delete("acme", "reports:*"),
        Reason.NO_ROLE_GRANTS_IT,
        "reports:q1",
    ),
    Change(
        "delete resource",
        lambda rg, clock: rg.resources.delete("acme", "documents"),
        Reason.NO_ROLE_GRANTS_IT,
    ),
    Change("delete user", lambda rg, clock: rg.users.delete("alice"), Reason.UNKNOWN_USER),
    Change("delete tenant", lambda rg, clock: rg.tenants.delete("acme"), Reason.UNKNOWN_TENANT),
    Change(
        "rename tenant",
        lambda rg, clock: rg.tenants.rename("acme", slug="acme-corp"),
        Reason.UNKNOWN_TENANT,
    ),
    Change(
        "rename user",
        lambda rg, clock: rg.users.update("alice", username="alicia"),
        Reason.UNKNOWN_USER,
    ),
    Change(
        "remove membership",
        lambda rg, clock: rg.memberships.remove("acme", "alice"),
        Reason.NO_MEMBERSHIP,
    ),
    Change(
        "create the user checked before",
        lambda rg, clock: rg.users.create("zoe"),
        Reason.NO_MEMBERSHIP,
        user="zoe",
    ),
    Change(
        "create the tenant checked before",
        lambda rg, clock: rg.tenants.create("globex"),
        Reason.NO_MEMBERSHIP,
        tenant="globex",
    ),
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.name)
def test_a_committed_change_is_visible_to_the_very_next_check(
    unwatched: Rolegate, clock: FakeClock, change: Change
) -> None:
    rg = unwatched  # no watcher to catch up behind the test's back: the commit path alone
    build_documents_policy(rg)
    change.prepare(rg, clock)
    probe = (change.user, change.permission)
    before = (rg.check(*probe, tenant=change.tenant), rg.explain(*probe, tenant=change.tenant))
    assert before != (change.allowed_after, Decision(change.allowed_after, change.after))
    change.apply(rg, clock)  # and what was compiled before it is still cached
    assert rg.check(*probe, tenant=change.tenant) is change.allowed_after
    assert rg.explain(*probe, tenant=change.tenant).reason is change.after
    assert rg.check_many(change.user, [change.permission], tenant=change.tenant) == [
        change.allowed_after
    ]


def test_a_renamed_user_is_found_by_the_new_name_at_once(unwatched: Rolegate) -> None:
    build_documents_policy(unwatched)
    assert not unwatched.check("alicia", "documents:read", tenant="acme")
    unwatched.users.update("alice", username="alicia")
    assert unwatched.check("alicia", "documents:read", tenant="acme")


# --- the cache: precise invalidation, expiry without recompiling, a bounded size ----------------


def recompiled(rg: Rolegate, *users: str) -> set[str]:
    """Which of ``users`` had to be compiled again to answer a check in acme."""
    found = set()
    for user in users:
        before = rg.cache_stats().compiles
        rg.check(user, "documents:read", tenant="acme")
        if rg.cache_stats().compiles > before:
            found.add(user)
    return found


@pytest.fixture
def three_holders(unwatched: Rolegate) -> Rolegate:
    """alice an editor (inheriting viewer), bob an auditor (alone), carol a viewer; all cached."""
    rg = unwatched
    build_documents_policy(rg)
    rg.roles.grant("acme", "auditor", "audit:*")
    rg.roles.uninherit("acme", "auditor", "viewer")
    for user, role in (("bob", "auditor"), ("carol", "viewer")):
        rg.users.create(user)
        rg.assignments.assign("acme", user, role)
    recompiled(rg, "alice", "bob", "carol")
    return rg


def test_a_change_to_one_role_recompiles_only_its_holders(three_holders: Rolegate) -> None:
    rg = three_holders
    rg.roles.grant("acme", "auditor", "documents:read")
    assert recompiled(rg, "alice", "bob", "carol") == {"bob"}
    assert rg.check("bob", "documents:read", tenant="acme")


def test_a_change_to_an_inherited_role_recompiles_the_heirs_holders(
    three_holders: Rolegate,
) -> None:
    rg = three_holders
    rg.roles.revoke("acme", "viewer", "documents:read")
    assert recompiled(rg, "alice", "bob", "carol") == {"alice", "carol"}
    assert not rg.check("alice", "documents:read", tenant="acme")


def test_an_assignment_change_recompiles_only_that_user(three_holders: Rolegate) -> None:
    rg = three_holders
    rg.assignments.assign("acme", "alice", "auditor")
    assert recompiled(rg, "alice", "bob", "carol") == {"alice"}
    rg.roles.grant("acme", "auditor", "documents:write")  # alice holds auditor now
    assert recompiled(rg, "alice", "bob", "carol") == {"alice", "bob"}


def test_a_change_to_one_user_recompiles_only_that_user(three_holders: Rolegate) -> None:
    rg = three_holders
    rg.users.update("carol", full_name="Carol")
    assert recompiled(rg, "alice", "bob", "carol") == {"carol"}


def test_the_watcher_does_not_apply_this_processs_own_change_a_second_time(
    rg: Rolegate,
) -> None:
    build_documents_policy(rg)
    settled = rg.roles.update("acme", "auditor", description="Audits").revision
    assert wait_until(lambda: rg.revision >= settled, timeout=2.0) is not None
    # Hold the watcher's next read of the change log until alice has been compiled again.
    with stalled_query(rg.db.engine, table="policy_changes", thread="rolegate-watcher") as gate:
        revision = rg.assignments.assign("acme", "alice", "auditor").revision
        assert recompiled(rg, "alice") == {"alice"}  # the change was applied at commit
        gate.opened.set()
        assert wait_until(lambda: rg.revision >= revision, timeout=2.0) is not None
    assert recompiled(rg, "alice") == set()  # the watcher caught up: nothing new to apply


def test_an_expiry_is_applied_without_recompiling(
    three_holders: Rolegate, clock: FakeClock
) -> None:
    rg = three_holders
    rg.assignments.assign("acme", "carol", "viewer", expires_at=clock.now + timedelta(hours=1))
    assert recompiled(rg, "carol") == {"carol"}
    clock.advance(timedelta(hours=1))
    assert recompiled(rg, "carol") == set()  # the snapshot knew when it would end
    assert not rg.check("carol", "documents:read", tenant="acme")
    assert rg.explain("carol", "documents:read", tenant="acme").reason is (
        Reason.ASSIGNMENT_EXPIRED
    )


def test_the_cache_holds_at_most_its_capacity(
    database_url: str, clock: FakeClock, rg: Rolegate
) -> None:
    build_readers(rg, clock)
    settings = Settings(authz_cache_size=2, watch_changes=False)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as small:
        for _ in range(2):
            answers = [
                small.check(u, "documents:read", tenant="acme") for u in "ann dan bob".split()
            ]
            assert answers == [True, False, True]
            assert small.cache_stats().snapshots == 2
        assert small.cache_stats().policies == 1


def test_the_cache_evicts_the_snapshot_read_least_recently(
    database_url: str, clock: FakeClock, rg: Rolegate
) -> None:
    build_readers(rg, clock)
    settings = Settings(authz_cache_size=3, watch_changes=False)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as small:
        for user in ("ann", "bob", "cat", "ann"):
            assert small.check(user, "documents:read", tenant="acme")
        assert small.cache_stats().compiles == 3
        assert not small.check("gus", "documents:read", tenant="acme")  # evicts bob, not ann
        assert small.check("ann", "documents:read", tenant="acme")
        assert small.cache_stats().compiles == 4
        assert small.check("bob", "documents:read", tenant="acme")
        assert small.cache_stats().compiles == 5


def test_a_user_checked_often_stays_cached_while_one_off_names_pass_through(
    database_url: str, clock: FakeClock, rg: Rolegate
) -> None:
    build_readers(rg, clock)
    settings = Settings(authz_cache_size=4, watch_changes=False)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as small:
        for i in range(40):
            assert small.check("ann", "documents:read", tenant="acme")
            assert not small.check(f"ghost{i}", "documents:read", tenant="acme")
        stats = small.cache_stats()
        assert stats.snapshots == 4
        assert stats.compiles == 41  # ann once, each one-off name once


def test_eviction_under_changes_never_serves_a_stale_answer(
    database_url: str, clock: FakeClock, rg: Rolegate
) -> None:
    build_readers(rg, clock)
    hot, passing = ["ann", "bob", "cat"], ["gus", "hal", "ghost"]
    editors = {"bob"}  # in acme: the only ones who may write documents
    settings = Settings(authz_cache_size=4, watch_changes=False)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as small:
        for step in range(24):
            # The three hot users stay cached across the changes; a fourth name passes through.
            for user in [*hot, passing[step % 3], *hot]:
                allowed = small.check(user, "documents:write", tenant="acme")
                assert allowed is (user in editors), (step, user)
            target = [*hot, "gus"][step % 4]
            if target in editors:
                small.assignments.unassign("acme", target, "editor")
                editors.remove(target)
            else:
                small.assignments.assign("acme", target, "editor")
                editors.add(target)
            assert small.cache_stats().snapshots <= 4
        assert small.cache_stats().compiles < 24 * 5  # the hot users were answered from cache
