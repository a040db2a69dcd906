"""Invitations over HTTP: a tenant's admin cannot pull another tenant's account in.

alice is ``tenant-admin`` of acme; carol belongs to globex only. Adding carol to acme invites
her (202), and tells acme nothing about her; she joins only by accepting, logged in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from rolegate import Rolegate
from tests.factories import (
    AuthActions,
    FakeClock,
    assert_problem,
    audit_events,
    bootstrap_admin,
    member_with_password,
)

pytestmark = pytest.mark.anyio

Headers = dict[str, str]
MEMBERS = "/v1/tenants/acme/members"


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> Headers:
    """alice's headers: ``tenant-admin`` of acme. carol, with a password, belongs to globex."""
    member_with_password(rg, "alice", tenant="acme")
    rg.assignments.assign("acme", "alice", "tenant-admin")
    member_with_password(rg, "carol", tenant="globex")
    rg.users.update("carol", full_name="Carol Secret")
    return auth.bearer(await auth.login("alice", tenant="acme"))


@pytest.fixture
async def carol(admin: Headers, auth: AuthActions) -> Headers:
    """carol's headers, logged in to her own tenant globex."""
    return auth.bearer(await auth.login("carol", tenant="globex"))


async def invite_carol(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    """alice adds carol to acme: an invitation."""
    response = await client.post(MEMBERS, json={"user": "CAROL"}, headers=admin)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_adding_another_tenants_account_only_invites_it_and_reveals_nothing(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, clock: FakeClock
) -> None:
    response = await client.post(MEMBERS, json={"user": "CAROL"}, headers=admin)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"id", "tenant", "username", "created_at", "expires_at"}
    assert (body["tenant"], body["username"]) == ("acme", "CAROL")  # as typed, nothing more
    created, expires = (datetime.fromisoformat(body[k]) for k in ("created_at", "expires_at"))
    assert created == clock.now and expires - created == timedelta(days=7)
    for secret in ("carol@example.com", "Carol Secret", "globex", "last_login"):
        assert secret not in response.text
    assert "location" not in response.headers
    # carol is no member of acme: her account stays out of acme's sight.
    assert "carol" not in [m.username for m in rg.memberships.list("acme")]
    assert_problem(
        await client.get("/v1/tenants/acme/users/carol", headers=admin), 404, "user_not_found"
    )
    listed = await client.get("/v1/tenants/acme/users", headers=admin)
    assert "carol" not in listed.text
    [event] = audit_events(rg, action="membership.invited")
    assert event.details["invitation"] == body["id"] and event.details["user"] == "CAROL"
    again = await client.post(MEMBERS, json={"user": "carol"}, headers=admin)
    assert_problem(again, 409, "invitation_exists")


async def test_the_invited_account_accepts_and_becomes_a_member(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers, carol: Headers
) -> None:
    invitation = await invite_carol(client, admin)
    pending = await client.get("/v1/auth/invitations", headers=carol)
    assert pending.status_code == 200, pending.text
    assert [(i["id"], i["tenant"], i["username"]) for i in pending.json()] == [
        (invitation["id"], "acme", "carol")
    ]
    accepted = await client.post(f"/v1/auth/invitations/{invitation['id']}/accept", headers=carol)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["tenant"], accepted.json()["username"]) == ("acme", "carol")
    [joined] = [e for e in audit_events(rg, action="membership.added") if "invitation" in e.details]
    assert joined.details["invitation"] == invitation["id"]
    assert joined.actor == str(rg.users.get("carol").id)
    assert (await client.get("/v1/auth/invitations", headers=carol)).json() == []
    assert (await client.get("/v1/tenants/acme/invitations", headers=admin)).json() == []
    # Now she is acme's member: acme sees her and she logs in there.
    assert (await client.get("/v1/tenants/acme/users/carol", headers=admin)).status_code == 200
    await auth.login("carol", tenant="acme")
    again = await client.post(f"/v1/auth/invitations/{invitation['id']}/accept", headers=carol)
    assert_problem(again, 404, "invitation_not_found")


async def test_declining_deletes_the_invitation(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, carol: Headers
) -> None:
    invitation = await invite_carol(client, admin)
    url = f"/v1/auth/invitations/{invitation['id']}"
    declined = await client.post(f"{url}/decline", headers=carol)
    assert declined.status_code == 204, declined.text
    assert (await client.get("/v1/auth/invitations", headers=carol)).json() == []
    assert (await client.get("/v1/tenants/acme/invitations", headers=admin)).json() == []
    assert_problem(await client.post(f"{url}/accept", headers=carol), 404, "invitation_not_found")
    assert "carol" not in [m.username for m in rg.memberships.list("acme")]
    [event] = audit_events(rg, action="membership.invitation_declined")
    assert event.details == {"invitation": invitation["id"]}


