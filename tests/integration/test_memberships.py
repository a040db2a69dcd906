"""Memberships on real databases: joining, leaving (with the roles held there), listing."""

from __future__ import annotations

import pytest

from rolegate import (
    MembershipExists,
    MembershipNotFound,
    Rolegate,
    TenantNotFound,
    UserNotFound,
)
from tests.factories import AuditTail, FakeClock, build_documents_policy, summary


def test_add_makes_a_member_and_audits_it(rg: Rolegate, clock: FakeClock) -> None:
    tenant = rg.tenants.create("acme")
    user = rg.users.create("alice")
    tail = AuditTail(rg)
    membership = rg.memberships.add("acme", "ALICE", actor="admin:1")
    assert (membership.tenant, membership.user_id, membership.username) == (
        "acme",
        user.id,
        "alice",
    )
    assert membership.joined_at == clock.now
    assert rg.memberships.list("acme") == [membership]
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "membership.added",
        "target_type": "user",
        "target_id": str(user.id),
        "tenant_id": tenant.id,
        "actor": "admin:1",
    }
    assert event.details == {"username": "alice"}


def test_add_twice_is_rejected_without_an_event(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.users.create("alice")
    rg.memberships.add("acme", "alice")
    tail = AuditTail(rg)
    with pytest.raises(MembershipExists) as caught:
        rg.memberships.add("acme", "alice")
    assert (caught.value.key, caught.value.tenant) == ("alice", "acme")
    assert tail.new_events() == []


def test_add_needs_an_existing_tenant_and_user(rg: Rolegate) -> None:
    rg.users.create("alice")
    with pytest.raises(TenantNotFound):
        rg.memberships.add("nope", "alice")
    with pytest.raises(UserNotFound):
        rg.memberships.add("default", "bob")


def test_remove_ends_membership_and_the_roles_held_there_only(rg: Rolegate) -> None:
    build_documents_policy(rg, "acme")
    build_documents_policy(rg, "globex")
    rg.assignments.assign("acme", "alice", "auditor")
    acme, alice = rg.tenants.get("acme"), rg.users.get("alice")
    tail = AuditTail(rg)

    rg.memberships.remove("acme", "alice", actor="admin:1")

    assert rg.memberships.list("acme") == []
    assert rg.assignments.list("acme") == []
    assert [a.role for a in rg.assignments.list("globex")] == ["editor"]
    assert not rg.check("alice", "documents:read", tenant="acme")
    assert rg.check("alice", "documents:read", tenant="globex")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "membership.removed",
        "target_type": "user",
        "target_id": str(alice.id),
        "tenant_id": acme.id,
        "actor": "admin:1",
    }
    assert event.details == {
        "username": "alice",
        "roles": ["auditor", "editor"],
        "sessions_ended": 0,
    }


def test_remove_of_a_non_member_is_not_found(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.users.create("alice")
    tail = AuditTail(rg)
    with pytest.raises(MembershipNotFound):
        rg.memberships.remove("acme", "alice")
    assert tail.new_events() == []


def test_list_and_of_user_are_ordered(rg: Rolegate) -> None:
    for slug in ("zeta", "acme"):
        rg.tenants.create(slug)
    for name in ("carol", "Bob"):
        rg.users.create(name)
        rg.memberships.add("zeta", name)
    rg.memberships.add("acme", "carol")
    assert [m.username for m in rg.memberships.list("zeta")] == ["Bob", "carol"]
    assert [m.tenant for m in rg.memberships.of_user("carol")] == ["acme", "zeta"]
    assert rg.memberships.list("default") == []
    with pytest.raises(UserNotFound):
        rg.memberships.of_user("nobody")
