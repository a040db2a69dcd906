"""``PUT /v1/tenants/{t}/users/{u}/roles/{r}`` with ``expires_in``: the durations the CLI's
``--expires`` takes, the same forms, the same refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from rolegate import Rolegate
from tests.factories import AuthActions, FakeClock, assert_problem, member_with_password

pytestmark = pytest.mark.anyio

BOB_VIEWER = "/v1/tenants/acme/users/bob/roles/viewer"


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> dict[str, str]:
    """Headers of ada, a tenant-admin of acme, where bob is a member and viewer a role."""
    member_with_password(rg, "ada", tenant="acme")
    rg.assignments.assign("acme", "ada", "tenant-admin")
    rg.users.create("bob")
    rg.memberships.add("acme", "bob")
    rg.roles.create("acme", "viewer")
    return auth.bearer(await auth.login("ada"))


@pytest.mark.parametrize(
    ("expires_in", "length"),
    [
        ("P7D", timedelta(days=7)),
        ("7d", timedelta(days=7)),
        ("PT90M", timedelta(minutes=90)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
        ("2w", timedelta(weeks=2)),
    ],
)
async def test_expires_in_sets_expires_at_from_now(
    rg: Rolegate,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    clock: FakeClock,
    expires_in: str,
    length: timedelta,
) -> None:
    response = await client.put(BOB_VIEWER, json={"expires_in": expires_in}, headers=admin)

    assert response.status_code == 201, response.text
    assert datetime.fromisoformat(response.json()["expires_at"]) == clock.now + length
    [held] = rg.assignments.list("acme", user="bob")
    assert held.expires_at == clock.now + length


async def test_expires_at_and_expires_in_together_are_422(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], clock: FakeClock
) -> None:
    body = {"expires_at": (clock.now + timedelta(days=1)).isoformat(), "expires_in": "P7D"}
    response = await client.put(BOB_VIEWER, json=body, headers=admin)

    [error] = assert_problem(response, 422, "invalid_request")["errors"]
    assert "expires_at" in error["message"] and "expires_in" in error["message"]
    assert rg.assignments.list("acme", user="bob") == []


@pytest.mark.parametrize(
    ("expires_in", "says"),
    [
        ("soon", "is not an ISO 8601 duration"),
        ("7 days", "is not an ISO 8601 duration"),
        ("P", "is not an ISO 8601 duration"),
        ("P0D", "is not a positive duration"),
        ("0d", "is not a positive duration"),
        ("-P1D", "is not an ISO 8601 duration"),
        ("P1M", "years or months"),
        (604800, "a duration is a string"),
    ],
)
async def test_a_bad_expires_in_is_422_naming_the_field(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], expires_in: Any, says: str
) -> None:
    response = await client.put(BOB_VIEWER, json={"expires_in": expires_in}, headers=admin)

    [error] = assert_problem(response, 422, "invalid_request")["errors"]
    assert error["field"] == "body.expires_in"
    assert says in error["message"]
    assert rg.assignments.list("acme", user="bob") == []


async def test_an_expires_in_past_the_year_9999_is_422(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.put(BOB_VIEWER, json={"expires_in": "P9999999D"}, headers=admin)

    assert_problem(response, 422, "invalid_expiry")
    assert rg.assignments.list("acme", user="bob") == []


async def test_the_openapi_describes_both_ends(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["AssignmentPut"]

    fields = schema["properties"]
    assert "timestamp" in fields["expires_at"]["description"]
    assert "ISO 8601 duration" in fields["expires_in"]["description"]
    assert fields["expires_in"]["examples"] == ["P7D", "12h"]
    assert {"type": "string"} in fields["expires_in"]["anyOf"]
