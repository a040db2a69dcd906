"""Role assignments over HTTP: ``PUT``/``DELETE /v1/tenants/{t}/users/{u}/roles/{r}`` and the
``/assignments`` listing; idempotence under a race, members only, and other tenants' users and
roles answering exactly like missing ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from rolegate import Rolegate
from rolegate.builtins import ROLES_ASSIGN, ROLES_READ
from tests.factories import (
    AuditTail,
    AuthActions,
    FakeClock,
    assert_problem,
    audit_events,
    count_rows,
    member_with_password,
)

pytestmark = pytest.mark.anyio

ASSIGNMENTS = "/v1/tenants/acme/assignments"


def assignment_path(user: object, role: object, tenant: str = "acme") -> str:
    """The URL of ``user``'s assignment to ``role``."""
    return f"/v1/tenants/{tenant}/users/{user}/roles/{role}"


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> dict[str, str]:
    """Headers of ada, a tenant-admin of acme, where bob is a member and viewer a role."""
    member_with_password(rg, "ada", tenant="acme")
    rg.assignments.assign("acme", "ada", "tenant-admin")
    rg.users.create("bob")
    rg.memberships.add("acme", "bob")
    rg.permissions.create("acme", "documents:read")
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    return auth.bearer(await auth.login("ada"))


async def test_put_assigns_then_sets_the_expiry_and_delete_unassigns(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], clock: FakeClock
) -> None:
    tail = AuditTail(rg)
    created = await client.put(assignment_path("bob", "viewer"), headers=admin)
    assert created.status_code == 201, created.text
    bob = rg.users.get("bob")
    assert created.json() == {
        "user_id": str(bob.id),
        "username": "bob",
        "role": "viewer",
        "granted_at": created.json()["granted_at"],
        "granted_by": str(rg.users.get("ada").id),
        "expires_at": None,
    }
    assert tail.new_actions() == ["role.assigned"]
    assert rg.check("bob", "documents:read", tenant="acme")

    same = await client.put(assignment_path(bob.id, "viewer"), json={}, headers=admin)
    assert same.status_code == 200 and same.json() == created.json()
    assert tail.new_actions() == []

    until = clock.now + timedelta(days=1)
    changed = await client.put(
        assignment_path("bob", "viewer"), json={"expires_at": until.isoformat()}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["expires_at"] == until.isoformat().replace("+00:00", "Z")
    assert tail.new_actions() == ["role.assignment_changed"]

    gone = await client.delete(assignment_path("bob", "viewer"), headers=admin)
    assert gone.status_code == 204
    assert tail.new_actions() == ["role.unassigned"]
    assert not rg.check("bob", "documents:read", tenant="acme")
    again = await client.delete(assignment_path("bob", "viewer"), headers=admin)
    assert_problem(again, 404, "assignment_not_found")


@pytest.mark.parametrize(
    ("expires_at", "code"),
    [
        ("2026-01-02T12:00:00", "invalid_expiry"),  # no time zone
        ("2025-12-31T12:00:00Z", "invalid_expiry"),  # in the past
    ],
)
async def test_a_bad_expiry_is_422(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], expires_at: str, code: str
) -> None:
    response = await client.put(
        assignment_path("bob", "viewer"), json={"expires_at": expires_at}, headers=admin
    )
    assert_problem(response, 422, code)
    assert rg.assignments.list("acme", user="bob") == []


@pytest.mark.parametrize(
    "field",
    [
        {"granted_by": "someone-else"},
        {"granted_at": "2026-01-01T00:00:00Z"},
        {"tenant_id": "x"},
        {"user_id": "x"},
        {"role": "tenant-admin"},
    ],
)
async def test_unknown_fields_are_refused(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], field: dict[str, Any]
) -> None:
    response = await client.put(assignment_path("bob", "viewer"), json=field, headers=admin)
    errors = assert_problem(response, 422, "invalid_request")["errors"]
    assert [e["type"] for e in errors] == ["extra_forbidden"]
    assert rg.assignments.list("acme", user="bob") == []


