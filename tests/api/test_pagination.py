"""What every paginated listing shares: an empty ``?cursor=`` (what a client sends when it
puts a null ``next_cursor`` back into the URL) is the first page, as if no cursor were given."""

from __future__ import annotations

import httpx
import pytest

from rolegate import Rolegate
from tests.factories import (
    AuthActions,
    assert_problem,
    bootstrap_admin,
    build_documents_policy,
    member_with_password,
)

pytestmark = pytest.mark.anyio

Headers = dict[str, str]

#: A listing of each router that has one, and who reads it: the platform admin or acme's admin.
LISTINGS = [
    ("/v1/tenants", "root"),
    ("/v1/audit", "root"),
    ("/v1/tenants/acme/users", "ada"),
    ("/v1/tenants/acme/sessions", "ada"),
    ("/v1/tenants/acme/roles", "ada"),
    ("/v1/tenants/acme/assignments", "ada"),
    ("/v1/tenants/acme/permissions", "ada"),
    ("/v1/tenants/acme/resources", "ada"),
    ("/v1/tenants/acme/audit", "ada"),
    ("/v1/tenants/acme/permissions/documents:read/holders", "ada"),
    ("/v1/auth/me/events", "ada"),
]


@pytest.fixture
async def callers(rg: Rolegate, auth: AuthActions) -> dict[str, Headers]:
    """The headers of root (platform admin) and ada (tenant-admin of acme, with a policy)."""
    bootstrap_admin(rg)
    build_documents_policy(rg)
    member_with_password(rg, "ada", tenant="acme")
    rg.assignments.assign("acme", "ada", "tenant-admin")
    return {
        "root": auth.bearer(await auth.login("root", tenant="platform")),
        "ada": auth.bearer(await auth.login("ada")),
    }


@pytest.mark.parametrize(("url", "caller"), LISTINGS)
async def test_an_empty_cursor_is_the_first_page(
    client: httpx.AsyncClient, callers: dict[str, Headers], url: str, caller: str
) -> None:
    headers = callers[caller]
    first = await client.get(url, params={"limit": 2}, headers=headers)
    assert first.status_code == 200, first.text

    with_empty = await client.get(url, params={"limit": 2, "cursor": ""}, headers=headers)

    assert with_empty.status_code == 200, with_empty.text
    assert with_empty.json() == first.json()


async def test_a_malformed_cursor_is_still_refused(
    client: httpx.AsyncClient, callers: dict[str, Headers]
) -> None:
    response = await client.get(
        "/v1/tenants/acme/roles", params={"cursor": " "}, headers=callers["ada"]
    )
    assert_problem(response, 422, "invalid_input")
