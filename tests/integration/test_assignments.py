"""Role assignments on real databases: membership on assign, expiry, listing, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from rolegate import (
    AssignmentNotFound,
    InvalidExpiry,
    Reason,
    Rolegate,
    RoleNotFound,
    UserNotFound,
)
from tests.factories import AuditTail, FakeClock, audit_events, count_rows, summary


def test_assign_makes_the_user_a_member_and_audits_both(
    acme_roles: Rolegate, clock: FakeClock
) -> None:
    rg = acme_roles
    tenant, alice = rg.tenants.get("acme"), rg.users.get("alice")
    tail = AuditTail(rg)
    assignment = rg.assignments.assign("acme", "alice", "viewer", actor="admin:1")
    assert (assignment.tenant, assignment.user_id, assignment.username, assignment.role) == (
        "acme",
        alice.id,
        "alice",
        "viewer",
    )
    assert (assignment.granted_at, assignment.granted_by, assignment.expires_at) == (
        clock.now,
        "admin:1",
        None,
    )
    assert [m.username for m in rg.memberships.list("acme")] == ["alice"]
    assert rg.check("alice", "documents:read", tenant="acme")
    events = tail.new_events()
    assert [summary(e) for e in events] == [
        {
            "action": action,
            "target_type": "user",
            "target_id": str(alice.id),
            "tenant_id": tenant.id,
            "actor": "admin:1",
        }
        for action in ("membership.added", "role.assigned")
    ]
    assert [e.details for e in events] == [
        {"username": "alice"},
        {"username": "alice", "role": "viewer", "after": {"expires_at": None}},
    ]


def test_a_second_role_does_not_add_the_membership_again(acme_roles: Rolegate) -> None:
    acme_roles.assignments.assign("acme", "alice", "viewer")
    tail = AuditTail(acme_roles)
    acme_roles.assignments.assign("acme", "alice", "editor")
    assert tail.new_actions() == ["role.assigned"]
    assert count_rows(acme_roles, "memberships") == 1


def test_assigning_again_changes_the_expiry_and_audits_the_change(
    acme_roles: Rolegate, clock: FakeClock
) -> None:
    rg = acme_roles
    first_expiry = clock.now + timedelta(days=1)
    rg.assignments.assign("acme", "alice", "viewer", expires_at=first_expiry)
    tail = AuditTail(rg)
    extended = clock.now + timedelta(days=7)
    assert rg.assignments.assign("acme", "alice", "viewer", expires_at=extended).expires_at == (
        extended
    )
    [event] = tail.new_events()
    assert event.action == "role.assignment_changed"
    assert event.details == {
        "username": "alice",
        "role": "viewer",
        "before": {"expires_at": first_expiry.isoformat()},
        "after": {"expires_at": extended.isoformat()},
    }
    assert rg.assignments.assign("acme", "alice", "viewer").expires_at is None  # made permanent
    [permanent] = rg.assignments.list("acme")
    assert permanent.expires_at is None
    assert tail.new_actions() == ["role.assignment_changed"]


def test_an_expiry_in_any_zone_is_kept_and_audited_in_utc(
    acme_roles: Rolegate, clock: FakeClock
) -> None:
    new_york = timezone(timedelta(hours=-5))
    expiry = (clock.now + timedelta(days=1)).astimezone(new_york)
    assigned = acme_roles.assignments.assign("acme", "alice", "viewer", expires_at=expiry)
    [listed] = acme_roles.assignments.list("acme")
    assert assigned.expires_at == listed.expires_at == expiry
    assert assigned.expires_at is not None and assigned.expires_at.tzinfo is UTC
    [event] = audit_events(acme_roles, action="role.assigned")
    assert event.details["after"] == {"expires_at": "2026-01-02T12:00:00+00:00"}


def test_assigning_again_with_the_same_expiry_changes_nothing(
    acme_roles: Rolegate, clock: FakeClock
) -> None:
    expiry = clock.now + timedelta(days=1)
    acme_roles.assignments.assign("acme", "alice", "viewer", expires_at=expiry)
    tail = AuditTail(acme_roles)
    same_instant_elsewhere = expiry.astimezone(timezone(timedelta(hours=-5)))
    acme_roles.assignments.assign("acme", "alice", "viewer", expires_at=same_instant_elsewhere)
    assert tail.new_events() == []


@pytest.mark.parametrize(
    "expires_at",
    [
        datetime(2025, 1, 1, tzinfo=UTC),  # the past
        datetime(2026, 1, 1, 12, 0, tzinfo=UTC),  # now: already expired
        datetime(2030, 1, 1),  # naive
    ],
)
def test_an_expiry_in_the_past_or_without_a_zone_is_rejected(
    acme_roles: Rolegate, expires_at: datetime
) -> None:
    tail = AuditTail(acme_roles)
    with pytest.raises(InvalidExpiry) as caught:
        acme_roles.assignments.assign("acme", "alice", "viewer", expires_at=expires_at)
    assert caught.value.code == "invalid_expiry"
    assert tail.new_events() == []
    assert acme_roles.assignments.list("acme") == [] and acme_roles.memberships.list("acme") == []


def test_an_assignment_stops_allowing_at_the_instant_it_expires(
    acme_roles: Rolegate, clock: FakeClock
) -> None:
    rg = acme_roles
    expiry = clock.now + timedelta(hours=1)
    rg.assignments.assign("acme", "alice", "editor", expires_at=expiry)
    clock.advance(timedelta(hours=1) - timedelta(microseconds=1))
    assert rg.check("alice", "documents:read", tenant="acme")
    clock.advance(timedelta(microseconds=1))
    assert clock.now == expiry
    assert not rg.check("alice", "documents:read", tenant="acme")
    assert rg.explain("alice", "documents:read", tenant="acme").reason is Reason.ASSIGNMENT_EXPIRED
    assert rg.explain("alice", "documents:delete", tenant="acme").reason is Reason.NO_ROLE_GRANTS_IT
    [expired] = rg.assignments.list("acme")
    assert expired.is_expired(clock.now) and expired.expires_at == expiry
    assert rg.assignments.list("acme", include_expired=False) == []


def test_unassign_takes_the_role_and_keeps_the_membership(acme_roles: Rolegate) -> None:
    rg = acme_roles
    tenant, alice = rg.tenants.get("acme"), rg.users.get("alice")
    expiry = datetime(2027, 1, 1, tzinfo=UTC)
    rg.assignments.assign("acme", "alice", "viewer", expires_at=expiry)
    tail = AuditTail(rg)
    rg.assignments.unassign("acme", "alice", "viewer", actor="admin:1")
    assert rg.assignments.list("acme") == []
    assert [m.username for m in rg.memberships.list("acme")] == ["alice"]
    assert rg.explain("alice", "documents:read", tenant="acme").reason is Reason.NO_ROLE_GRANTS_IT
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "role.unassigned",
        "target_type": "user",
        "target_id": str(alice.id),
        "tenant_id": tenant.id,
        "actor": "admin:1",
    }
    assert event.details == {
        "username": "alice",
        "role": "viewer",
        "before": {"expires_at": expiry.isoformat()},
    }


def test_unassign_of_what_was_not_assigned_is_not_found(acme_roles: Rolegate) -> None:
    tail = AuditTail(acme_roles)
    with pytest.raises(AssignmentNotFound):
        acme_roles.assignments.unassign("acme", "alice", "viewer")
    with pytest.raises(RoleNotFound):
        acme_roles.assignments.unassign("acme", "alice", "ghost")
    with pytest.raises(UserNotFound):
        acme_roles.assignments.assign("acme", "bob", "viewer")
    assert tail.new_events() == []


def test_list_filters_by_user_and_role_and_orders(acme_roles: Rolegate, clock: FakeClock) -> None:
    rg = acme_roles
    rg.users.create("Bob")
    rg.assignments.assign("acme", "bob", "viewer")
    rg.assignments.assign("acme", "alice", "viewer")
    rg.assignments.assign("acme", "alice", "editor", expires_at=clock.now + timedelta(hours=1))
    everything = [(a.username, a.role) for a in rg.assignments.list("acme")]
    assert everything == [("alice", "editor"), ("alice", "viewer"), ("Bob", "viewer")]
    assert [a.role for a in rg.assignments.list("acme", user="ALICE")] == ["editor", "viewer"]
    assert [a.username for a in rg.assignments.list("acme", role="viewer")] == ["alice", "Bob"]
    clock.advance(timedelta(hours=2))
    current = rg.assignments.list("acme", include_expired=False)
    assert [(a.username, a.role) for a in current] == [("alice", "viewer"), ("Bob", "viewer")]
    assert rg.assignments.list("default") == []
