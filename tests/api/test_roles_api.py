"""``/v1/tenants/{tenant}/roles``: life cycle, grants and inheritance, ETags, pages, races,
and roles of other tenants answering exactly like missing ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rolegate import Rolegate
from rolegate.api.schemas.roles import MAX_BATCH
from rolegate.builtins import ROLES_READ, ROLES_WRITE
from rolegate.limits import MAX_INHERITANCE_DEPTH
from tests.factories import (
    AuditTail,
    AuthActions,
    FakeClock,
    assert_problem,
    audit_events,
    member_with_password,
)

pytestmark = pytest.mark.anyio

ROLES = "/v1/tenants/acme/roles"


async def tenant_admin(rg: Rolegate, auth: AuthActions, name: str = "ada") -> dict[str, str]:
    """Headers of ``name``, a new tenant-admin of acme."""
    member_with_password(rg, name, tenant="acme")
    rg.assignments.assign("acme", name, "tenant-admin")
    return auth.bearer(await auth.login(name))


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> dict[str, str]:
    """Headers of a tenant-admin of acme, where documents:read and documents:write exist."""
    headers = await tenant_admin(rg, auth)
    rg.permissions.create("acme", "documents:read")
    rg.permissions.create("acme", "documents:write")
    return headers


async def test_create_answers_201_with_location_and_etag(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    body = {
        "name": "editor",
        "description": "Edits documents",
        "permissions": ["documents:write", "reports:*"],
        "inherits": ["viewer"],
    }
    response = await client.post(ROLES, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    role = rg.roles.get("acme", "editor")
    assert created == {
        "id": str(role.id),
        "name": "editor",
        "description": "Edits documents",
        "permissions": ["documents:write", "reports:*"],
        "inherits": ["viewer"],
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }
    fetched = await client.get(response.headers["location"], headers=admin)
    assert fetched.status_code == 200 and fetched.json() == created
    assert fetched.headers["etag"] == response.headers["etag"]
    by_name = await client.get(f"{ROLES}/editor", headers=admin)
    assert by_name.json() == created and by_name.headers["etag"] == response.headers["etag"]
    [event] = [e for e in audit_events(rg, action="role.created") if e.target_id == str(role.id)]
    assert event.actor == str(rg.users.get("ada").id)


async def test_create_is_all_or_nothing(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"name": "editor", "permissions": ["documents:write", "never:defined"]}
    response = await client.post(ROLES, json=body, headers=admin)
    assert_problem(response, 404, "permission_not_found")
    assert [r.name for r in rg.roles.list("acme")] == ["tenant-admin"]


def unknown_permissions(body: dict[str, Any]) -> list[dict[str, str]]:
    """The ``errors`` of a ``permission_not_found`` problem."""
    errors: list[dict[str, str]] = body["errors"]
    return errors


def not_found_entry(name: str) -> dict[str, str]:
    """The ``errors`` entry naming one unknown permission of acme."""
    detail = f"permission {name!r} not found in tenant 'acme'"
    return {"code": "permission_not_found", "name": name, "detail": detail}


async def test_every_unknown_permission_of_a_new_role_is_in_one_problem(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    wanted = ["a:x", "documents:read", "b:y", "reports:*", "c:z", "a:x"]
    response = await client.post(
        ROLES, json={"name": "editor", "permissions": wanted}, headers=admin
    )

    body = assert_problem(response, 404, "permission_not_found")
    assert body["detail"] == "permissions 'a:x', 'b:y', 'c:z' not found in tenant 'acme'"
    assert unknown_permissions(body) == [not_found_entry(n) for n in ("a:x", "b:y", "c:z")]
    assert [r.name for r in rg.roles.list("acme")] == ["tenant-admin"]


async def test_every_unknown_permission_of_a_patch_is_in_one_problem(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    role = rg.roles.create("acme", "editor", permissions=["documents:read"])
    body = {"permissions": ["documents:read", "c:z", "a:x"]}

    response = await client.patch(f"{ROLES}/editor", json=body, headers=admin)

    problem = assert_problem(response, 404, "permission_not_found")
    assert unknown_permissions(problem) == [not_found_entry(n) for n in ("a:x", "c:z")]
    assert rg.roles.get("acme", role.id) == role


async def test_one_unknown_permission_is_one_entry(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.roles.create("acme", "editor")

    response = await client.put(f"{ROLES}/editor/permissions/a:x", headers=admin)

    problem = assert_problem(response, 404, "permission_not_found")
    assert problem["detail"] == "permission 'a:x' not found in tenant 'acme'"
    assert unknown_permissions(problem) == [not_found_entry("a:x")]


async def test_a_taken_name_is_409_and_a_bad_name_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    assert (await client.post(ROLES, json={"name": "viewer"}, headers=admin)).status_code == 201
    assert_problem(
        await client.post(ROLES, json={"name": "viewer"}, headers=admin), 409, "role_exists"
    )
    assert_problem(
        await client.post(ROLES, json={"name": "no spaces"}, headers=admin), 422, "invalid_name"
    )


@pytest.mark.parametrize(
    "field", [{"id": "0" * 32}, {"tenant_id": "x"}, {"created_at": "2026-01-01T00:00:00Z"}]
)
async def test_unknown_fields_are_refused_on_create_and_patch(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], field: dict[str, Any]
) -> None:
    response = await client.post(ROLES, json={"name": "viewer", **field}, headers=admin)
    body = assert_problem(response, 422, "invalid_request")
    assert [e["type"] for e in body["errors"]] == ["extra_forbidden"]
    rg.roles.create("acme", "viewer")
    patched = await client.patch(f"{ROLES}/viewer", json=field, headers=admin)
    assert_problem(patched, 422, "invalid_request")
    assert [r.name for r in rg.roles.list("acme")] == ["tenant-admin", "viewer"]


async def test_patch_replaces_grants_and_parents_in_one_transaction(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.permissions.create("acme", "reports:read")
    rg.roles.create("acme", "base")
    rg.roles.create("acme", "other")
    rg.roles.create(
        "acme", "editor", permissions=["documents:read", "documents:write"], inherits=["base"]
    )
    tail = AuditTail(rg)
    before = rg.revision
    body = {
        "description": "now reports too",
        "permissions": ["documents:write", "reports:read"],
        "inherits": ["other"],
    }
    response = await client.patch(f"{ROLES}/editor", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["permissions"] == ["documents:write", "reports:read"]
    assert response.json()["inherits"] == ["other"]
    assert response.json()["description"] == "now reports too"
    assert tail.new_actions() == [
        "role.inherited",
        "role.permission_granted",
        "role.permission_revoked",
        "role.uninherited",
        "role.updated",
    ]
    assert rg.revision == before + 1  # one transaction, one revision


async def test_a_failing_patch_changes_nothing(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    role = rg.roles.create("acme", "editor", permissions=["documents:read"])
    body = {"name": "renamed", "permissions": ["documents:write", "never:defined"]}
    response = await client.patch(f"{ROLES}/editor", json=body, headers=admin)
    assert_problem(response, 404, "permission_not_found")
    assert rg.roles.get("acme", role.id) == role


async def test_null_is_refused_and_an_empty_patch_changes_nothing(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.roles.create("acme", "editor")
    tag = (await client.get(f"{ROLES}/editor", headers=admin)).headers["etag"]
    tail = AuditTail(rg)
    assert_problem(
        await client.patch(f"{ROLES}/editor", json={"permissions": None}, headers=admin),
        422,
        "invalid_request",
    )
    response = await client.patch(f"{ROLES}/editor", json={}, headers=admin)
    assert response.status_code == 200 and response.headers["etag"] == tag
    assert tail.new_actions() == []


async def test_a_stale_if_match_is_412_and_changes_nothing(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.roles.create("acme", "editor", permissions=["documents:read"])
    first = await client.get(f"{ROLES}/editor", headers=admin)
    stale = first.headers["etag"]
    granted = await client.put(f"{ROLES}/editor/permissions/documents:write", headers=admin)
    assert granted.status_code == 201, granted.text
    assert granted.headers["etag"] != stale  # a grant changes the tag
    current = rg.roles.get("acme", "editor")

    patch = await client.patch(
        f"{ROLES}/editor", json={"description": "lost update"}, headers={**admin, "If-Match": stale}
    )
    assert_problem(patch, 412, "precondition_failed")
    delete = await client.delete(f"{ROLES}/editor", headers={**admin, "If-Match": stale})
    assert_problem(delete, 412, "precondition_failed")
    assert rg.roles.get("acme", "editor") == current

    fresh = granted.headers["etag"]
    assert (await client.get(f"{ROLES}/editor", headers=admin)).headers["etag"] == fresh
    patch = await client.patch(
        f"{ROLES}/editor", json={"description": "kept"}, headers={**admin, "If-Match": fresh}
    )
    assert patch.status_code == 200, patch.text
    assert patch.headers["etag"] not in (fresh, stale)
    assert (await client.get(f"{ROLES}/editor", headers=admin)).headers["etag"] == patch.headers[
        "etag"
    ]
    delete = await client.delete(
        f"{ROLES}/editor", headers={**admin, "If-Match": patch.headers["etag"]}
    )
    assert delete.status_code == 204
    assert_problem(await client.get(f"{ROLES}/editor", headers=admin), 404, "role_not_found")


async def test_concurrent_patches_with_one_tag_let_exactly_one_win(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.roles.create("acme", "editor")
    tag = (await client.get(f"{ROLES}/editor", headers=admin)).headers["etag"]
    responses = await asyncio.gather(
        *(
            client.patch(
                f"{ROLES}/editor",
                json={"description": f"writer {i}"},
                headers={**admin, "If-Match": tag},
            )
            for i in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 9, [r.text for r in responses if r.status_code != 412]
    [winner] = [r for r in responses if r.status_code == 200]
    assert rg.roles.get("acme", "editor").description == winner.json()["description"]
    assert len(audit_events(rg, action="role.updated")) == 1


async def test_grant_and_revoke_through_sub_resources(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.roles.create("acme", "editor")
    path = f"{ROLES}/editor/permissions/documents:read"
    response = await client.put(path, headers=admin)
    assert response.status_code == 201 and response.json()["permissions"] == ["documents:read"]
    assert_problem(await client.put(path, headers=admin), 409, "grant_exists")
    pattern = await client.put(f"{ROLES}/editor/permissions/reports:*", headers=admin)
    assert pattern.status_code == 201 and "reports:*" in pattern.json()["permissions"]
    revoked = await client.delete(path, headers=admin)
    assert revoked.status_code == 200 and revoked.json()["permissions"] == ["reports:*"]
    assert (
        revoked.headers["etag"]
        == (await client.get(f"{ROLES}/editor", headers=admin)).headers["etag"]
    )
    assert_problem(await client.delete(path, headers=admin), 404, "grant_not_found")
    missing = await client.put(f"{ROLES}/editor/permissions/never:defined", headers=admin)
    assert_problem(missing, 404, "permission_not_found")


async def test_inherit_and_uninherit_through_sub_resources(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    rg.roles.create("acme", "editor")
    response = await client.put(f"{ROLES}/editor/inherits/viewer", headers=admin)
    assert response.status_code == 201 and response.json()["inherits"] == ["viewer"]
    again = await client.put(f"{ROLES}/editor/inherits/viewer", headers=admin)
    assert_problem(again, 409, "inheritance_exists")
    cycle = await client.put(f"{ROLES}/viewer/inherits/editor", headers=admin)
    assert_problem(cycle, 409, "inheritance_cycle")
    dropped = await client.delete(f"{ROLES}/editor/inherits/viewer", headers=admin)
    assert dropped.status_code == 200 and dropped.json()["inherits"] == []
    gone = await client.delete(f"{ROLES}/editor/inherits/viewer", headers=admin)
    assert_problem(gone, 404, "inheritance_not_found")


async def test_inheritance_deeper_than_the_limit_is_422(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    names = [f"level-{i}" for i in range(MAX_INHERITANCE_DEPTH + 2)]
    rg.roles.create("acme", names[0])
    for parent, child in zip(names[:-2], names[1:-1], strict=True):
        rg.roles.create("acme", child, inherits=[parent])  # a chain of exactly the limit
    assert (await client.post(ROLES, json={"name": names[-1]}, headers=admin)).status_code == 201
    too_deep = await client.put(f"{ROLES}/{names[-1]}/inherits/{names[-2]}", headers=admin)
    body = assert_problem(too_deep, 422, "invalid_input")
    assert f"at most {MAX_INHERITANCE_DEPTH}" in body["detail"]
    on_top = await client.put(f"{ROLES}/{names[0]}/inherits/{names[-1]}", headers=admin)
    assert_problem(on_top, 422, "invalid_input")  # the long chain grows from below too
    assert rg.roles.get("acme", names[-1]).inherits == ()
    patch = await client.patch(
        f"{ROLES}/{names[-1]}", json={"inherits": [names[-2]]}, headers=admin
    )
    assert_problem(patch, 422, "invalid_input")


async def test_the_tenant_admin_role_is_protected(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    path = f"{ROLES}/tenant-admin"
    for response in (
        await client.patch(path, json={"description": "mine"}, headers=admin),
        await client.delete(path, headers=admin),
        await client.put(f"{path}/permissions/documents:read", headers=admin),
        await client.delete(f"{path}/permissions/{ROLES_READ}", headers=admin),
    ):
        assert_problem(response, 409, "builtin_protected")
    assert (await client.get(path, headers=admin)).json()["permissions"][0].startswith("rolegate:")


async def test_reading_needs_read_and_changing_needs_write(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    member_with_password(rg, "rita", tenant="acme")
    rg.roles.create("acme", "role-reader", permissions=[ROLES_READ])
    rg.assignments.assign("acme", "rita", "role-reader")
    headers = auth.bearer(await auth.login("rita"))
    assert (await client.get(ROLES, headers=headers)).status_code == 200
    body = assert_problem(
        await client.post(ROLES, json={"name": "x"}, headers=headers), 403, "forbidden"
    )
    assert body["permission"] == ROLES_WRITE


async def test_pages_follow_cursors_while_roles_are_inserted(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for i in range(0, 40, 2):
        rg.roles.create("acme", f"r{i:02d}")
    at_start = {r.name for r in rg.roles.list("acme")}
    seen: list[str] = []
    cursor: str | None = None
    for step in range(100):
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(ROLES, params=params, headers=admin)).json()
        seen += [r["name"] for r in page["items"]]
        rg.roles.create("acme", f"r{2 * step + 1:02d}")  # odd names land before and after
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert at_start <= set(seen)
    assert seen == sorted(seen)


async def test_filters_and_sorts(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], clock: FakeClock
) -> None:
    for name in ("beta", "alpha", "alps", "Alpine"):
        clock.advance(timedelta(seconds=1))
        rg.roles.create("acme", name)

    async def names(**params: Any) -> list[str]:
        response = await client.get(ROLES, params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [r["name"] for r in response.json()["items"]]

    assert await names(name_prefix="al") == ["alpha", "alps"]  # exact case on every backend
    assert await names(name_prefix="al", order="desc") == ["alps", "alpha"]
    assert await names(sort="created_at", order="desc", limit=2) == ["Alpine", "alps"]
    two = (await client.get(ROLES, params={"sort": "created_at", "limit": 2}, headers=admin)).json()
    after = {"sort": "created_at", "cursor": two["next_cursor"]}
    assert [r["name"] for r in two["items"]] + await names(**after) == [
        "tenant-admin",
        "beta",
        "alpha",
        "alps",
        "Alpine",
    ]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"sort": "id"}, {"order": "up"}, {"cursor": "not-a-cursor"}],
)
async def test_bad_listing_parameters_are_422(
    client: httpx.AsyncClient, admin: dict[str, str], params: dict[str, Any]
) -> None:
    response = await client.get(ROLES, params=params, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_fifty_concurrent_creates_of_one_name_make_one_role(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"name": "racer", "permissions": ["documents:read"]}
    responses = await asyncio.gather(
        *(client.post(ROLES, json=body, headers=admin) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, [r.text for r in responses if r.status_code >= 500]
    # A name taken by a concurrent transaction is reported as taken, not as a retryable race.
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"role_exists"}
    assert [r.name for r in rg.roles.list("acme")] == ["racer", "tenant-admin"]
    racer = rg.roles.get("acme", "racer")
    assert [e.target_id for e in audit_events(rg, action="role.created")].count(str(racer.id)) == 1
    assert rg.roles.get("acme", "racer").permissions == ("documents:read",)


async def test_another_tenants_role_answers_like_a_missing_one(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rg.tenants.create("globex")
    rg.permissions.create("globex", "documents:read")
    theirs = rg.roles.create("globex", "globex-only", permissions=["documents:read"])
    shared = rg.roles.create("globex", "shared")
    rg.roles.create("acme", "shared")
    probes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{ROLES}/globex-only", None),
        ("GET", f"{ROLES}/{theirs.id}", None),
        ("PATCH", f"{ROLES}/{theirs.id}", {"description": "x"}),
        ("DELETE", f"{ROLES}/{theirs.id}", None),
        ("PUT", f"{ROLES}/{theirs.id}/permissions/documents:read", None),
        ("PUT", f"{ROLES}/shared/inherits/{theirs.id}", None),
        ("DELETE", f"{ROLES}/shared/inherits/{shared.id}", None),
        ("POST", ROLES, {"name": "probe", "inherits": [str(theirs.id)]}),
        ("PATCH", f"{ROLES}/shared", {"inherits": [str(theirs.id)]}),
        ("GET", f"/v1/tenants/globex/roles/{theirs.id}", None),
        ("GET", "/v1/tenants/globex/roles", None),
    ]

    async def answers() -> list[tuple[int, Any]]:
        found = []
        for method, path, body in probes:
            response = await client.request(method, path, json=body, headers=admin)
            found.append((response.status_code, response.json()))
        return found

    while_they_exist = await answers()
    assert {status for status, _ in while_they_exist} == {404}
    rg.tenants.delete("globex")
    assert await answers() == while_they_exist
    assert [r.name for r in rg.roles.list("acme")] == ["shared", "tenant-admin"]


async def test_the_routes_are_in_the_openapi_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert set(paths["/v1/tenants/{tenant}/roles"]) == {"get", "post"}
    assert set(paths["/v1/tenants/{tenant}/roles/{role}"]) == {"get", "patch", "delete"}
    assert set(paths["/v1/tenants/{tenant}/roles/{role}/permissions/{permission}"]) == {
        "put",
        "delete",
    }
    assert set(paths["/v1/tenants/{tenant}/roles/{role}/inherits/{parent}"]) == {"put", "delete"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{ROLES}?name_prefix=%00", None),
        ("GET", f"{ROLES}/a%00b", None),
        ("PATCH", f"{ROLES}/viewer", {"inherits": ["a\x00b"]}),
        ("POST", ROLES, {"name": "a\x00b"}),
        ("PUT", f"{ROLES}/viewer/inherits/a%00b", None),
        ("DELETE", f"{ROLES}/viewer/permissions/a%00b", None),
        ("GET", "/v1/tenants/acme/assignments?user=%00&role=%00", None),
        ("PUT", "/v1/tenants/acme/users/a%00b/roles/viewer", None),
        ("GET", "/v1/tenants/acme/permissions?resource=%00&name_prefix=%00", None),
        ("GET", "/v1/tenants/acme/permissions/a%00b", None),
        ("GET", "/v1/tenants/acme/resources/a%00b", None),
        ("GET", "/v1/tenants/acme/resources?name_prefix=%00", None),
    ],
)
async def test_a_nul_byte_never_reaches_the_database(
    rg: Rolegate,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    rg.roles.create("acme", "viewer")
    response = await client.request(method, path, json=body, headers=admin)
    assert response.status_code in (200, 404, 422), response.text


async def test_a_batch_larger_than_the_limit_is_422(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    too_many = [f"p{i}:read" for i in range(MAX_BATCH + 1)]
    for method, path, body in (
        ("POST", ROLES, {"name": "big", "permissions": too_many}),
        ("POST", ROLES, {"name": "big", "inherits": too_many}),
        ("PATCH", f"{ROLES}/tenant-admin", {"permissions": too_many}),
    ):
        response = await client.request(method, path, json=body, headers=admin)
        errors = assert_problem(response, 422, "invalid_request")["errors"]
        assert [e["type"] for e in errors] == ["too_long"]
    assert [r.name for r in rg.roles.list("acme")] == ["tenant-admin"]
