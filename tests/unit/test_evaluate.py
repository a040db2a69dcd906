"""The pure evaluator: ``decide`` on hand-built snapshots, checked against a reference model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given

from rolegate.authz.decision import Decision, Reason
from rolegate.authz.evaluate import decide, reachable_roles
from rolegate.authz.snapshot import Snapshot
from tests.factories import random_policies, reference_grants, snapshot

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
EARLIER = NOW - timedelta(hours=1)


def test_unknown_tenant_is_denied_before_anything_else() -> None:
    decision = decide(Snapshot.unknown(tenant_exists=False, user_exists=False), "a:b", now=NOW)
    assert decision == Decision(False, Reason.UNKNOWN_TENANT)
    assert not decision


def test_unknown_user_is_denied() -> None:
    decision = decide(Snapshot.unknown(tenant_exists=True, user_exists=False), "a:b", now=NOW)
    assert decision == Decision.deny(Reason.UNKNOWN_USER)


def test_inactive_user_is_denied_whatever_the_roles_grant() -> None:
    snap = snapshot({"admin": (["*"], [])}, {"admin": None}, is_active=False)
    assert decide(snap, "documents:read", now=NOW) == Decision.deny(Reason.INACTIVE_USER)


def test_non_member_is_denied_whatever_the_roles_grant() -> None:
    snap = snapshot({"admin": (["*"], [])}, {"admin": None}, is_member=False)
    assert decide(snap, "documents:read", now=NOW) == Decision.deny(Reason.NO_MEMBERSHIP)


@pytest.mark.parametrize("permission", ["documents:*", "*", "Documents:read", "documents", ""])
def test_a_pattern_or_malformed_name_is_not_a_checkable_permission(permission: str) -> None:
    snap = snapshot({"admin": (["*"], [])}, {"admin": None})
    assert decide(snap, permission, now=NOW) == Decision.deny(Reason.INVALID_PERMISSION)


def test_granted_directly() -> None:
    snap = snapshot({"viewer": (["documents:read"], [])}, {"viewer": None})
    decision = decide(snap, "documents:read", now=NOW)
    assert decision == Decision.allow() == Decision(True, Reason.GRANTED)
    assert decision


def test_no_role_grants_it() -> None:
    snap = snapshot({"viewer": (["documents:read"], [])}, {"viewer": None})
    assert decide(snap, "documents:write", now=NOW) == Decision.deny(Reason.NO_ROLE_GRANTS_IT)


def test_a_member_without_roles_is_denied() -> None:
    snap = snapshot({"viewer": (["documents:read"], [])})
    assert decide(snap, "documents:read", now=NOW) == Decision.deny(Reason.NO_ROLE_GRANTS_IT)


def test_a_role_held_by_nobody_grants_nothing() -> None:
    snap = snapshot({"viewer": (["documents:read"], []), "other": ([], [])}, {"other": None})
    assert not decide(snap, "documents:read", now=NOW)


def test_inheritance_is_transitive() -> None:
    snap = snapshot(
        {
            "owner": ([], ["editor"]),
            "editor": (["documents:write"], ["viewer"]),
            "viewer": (["documents:read"], []),
        },
        {"owner": None},
    )
    assert decide(snap, "documents:read", now=NOW).allowed
    assert decide(snap, "documents:write", now=NOW).allowed
    assert not decide(snap, "documents:delete", now=NOW).allowed


def test_inheritance_points_one_way_only() -> None:
    snap = snapshot(
        {"editor": (["documents:write"], ["viewer"]), "viewer": (["documents:read"], [])},
        {"viewer": None},
    )
    assert decide(snap, "documents:read", now=NOW).allowed
    assert not decide(snap, "documents:write", now=NOW).allowed


def test_diamond_inheritance_reaches_the_shared_ancestor_once() -> None:
    snap = snapshot(
        {
            "top": ([], ["left", "right"]),
            "left": (["l:x"], ["base"]),
            "right": (["r:x"], ["base"]),
            "base": (["base:x"], []),
        },
        {"top": None},
    )
    for permission in ("l:x", "r:x", "base:x"):
        assert decide(snap, permission, now=NOW).allowed
    reached = [node.name for node in reachable_roles(snap, ["top"])]
    assert sorted(reached) == ["base", "left", "right", "top"]


def test_wildcard_grants_work_through_inheritance() -> None:
    snap = snapshot(
        {
            "lead": ([], ["editor", "reader"]),
            "editor": (["reports:*"], []),
            "reader": (["*:read"], []),
        },
        {"lead": None},
    )
    assert decide(snap, "reports:q1:summary", now=NOW).allowed
    assert decide(snap, "invoices:read", now=NOW).allowed
    assert not decide(snap, "billing:invoices:read", now=NOW).allowed
    assert not decide(snap, "invoices:write", now=NOW).allowed


def test_star_grants_everything_including_upper_snake() -> None:
    snap = snapshot({"root": (["*"], [])}, {"root": None})
    assert decide(snap, "VIEW_SCREEN_DASHBOARD", now=NOW).allowed
    assert decide(snap, "a:b:c:d", now=NOW).allowed


def test_an_assignment_stops_counting_at_the_instant_it_expires() -> None:
    snap = snapshot({"viewer": (["documents:read"], [])}, {"viewer": NOW})
    just_before = NOW - timedelta(microseconds=1)
    assert decide(snap, "documents:read", now=just_before) == Decision.allow()
    assert decide(snap, "documents:read", now=NOW) == Decision.deny(Reason.ASSIGNMENT_EXPIRED)
    assert decide(snap, "documents:read", now=LATER) == Decision.deny(Reason.ASSIGNMENT_EXPIRED)


def test_expiry_compares_instants_not_wall_clock_zones() -> None:
    paris = timezone(timedelta(hours=1))
    expires = datetime(2026, 1, 1, 13, 30, tzinfo=paris)  # 12:30 UTC: half an hour after NOW
    snap = snapshot({"viewer": (["documents:read"], [])}, {"viewer": expires})
    assert decide(snap, "documents:read", now=NOW).allowed
    assert not decide(snap, "documents:read", now=NOW + timedelta(minutes=30)).allowed


def test_expired_reason_only_when_the_expired_role_would_grant_it() -> None:
    snap = snapshot(
        {"viewer": (["documents:read"], []), "editor": (["documents:write"], [])},
        {"viewer": None, "editor": EARLIER},
    )
    assert decide(snap, "documents:read", now=NOW) == Decision.allow()
    assert decide(snap, "documents:write", now=NOW) == Decision.deny(Reason.ASSIGNMENT_EXPIRED)
    assert decide(snap, "documents:delete", now=NOW) == Decision.deny(Reason.NO_ROLE_GRANTS_IT)


def test_an_expired_assignment_does_not_hide_an_active_path() -> None:
    snap = snapshot(
        {"editor": (["documents:write"], ["viewer"]), "viewer": (["documents:read"], [])},
        {"editor": EARLIER, "viewer": LATER},
    )
    assert decide(snap, "documents:read", now=NOW).allowed
    assert decide(snap, "documents:write", now=NOW).reason is Reason.ASSIGNMENT_EXPIRED


def test_a_cycle_in_the_snapshot_does_not_loop_forever() -> None:
    snap = snapshot(
        {"a": (["a:x"], ["b"]), "b": ([], ["c"]), "c": (["c:x"], ["a"]), "self": ([], ["self"])},
        {"a": None, "self": None},
    )
    assert decide(snap, "c:x", now=NOW).allowed
    assert decide(snap, "d:x", now=NOW) == Decision.deny(Reason.NO_ROLE_GRANTS_IT)
    assert sorted(n.name for n in reachable_roles(snap, ["a"])) == ["a", "b", "c"]


def test_roles_missing_from_the_snapshot_are_ignored() -> None:
    snap = snapshot({"viewer": (["documents:read"], ["ghost"])}, {"ghost": None, "viewer": None})
    assert decide(snap, "documents:read", now=NOW).allowed
    assert [n.name for n in reachable_roles(snap, ["ghost"])] == []


# --- the evaluator against a reference model on random policies --------------------------------


@given(random_policies(now=NOW))
def test_decide_agrees_with_the_reference_model(policy: tuple[Snapshot, str]) -> None:
    snap, permission = policy
    active = {a.role for a in snap.assignments if a.expires_at is None or NOW < a.expires_at}
    expired = {a.role for a in snap.assignments} - active
    if reference_grants(snap, active, permission):
        expected = Decision.allow()
    elif reference_grants(snap, expired, permission):
        expected = Decision.deny(Reason.ASSIGNMENT_EXPIRED)
    else:
        expected = Decision.deny(Reason.NO_ROLE_GRANTS_IT)
    assert decide(snap, permission, now=NOW) == expected
