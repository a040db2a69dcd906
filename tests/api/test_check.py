"""The check API (``/v1/tenants/{tenant}/check``, ``/check/batch``, ``/explain``,
``/permissions/{name}/holders``, ``/users/{user}/permissions``) on the real app and a real
database of each backend: answers, guards, problems, freshness and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rolegate import Rolegate, Settings
from rolegate.api import create_app
from rolegate.api.schemas.check import MAX_BATCH
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    AuthActions,
    FakeClock,
    all_holders,
    assert_problem,
    bootstrap_admin,
    build_documents_policy,
    build_readers,
    member_with_password,
    metrics_scraper,
)

pytestmark = pytest.mark.anyio

ACME = "/v1/tenants/acme"
USERS = ("alice", "svc", "bob", "nobody")
PERMISSIONS = ("documents:read", "documents:write", "reports:monthly", "billing:read", "bad name")


def checks(*pairs: tuple[str, str]) -> dict[str, list[dict[str, str]]]:
    """A batch body."""
    return {"checks": [{"user": user, "permission": permission} for user, permission in pairs]}


@pytest.fixture
def policy(rg: Rolegate) -> Rolegate:
    """The documents policy in acme (alice an editor), svc holding ``rolegate:check`` there
    (as tenant-admin), bob a member with no role, and tenant globex where nobody is."""
    build_documents_policy(rg)
    member_with_password(rg, "svc", tenant="acme")
    rg.assignments.assign("acme", "svc", "tenant-admin")
    member_with_password(rg, "bob", tenant="acme")
    rg.tenants.create("globex")
    return rg


@pytest.fixture
async def checker(policy: Rolegate, auth: AuthActions) -> dict[str, str]:
    """The service account's Authorization header."""
    return auth.bearer(await auth.login("svc"))


# -- answers ------------------------------------------------------------------------------------


