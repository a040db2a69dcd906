"""The bearer endpoints of ``/v1/auth``: the caller, its sessions, logout, password change."""

from __future__ import annotations

import uuid

import httpx
import pytest

from rolegate import Rolegate
from tests.factories import PASSWORD, AuthActions, assert_problem, member_with_password

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "quartz meadow 42 ferry lamp"


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer   ", "Basic YWxpY2U6c2VjcmV0", "Token abc"]
)
async def test_no_bearer_token_is_401_with_a_bare_challenge(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/v1/auth/me", headers=headers)
    assert_problem(response, 401, "authentication_failed")
    assert response.headers["www-authenticate"] == "Bearer"  # RFC 6750 §3.1: no error code


async def test_a_bad_token_is_401_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert_problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_me_shows_the_user_tenant_roles_and_permissions(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    alice.permissions.create("acme", "documents:read")
    alice.permissions.create("acme", "documents:write")
    alice.roles.create("acme", "viewer", permissions=["documents:read"])
    alice.roles.create("acme", "editor", permissions=["documents:write"], inherits=["viewer"])
    alice.assignments.assign("acme", "alice", "editor")
    tokens = await auth.login()
    response = await client.get("/v1/auth/me", headers=auth.bearer(tokens))
    assert response.status_code == 200, response.text
    user, tenant = alice.users.get("alice"), alice.tenants.get("acme")
    assert response.json() == {
        "user": {
            "id": str(user.id),
            "username": "alice",
            "email": "alice@example.com",
            "full_name": user.full_name,
        },
        "tenant": {"id": str(tenant.id), "slug": "acme"},
        "session_id": tokens["session_id"],
        "roles": ["editor", "viewer"],
        "permissions": ["documents:read", "documents:write"],
    }


async def test_sessions_lists_the_callers_sessions_in_every_tenant(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    alice.tenants.create("globex")
    alice.memberships.add("globex", "alice")
    member_with_password(alice, "bob", tenant="acme")
    await auth.login("bob")
    other = await auth.login(tenant="globex")
    mine = await auth.login()
    response = await client.get("/v1/auth/sessions", headers=auth.bearer(mine))
    assert response.status_code == 200, response.text
    listed = {s["id"]: s for s in response.json()}
    assert set(listed) == {mine["session_id"], other["session_id"]}
    assert listed[mine["session_id"]]["current"] is True
    assert listed[other["session_id"]]["current"] is False
    assert listed[other["session_id"]]["tenant"] == "globex"
    assert listed[mine["session_id"]]["created_ip"] == "203.0.113.5"
    assert all(s["is_active"] for s in listed.values())


async def test_deleting_one_of_my_sessions_ends_it(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    old, current = await auth.login(), await auth.login()
    response = await client.delete(
        f"/v1/auth/sessions/{old['session_id']}", headers=auth.bearer(current)
    )
    assert response.status_code == 204, response.text
    refused = await client.get("/v1/auth/me", headers=auth.bearer(old))
    assert_problem(refused, 401, "invalid_token")
    still = await client.get("/v1/auth/me", headers=auth.bearer(current))
    assert still.status_code == 200


async def test_someone_elses_session_is_the_same_404_as_no_session(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    member_with_password(alice, "bob", tenant="acme")
    bobs = await auth.login("bob")
    mine = await auth.login()
    headers = auth.bearer(mine)
    random_id = str(uuid.uuid4())
    foreign = await client.delete(f"/v1/auth/sessions/{bobs['session_id']}", headers=headers)
    missing = await client.delete(f"/v1/auth/sessions/{random_id}", headers=headers)
    foreign_body = assert_problem(foreign, 404, "session_not_found")
    missing_body = assert_problem(missing, 404, "session_not_found")
    # Identical but for the id the caller itself sent.
    assert foreign_body["detail"].replace(bobs["session_id"], random_id) == missing_body["detail"]
    assert {**foreign_body, "detail": ""} == {**missing_body, "detail": ""}
    assert len(foreign.content) == len(missing.content)
    bob_me = await client.get("/v1/auth/me", headers=auth.bearer(bobs))
    assert bob_me.status_code == 200  # untouched


async def test_logging_out_other_devices_keeps_this_one(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    others = [await auth.login(), await auth.login()]
    mine = await auth.login()
    refused = await client.delete("/v1/auth/sessions", headers=auth.bearer(mine))
    assert_problem(refused, 422, "invalid_input")
    response = await client.delete("/v1/auth/sessions?others=true", headers=auth.bearer(mine))
    assert response.status_code == 200, response.text
    assert response.json() == {"ended": 2}
    for tokens in others:
        gone = await client.get("/v1/auth/me", headers=auth.bearer(tokens))
        assert_problem(gone, 401, "invalid_token")
    assert (await client.get("/v1/auth/me", headers=auth.bearer(mine))).status_code == 200


async def test_after_logout_the_token_is_refused(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    tokens = await auth.login()
    response = await client.post("/v1/auth/logout", headers=auth.bearer(tokens))
    assert response.status_code == 204 and response.content == b""
    again = await client.post("/v1/auth/logout", headers=auth.bearer(tokens))
    assert_problem(again, 401, "invalid_token")
    refresh = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refresh, 401, "invalid_token")


async def test_password_change_keeps_this_session_and_ends_the_others(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    other, mine = await auth.login(), await auth.login()
    headers = auth.bearer(mine)
    wrong = await client.post(
        "/v1/auth/password",
        json={"current_password": "not it", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert_problem(wrong, 401, "invalid_credentials")
    weak = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "alice-alice-alice"},
        headers=headers,
    )
    assert assert_problem(weak, 422, "invalid_password")["rule"] == "contains_username"
    response = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert response.status_code == 204, response.text
    assert (await client.get("/v1/auth/me", headers=headers)).status_code == 200
    gone = await client.get("/v1/auth/me", headers=auth.bearer(other))
    assert_problem(gone, 401, "invalid_token")
    await auth.login(password=NEW_PASSWORD)
