"""``/v1/tenants/{tenant}/resources`` and ``/permissions``: definitions, names with colons in
the path, filters and pages, the reserved built-ins, and other tenants' objects answering
exactly like missing ones."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rolegate import Rolegate
from rolegate.builtins import PERMISSIONS_READ, PERMISSIONS_WRITE, ROLES_READ
from tests.factories import AuditTail, AuthActions, assert_problem, member_with_password

pytestmark = pytest.mark.anyio

RESOURCES = "/v1/tenants/acme/resources"
PERMISSIONS = "/v1/tenants/acme/permissions"


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> dict[str, str]:
    """Headers of ada, a tenant-admin of acme."""
    member_with_password(rg, "ada", tenant="acme")
    rg.assignments.assign("acme", "ada", "tenant-admin")
    return auth.bearer(await auth.login("ada"))


async def test_a_resource_is_created_read_described_and_deleted(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"name": "billing:invoices", "description": "Invoices"}
    created = await client.post(RESOURCES, json=body, headers=admin)
    assert created.status_code == 201, created.text
    resource = rg.resources.get("acme", "billing:invoices")
    assert created.json() == {
        "id": str(resource.id),
        "name": "billing:invoices",
        "description": "Invoices",
    }
    assert (await client.get(created.headers["location"], headers=admin)).json() == created.json()
    by_id = await client.get(f"{RESOURCES}/{resource.id}", headers=admin)
    assert by_id.json() == created.json()
    assert_problem(await client.post(RESOURCES, json=body, headers=admin), 409, "resource_exists")

    patched = await client.patch(
        f"{RESOURCES}/billing:invoices", json={"description": "All invoices"}, headers=admin
    )
    assert patched.status_code == 200 and patched.json()["description"] == "All invoices"

    rg.permissions.create("acme", "billing:invoices:pay")
    deleted = await client.delete(f"{RESOURCES}/billing:invoices", headers=admin)
    assert deleted.status_code == 204
    gone = await client.get(f"{PERMISSIONS}/billing:invoices:pay", headers=admin)
    assert_problem(gone, 404, "permission_not_found")  # its permissions went with it
    assert_problem(
        await client.get(f"{RESOURCES}/billing:invoices", headers=admin), 404, "resource_not_found"
    )


async def test_a_permission_is_created_read_described_and_deleted(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(
        PERMISSIONS, json={"name": "documents:read", "description": "Read"}, headers=admin
    )
    assert created.status_code == 201, created.text
    permission = rg.permissions.get("acme", "documents:read")
    assert created.json() == {
        "id": str(permission.id),
        "name": "documents:read",
        "resource": "documents",
        "action": "read",
        "description": "Read",
        "is_pattern": False,
        "audited": False,
        "created_at": created.json()["created_at"],
        "updated_at": created.json()["updated_at"],
    }
    assert created.headers["location"].endswith("/v1/tenants/acme/permissions/documents:read")
    for path in (created.headers["location"], f"{PERMISSIONS}/{permission.id}"):
        assert (await client.get(path, headers=admin)).json() == created.json()
    assert rg.resources.get("acme", "documents").name == "documents"  # created with it

    patched = await client.patch(
        f"{PERMISSIONS}/documents:read", json={"description": "Read documents"}, headers=admin
    )
    assert patched.status_code == 200 and patched.json()["description"] == "Read documents"
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    assert (await client.delete(f"{PERMISSIONS}/documents:read", headers=admin)).status_code == 204
    assert rg.roles.get("acme", "viewer").permissions == ()  # its grants went with it
    again = await client.delete(f"{PERMISSIONS}/documents:read", headers=admin)
    assert_problem(again, 404, "permission_not_found")


async def test_patterns_and_upper_snake_names(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for name, resource, is_pattern in (
        ("reports:*", "reports", True),
        ("VIEW_DASHBOARD", None, False),
    ):
        response = await client.post(PERMISSIONS, json={"name": name}, headers=admin)
        assert response.status_code == 201, response.text
        assert (response.json()["resource"], response.json()["is_pattern"]) == (
            resource,
            is_pattern,
        )
        assert (await client.get(f"{PERMISSIONS}/{name}", headers=admin)).status_code == 200
    bad = await client.post(PERMISSIONS, json={"name": "Not A Name"}, headers=admin)
    assert_problem(bad, 422, "invalid_name")


async def test_the_builtins_are_listed_but_protected(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    listed = await client.get(PERMISSIONS, params={"name_prefix": "rolegate:"}, headers=admin)
    names = [p["name"] for p in listed.json()["items"]]
    assert ROLES_READ in names and PERMISSIONS_WRITE in names
    tail = AuditTail(rg)
    for response in (
        await client.post(PERMISSIONS, json={"name": "rolegate:mine:do"}, headers=admin),
        await client.patch(f"{PERMISSIONS}/{ROLES_READ}", json={"description": "x"}, headers=admin),
        await client.delete(f"{PERMISSIONS}/{ROLES_READ}", headers=admin),
        await client.post(RESOURCES, json={"name": "rolegate:mine"}, headers=admin),
        await client.delete(f"{RESOURCES}/rolegate:roles", headers=admin),
    ):
        assert_problem(response, 409, "builtin_protected")
    assert tail.new_actions() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (PERMISSIONS, {"name": "documents:read", "id": "x"}),
        (PERMISSIONS, {"name": "documents:read", "tenant_id": "x"}),
        (PERMISSIONS, {"name": "documents:read", "created_at": "2026-01-01T00:00:00Z"}),
        (PERMISSIONS, {"name": "documents:read", "resource_id": "x"}),
        (RESOURCES, {"name": "documents", "id": "x"}),
        (RESOURCES, {"name": "documents", "tenant_id": "x"}),
    ],
)
async def test_unknown_fields_are_refused(
    rg: Rolegate,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    path: str,
    body: dict[str, Any],
) -> None:
    response = await client.post(path, json=body, headers=admin)
    errors = assert_problem(response, 422, "invalid_request")["errors"]
    assert [e["type"] for e in errors] == ["extra_forbidden"]
    assert [p.name for p in rg.permissions.list("acme") if not p.name.startswith("rolegate:")] == []


async def test_patch_changes_only_the_description_and_auditing(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.permissions.create("acme", "documents:read")
    for body in (
        {"name": "documents:write"},
        {"description": "x", "action": "write"},
        {},
        {"description": None},
        {"audited": None},
        {"audited": "sometimes"},
    ):
        response = await client.patch(f"{PERMISSIONS}/documents:read", json=body, headers=admin)
        assert_problem(response, 422, "invalid_request")
    permission = rg.permissions.get("acme", "documents:read")
    assert (permission.description, permission.audited) == ("", False)


async def test_whether_allowed_checks_are_audited_round_trips(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(
        PERMISSIONS, json={"name": "billing:refund", "audited": True}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["audited"] is True
    assert rg.permissions.get("acme", "billing:refund").audited
    path = f"{PERMISSIONS}/billing:refund"

    described = await client.patch(path, json={"description": "Refunds"}, headers=admin)
    assert (described.json()["description"], described.json()["audited"]) == ("Refunds", True)
    unaudited = await client.patch(path, json={"audited": False}, headers=admin)
    assert (unaudited.json()["description"], unaudited.json()["audited"]) == ("Refunds", False)
    assert (await client.get(path, headers=admin)).json()["audited"] is False
    listed = await client.get(PERMISSIONS, params={"name_prefix": "billing:"}, headers=admin)
    assert [p["audited"] for p in listed.json()["items"]] == [False]
    # A built-in cannot be described anew, but its allowed checks can be audited.
    builtin = await client.patch(
        f"{PERMISSIONS}/{ROLES_READ}", json={"audited": True}, headers=admin
    )
    assert builtin.status_code == 200, builtin.text
    assert builtin.json()["audited"] is True


async def test_reading_needs_read_and_changing_needs_write(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    member_with_password(rg, "rita", tenant="acme")
    rg.roles.create("acme", "catalogue-reader", permissions=[PERMISSIONS_READ])
    rg.assignments.assign("acme", "rita", "catalogue-reader")
    headers = auth.bearer(await auth.login("rita"))
    assert (await client.get(PERMISSIONS, headers=headers)).status_code == 200
    assert (await client.get(RESOURCES, headers=headers)).status_code == 200
    for response in (
        await client.post(PERMISSIONS, json={"name": "documents:read"}, headers=headers),
        await client.post(RESOURCES, json={"name": "documents"}, headers=headers),
    ):
        assert assert_problem(response, 403, "forbidden")["permission"] == PERMISSIONS_WRITE


async def test_filters_by_resource_and_name_prefix(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for name in ("documents:read", "documents:write", "docs:read", "reports:*", "VIEW_DASHBOARD"):
        rg.permissions.create("acme", name)

    async def names(path: str, **params: Any) -> list[str]:
        response = await client.get(path, params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["items"]]

    assert await names(PERMISSIONS, resource="documents") == ["documents:read", "documents:write"]
    assert await names(PERMISSIONS, resource="nothing") == []
    assert await names(PERMISSIONS, name_prefix="doc") == [
        "docs:read",
        "documents:read",
        "documents:write",
    ]
    assert await names(PERMISSIONS, name_prefix="DOC") == []  # exact case on every backend
    assert await names(PERMISSIONS, name_prefix="%") == []  # not a LIKE pattern
    assert await names(RESOURCES, name_prefix="doc") == ["docs", "documents"]


@pytest.mark.parametrize("path", [PERMISSIONS, RESOURCES])
async def test_pages_follow_cursors_while_rows_are_inserted(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], path: str
) -> None:
    def stored() -> set[str]:
        if path == RESOURCES:
            return {r.name for r in rg.resources.list("acme")}
        return {p.name for p in rg.permissions.list("acme")}

    for i in range(0, 30, 2):
        rg.permissions.create("acme", f"r{i:02d}:read")  # and resource r<i>
    at_start = stored()
    seen: list[str] = []
    cursor: str | None = None
    for step in range(100):
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, params=params, headers=admin)).json()
        seen += [item["name"] for item in page["items"]]
        rg.permissions.create("acme", f"r{2 * step + 1:02d}:read")  # before and after the cursor
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert at_start <= set(seen) <= stored()


@pytest.mark.parametrize("limit", [0, 1001])
async def test_a_page_size_out_of_range_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], limit: int
) -> None:
    for path in (PERMISSIONS, RESOURCES):
        response = await client.get(path, params={"limit": limit}, headers=admin)
        assert_problem(response, 422, "invalid_request")


async def test_another_tenants_definitions_answer_like_missing_ones(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.tenants.create("globex")
    permission = rg.permissions.create("globex", "ledger:close")
    resource = rg.resources.get("globex", "ledger")
    probes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{PERMISSIONS}/ledger:close", None),
        ("GET", f"{PERMISSIONS}/{permission.id}", None),
        ("PATCH", f"{PERMISSIONS}/{permission.id}", {"description": "x"}),
        ("DELETE", f"{PERMISSIONS}/{permission.id}", None),
        ("GET", f"{RESOURCES}/ledger", None),
        ("GET", f"{RESOURCES}/{resource.id}", None),
        ("PATCH", f"{RESOURCES}/{resource.id}", {"description": "x"}),
        ("DELETE", f"{RESOURCES}/{resource.id}", None),
        ("GET", f"/v1/tenants/globex/permissions/{permission.id}", None),
        ("GET", f"/v1/tenants/{rg.tenants.get('globex').id}/resources", None),
    ]
    listings = [
        (PERMISSIONS, {"resource": "ledger"}),
        (PERMISSIONS, {"name_prefix": "ledger"}),
        (RESOURCES, {"name_prefix": "ledger"}),
    ]

    async def answers() -> list[tuple[int, Any]]:
        found = []
        for method, path, body in probes:
            response = await client.request(method, path, json=body, headers=admin)
            found.append((response.status_code, response.json()))
        for path, params in listings:
            response = await client.get(path, params=params, headers=admin)
            found.append((response.status_code, response.json()))
        return found

    while_they_exist = await answers()
    assert [status for status, _ in while_they_exist] == [404] * len(probes) + [200] * 3
    assert all(body["items"] == [] for _, body in while_they_exist[len(probes) :])
    tenant_id = rg.tenants.get("globex").id
    rg.tenants.delete("globex")
    probes[-1] = ("GET", f"/v1/tenants/{tenant_id}/resources", None)
    assert await answers() == while_they_exist


async def test_names_with_colons_are_path_segments_in_the_openapi_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert set(paths["/v1/tenants/{tenant}/permissions"]) == {"get", "post"}
    assert set(paths["/v1/tenants/{tenant}/permissions/{name}"]) == {"get", "patch", "delete"}
    assert set(paths["/v1/tenants/{tenant}/resources"]) == {"get", "post"}
    assert set(paths["/v1/tenants/{tenant}/resources/{name}"]) == {"get", "patch", "delete"}
    # a plain segment: /permissions/{name}/... belongs to other routes
    assert not any(p.startswith("/v1/tenants/{tenant}/permissions/{name:") for p in paths)