async def test_an_expired_invitation_cannot_be_accepted_and_may_be_sent_again(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers, clock: FakeClock
) -> None:
    invitation = await invite_carol(client, admin)
    clock.advance(timedelta(days=7))
    carol = auth.bearer(await auth.login("carol", tenant="globex"))
    assert (await client.get("/v1/auth/invitations", headers=carol)).json() == []
    url = f"/v1/auth/invitations/{invitation['id']}/accept"
    assert_problem(await client.post(url, headers=carol), 409, "invitation_expired")
    assert "carol" not in [m.username for m in rg.memberships.list("acme")]
    alice = auth.bearer(await auth.login("alice", tenant="acme"))
    renewed = await invite_carol(client, alice)
    assert renewed["id"] != invitation["id"]
    accepted = await client.post(f"/v1/auth/invitations/{renewed['id']}/accept", headers=carol)
    assert accepted.status_code == 200, accepted.text


async def test_the_tenant_lists_and_revokes_the_invitations_it_sent(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, carol: Headers
) -> None:
    invitation = await invite_carol(client, admin)
    listed = await client.get("/v1/tenants/acme/invitations", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [(i["id"], i["username"]) for i in listed.json()] == [(invitation["id"], "carol")]
    revoked = await client.delete(f"/v1/tenants/acme/invitations/{invitation['id']}", headers=admin)
    assert revoked.status_code == 204, revoked.text
    assert (await client.get("/v1/auth/invitations", headers=carol)).json() == []
    url = f"/v1/auth/invitations/{invitation['id']}/accept"
    assert_problem(await client.post(url, headers=carol), 404, "invitation_not_found")
    again = await client.delete(f"/v1/tenants/acme/invitations/{invitation['id']}", headers=admin)
    assert_problem(again, 404, "invitation_not_found")
    [event] = audit_events(rg, action="membership.invitation_revoked")
    assert event.actor == str(rg.users.get("alice").id)


async def test_someone_elses_invitation_answers_as_a_missing_one(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    invitation = await invite_carol(client, admin)
    member_with_password(rg, "dave", tenant="globex")
    rg.assignments.assign("globex", "dave", "tenant-admin")
    dave = auth.bearer(await auth.login("dave", tenant="globex"))
    mine, missing = invitation["id"], str(uuid4())
    assert (await client.get("/v1/auth/invitations", headers=dave)).json() == []
    for verb in ("accept", "decline"):
        for key in (mine, missing):
            response = await client.post(f"/v1/auth/invitations/{key}/{verb}", headers=dave)
            body = assert_problem(response, 404, "invitation_not_found")
            assert body["detail"] == f"invitation {key!r} not found"
    # Another tenant's admin cannot see or revoke acme's invitation either.
    assert (await client.get("/v1/tenants/globex/invitations", headers=dave)).json() == []
    for key in (mine, missing):
        response = await client.delete(f"/v1/tenants/globex/invitations/{key}", headers=dave)
        assert_problem(response, 404, "invitation_not_found")
    assert [str(i.id) for i in rg.invitations.list("acme")] == [mine]


async def test_the_tenant_side_needs_the_users_permissions(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    invitation = await invite_carol(client, admin)
    member_with_password(rg, "eve", tenant="acme")
    eve = auth.bearer(await auth.login("eve", tenant="acme"))
    listing = await client.get("/v1/tenants/acme/invitations", headers=eve)
    assert_problem(listing, 403, "forbidden")
    url = f"/v1/tenants/acme/invitations/{invitation['id']}"
    assert_problem(await client.delete(url, headers=eve), 403, "forbidden")
    assert_problem(await client.get("/v1/auth/invitations"), 401, "authentication_failed")


async def test_assigning_a_role_pulls_no_account_of_another_tenant_in(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.roles.create("acme", "viewer")
    response = await client.put("/v1/tenants/acme/users/carol/roles/viewer", headers=admin)
    assert_problem(response, 404, "user_not_found")
    assert "carol" not in [m.username for m in rg.memberships.list("acme")]


async def test_a_platform_admin_still_adds_another_tenants_account_directly(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    bootstrap_admin(rg)
    root = auth.bearer(await auth.login("root", tenant="platform"))
    response = await client.post(MEMBERS, json={"user": "carol"}, headers=root)
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "carol"
    assert (await client.get("/v1/tenants/acme/users/carol", headers=admin)).status_code == 200


async def test_an_account_of_no_tenant_is_added_directly(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.users.create("bob")
    response = await client.post(MEMBERS, json={"user": "bob"}, headers=admin)
    assert response.status_code == 201, response.text
    assert (await client.get("/v1/tenants/acme/invitations", headers=admin)).json() == []


async def test_creating_a_user_with_a_taken_name_pulls_no_account_in(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    body = {"username": "carol", "password": "another long password 93"}
    response = await client.post("/v1/tenants/acme/users", json=body, headers=admin)
    assert_problem(response, 409, "user_exists")
    assert "carol@example.com" not in response.text
    assert "carol" not in [m.username for m in rg.memberships.list("acme")]