async def test_single_checks_answer_as_the_engine_does(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    for user in USERS:
        for permission in PERMISSIONS:
            body = {"user": user, "permission": permission}
            response = await client.post(f"{ACME}/check", json=body, headers=checker)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            expected = policy.check(user, permission, tenant="acme")
            assert response.json() == {"allowed": expected}, body
    assert policy.check("alice", "reports:monthly", tenant="acme")  # the policy allows some


async def test_a_user_named_by_id_is_the_same_user(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    alice = str(policy.users.get("alice").id)
    body = {"user": alice, "permission": "documents:write"}
    response = await client.post(f"{ACME}/check", json=body, headers=checker)
    assert response.json() == {"allowed": True}


async def test_a_batch_answers_every_check_in_order(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    pairs = [(user, permission) for user in USERS for permission in PERMISSIONS] * 3
    response = await client.post(f"{ACME}/check/batch", json=checks(*pairs), headers=checker)
    assert response.status_code == 200, response.text
    expected = [policy.check(user, perm, tenant="acme") for user, perm in pairs]
    assert response.json() == {"results": [{"allowed": allowed} for allowed in expected]}
    assert True in expected and False in expected


async def test_a_batch_of_the_largest_size_is_answered(
    client: httpx.AsyncClient, checker: dict[str, str]
) -> None:
    pairs = [("alice", "documents:read"), ("bob", "documents:read")] * (MAX_BATCH // 2)
    response = await client.post(f"{ACME}/check/batch", json=checks(*pairs), headers=checker)
    assert response.status_code == 200, response.text
    assert [r["allowed"] for r in response.json()["results"]] == [True, False] * (MAX_BATCH // 2)


async def test_the_tenant_may_be_named_by_id(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    acme = policy.tenants.get("acme").id
    body = {"user": "alice", "permission": "documents:read"}
    response = await client.post(f"/v1/tenants/{acme}/check", json=body, headers=checker)
    assert response.json() == {"allowed": True}


async def test_explain_gives_the_reason_and_every_chain(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    async def explain(user: str, permission: str) -> dict[str, Any]:
        body = {"user": user, "permission": permission}
        response = await client.post(f"{ACME}/explain", json=body, headers=checker)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    read = await explain("alice", "documents:read")
    assert read["allowed"] is True and read["reason"] == "granted"
    assert read["chains"] == [{"roles": ["editor", "viewer"], "grant": "documents:read"}]
    assert read["revision"] == policy.revision
    report = await explain("alice", "reports:monthly")
    assert report["chains"] == [{"roles": ["editor"], "grant": "reports:*"}]
    assert await explain("bob", "documents:read") == {
        "allowed": False,
        "reason": "no_role_grants_it",
        "chains": [],
        "revision": policy.revision,
    }
    assert (await explain("nobody", "documents:read"))["reason"] == "unknown_user"
    assert (await explain("alice", "bad name"))["reason"] == "invalid_permission"


async def test_holders_are_listed_completely_page_by_page(
    rg: Rolegate, clock: FakeClock, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    build_readers(rg, clock)
    member_with_password(rg, "svc", tenant="acme")
    rg.assignments.assign("acme", "svc", "tenant-admin")
    headers = auth.bearer(await auth.login("svc"))
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(pages) < 10:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        url = f"{ACME}/permissions/documents:read/holders"
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            break
    listed = [(h["username"], h["roles"]) for page in pages for h in page["items"]]
    assert listed == [
        ("ann", ["viewer"]),
        ("bob", ["editor"]),
        ("cat", ["reader", "viewer"]),
        ("eve", ["viewer"]),
    ]
    assert all(len(page["items"]) <= 2 for page in pages)
    engine = [
        h
        for page in all_holders(rg, "documents:read", tenant="acme", limit=3)
        for h in page.holders
    ]
    assert [h["user_id"] for page in pages for h in page["items"]] == [
        str(h.user_id) for h in engine
    ]


async def test_holders_of_a_permission_nobody_holds_is_an_empty_last_page(
    client: httpx.AsyncClient, checker: dict[str, str]
) -> None:
    url = f"{ACME}/permissions/billing:read/holders"
    response = await client.get(url, headers=checker)
    assert response.json() == {"items": [], "next_cursor": None}


async def test_a_members_permissions_and_roles(
    client: httpx.AsyncClient, checker: dict[str, str]
) -> None:
    response = await client.get(f"{ACME}/users/alice/permissions", headers=checker)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "permissions": ["documents:read", "documents:write", "reports:*"],
        "roles": [
            {"name": "editor", "via": [], "expires_at": None},
            {"name": "viewer", "via": ["editor"], "expires_at": None},
        ],
    }
    empty = await client.get(f"{ACME}/users/bob/permissions", headers=checker)
    assert empty.json() == {"permissions": [], "roles": []}


async def test_a_foreign_user_is_the_same_404_as_a_missing_one(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    policy.users.create("stranger")  # exists, in no tenant
    policy.memberships.add("globex", "stranger")
    foreign = await client.get(f"{ACME}/users/stranger/permissions", headers=checker)
    missing = await client.get(f"{ACME}/users/nobody00/permissions", headers=checker)
    foreign_body = assert_problem(foreign, 404, "user_not_found")
    missing_body = assert_problem(missing, 404, "user_not_found")
    assert foreign_body == {
        **missing_body,
        "detail": missing_body["detail"].replace("nobody00", "stranger"),
    }


# -- guards -------------------------------------------------------------------------------------

ENDPOINTS = [
    ("POST", "/check", {"user": "alice", "permission": "documents:read"}),
    ("POST", "/check/batch", checks(("alice", "documents:read"))),
    ("POST", "/explain", {"user": "alice", "permission": "documents:read"}),
    ("GET", "/permissions/documents:read/holders", None),
    ("GET", "/users/alice/permissions", None),
]


def call(
    client: httpx.AsyncClient,
    endpoint: tuple[str, str, Any],
    *,
    tenant: str = "acme",
    headers: dict[str, str] | None = None,
) -> Any:
    method, path, body = endpoint
    url = f"/v1/tenants/{tenant}{path}"
    return client.request(method, url, json=body, headers=headers or {})


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
async def test_no_token_is_401(
    client: httpx.AsyncClient, policy: Rolegate, endpoint: tuple[str, str, Any]
) -> None:
    response = await call(client, endpoint)
    assert_problem(response, 401, "authentication_failed")
    assert response.headers["www-authenticate"] == "Bearer"
    bad = await call(client, endpoint, headers={"Authorization": "Bearer not.a.jwt"})
    assert_problem(bad, 401, "invalid_token")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
async def test_a_member_without_rolegate_check_is_403(
    client: httpx.AsyncClient, policy: Rolegate, auth: AuthActions, endpoint: tuple[str, str, Any]
) -> None:
    headers = auth.bearer(await auth.login("bob"))
    body = assert_problem(await call(client, endpoint, headers=headers), 403, "forbidden")
    assert body["permission"] == "rolegate:check"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
async def test_a_foreign_tenant_is_the_same_404_as_a_missing_one(
    client: httpx.AsyncClient, checker: dict[str, str], endpoint: tuple[str, str, Any]
) -> None:
    foreign = await call(client, endpoint, tenant="globex", headers=checker)
    missing = await call(client, endpoint, tenant="nowhere", headers=checker)
    foreign_body = assert_problem(foreign, 404, "tenant_not_found")
    missing_body = assert_problem(missing, 404, "tenant_not_found")
    assert foreign_body == {
        **missing_body,
        "detail": missing_body["detail"].replace("nowhere", "globex"),
    }


async def test_a_platform_admin_may_check_in_any_tenant(
    client: httpx.AsyncClient, policy: Rolegate, auth: AuthActions
) -> None:
    bootstrap_admin(policy)
    headers = auth.bearer(await auth.login("root", tenant="platform"))
    body = {"user": "alice", "permission": "documents:write"}
    response = await client.post(f"{ACME}/check", json=body, headers=headers)
    assert response.json() == {"allowed": True}


# -- invalid requests ---------------------------------------------------------------------------

INVALID_BODIES = {
    "unknown field": {"user": "alice", "permission": "documents:read", "tenant": "globex"},
    "missing permission": {"user": "alice"},
    "empty user": {"user": "", "permission": "documents:read"},
    "permission too long": {"user": "alice", "permission": "a:" + "b" * 300},
    "user not a string": {"user": ["alice"], "permission": "documents:read"},
    "not an object": ["alice", "documents:read"],
}


@pytest.mark.parametrize("path", ["/check", "/explain"])
@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=list(INVALID_BODIES))
async def test_an_invalid_check_is_a_422_problem(
    client: httpx.AsyncClient, checker: dict[str, str], path: str, body: Any
) -> None:
    response = await client.post(f"{ACME}{path}", json=body, headers=checker)
    problem = assert_problem(response, 422, "invalid_request")
    assert problem["errors"] and all(e["field"].startswith("body") for e in problem["errors"])


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"", "application/json"), (b"{not json", "application/json"), (b"user=alice", "text/plain")],
    ids=["empty", "not JSON", "not a JSON media type"],
)
async def test_a_body_that_is_not_json_is_a_422_problem(
    client: httpx.AsyncClient, checker: dict[str, str], content: bytes, content_type: str
) -> None:
    headers = {**checker, "Content-Type": content_type}
    for path in ("/check", "/check/batch"):
        response = await client.post(f"{ACME}{path}", content=content, headers=headers)
        assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        {"checks": []},
        checks(*[("alice", "documents:read")] * (MAX_BATCH + 1)),
        checks(("alice", "documents:read")) | {"extra": 1},
        {"checks": [{"user": "alice", "permission": "documents:read", "tenant": "globex"}]},
        {"checks": [{"user": "alice"}]},
        {},
    ],
    ids=[
        "empty",
        "over the limit",
        "unknown field",
        "unknown item field",
        "item incomplete",
        "no checks",
    ],
)
async def test_an_invalid_batch_is_a_422_problem(
    client: httpx.AsyncClient, checker: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post(f"{ACME}/check/batch", json=body, headers=checker)
    assert_problem(response, 422, "invalid_request")


async def test_a_tenant_path_too_long_is_a_422_problem(
    client: httpx.AsyncClient, checker: dict[str, str]
) -> None:
    body = {"user": "alice", "permission": "documents:read"}
    response = await client.post(f"/v1/tenants/{'t' * 65}/check", json=body, headers=checker)
    problem = assert_problem(response, 422, "invalid_request")
    assert problem["errors"][0]["field"] == "path.tenant"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"cursor": "c" * 3000}])
