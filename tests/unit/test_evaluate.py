"""The pure evaluator and the structures it reads: decisions, chains, held roles and grants,
expiry, and shared grant sets, on hand-built policies and against the reference on random ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given

from rolegate.authz.check import Checks
from rolegate.authz.decision import Chain, Decision, Reason
from rolegate.authz.evaluate import HeldRole, decide, effective_permissions, held_roles
from rolegate.authz.freshness import Freshness
from rolegate.authz.snapshot import EMPTY_GRANTS, NEVER, Grants, Snapshot, grants_of
from tests.factories import RandomPolicy, policy_of, random_policies, role_id, snapshot_of
from tests.reference import active_roles, held_grants, reachable, role_specs
from tests.reference import decide as reference_decide

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
EARLIER = NOW - timedelta(hours=1)
T = NOW.timestamp()

EDITORS = {
    "owner": ([], ["editor"]),
    "editor": (["documents:write"], ["viewer"]),
    "viewer": (["documents:read"], []),
}
DIAMOND = {
    "top": ([], ["left", "right"]),
    "left": (["l:x"], ["base"]),
    "right": (["r:x"], ["base"]),
    "base": (["base:x"], []),
}


def decide_now(snapshot: Snapshot, permission: str, *, at: datetime = NOW) -> Decision:
    return decide(snapshot, permission, now=at.timestamp())


def allows(snapshot: Snapshot, permission: str, *, at: datetime = NOW) -> bool:
    """What the production check (:class:`Checks`, the code ``Rolegate.check`` runs) answers
    with ``snapshot`` cached for (tenant, user), whether warm or through its slow path."""
    checks = Checks(
        {("acme", "alice"): snapshot},
        snapshot=lambda tenant, user: snapshot.at(at.timestamp()),
        wait_for=lambda revision: None,
        revision=lambda: snapshot.revision,
        timer=at.timestamp,
        freshness=Freshness(60.0),
    )
    return checks.check("alice", permission, tenant="acme")


def chain_set(decision: Decision) -> set[tuple[tuple[str, ...], str]]:
    return {(chain.roles, chain.grant) for chain in decision.chains}


# --- who is asking comes first ------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [Reason.UNKNOWN_TENANT, Reason.UNKNOWN_USER, Reason.INACTIVE_USER, Reason.NO_MEMBERSHIP],
)
@pytest.mark.parametrize("permission", ["documents:read", "documents:*", ""])
def test_a_refused_snapshot_denies_everything_for_its_reason(
    reason: Reason, permission: str
) -> None:
    decision = decide_now(Snapshot.denied(reason, revision=7), permission)
    assert decision == Decision.deny(reason)
    assert decision.revision == 7
    assert decision.chains == ()
    assert not decision


def test_a_refused_snapshot_holds_no_roles_and_no_permissions() -> None:
    refused = Snapshot.denied(Reason.INACTIVE_USER)
    assert held_roles(refused, now=T) == []
    assert effective_permissions(refused, now=T) == ()
    assert not allows(refused, "documents:read")
    assert refused.at(T + 3600).denial is Reason.INACTIVE_USER  # time changes no refusal


@pytest.mark.parametrize(
    "permission", ["documents:*", "*", "*:read", "Documents:read", "documents", "", "a::b"]
)
def test_a_pattern_or_malformed_name_is_not_a_checkable_permission(permission: str) -> None:
    snap = snapshot_of(policy_of({"admin": (["*"], [])}), {"admin": None}, now=NOW)
    assert decide_now(snap, permission) == Decision.deny(Reason.INVALID_PERMISSION)
    assert not allows(snap, permission)


# --- what the roles grant -------------------------------------------------------------------------


def test_granted_directly_through_one_chain() -> None:
    snap = snapshot_of(policy_of({"viewer": (["documents:read"], [])}), {"viewer": None}, now=NOW)
    decision = decide_now(snap, "documents:read")
    assert decision == Decision.allow() == Decision(True, Reason.GRANTED)
    assert decision.chains == (Chain(("viewer",), "documents:read"),)
    assert str(decision.chains[0]) == "viewer -> documents:read"


def test_no_role_grants_it() -> None:
    snap = snapshot_of(policy_of({"viewer": (["documents:read"], [])}), {"viewer": None}, now=NOW)
    assert decide_now(snap, "documents:write") == Decision.deny(Reason.NO_ROLE_GRANTS_IT)


def test_a_member_without_roles_is_denied() -> None:
    snap = snapshot_of(policy_of({"viewer": (["documents:read"], [])}), now=NOW)
    assert decide_now(snap, "documents:read") == Decision.deny(Reason.NO_ROLE_GRANTS_IT)


def test_a_role_held_by_nobody_grants_nothing() -> None:
    policy = policy_of({"viewer": (["documents:read"], []), "other": ([], [])})
    snap = snapshot_of(policy, {"other": None}, now=NOW)
    assert not decide_now(snap, "documents:read")


def test_inheritance_is_transitive_and_the_chain_names_every_role_on_the_way() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"owner": None}, now=NOW)
    read = decide_now(snap, "documents:read")
    assert read.chains == (Chain(("owner", "editor", "viewer"), "documents:read"),)
    assert decide_now(snap, "documents:write").chains == (
        Chain(("owner", "editor"), "documents:write"),
    )
    assert not decide_now(snap, "documents:delete")


def test_inheritance_points_one_way_only() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"viewer": None}, now=NOW)
    assert decide_now(snap, "documents:read")
    assert not decide_now(snap, "documents:write")


def test_diamond_inheritance_gives_one_chain_per_path() -> None:
    snap = snapshot_of(policy_of(DIAMOND), {"top": None}, now=NOW)
    assert chain_set(decide_now(snap, "base:x")) == {
        (("top", "left", "base"), "base:x"),
        (("top", "right", "base"), "base:x"),
    }
    assert chain_set(decide_now(snap, "l:x")) == {(("top", "left"), "l:x")}


def test_a_role_both_assigned_and_inherited_gives_a_chain_from_each_assignment() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"owner": None, "viewer": LATER}, now=NOW)
    assert chain_set(decide_now(snap, "documents:read")) == {
        (("owner", "editor", "viewer"), "documents:read"),
        (("viewer",), "documents:read"),
    }


def test_a_pattern_grant_is_reported_as_the_pattern_alongside_an_exact_one() -> None:
    policy = policy_of(
        {
            "lead": (["reports:q1"], ["editor", "reader"]),
            "editor": (["reports:*"], []),
            "reader": (["*:q1"], []),
        }
    )
    snap = snapshot_of(policy, {"lead": None}, now=NOW)
    assert chain_set(decide_now(snap, "reports:q1")) == {
        (("lead",), "reports:q1"),
        (("lead", "editor"), "reports:*"),
        (("lead", "reader"), "*:q1"),
    }


def test_wildcard_grants_work_through_inheritance() -> None:
    policy = policy_of(
        {
            "lead": ([], ["editor", "reader"]),
            "editor": (["reports:*"], []),
            "reader": (["*:read"], []),
        }
    )
    snap = snapshot_of(policy, {"lead": None}, now=NOW)
    assert decide_now(snap, "reports:q1:summary")  # a trailing * matches deeper names too
    assert decide_now(snap, "invoices:read")
    assert not decide_now(snap, "billing:invoices:read")  # a leading * matches one segment
    assert not decide_now(snap, "invoices:write")


def test_star_grants_everything_including_upper_snake() -> None:
    snap = snapshot_of(policy_of({"root": (["*"], [])}), {"root": None}, now=NOW)
    assert decide_now(snap, "VIEW_SCREEN_DASHBOARD").chains == (Chain(("root",), "*"),)
    assert decide_now(snap, "a:b:c:d")


def test_a_cycle_does_not_loop_forever() -> None:
    policy = policy_of(
        {"a": (["a:x"], ["b"]), "b": ([], ["c"]), "c": (["c:x"], ["a"]), "self": ([], ["self"])}
    )
    snap = snapshot_of(policy, {"a": None, "self": None}, now=NOW)
    assert decide_now(snap, "c:x").chains == (Chain(("a", "b", "c"), "c:x"),)
    assert decide_now(snap, "d:x") == Decision.deny(Reason.NO_ROLE_GRANTS_IT)
    assert {role.name for role in held_roles(snap, now=T)} == {"a", "b", "c", "self"}


def test_an_assignment_to_a_role_missing_from_the_policy_grants_nothing() -> None:
    snap = snapshot_of(policy_of({"viewer": (["documents:read"], [])}), {"ghost": None}, now=NOW)
    assert decide_now(snap, "documents:read") == Decision.deny(Reason.NO_ROLE_GRANTS_IT)
    assert held_roles(snap, now=T) == []


def test_the_decision_carries_the_snapshot_revision() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"owner": None}, now=NOW, revision=42)
    assert decide_now(snap, "documents:read").revision == 42
    assert decide_now(snap, "documents:delete").revision == 42


# --- time ---------------------------------------------------------------------------------------


def test_an_assignment_stops_counting_at_the_instant_it_expires() -> None:
    snap = snapshot_of(policy_of({"viewer": (["documents:read"], [])}), {"viewer": LATER}, now=NOW)
    just_before = LATER - timedelta(microseconds=1)
    assert decide_now(snap, "documents:read", at=just_before) == Decision.allow()
    expired = Decision.deny(Reason.ASSIGNMENT_EXPIRED)
    assert decide_now(snap, "documents:read", at=LATER) == expired
    assert decide_now(snap, "documents:read", at=LATER + timedelta(days=1)) == expired


def test_expiry_compares_instants_not_wall_clock_zones() -> None:
    paris = timezone(timedelta(hours=1))
    expires = datetime(2026, 1, 1, 13, 30, tzinfo=paris)  # 12:30 UTC: half an hour after NOW
    policy = policy_of({"viewer": (["documents:read"], [])})
    snap = snapshot_of(policy, {"viewer": expires}, now=NOW)
    assert decide_now(snap, "documents:read")
    assert not decide_now(snap, "documents:read", at=NOW + timedelta(minutes=30))


def test_expired_reason_only_when_the_expired_role_would_grant_it() -> None:
    policy = policy_of({"viewer": (["documents:read"], []), "editor": (["documents:write"], [])})
    snap = snapshot_of(policy, {"viewer": None, "editor": EARLIER}, now=NOW)
    assert decide_now(snap, "documents:read") == Decision.allow()
    assert decide_now(snap, "documents:write") == Decision.deny(Reason.ASSIGNMENT_EXPIRED)
    assert decide_now(snap, "documents:delete") == Decision.deny(Reason.NO_ROLE_GRANTS_IT)


def test_an_expired_assignment_does_not_hide_an_active_path_nor_add_a_chain() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"editor": EARLIER, "viewer": LATER}, now=NOW)
    assert decide_now(snap, "documents:read").chains == (Chain(("viewer",), "documents:read"),)
    assert decide_now(snap, "documents:write").reason is Reason.ASSIGNMENT_EXPIRED


def test_at_recomputes_grants_after_an_expiry_and_moves_valid_until_on() -> None:
    policy = policy_of({"viewer": (["documents:read"], []), "editor": (["documents:write"], [])})
    snap = snapshot_of(policy, {"viewer": LATER, "editor": LATER + timedelta(hours=1)}, now=NOW)
    assert snap.grants.names == {"documents:read", "documents:write"}
    assert snap.valid_until == LATER.timestamp()  # the earliest expiry still to come
    after_first = snap.at(LATER.timestamp())
    assert after_first.grants.names == {"documents:write"}
    assert after_first.valid_until == LATER.timestamp() + 3600
    after_both = snap.at(LATER.timestamp() + 3600)
    assert after_both.grants is EMPTY_GRANTS
    assert after_both.valid_until == NEVER
    assert snap.grants.names == {"documents:read", "documents:write"}  # frozen: a new value


def test_a_snapshot_without_expiries_is_valid_forever() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"owner": None}, now=NOW)
    assert snap.valid_until == NEVER
    assert snap.footprint == {role_id("owner"), role_id("editor"), role_id("viewer")}


def test_an_assignment_expired_before_the_snapshot_is_in_its_footprint_but_not_its_grants() -> None:
    # Expired assignments still decide "assignment_expired", so a change to their role must
    # invalidate the snapshot too.
    snap = snapshot_of(policy_of(EDITORS), {"viewer": EARLIER}, now=NOW)
    assert snap.grants is EMPTY_GRANTS
    assert snap.footprint == {role_id("viewer")}


# --- held roles and effective permissions ---------------------------------------------------------


def test_held_roles_lists_direct_then_inherited_roles_with_the_expiry_they_come_with() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"owner": LATER}, now=NOW)
    assert held_roles(snap, now=T) == [
        HeldRole("owner", (), LATER),
        HeldRole("editor", ("owner",), LATER),
        HeldRole("viewer", ("owner", "editor"), LATER),
    ]
    assert [role.is_direct for role in held_roles(snap, now=T)] == [True, False, False]
    assert held_roles(snap, now=LATER.timestamp()) == []


def test_held_roles_lists_a_role_once_by_its_shortest_path() -> None:
    snap = snapshot_of(policy_of(EDITORS), {"owner": None, "viewer": None}, now=NOW)
    assert held_roles(snap, now=T) == [
        HeldRole("owner", (), None),
        HeldRole("viewer", (), None),
        HeldRole("editor", ("owner",), None),
    ]


def test_effective_permissions_are_exact_names_and_patterns_sorted() -> None:
    policy = policy_of({"lead": (["b:read", "A_B"], ["editor"]), "editor": (["a:*", "*:x"], [])})
    snap = snapshot_of(policy, {"lead": LATER}, now=NOW)
    assert effective_permissions(snap, now=T) == ("*:x", "A_B", "a:*", "b:read")
    assert effective_permissions(snap, now=LATER.timestamp()) == ()


# --- compiled grant sets --------------------------------------------------------------------------


def test_grants_cover_exact_names_and_pattern_matches_only() -> None:
    grants = grants_of(["documents:read", "reports:*", "*:list"])
    assert grants.exact == {"documents:read"}
    assert grants.patterns == ("*:list", "reports:*")
    assert grants.covers("documents:read")
    assert grants.covers("reports:q1:summary")
    assert grants.covers("users:list")
    assert not grants.covers("documents:write")
    assert not grants.covers("a:users:list")
    assert grants.matching("reports:list") == ["*:list", "reports:*"]
    assert grants.matching("documents:read") == ["documents:read"]
    assert grants.names == {"documents:read", "reports:*", "*:list"}


@pytest.mark.parametrize("name", ["*", "documents:*", "", "Documents:read"])
def test_not_even_star_covers_an_invalid_name(name: str) -> None:
    grants = grants_of(["*"])
    assert not grants.covers(name)
    assert grants.matching(name) == []


def test_empty_grants_cover_nothing() -> None:
    assert not Grants(frozenset()).covers("a:b")
    assert EMPTY_GRANTS.names == frozenset()


def test_union_is_one_shared_object_per_role_combination() -> None:
    policy = policy_of(DIAMOND)
    both = policy.union(frozenset({"left", "right"}))
    assert policy.union(frozenset(["right", "left"])) is both
    assert both.names == {"l:x", "r:x", "base:x"}
    assert policy.union(frozenset({"left"})) is policy.roles["left"].closure
    assert policy.union(frozenset()) is EMPTY_GRANTS
    assert policy.union(frozenset({"left", "ghost"})).names == {"l:x", "base:x"}


def test_snapshots_holding_the_same_roles_share_one_grant_set() -> None:
    policy = policy_of(DIAMOND)
    first = snapshot_of(policy, {"left": None, "right": LATER}, now=NOW)
    second = snapshot_of(policy, {"right": None, "left": None}, now=NOW)
    assert first.grants is second.grants
    assert first.at(LATER.timestamp()).grants is policy.roles["left"].closure


# --- the evaluator against the reference on random policies -------------------------------------


@given(random_policies(now=NOW))
def test_decide_agrees_with_the_reference(policy: RandomPolicy) -> None:
    snap = snapshot_of(policy_of(policy.roles), policy.assignments, now=NOW)
    expected = reference_decide(
        role_specs(policy.roles), policy.assignments, policy.permission, now=NOW
    )
    decision = decide_now(snap, policy.permission)
    assert (decision.allowed, decision.reason) == (expected.allowed, expected.reason)
    assert chain_set(decision) == expected.chains
    assert len(decision.chains) == len(expected.chains)  # and no chain is listed twice
    assert allows(snap, policy.permission) is expected.allowed


@given(random_policies(now=NOW))
def test_held_roles_and_permissions_agree_with_the_reference(policy: RandomPolicy) -> None:
    snap = snapshot_of(policy_of(policy.roles), policy.assignments, now=NOW)
    roles = role_specs(policy.roles)
    assert list(effective_permissions(snap, now=T)) == held_grants(
        roles, policy.assignments, now=NOW
    )
    held = held_roles(snap, now=T)
    assert [r.name for r in held if r.is_direct] == sorted(
        active_roles(policy.assignments, now=NOW)
    )
    assert sorted(r.name for r in held) == sorted(
        reachable(roles, active_roles(policy.assignments, now=NOW))
    )


@given(random_policies(now=NOW))
def test_at_agrees_with_a_snapshot_made_later(policy: RandomPolicy) -> None:
    compiled = policy_of(policy.roles)
    snap = snapshot_of(compiled, policy.assignments, now=EARLIER)
    for moment in (NOW, LATER, LATER + timedelta(days=3)):
        later = snap.at(moment.timestamp())
        fresh = snapshot_of(compiled, policy.assignments, now=moment)
        assert later.grants is fresh.grants
        upcoming = [e.timestamp() for e in policy.assignments.values() if e and e > moment]
        assert later.valid_until == min(upcoming, default=NEVER)
