"""``POST /v1/auth/login`` and ``/refresh``: tokens out, one 401 for every failure about the
account, 429 with Retry-After for a throttled client or tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta

import httpx
import pytest

from rolegate import Rolegate, Settings
from rolegate.api import create_app
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    AuthActions,
    FakeClock,
    assert_problem,
    member_with_password,
)

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


# --- throttling: 429 with Retry-After for a client or a tenant, never for one account ----------


@contextmanager
def throttling(database_url: str, clock: FakeClock, *, tenant_failures: int) -> Iterator[Rolegate]:
    """Accounts lock after 3 failures, clients after 5, a tenant past ``tenant_failures`` per
    8 minutes (one a minute past them; 0: no tenant limit)."""
    settings = Settings(
        lockout_failures=3,
        lockout_ip_failures=5,
        lockout_tenant_failures=tenant_failures,
        lockout_tenant_window=timedelta(minutes=8),
    )
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as rg:
        member_with_password(rg, "alice")
        yield rg


@pytest.fixture
def throttled(database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """:func:`throttling` with a tenant limit of 8 failures."""
    with throttling(database_url, clock, tenant_failures=8) as rg:
        yield rg


@asynccontextmanager
async def client_at(rg: Rolegate, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the real app on ``rg``, connecting from ``ip``."""
    transport = httpx.ASGITransport(app=create_app(rg), client=(ip, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def attempt(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    body = {"username": name, "password": password, "tenant": "acme"}
    return await client.post("/v1/auth/login", json=body)


async def test_a_throttled_client_gets_429_with_retry_after(throttled: Rolegate) -> None:
    async with client_at(throttled, "198.51.100.7") as client:
        for name in ("mallory", "eve", "trent", "walter", "alice"):
            assert_problem(
                await attempt(client, name, "guess guess guess"), 401, "invalid_credentials"
            )
        response = await attempt(client, "alice", PASSWORD)  # even the right password
    body = assert_problem(response, 429, "login_throttled")
    assert response.headers["retry-after"] == "60" and body["retry_after"] == 60
    assert body["type"] == "https://rolegate.dev/problems/login_throttled"
    assert "www-authenticate" not in response.headers
    async with client_at(throttled, "198.51.100.8") as elsewhere:
        assert (await attempt(elsewhere, "alice", PASSWORD)).status_code == 200


async def test_known_and_unknown_names_get_the_same_status_at_every_step(
    database_url: str, clock: FakeClock
) -> None:
    # alice's account locks at her 3rd failure: still the same 401; the client throttle's 429
    # comes at the same attempt for both names.
    statuses: dict[str, list[tuple[int, str | None, object]]] = {}
    with throttling(database_url, clock, tenant_failures=0) as throttled:
        for name, ip in (("alice", "192.0.2.10"), ("mallory", "192.0.2.11")):
            statuses[name] = await attempts(throttled, name, ip)
        assert throttled.auth.lockout("alice", tenant="acme").is_locked
    assert statuses["alice"] == statuses["mallory"]
    assert [status for status, _, _ in statuses["alice"]] == [401] * 5 + [429] * 2


async def attempts(rg: Rolegate, name: str, ip: str) -> list[tuple[int, str | None, object]]:
    """Status, Retry-After and body of 7 wrong guesses for ``name`` from ``ip``."""
    seen: list[tuple[int, str | None, object]] = []
    async with client_at(rg, ip) as client:
        for _ in range(7):
            response = await attempt(client, name, "not the password at all")
            seen.append(
                (response.status_code, response.headers.get("retry-after"), response.json())
            )
    return seen


async def test_a_spray_over_many_clients_gets_429_from_the_tenants_failure_rate(
    throttled: Rolegate, clock: FakeClock
) -> None:
    for i in range(8):  # 8 addresses, one guess each: no client or account reaches its limit
        async with client_at(throttled, f"198.51.100.{i}") as client:
            name = "alice" if i % 2 else f"user{i}"
            assert (await attempt(client, name, "guess guess guess")).status_code == 401
    for name, password in (("alice", PASSWORD), ("nobody", "guess guess guess")):
        async with client_at(throttled, "192.0.2.200") as fresh:
            response = await attempt(fresh, name, password)
        assert_problem(response, 429, "login_throttled")
        assert response.headers["retry-after"] == "60"
    clock.advance(timedelta(seconds=60))
    async with client_at(throttled, "192.0.2.200") as fresh:
        assert (await attempt(fresh, "alice", PASSWORD)).status_code == 200
