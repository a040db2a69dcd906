"""Invitations on real databases: an account of other tenants joins one more only by consent.

alice administers acme; carol belongs to globex only. A caller acting for acme who adds carol
gets an :class:`Invitation`; a platform admin, or the library and CLI operator (no caller), add
her directly.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from rolegate import (
    Invitation,
    InvitationExists,
    InvitationExpired,
    InvitationNotFound,
    Membership,
    Principal,
    Rolegate,
    Settings,
    UserNotFound,
)
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    AuditTail,
    FakeClock,
    bootstrap_admin,
    member_with_password,
    summary,
)


def principal_of(rg: Rolegate, username: str, *, tenant: str) -> Principal:
    """The verified principal of a real login of ``username`` into ``tenant``."""
    return rg.auth.verify(rg.auth.login(username, PASSWORD, tenant=tenant).access_token)


@pytest.fixture
def alice(rg: Rolegate) -> Principal:
    """alice, ``tenant-admin`` of acme, logged in there; carol belongs to globex only."""
    member_with_password(rg, "alice", tenant="acme")
    rg.assignments.assign("acme", "alice", "tenant-admin")
    member_with_password(rg, "carol", tenant="globex")
    return principal_of(rg, "alice", tenant="acme")


def members_of(rg: Rolegate, tenant: str) -> list[str]:
    return [m.username for m in rg.memberships.list(tenant)]


def test_a_tenant_caller_adding_another_tenants_account_gets_an_invitation(
    rg: Rolegate, alice: Principal, clock: FakeClock
) -> None:
    tail = AuditTail(rg)
    invited = rg.memberships.add("acme", "Carol", actor=str(alice.user_id), caller=alice)
    assert isinstance(invited, Invitation)
    carol = rg.users.get("carol")
    assert (invited.tenant, invited.user_id, invited.username) == ("acme", carol.id, "Carol")
    assert (invited.created_at, invited.expires_at) == (clock.now, clock.now + timedelta(days=7))
    assert members_of(rg, "acme") == ["alice"]
    with pytest.raises(UserNotFound):
        rg.users.get("carol", tenant="acme")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "membership.invited",
        "target_type": "user",
        "target_id": str(carol.id),
        "tenant_id": rg.tenants.get("acme").id,
        "actor": str(alice.user_id),
    }
    assert event.details["invitation"] == str(invited.id)
    assert "carol@example.com" not in str(event.details)
    with pytest.raises(InvitationExists):
        rg.memberships.add("acme", "carol", caller=alice)


def test_a_platform_admin_or_the_operator_adds_directly(rg: Rolegate, alice: Principal) -> None:
    bootstrap_admin(rg)
    root = principal_of(rg, "root", tenant="platform")
    assert isinstance(rg.memberships.add("acme", "carol", caller=root), Membership)
    member_with_password(rg, "dave", tenant="globex")
    assert isinstance(rg.memberships.add("acme", "dave"), Membership)  # no caller: the operator
    assert members_of(rg, "acme") == ["alice", "carol", "dave"]
    assert rg.invitations.list("acme") == []


def test_an_account_of_no_tenant_joins_directly(rg: Rolegate, alice: Principal) -> None:
    rg.users.create("bob")
    assert isinstance(rg.memberships.add("acme", "bob", caller=alice), Membership)


def test_accepting_makes_the_membership_and_audits_the_invitation(
    rg: Rolegate, alice: Principal
) -> None:
    invited = rg.memberships.add("acme", "carol", caller=alice)
    assert isinstance(invited, Invitation)
    carol = rg.users.get("carol")
    assert [i.id for i in rg.invitations.list_for_user(carol.id)] == [invited.id]
    assert [i.id for i in rg.invitations.list("acme")] == [invited.id]
    tail = AuditTail(rg)
    joined = rg.invitations.accept(invited.id, user=carol.id)
    assert (joined.tenant, joined.username) == ("acme", "carol")
    assert members_of(rg, "acme") == ["alice", "carol"]
    [event] = tail.new_events()
    assert (event.action, event.actor) == ("membership.added", str(carol.id))
    assert event.details == {"username": "carol", "invitation": str(invited.id)}
    assert rg.invitations.list_for_user(carol.id) == [] and rg.invitations.list("acme") == []
    assert rg.check("carol", "anything:read", tenant="acme", at_least=joined.revision) is False
    with pytest.raises(InvitationNotFound):
        rg.invitations.accept(invited.id, user=carol.id)


def test_declining_and_revoking_delete_the_invitation(rg: Rolegate, alice: Principal) -> None:
    carol = rg.users.get("carol")
    first = rg.memberships.add("acme", "carol", caller=alice)
    assert isinstance(first, Invitation)
    tail = AuditTail(rg)
    rg.invitations.decline(first.id, user=carol.id)
    second = rg.memberships.add("acme", "carol", caller=alice)
    assert isinstance(second, Invitation)
    rg.invitations.revoke("acme", second.id, actor="admin:1")
    actions = {(e.action, e.details.get("invitation")) for e in tail.new_events()}
    assert actions == {
        ("membership.invitation_declined", str(first.id)),
        ("membership.invited", str(second.id)),
        ("membership.invitation_revoked", str(second.id)),
    }
    assert rg.invitations.list("acme") == [] and members_of(rg, "acme") == ["alice"]
    with pytest.raises(InvitationNotFound):
        rg.invitations.accept(second.id, user=carol.id)


def test_an_expired_invitation_cannot_be_accepted(
    rg: Rolegate, alice: Principal, clock: FakeClock
) -> None:
    invited = rg.memberships.add("acme", "carol", caller=alice)
    assert isinstance(invited, Invitation)
    carol = rg.users.get("carol")
    clock.advance(timedelta(days=7))
    assert rg.invitations.list_for_user(carol.id) == [] and rg.invitations.list("acme") == []
    with pytest.raises(InvitationExpired):
        rg.invitations.accept(invited.id, user=carol.id)
    assert members_of(rg, "acme") == ["alice"]
    rg.invitations.decline(invited.id, user=carol.id)  # an expired one may still be declined


def test_the_invitation_ttl_is_configurable(database_url: str, clock: FakeClock) -> None:
    settings = Settings(invitation_ttl=timedelta(hours=1))
    with Rolegate(database_url, settings=settings, hasher=FAST_HASHER, clock=clock) as rg:
        member_with_password(rg, "alice", tenant="acme")
        member_with_password(rg, "carol", tenant="globex")
        caller = principal_of(rg, "alice", tenant="acme")
        invited = rg.memberships.add("acme", "carol", caller=caller)
        assert isinstance(invited, Invitation)
        assert invited.expires_at - invited.created_at == timedelta(hours=1)


def test_someone_elses_invitation_is_not_found(rg: Rolegate, alice: Principal) -> None:
    invited = rg.memberships.add("acme", "carol", caller=alice)
    assert isinstance(invited, Invitation)
    member_with_password(rg, "dave", tenant="globex")
    dave = rg.users.get("dave")
    for key in (invited.id, uuid4()):
        with pytest.raises(InvitationNotFound):
            rg.invitations.accept(key, user=dave.id)
        with pytest.raises(InvitationNotFound):
            rg.invitations.decline(key, user=dave.id)
        with pytest.raises(InvitationNotFound):
            rg.invitations.revoke("globex", key)
    assert [i.id for i in rg.invitations.list("acme")] == [invited.id]


def test_assigning_a_role_is_no_back_door(rg: Rolegate, alice: Principal) -> None:
    rg.roles.create("acme", "viewer")
    with pytest.raises(UserNotFound):
        rg.assignments.assign("acme", "carol", "viewer", caller=alice)
    assert members_of(rg, "acme") == ["alice"]
    rg.users.create("bob")  # an account of no tenant still joins by assignment
    rg.assignments.assign("acme", "bob", "viewer", caller=alice)
    assert members_of(rg, "acme") == ["alice", "bob"]