async def test_a_user_who_is_not_a_member_answers_like_a_missing_one(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.tenants.create("globex")
    outsider = rg.users.create("gina")
    rg.memberships.add("globex", "gina")
    rg.roles.create("globex", "globex-role")
    probes: list[tuple[str, str]] = [
        ("PUT", assignment_path("gina", "viewer")),
        ("PUT", assignment_path(outsider.id, "viewer")),
        ("PUT", assignment_path("gina", "tenant-admin")),
        ("PUT", assignment_path("gina", "no-such-role")),
        ("DELETE", assignment_path("gina", "viewer")),
        ("DELETE", assignment_path(outsider.id, "viewer")),
    ]

    async def answers() -> list[tuple[int, Any]]:
        found = []
        for method, path in probes:
            response = await client.request(method, path, headers=admin)
            found.append((response.status_code, response.json()))
        listed = await client.get(ASSIGNMENTS, params={"user": "gina"}, headers=admin)
        found.append((listed.status_code, listed.json()))
        return found

    while_she_exists = await answers()
    assert {status for status, _ in while_she_exists[:-1]} == {404}
    assert {body["code"] for _, body in while_she_exists[:-1]} == {"user_not_found"}
    assert while_she_exists[-1] == (200, {"items": [], "next_cursor": None})
    rg.users.delete("gina")
    assert await answers() == while_she_exists
    assert [m.username for m in rg.users.list(tenant="acme")] == ["ada", "bob"]


async def test_another_tenants_roles_and_assignments_answer_like_missing_ones(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.tenants.create("globex")
    theirs = rg.roles.create("globex", "globex-role")
    rg.memberships.add("globex", "bob")
    rg.assignments.assign("globex", "bob", "globex-role")
    tenant_id = rg.tenants.get("globex").id
    probes: list[tuple[str, str]] = [
        ("PUT", assignment_path("bob", "globex-role")),
        ("PUT", assignment_path("bob", theirs.id)),
        ("DELETE", assignment_path("bob", "globex-role")),
        ("DELETE", assignment_path("bob", theirs.id)),
        ("PUT", assignment_path("bob", "viewer", tenant="globex")),
        ("GET", f"/v1/tenants/{tenant_id}/assignments"),
        ("GET", f"{ASSIGNMENTS}?role=globex-role"),
        ("GET", f"{ASSIGNMENTS}?role={theirs.id}"),
    ]

    async def answers() -> list[tuple[int, Any]]:
        found = []
        for method, path in probes:
            response = await client.request(method, path, headers=admin)
            found.append((response.status_code, response.json()))
        return found

    while_they_exist = await answers()
    assert [status for status, _ in while_they_exist] == [404] * 6 + [200] * 2
    assert all(body == {"items": [], "next_cursor": None} for _, body in while_they_exist[6:])
    rg.tenants.delete("globex")
    assert await answers() == while_they_exist
    assert rg.assignments.list("acme", user="bob") == []


async def test_assigning_and_listing_need_their_permissions(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    member_with_password(rg, "rita", tenant="acme")
    rg.roles.create("acme", "role-reader", permissions=[ROLES_READ])
    rg.assignments.assign("acme", "rita", "role-reader")
    headers = auth.bearer(await auth.login("rita"))
    assert (await client.get(ASSIGNMENTS, headers=headers)).status_code == 200
    response = await client.put(assignment_path("rita", "role-reader"), headers=headers)
    assert assert_problem(response, 403, "forbidden")["permission"] == ROLES_ASSIGN


async def test_the_listing_filters_and_pages_while_rows_are_inserted(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], clock: FakeClock
) -> None:
    rg.roles.create("acme", "editor")
    for i in range(0, 20, 2):
        rg.users.create(f"u{i:02d}")
        rg.assignments.assign("acme", f"u{i:02d}", "viewer")
    rg.assignments.assign("acme", "u00", "editor", expires_at=clock.now + timedelta(minutes=1))
    at_start = {(a.username, a.role) for a in rg.assignments.list("acme")}
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    for step in range(100):
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(ASSIGNMENTS, params=params, headers=admin)).json()
        seen += [(a["username"], a["role"]) for a in page["items"]]
        rg.users.create(f"u{2 * step + 1:02d}")
        rg.assignments.assign("acme", f"u{2 * step + 1:02d}", "viewer")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert at_start <= set(seen)
    assert seen == sorted(seen)

    async def listed(**params: Any) -> list[tuple[str, str]]:
        response = await client.get(ASSIGNMENTS, params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [(a["username"], a["role"]) for a in response.json()["items"]]

    assert await listed(user="u00") == [("u00", "editor"), ("u00", "viewer")]
    assert await listed(role="editor") == [("u00", "editor")]
    assert await listed(user="nobody") == []
    clock.advance(timedelta(minutes=2))  # the access token lives longer
    assert await listed(expired="true") == [("u00", "editor")]
    assert ("u00", "editor") not in await listed(expired="false", limit=1000)
    for limit in (0, 1001):
        response = await client.get(ASSIGNMENTS, params={"limit": limit}, headers=admin)
        assert_problem(response, 422, "invalid_request")


async def test_fifty_concurrent_identical_assignments_make_one(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    before = count_rows(rg, "user_roles")
    responses = await asyncio.gather(
        *(client.put(assignment_path("bob", "viewer"), headers=admin) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], [r.text for r in responses if r.status_code >= 300]
    assert count_rows(rg, "user_roles") == before + 1
    bob = str(rg.users.get("bob").id)
    assert [e.target_id for e in audit_events(rg, action="role.assigned")].count(bob) == 1
    assert len({r.json()["granted_at"] for r in responses}) == 1