async def test_holders_page_bounds_are_422_problems(
    client: httpx.AsyncClient, checker: dict[str, str], params: dict[str, Any]
) -> None:
    url = f"{ACME}/permissions/documents:read/holders"
    response = await client.get(url, params=params, headers=checker)
    assert_problem(response, 422, "invalid_request")


async def test_a_malformed_holders_cursor_is_a_422_problem(
    client: httpx.AsyncClient, checker: dict[str, str]
) -> None:
    url = f"{ACME}/permissions/documents:read/holders"
    response = await client.get(url, params={"cursor": "%%%"}, headers=checker)
    assert_problem(response, 422, "invalid_input")


# -- freshness ----------------------------------------------------------------------------------


@pytest.fixture
def quiet(database_url: str, policy: Rolegate, clock: FakeClock) -> Iterator[Rolegate]:
    """A second Rolegate on ``rg``'s database that does not watch for changes: only the check
    API's own catch-up can tell it of another process's change."""
    settings = Settings(watch_changes=False)
    with Rolegate(database_url, settings=settings, hasher=FAST_HASHER, clock=clock) as instance:
        yield instance


@pytest.fixture
async def quiet_client(quiet: Rolegate) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served by :func:`quiet`."""
    transport = httpx.ASGITransport(app=create_app(quiet))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_revoke_by_another_process_is_honoured_on_the_next_check(
    quiet_client: httpx.AsyncClient, policy: Rolegate
) -> None:
    login = await quiet_client.post(
        "/v1/auth/login", json={"username": "svc", "password": PASSWORD, "tenant": "acme"}
    )
    headers = AuthActions.bearer(login.json())
    body = {"user": "alice", "permission": "documents:write"}
    batch = checks(("alice", "documents:write"), ("alice", "documents:read"))
    assert (await quiet_client.post(f"{ACME}/check", json=body, headers=headers)).json() == {
        "allowed": True
    }
    first = await quiet_client.post(f"{ACME}/check/batch", json=batch, headers=headers)
    assert first.json() == {"results": [{"allowed": True}, {"allowed": True}]}

    policy.assignments.unassign("acme", "alice", "editor")  # acknowledged by the other process

    again = await quiet_client.post(f"{ACME}/check", json=body, headers=headers)
    assert again.json() == {"allowed": False}
    second = await quiet_client.post(f"{ACME}/check/batch", json=batch, headers=headers)
    assert second.json() == {"results": [{"allowed": False}, {"allowed": False}]}


async def test_a_revoke_through_this_process_is_honoured_at_once(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    body = {"user": "alice", "permission": "documents:read"}
    assert (await client.post(f"{ACME}/check", json=body, headers=checker)).json()["allowed"]
    policy.roles.revoke("acme", "viewer", "documents:read")
    assert (await client.post(f"{ACME}/check", json=body, headers=checker)).json() == {
        "allowed": False
    }


async def test_a_callers_lost_permission_is_honoured_on_the_next_request(
    quiet_client: httpx.AsyncClient, policy: Rolegate
) -> None:
    login = await quiet_client.post(
        "/v1/auth/login", json={"username": "svc", "password": PASSWORD, "tenant": "acme"}
    )
    headers = AuthActions.bearer(login.json())
    body = {"user": "alice", "permission": "documents:read"}
    assert (await quiet_client.post(f"{ACME}/check", json=body, headers=headers)).status_code == 200
    policy.assignments.unassign("acme", "svc", "tenant-admin")
    for path, sent in (("/check", body), ("/check/batch", checks(("alice", "documents:read")))):
        response = await quiet_client.post(f"{ACME}{path}", json=sent, headers=headers)
        assert_problem(response, 403, "forbidden")


# -- metrics ------------------------------------------------------------------------------------


async def test_checks_are_counted_by_decision_with_cache_hits_and_misses(
    client: httpx.AsyncClient, policy: Rolegate, checker: dict[str, str]
) -> None:
    scraper = metrics_scraper(policy)
    allowed = {"user": "alice", "permission": "documents:read"}
    denied = {"user": "bob", "permission": "documents:read"}
    for body in (allowed, allowed, denied):
        await client.post(f"{ACME}/check", json=body, headers=checker)
    batch = checks(("alice", "documents:write"), ("bob", "documents:write"), ("nobody", "x:y"))
    await client.post(f"{ACME}/check/batch", json=batch, headers=checker)

    text = (await client.get("/metrics", headers=scraper)).text
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert found[("rolegate_checks_total", (("decision", "allow"),))] == 3
    assert found[("rolegate_checks_total", (("decision", "deny"),))] == 3
    hits = found[("rolegate_check_cache_total", (("result", "hit"),))]
    misses = found[("rolegate_check_cache_total", (("result", "miss"),))]
    assert hits + misses == 6
    assert misses == 3  # alice, bob and nobody were compiled once each; the rest were hits
