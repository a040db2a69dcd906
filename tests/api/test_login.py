"""``POST /v1/auth/login`` and ``/refresh``: tokens out, one 401 for every failure."""

from __future__ import annotations

import httpx
import pytest

from rolegate import Rolegate
from tests.factories import PASSWORD, AuthActions, assert_problem

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "quartz meadow 42 ferry lamp"


async def test_login_returns_tokens_that_verify_and_must_not_be_cached(
    alice: Rolegate, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/v1/auth/login",
        json={"username": "alice", "password": PASSWORD, "tenant": "acme"},
        headers={"User-Agent": "curl/8.5.0"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "session_id",
        "tenant",
    }
    assert body["token_type"] == "Bearer" and body["tenant"] == "acme"
    assert body["expires_in"] == 600
    principal = alice.auth.verify(body["access_token"])
    assert str(principal.session_id) == body["session_id"]
    assert principal.user_id == alice.users.get("alice").id


async def test_login_by_email_in_the_default_tenant(
    rg: Rolegate, client: httpx.AsyncClient
) -> None:
    rg.users.create("bob", email="bob@example.com", password=PASSWORD)
    rg.memberships.add("default", "bob")
    response = await client.post(
        "/v1/auth/login", json={"username": "bob@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["tenant"] == "default"


async def test_wrong_password_and_unknown_user_get_the_same_401(
    alice: Rolegate, client: httpx.AsyncClient
) -> None:
    wrong = await client.post(
        "/v1/auth/login", json={"username": "alice", "password": "nope", "tenant": "acme"}
    )
    unknown = await client.post(
        "/v1/auth/login", json={"username": "mallory", "password": "nope", "tenant": "acme"}
    )
    for response in (wrong, unknown):
        assert_problem(response, 401, "invalid_credentials")
        assert response.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == unknown.json()
    assert wrong.json()["type"] == "https://rolegate.dev/problems/unauthenticated"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/auth/login", {"username": "alice", "password": PASSWORD, "is_admin": True}),
        ("/v1/auth/refresh", {"refresh_token": "rgr_x", "session_id": "x"}),
        ("/v1/auth/password", {"current_password": "a", "new_password": "b", "user_id": "x"}),
    ],
)
async def test_unknown_fields_are_refused(
    alice: Rolegate,
    client: httpx.AsyncClient,
    auth: AuthActions,
    path: str,
    body: dict[str, object],
) -> None:
    headers = auth.bearer(await auth.login())
    problem = assert_problem(
        await client.post(path, json=body, headers=headers), 422, "invalid_request"
    )
    assert any(error["type"] == "extra_forbidden" for error in problem["errors"])


async def test_validation_errors_never_echo_passwords(client: httpx.AsyncClient) -> None:
    secret = "hunter2-but-longer"
    response = await client.post("/v1/auth/login", json={"password": secret, "tenant": 7})
    problem = assert_problem(response, 422, "invalid_request")
    assert secret not in response.text
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"body.username", "body.tenant"}


async def test_password_change_required_is_403_until_a_new_password_is_given(
    alice: Rolegate, client: httpx.AsyncClient
) -> None:
    alice.users.set_password("alice", PASSWORD, must_change=True)
    credentials = {"username": "alice", "password": PASSWORD, "tenant": "acme"}
    refused = await client.post("/v1/auth/login", json=credentials)
    assert_problem(refused, 403, "password_change_required")
    assert "www-authenticate" not in refused.headers
    weak = await client.post("/v1/auth/login", json={**credentials, "new_password": "short"})
    assert assert_problem(weak, 422, "invalid_password")["rule"] == "too_short"
    changed = await client.post(
        "/v1/auth/login", json={**credentials, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text


async def test_refresh_rotates_and_a_reused_token_ends_the_session(
    alice: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    first = await auth.login()
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()
    assert second["session_id"] == first["session_id"]
    assert second["refresh_token"] != first["refresh_token"]

    reused = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(reused, 401, "refresh_token_reused")
    assert reused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    after = await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_problem(after, 401, "invalid_token")  # the whole session ended


async def test_an_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/refresh", json={"refresh_token": "rgr_unknown"})
    assert_problem(response, 401, "invalid_token")
