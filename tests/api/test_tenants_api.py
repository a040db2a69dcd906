"""``/v1/tenants``: platform administrators create, read, list, rename and delete tenants."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from rolegate import Rolegate
from rolegate.pages import MAX_PAGE_SIZE
from tests.factories import (
    AuthActions,
    FakeClock,
    assert_problem,
    bootstrap_admin,
    member_with_password,
)

pytestmark = pytest.mark.anyio

Headers = dict[str, str]


@pytest.fixture
async def root(rg: Rolegate, auth: AuthActions) -> Headers:
    """The headers of the platform admin ``root``, logged in to the platform tenant."""
    bootstrap_admin(rg)
    return auth.bearer(await auth.login("root", tenant="platform"))


@pytest.fixture
async def acme_admin(rg: Rolegate, auth: AuthActions) -> Headers:
    """The headers of alice, ``tenant-admin`` of acme (and of nothing else)."""
    member_with_password(rg, "alice", tenant="acme")
    rg.assignments.assign("acme", "alice", "tenant-admin")
    return auth.bearer(await auth.login("alice", tenant="acme"))


async def all_slugs(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[str]:
    """Every slug of ``GET /v1/tenants`` with ``params``, following the cursors to the end."""
    slugs: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/tenants", params=query, headers=headers)
        assert response.status_code == 200, response.text
        slugs += [t["slug"] for t in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return slugs
    raise AssertionError("the listing never reached its last page")


# --- who may call -------------------------------------------------------------------------


async def test_without_credentials_every_route_is_401(client: httpx.AsyncClient) -> None:
    for method, url in [
        ("GET", "/v1/tenants"),
        ("POST", "/v1/tenants"),
        ("GET", "/v1/tenants/default"),
        ("PATCH", "/v1/tenants/default"),
        ("DELETE", "/v1/tenants/default"),
    ]:
        response = await client.request(method, url, json={})
        assert_problem(response, 401, "authentication_failed")


async def test_a_tenant_admin_cannot_reach_the_platform_routes(
    rg: Rolegate, client: httpx.AsyncClient, acme_admin: Headers
) -> None:
    # Platform permissions count only in the platform tenant, however broad a tenant's grants.
    listed = await client.get("/v1/tenants", headers=acme_admin)
    created = await client.post("/v1/tenants", json={"slug": "evil"}, headers=acme_admin)
    own = await client.delete("/v1/tenants/acme", headers=acme_admin)
    for response in (listed, created, own):
        assert_problem(response, 403, "forbidden")
    assert rg.tenants.get("acme").slug == "acme"
    assert "evil" not in [t.slug for t in rg.tenants.list()]


async def test_a_platform_reader_may_list_but_not_create(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    member_with_password(rg, "olga", tenant="platform")
    rg.roles.create("platform", "tenant-viewer", permissions=["rolegate:tenants:read"])
    rg.assignments.assign("platform", "olga", "tenant-viewer")
    headers = auth.bearer(await auth.login("olga", tenant="platform"))
    assert (await client.get("/v1/tenants", headers=headers)).status_code == 200
    assert (await client.get("/v1/tenants/default", headers=headers)).status_code == 200
    response = await client.post("/v1/tenants", json={"slug": "acme"}, headers=headers)
    body = assert_problem(response, 403, "forbidden")
    assert body["permission"] == "rolegate:tenants:write"
    response = await client.delete("/v1/tenants/default", headers=headers)
    assert_problem(response, 403, "forbidden")


# --- create, read, update, delete -----------------------------------------------------------


async def test_create_answers_201_with_a_location_that_reads_it_back(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers
) -> None:
    response = await client.post(
        "/v1/tenants", json={"slug": "acme", "name": "Acme Inc."}, headers=root
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "slug", "name", "created_at", "updated_at"}
    assert (created["slug"], created["name"]) == ("acme", "Acme Inc.")
    assert response.headers["location"] == f"/v1/tenants/{created['id']}"
    again = await client.get(response.headers["location"], headers=root)
    assert again.status_code == 200 and again.json() == created
    assert (await client.get("/v1/tenants/acme", headers=root)).json() == created
    # A new tenant comes with its built-in admin role, ready to be assigned.
    assert rg.roles.get("acme", "tenant-admin").permissions


async def test_the_name_defaults_to_the_slug(client: httpx.AsyncClient, root: Headers) -> None:
    response = await client.post("/v1/tenants", json={"slug": "globex"}, headers=root)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "globex"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"slug": "Not A Slug"}, 422, "invalid_name"),
        ({"slug": "acme", "name": "   "}, 422, "invalid_input"),
        ({}, 422, "invalid_request"),
        ({"slug": None}, 422, "invalid_request"),
        ({"slug": "x" * 64}, 422, "invalid_request"),
    ],
)
async def test_a_bad_create_is_refused_and_nothing_is_made(
    rg: Rolegate,
    client: httpx.AsyncClient,
    root: Headers,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = [t.slug for t in rg.tenants.list()]
    response = await client.post("/v1/tenants", json=body, headers=root)
    assert_problem(response, status, code)
    assert [t.slug for t in rg.tenants.list()] == before


async def test_a_taken_slug_is_409(rg: Rolegate, client: httpx.AsyncClient, root: Headers) -> None:
    rg.tenants.create("acme")
    response = await client.post("/v1/tenants", json={"slug": "acme"}, headers=root)
    assert_problem(response, 409, "tenant_exists")


@pytest.mark.parametrize(
    "field", ["id", "created_at", "updated_at", "tenant_id", "is_superuser", "permissions"]
)
async def test_server_owned_fields_cannot_be_sent(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers, field: str
) -> None:
    rg.tenants.create("acme")
    value = "00000000-0000-0000-0000-0000000000ff"
    created = await client.post("/v1/tenants", json={"slug": "globex", field: value}, headers=root)
    body = assert_problem(created, 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == [f"body.{field}"]
    updated = await client.patch("/v1/tenants/acme", json={field: value}, headers=root)
    assert_problem(updated, 422, "invalid_request")
    assert "globex" not in [t.slug for t in rg.tenants.list()]


async def test_patch_renames_and_changes_the_display_name(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers
) -> None:
    tenant = rg.tenants.create("acme")
    response = await client.patch(
        "/v1/tenants/acme", json={"slug": "acme-corp", "name": "Acme Corp"}, headers=root
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(tenant.id)
    assert (response.json()["slug"], response.json()["name"]) == ("acme-corp", "Acme Corp")
    renamed = await client.patch(f"/v1/tenants/{tenant.id}", json={"name": "A"}, headers=root)
    assert renamed.json()["slug"] == "acme-corp" and renamed.json()["name"] == "A"
    assert_problem(await client.get("/v1/tenants/acme", headers=root), 404, "tenant_not_found")


async def test_patch_refuses_null_a_taken_slug_and_the_built_in_slugs(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers
) -> None:
    rg.tenants.create("acme")
    rg.tenants.create("globex")
    null = await client.patch("/v1/tenants/acme", json={"name": None}, headers=root)
    assert_problem(null, 422, "invalid_request")
    taken = await client.patch("/v1/tenants/acme", json={"slug": "globex"}, headers=root)
    assert_problem(taken, 409, "tenant_exists")
    for slug in ("platform", "default"):
        response = await client.patch(f"/v1/tenants/{slug}", json={"slug": "x"}, headers=root)
        assert_problem(response, 409, "tenant_protected")
    assert sorted(t.slug for t in rg.tenants.list()) == ["acme", "default", "globex", "platform"]


async def test_delete_removes_the_tenant_and_ends_its_sessions(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, root: Headers
) -> None:
    member_with_password(rg, "alice", tenant="acme")
    alice = auth.bearer(await auth.login("alice", tenant="acme"))
    response = await client.delete("/v1/tenants/acme", headers=root)
    assert response.status_code == 204 and response.content == b""
    assert_problem(await client.get("/v1/tenants/acme", headers=root), 404, "tenant_not_found")
    assert_problem(await client.get("/v1/auth/me", headers=alice), 401, "invalid_token")
    again = await client.delete("/v1/tenants/acme", headers=root)
    assert_problem(again, 404, "tenant_not_found")


async def test_the_built_in_tenants_cannot_be_deleted(
    client: httpx.AsyncClient, root: Headers
) -> None:
    for slug in ("platform", "default"):
        response = await client.delete(f"/v1/tenants/{slug}", headers=root)
        assert_problem(response, 409, "tenant_protected")


async def test_a_missing_tenant_is_404_by_slug_and_by_id(
    client: httpx.AsyncClient, root: Headers
) -> None:
    for ref in ("nope", "00000000-0000-0000-0000-0000000000ff"):
        for method in ("GET", "PATCH", "DELETE"):
            response = await client.request(
                method, f"/v1/tenants/{ref}", json={"name": "n"}, headers=root
            )
            assert_problem(response, 404, "tenant_not_found")


# --- listing ----------------------------------------------------------------------------


async def test_list_filters_by_prefix_and_sorts_both_ways(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers
) -> None:
    for slug in ("acme", "acme-labs", "globex", "initech"):
        rg.tenants.create(slug)
    assert await all_slugs(client, root) == [
        "acme",
        "acme-labs",
        "default",
        "globex",
        "initech",
        "platform",
    ]
    assert await all_slugs(client, root, slug_prefix="acme") == ["acme", "acme-labs"]
    assert await all_slugs(client, root, slug_prefix="ACME") == []  # exact, on both backends
    assert await all_slugs(client, root, slug_prefix="a_me") == []  # no LIKE wildcards
    descending = await all_slugs(client, root, order="desc", limit=2)
    assert descending == ["platform", "initech", "globex", "default", "acme-labs", "acme"]


async def test_pages_sorted_by_creation_follow_to_the_end(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers, clock: FakeClock
) -> None:
    made = ["initech", "acme", "globex", "acme-labs"]
    for slug in made:
        clock.advance(timedelta(minutes=1))
        rg.tenants.create(slug)
    clock.advance(timedelta(minutes=1))
    rg.tenants.create("umbrella")  # at the same instant as the next: the id breaks the tie
    rg.tenants.create("hooli")
    made += sorted(["umbrella", "hooli"], key=lambda slug: rg.tenants.get(slug).id)
    for order, expected in (("asc", made), ("desc", made[::-1])):
        listed = await all_slugs(client, root, sort="created_at", order=order, limit=1)
        assert len(listed) == len(set(listed)) == 8
        assert [slug for slug in listed if slug in made] == expected


async def test_pages_follow_to_the_end_without_duplicates_while_tenants_are_added(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers
) -> None:
    original = [f"t{i:02d}" for i in range(0, 20, 2)]
    for slug in original:
        rg.tenants.create(slug)
    seen: list[str] = []
    cursor = None
    for step in range(50):
        params: dict[str, Any] = {"slug_prefix": "t", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/tenants", params=params, headers=root)).json()
        seen += [t["slug"] for t in page["items"]]
        rg.tenants.create(f"t{2 * step + 1:02d}")  # lands before and after the cursor alike
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), seen
    assert set(original) <= set(seen)
    assert seen == sorted(seen)


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_PAGE_SIZE + 1), "many"])
async def test_a_page_size_out_of_range_is_422(
    client: httpx.AsyncClient, root: Headers, limit: str
) -> None:
    response = await client.get("/v1/tenants", params={"limit": limit}, headers=root)
    body = assert_problem(response, 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == ["query.limit"]


async def test_the_largest_page_size_is_served(client: httpx.AsyncClient, root: Headers) -> None:
    response = await client.get("/v1/tenants", params={"limit": MAX_PAGE_SIZE}, headers=root)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJhIiwiYiJd", "!!!"])
async def test_a_bad_cursor_is_a_422_problem(
    client: httpx.AsyncClient, root: Headers, cursor: str
) -> None:
    response = await client.get("/v1/tenants", params={"cursor": cursor}, headers=root)
    assert_problem(response, 422, "invalid_input")


async def test_a_cursor_of_another_sort_is_refused(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers
) -> None:
    rg.tenants.create("acme")
    first = await client.get("/v1/tenants", params={"limit": 1}, headers=root)
    cursor = first.json()["next_cursor"]
    response = await client.get(
        "/v1/tenants", params={"cursor": cursor, "sort": "created_at"}, headers=root
    )
    assert_problem(response, 422, "invalid_input")


async def test_an_unknown_sort_or_order_is_422(client: httpx.AsyncClient, root: Headers) -> None:
    for params in ({"sort": "id"}, {"order": "up"}):
        response = await client.get("/v1/tenants", params=params, headers=root)
        assert_problem(response, 422, "invalid_request")


# --- concurrency ------------------------------------------------------------------------


async def test_fifty_parallel_creates_of_one_slug_make_one_tenant(
    rg: Rolegate, client: httpx.AsyncClient, root: Headers
) -> None:
    responses = await asyncio.gather(
        *(client.post("/v1/tenants", json={"slug": "acme"}, headers=root) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, statuses
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "tenant_exists")
    assert [t.slug for t in rg.tenants.list()].count("acme") == 1


# --- the documented API -------------------------------------------------------------------


async def test_the_openapi_document_describes_the_tenant_routes(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert set(paths["/v1/tenants"]) == {"get", "post"}
    assert set(paths["/v1/tenants/{tenant}"]) == {"get", "patch", "delete"}
    limit = next(p for p in paths["/v1/tenants"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == MAX_PAGE_SIZE and limit["schema"]["minimum"] == 1
    create = document["components"]["schemas"]["TenantCreate"]
    assert create["additionalProperties"] is False
    assert (await client.get("/docs")).status_code == 200
