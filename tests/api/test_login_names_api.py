"""Over HTTP, a tenant admin cannot plant a username that is another account's email (the
reported shadowing of ``victim@b.example``), nor an email that is another's username: 409
``login_name_taken``, and the victim still logs in by email."""

from __future__ import annotations

import httpx
import pytest

from rolegate import Rolegate
from tests.factories import PASSWORD, AuthActions, assert_problem, member_with_password

pytestmark = pytest.mark.anyio

T = "/v1/tenants/acme"


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> dict[str, str]:
    """alice's headers, acme's tenant admin; victim, of tenant b, has ``victim@b.example``."""
    member_with_password(rg, "alice", tenant="acme")
    rg.assignments.assign("acme", "alice", "tenant-admin")
    rg.tenants.create("b")
    rg.users.create("victim", email="victim@b.example", password=PASSWORD, tenant="b")
    return auth.bearer(await auth.login("alice", tenant="acme"))


async def test_creating_a_username_that_is_anothers_email_is_refused(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: dict[str, str]
) -> None:
    body = {"username": "Victim@B.example", "password": PASSWORD}
    response = await client.post(f"{T}/users", json=body, headers=admin)

    assert_problem(response, 409, "login_name_taken")
    assert await auth.login("victim@b.example", tenant="b")


async def test_renaming_or_readdressing_into_anothers_login_name_is_refused(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    member_with_password(rg, "mallory", tenant="acme")
    renamed = await client.patch(
        f"{T}/users/mallory", json={"username": "victim@b.example"}, headers=admin
    )
    assert_problem(renamed, 409, "login_name_taken")
    rg.users.create("boss@b.example", tenant="b")
    readdressed = await client.patch(
        f"{T}/users/mallory", json={"email": "boss@b.example"}, headers=admin
    )
    assert_problem(readdressed, 409, "login_name_taken")
    assert rg.users.get("mallory").username == "mallory"
