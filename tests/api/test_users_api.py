"""``/v1/tenants/{tenant}/...``: members and their accounts, memberships, sessions, logins.

alice is ``tenant-admin`` of acme; globex is another tenant with its own member carol. Seen
from acme, carol, her sessions and globex itself do not exist: every probe answers exactly what
a missing object does.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from rolegate import Rolegate
from rolegate.pages import MAX_PAGE_SIZE
from tests.factories import (
    PASSWORD,
    AuthActions,
    FakeClock,
    assert_problem,
    audit_events,
    audit_json,
    bootstrap_admin,
    member_with_password,
    stored_password_hash,
)

pytestmark = pytest.mark.anyio

Headers = dict[str, str]
NEW_PASSWORD = "quartz meadow 42 ferry lamp"
WRONG_PASSWORD = "hunter2 guess 77 sparrow"
LISTINGS = ("users", "sessions", "login-history")
MISSING_ID = "00000000-0000-0000-0000-0000000000ff"


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> Headers:
    """alice's headers: ``tenant-admin`` of acme. globex exists, with carol as its member."""
    member_with_password(rg, "alice", tenant="acme")
    rg.assignments.assign("acme", "alice", "tenant-admin")
    member_with_password(rg, "carol", tenant="globex")
    return auth.bearer(await auth.login("alice", tenant="acme"))


@pytest.fixture
async def root(rg: Rolegate, auth: AuthActions) -> Headers:
    """The headers of the platform admin ``root``."""
    bootstrap_admin(rg)
    return auth.bearer(await auth.login("root", tenant="platform"))


def without_key(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A problem with the reference it names blanked out, to compare two answers' shape."""
    return {**body, "detail": body["detail"].replace(key, "<ref>")}


async def all_usernames(
    client: httpx.AsyncClient, headers: Headers, tenant: str = "acme", **params: Any
) -> list[str]:
    """Every username of the member listing with ``params``, following the cursors."""
    names: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/tenants/{tenant}/users", params=query, headers=headers)
        assert response.status_code == 200, response.text
        names += [u["username"] for u in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return names
    raise AssertionError("the listing never reached its last page")


# --- who may call -------------------------------------------------------------------------


async def test_without_credentials_it_is_401_and_without_the_permission_403(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    assert_problem(await client.get("/v1/tenants/acme/users"), 401, "authentication_failed")
    member_with_password(rg, "bob", tenant="acme")  # a member without any role
    bob = auth.bearer(await auth.login("bob"))
    for method, url, permission in [
        ("GET", "/v1/tenants/acme/users", "rolegate:users:read"),
        ("POST", "/v1/tenants/acme/users", "rolegate:users:write"),
        ("GET", "/v1/tenants/acme/users/alice", "rolegate:users:read"),
        ("PATCH", "/v1/tenants/acme/users/alice", "rolegate:users:write"),
        ("DELETE", "/v1/tenants/acme/users/alice", "rolegate:users:write"),
        ("POST", "/v1/tenants/acme/members", "rolegate:users:write"),
        ("POST", "/v1/tenants/acme/users/alice/unlock", "rolegate:sessions:revoke"),
        ("GET", "/v1/tenants/acme/sessions", "rolegate:sessions:read"),
        ("DELETE", f"/v1/tenants/acme/sessions/{uuid4()}", "rolegate:sessions:revoke"),
        ("GET", "/v1/tenants/acme/login-history", "rolegate:sessions:read"),
    ]:
        response = await client.request(method, url, json={"user": "alice"}, headers=bob)
        body = assert_problem(response, 403, "forbidden")
        assert body["permission"] == permission
    assert rg.memberships.list("acme")[0].username == "alice"


async def test_a_reader_may_read_members_but_not_change_them(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    rg.roles.create("acme", "people-reader", permissions=["rolegate:users:read"])
    rg.assignments.assign("acme", "bob", "people-reader")
    bob = auth.bearer(await auth.login("bob"))
    assert (await client.get("/v1/tenants/acme/users/alice", headers=bob)).status_code == 200
    response = await client.patch(
        "/v1/tenants/acme/users/alice", json={"full_name": "A"}, headers=bob
    )
    assert_problem(response, 403, "forbidden")


# --- create -------------------------------------------------------------------------------


async def test_create_makes_an_account_and_a_membership(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    response = await client.post(
        "/v1/tenants/acme/users",
        json={"username": "bob", "email": "bob@example.com", "password": PASSWORD},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    acme = rg.tenants.get("acme")
    assert response.headers["location"] == f"/v1/tenants/{acme.id}/users/{created['id']}"
    assert response.headers["etag"].startswith('"')
    assert created["username"] == "bob" and created["has_password"] is True
    assert not {"password", "password_hash"} & set(created)
    assert (
        PASSWORD not in response.text and str(stored_password_hash(rg, "bob")) not in response.text
    )
    again = await client.get(response.headers["location"], headers=admin)
    assert again.json() == created and again.headers["etag"] == response.headers["etag"]
    assert [m.username for m in rg.memberships.list("acme")] == ["alice", "bob"]
    await auth.login("bob")  # the account works at once
    assert PASSWORD not in audit_json(rg)
    alice = str(rg.users.get("alice").id)
    for action in ("user.created", "membership.added"):
        (event,) = [e for e in audit_events(rg, action=action) if e.target_id == created["id"]]
        assert event.actor == alice


async def test_an_existing_username_is_409_even_in_another_tenant(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    # carol belongs to globex: creating "carol" in acme must not adopt her account.
    response = await client.post(
        "/v1/tenants/acme/users", json={"username": "Carol", "password": PASSWORD}, headers=admin
    )
    assert_problem(response, 409, "user_exists")
    assert [m.username for m in rg.memberships.list("acme")] == ["alice"]
    assert stored_password_hash(rg, "carol") is not None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "bob", "password": "short"}, 422, "invalid_password"),
        ({"username": "bob", "password": "bob acme 1234 secret"}, 422, "invalid_password"),
        ({"username": "has space"}, 422, "invalid_name"),
        ({"username": "bob", "email": "nope"}, 422, "invalid_name"),
        ({"username": "bob", "full_name": None}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
    ],
)
async def test_a_bad_create_is_refused_and_nothing_is_made(
    rg: Rolegate,
    client: httpx.AsyncClient,
    admin: Headers,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = await client.post("/v1/tenants/acme/users", json=body, headers=admin)
    assert_problem(response, status, code)
    assert "bob" not in [u.username for u in rg.users.list()]


async def test_an_email_address_is_stored_normalised_and_logs_in_as_written(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, auth: AuthActions
) -> None:
    body = {"username": "dora", "email": "Dora@BÜCHER.Example", "password": PASSWORD}
    created = await client.post("/v1/tenants/acme/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "Dora@bücher.example"  # the domain lowercased, in Unicode
    assert rg.users.get("dora").email == "Dora@bücher.example"
    for name in ("dora@bücher.example", "DORA@xn--bcher-kva.example"):
        await auth.login(name)
    changed = await client.patch(
        "/v1/tenants/acme/users/dora", json={"email": "dora@Example.COM"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "dora@example.com"


@pytest.mark.parametrize(
    ("email", "says"),
    [
        ("a@b", "It should have a period"),
        ("a@@b.com", "invalid characters: '@'"),
        ("a@-b.com", "hyphen immediately after the @-sign"),
        ("Alice <a@b.com>", "A display name and angle brackets"),
    ],
)
async def test_a_bad_email_address_is_refused_saying_what_is_wrong(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, email: str, says: str
) -> None:
    body = {"username": "dora", "email": email}
    created = await client.post("/v1/tenants/acme/users", json=body, headers=admin)
    assert says in assert_problem(created, 422, "invalid_name")["detail"]
    changed = await client.patch(
        "/v1/tenants/acme/users/alice", json={"email": email}, headers=admin
    )
    assert says in assert_problem(changed, 422, "invalid_name")["detail"]
    assert "dora" not in [u.username for u in rg.users.list()]
    assert rg.users.get("alice").email == "alice@example.com"  # unchanged


async def test_the_openapi_declares_email_addresses_as_idn_email(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for model in ("UserCreate", "UserUpdate"):
        [string] = [s for s in schemas[model]["properties"]["email"]["anyOf"] if "format" in s]
        assert string["format"] == "idn-email"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", MISSING_ID),
        ("password_hash", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("is_superuser", True),
        ("tenant_id", MISSING_ID),
        ("has_password", True),
        ("roles", ["tenant-admin"]),
    ],
)
async def test_server_owned_fields_cannot_be_sent(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, field: str, value: Any
) -> None:
    created = await client.post(
        "/v1/tenants/acme/users", json={"username": "bob", field: value}, headers=admin
    )
    body = assert_problem(created, 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == [f"body.{field}"]
    assert "argon2" not in created.text  # no secret-looking value is echoed back
    updated = await client.patch("/v1/tenants/acme/users/alice", json={field: value}, headers=admin)
    assert_problem(updated, 422, "invalid_request")
    assert "bob" not in [u.username for u in rg.users.list()]
    assert rg.users.get("alice").has_password


async def test_twenty_parallel_creates_of_one_username_make_one_account(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/v1/tenants/acme/users", json={"username": "bob"}, headers=admin)
            for _ in range(20)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert all(r.json()["code"] == "user_exists" for r in responses if r.status_code == 409)
    assert [u.username for u in rg.users.list()].count("bob") == 1


# --- read and list ----------------------------------------------------------------------------


async def test_get_finds_a_member_by_username_or_id_with_an_etag(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    alice = rg.users.get("alice")
    by_name = await client.get("/v1/tenants/acme/users/ALICE", headers=admin)
    by_id = await client.get(f"/v1/tenants/acme/users/{alice.id}", headers=admin)
    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json() == by_id.json()
    assert by_name.headers["etag"] == by_id.headers["etag"]
    assert set(by_name.json()) == {
        "id",
        "username",
        "email",
        "full_name",
        "is_active",
        "has_password",
        "must_change_password",
        "preferences",
        "created_at",
        "updated_at",
        "last_login_at",
    }


async def test_list_filters_by_prefix_activity_and_role(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    for name in ("bob", "bobby", "dave"):
        rg.users.create(name, tenant="acme")
    rg.users.deactivate("bobby")
    rg.roles.create("acme", "viewer")
    rg.assignments.assign("acme", "dave", "viewer")
    assert await all_usernames(client, admin) == ["alice", "bob", "bobby", "dave"]
    assert await all_usernames(client, admin, username_prefix="BOB") == ["bob", "bobby"]
    assert await all_usernames(client, admin, username_prefix="b_b") == []
    assert await all_usernames(client, admin, active="false") == ["bobby"]
    assert await all_usernames(client, admin, active="true", username_prefix="bob") == ["bob"]
    assert await all_usernames(client, admin, role="viewer") == ["dave"]
    assert await all_usernames(client, admin, role="tenant-admin") == ["alice"]
    assert await all_usernames(client, admin, role="no-such-role") == []
    assert await all_usernames(client, admin, order="desc", limit=1) == [
        "dave",
        "bobby",
        "bob",
        "alice",
    ]


async def test_an_expired_assignment_does_not_count_for_the_role_filter(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, clock: FakeClock
) -> None:
    rg.users.create("bob", tenant="acme")
    rg.roles.create("acme", "viewer")
    rg.assignments.assign("acme", "bob", "viewer", expires_at=clock.now + timedelta(minutes=5))
    assert await all_usernames(client, admin, role="viewer") == ["bob"]
    clock.advance(timedelta(minutes=10))
    assert await all_usernames(client, admin, role="viewer") == []


async def test_pages_follow_to_the_end_without_duplicates_while_members_join(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    original = [f"u{i:02d}" for i in range(0, 20, 2)]
    for name in original:
        rg.users.create(name, tenant="acme")
    seen: list[str] = []
    cursor = None
    for step in range(50):
        params: dict[str, Any] = {"username_prefix": "u", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/tenants/acme/users", params=params, headers=admin)
        page = response.json()
        seen += [u["username"] for u in page["items"]]
        rg.users.create(f"u{2 * step + 1:02d}", tenant="acme")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), seen
    assert set(original) <= set(seen) and seen == sorted(seen)


async def test_pages_sorted_by_creation_follow_to_the_end(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, clock: FakeClock
) -> None:
    for name in ("erin", "bob", "dave"):
        clock.advance(timedelta(minutes=1))
        rg.users.create(name, tenant="acme")
    rg.users.create("abe", tenant="acme")  # at the same instant as dave: the id breaks the tie
    tied = sorted(["dave", "abe"], key=lambda name: rg.users.get(name).id)
    expected = ["alice", "erin", "bob", *tied]
    assert await all_usernames(client, admin, sort="created_at", limit=1) == expected
    listed = await all_usernames(client, admin, sort="created_at", order="desc", limit=2)
    assert listed == expected[::-1]


@pytest.mark.parametrize(
    ("listing", "params"),
    [
        *[(url, {"limit": limit}) for url in LISTINGS for limit in ("0", str(MAX_PAGE_SIZE + 1))],
        ("users", {"sort": "email"}),
        ("users", {"order": "sideways"}),
        ("users", {"active": "maybe"}),
        ("login-history", {"result": "maybe"}),
    ],
)
async def test_bad_listing_parameters_are_422(
    client: httpx.AsyncClient, admin: Headers, listing: str, params: dict[str, str]
) -> None:
    response = await client.get(f"/v1/tenants/acme/{listing}", params=params, headers=admin)
    body = assert_problem(response, 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == [f"query.{next(iter(params))}"]


async def test_a_bad_cursor_is_a_422_problem_on_every_listing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    for url in LISTINGS:
        for cursor in ("garbage", "WzEsMiwzXQ", "W10", "!!!"):
            response = await client.get(
                f"/v1/tenants/acme/{url}", params={"cursor": cursor}, headers=admin
            )
            assert_problem(response, 422, "invalid_input")


# --- update, with ETags --------------------------------------------------------------------


async def test_patch_changes_the_account_and_its_etag(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.users.create("bob", email="bob@example.com", tenant="acme")
    before = await client.get("/v1/tenants/acme/users/bob", headers=admin)
    response = await client.patch(
        "/v1/tenants/acme/users/bob",
        json={"full_name": "Bob B.", "preferences": {"theme": "dark"}, "email": None},
        headers={**admin, "If-Match": before.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["full_name"], changed["preferences"], changed["email"]) == (
        "Bob B.",
        {"theme": "dark"},
        None,
    )
    assert response.headers["etag"] != before.headers["etag"]
    after = await client.get("/v1/tenants/acme/users/bob", headers=admin)
    assert after.json() == changed and after.headers["etag"] == response.headers["etag"]


async def test_two_patches_holding_one_etag_cannot_both_win(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.users.create("bob", tenant="acme")
    tag = (await client.get("/v1/tenants/acme/users/bob", headers=admin)).headers["etag"]
    url, headers = "/v1/tenants/acme/users/bob", {**admin, "If-Match": tag}
    first = await client.patch(url, json={"full_name": "One"}, headers=headers)
    second = await client.patch(url, json={"full_name": "Two"}, headers=headers)
    assert first.status_code == 200, first.text
    assert_problem(second, 412, "precondition_failed")
    assert rg.users.get("bob").full_name == "One"


async def test_concurrent_patches_with_one_etag_let_exactly_one_win(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.users.create("bob", tenant="acme")
    tag = (await client.get("/v1/tenants/acme/users/bob", headers=admin)).headers["etag"]
    headers = {**admin, "If-Match": tag}
    responses = await asyncio.gather(
        *(
            client.patch("/v1/tenants/acme/users/bob", json={"full_name": f"n{i}"}, headers=headers)
            for i in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 7, statuses
    winner = next(r for r in responses if r.status_code == 200).json()["full_name"]
    assert rg.users.get("bob").full_name == winner


async def test_if_match_star_and_lists_of_tags_are_honoured(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.users.create("bob", tenant="acme")
    tag = (await client.get("/v1/tenants/acme/users/bob", headers=admin)).headers["etag"]
    url = "/v1/tenants/acme/users/bob"
    listed = await client.patch(
        url, json={"full_name": "A"}, headers={**admin, "If-Match": f'"other", {tag}'}
    )
    assert listed.status_code == 200, listed.text
    star = await client.patch(url, json={"full_name": "B"}, headers={**admin, "If-Match": "*"})
    assert star.status_code == 200, star.text
    weak = await client.patch(
        url, json={"full_name": "C"}, headers={**admin, "If-Match": "W/" + star.headers["etag"]}
    )
    assert_problem(weak, 412, "precondition_failed")  # If-Match compares strongly


async def test_a_new_password_logs_the_user_in_and_ends_old_sessions(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    old = auth.bearer(await auth.login("bob"))
    response = await client.patch(
        "/v1/tenants/acme/users/bob",
        json={"password": NEW_PASSWORD, "must_change_password": False},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["has_password"] is True
    assert NEW_PASSWORD not in response.text and NEW_PASSWORD not in audit_json(rg)
    assert_problem(await client.get("/v1/auth/me", headers=old), 401, "invalid_token")
    await auth.login("bob", password=NEW_PASSWORD)


async def test_must_change_password_forces_a_change_at_the_next_login(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    rg.users.create("nopass", tenant="acme")
    url = "/v1/tenants/acme/users/bob"
    response = await client.patch(url, json={"must_change_password": True}, headers=admin)
    assert response.status_code == 200 and response.json()["must_change_password"] is True
    login = await client.post(
        "/v1/auth/login", json={"username": "bob", "password": PASSWORD, "tenant": "acme"}
    )
    assert_problem(login, 403, "password_change_required")
    without = await client.patch(
        "/v1/tenants/acme/users/nopass", json={"must_change_password": True}, headers=admin
    )
    assert_problem(without, 422, "invalid_input")


async def test_deactivating_a_member_ends_their_sessions(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    bob = auth.bearer(await auth.login("bob"))
    response = await client.patch(
        "/v1/tenants/acme/users/bob", json={"is_active": False}, headers=admin
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert_problem(await client.get("/v1/auth/me", headers=bob), 401, "invalid_token")
    again = await client.patch(
        "/v1/tenants/acme/users/bob", json={"is_active": True}, headers=admin
    )
    assert again.json()["is_active"] is True
    await auth.login("bob")


@pytest.mark.parametrize(
    "body",
    [
        {"full_name": None},
        {"is_active": None},
        {"preferences": None},
        {"username": "not a name!"},
        {"username": None},
        {"preferences": ["not", "an", "object"]},
        {"password": "short"},
        {"email": "not-an-address"},
    ],
)
async def test_a_bad_patch_changes_nothing(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, body: dict[str, Any]
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    before = rg.users.get("bob")
    response = await client.patch(
        "/v1/tenants/acme/users/bob", json={**body, "full_name": body.get("full_name", "X")}
    )
    assert response.status_code == 401  # the body is never read without credentials
    response = await client.patch("/v1/tenants/acme/users/bob", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert rg.users.get("bob") == before


async def test_an_empty_patch_changes_nothing_and_keeps_the_etag(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.users.create("bob", tenant="acme")
    tag = (await client.get("/v1/tenants/acme/users/bob", headers=admin)).headers["etag"]
    response = await client.patch("/v1/tenants/acme/users/bob", json={}, headers=admin)
    assert response.status_code == 200 and response.headers["etag"] == tag


# --- the account of a user of several tenants ---------------------------------------------


async def test_a_tenant_admin_cannot_change_an_account_shared_with_another_tenant(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    rg.memberships.add("acme", "carol")  # carol belongs to globex too
    before = rg.users.get("carol")
    shared_changes = (
        {"password": NEW_PASSWORD},
        {"password": "weak"},  # refused as forbidden before the password is even judged
        {"is_active": False},
        {"email": "x@evil.test"},
    )
    for body in shared_changes:
        response = await client.patch("/v1/tenants/acme/users/carol", json=body, headers=admin)
        body_ = assert_problem(response, 403, "forbidden")
        assert body_["permission"] == "rolegate:users:write" and "platform" in body_["detail"]
    assert rg.users.get("carol") == before
    await auth.login("carol", tenant="globex")  # her password still works
    # Reading her, and ending her membership of acme, stay the tenant's business.
    assert (await client.get("/v1/tenants/acme/users/carol", headers=admin)).status_code == 200
    response = await client.delete("/v1/tenants/acme/users/carol", headers=admin)
    assert response.status_code == 204


async def test_a_platform_admin_may_change_an_account_shared_between_tenants(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers, root: Headers
) -> None:
    rg.memberships.add("acme", "carol")
    response = await client.patch(
        "/v1/tenants/acme/users/carol", json={"password": NEW_PASSWORD}, headers=root
    )
    assert response.status_code == 200, response.text
    await auth.login("carol", tenant="globex", password=NEW_PASSWORD)


# --- memberships ------------------------------------------------------------------------


async def test_delete_ends_the_membership_and_keeps_the_account(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    rg.memberships.add("globex", "bob")
    bob = auth.bearer(await auth.login("bob"))
    response = await client.delete("/v1/tenants/acme/users/bob", headers=admin)
    assert response.status_code == 204 and response.content == b""
    assert [m.username for m in rg.memberships.list("acme")] == ["alice"]
    assert [m.tenant for m in rg.memberships.of_user("bob")] == ["globex"]
    assert_problem(await client.get("/v1/auth/me", headers=bob), 401, "invalid_token")
    again = await client.delete("/v1/tenants/acme/users/bob", headers=admin)
    assert_problem(again, 404, "user_not_found")


async def test_delete_with_a_stale_etag_is_412_and_keeps_the_member(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    rg.users.create("bob", tenant="acme")
    tag = (await client.get("/v1/tenants/acme/users/bob", headers=admin)).headers["etag"]
    rg.users.update("bob", full_name="changed meanwhile")
    stale = await client.delete("/v1/tenants/acme/users/bob", headers={**admin, "If-Match": tag})
    assert_problem(stale, 412, "precondition_failed")
    assert "bob" in [m.username for m in rg.memberships.list("acme")]
    fresh = (await client.get("/v1/tenants/acme/users/bob", headers=admin)).headers["etag"]
    done = await client.delete("/v1/tenants/acme/users/bob", headers={**admin, "If-Match": fresh})
    assert done.status_code == 204


async def test_members_adds_an_existing_account(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    bob = rg.users.create("bob")
    response = await client.post("/v1/tenants/acme/members", json={"user": "bob"}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "bob" and response.json()["tenant"] == "acme"
    assert response.json()["user_id"] == str(bob.id)
    member = await client.get(response.headers["location"], headers=admin)
    assert member.status_code == 200 and member.json()["username"] == "bob"
    again = await client.post("/v1/tenants/acme/members", json={"user": str(bob.id)}, headers=admin)
    assert_problem(again, 409, "membership_exists")
    missing = await client.post("/v1/tenants/acme/members", json={"user": "nobody"}, headers=admin)
    assert_problem(missing, 404, "user_not_found")
    extra = await client.post(
        "/v1/tenants/acme/members", json={"user": "bob", "roles": ["x"]}, headers=admin
    )
    assert_problem(extra, 422, "invalid_request")


# --- sessions, login history, lockouts -------------------------------------------------------


async def test_sessions_lists_the_live_sessions_of_the_tenant_only(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    rg.memberships.add("globex", "bob")
    first = await auth.login("bob")
    second = await auth.login("bob")
    await auth.login("bob", tenant="globex")
    await auth.login("carol", tenant="globex")
    await client.post("/v1/auth/logout", headers=auth.bearer(first))
    response = await client.get("/v1/tenants/acme/sessions", params={"user": "bob"}, headers=admin)
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()["items"]] == [second["session_id"]]
    everyone = await client.get("/v1/tenants/acme/sessions", params={"limit": 1}, headers=admin)
    assert len(everyone.json()["items"]) == 1 and everyone.json()["next_cursor"] is not None
    nobody = await client.get("/v1/tenants/acme/sessions", params={"user": "carol"}, headers=admin)
    assert nobody.json() == {"items": [], "next_cursor": None}


async def test_an_admin_ends_a_session_in_the_tenant(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    tokens = await auth.login("bob")
    url = f"/v1/tenants/acme/sessions/{tokens['session_id']}"
    response = await client.delete(url, headers=admin)
    assert response.status_code == 204, response.text
    assert_problem(
        await client.get("/v1/auth/me", headers=auth.bearer(tokens)), 401, "invalid_token"
    )
    malformed = await client.delete("/v1/tenants/acme/sessions/not-a-uuid", headers=admin)
    assert_problem(malformed, 422, "invalid_request")


async def test_login_history_lists_the_tenants_attempts_newest_first(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    await auth.login("bob")
    await client.post(
        "/v1/auth/login", json={"username": "bob", "password": WRONG_PASSWORD, "tenant": "acme"}
    )
    await auth.login("carol", tenant="globex")
    response = await client.get(
        "/v1/tenants/acme/login-history", params={"user": "bob"}, headers=admin
    )
    attempts = response.json()["items"]
    assert [a["succeeded"] for a in attempts] == [False, True]
    assert attempts[0]["id"] > attempts[1]["id"]
    assert WRONG_PASSWORD not in response.text and PASSWORD not in response.text
    failures = await client.get(
        "/v1/tenants/acme/login-history", params={"result": "failure"}, headers=admin
    )
    assert [a["username"] for a in failures.json()["items"]] == ["bob"]
    names: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/tenants/acme/login-history", params=params, headers=admin)
        names += [a["username"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert names == ["bob", "bob", "alice"]  # carol logged in to globex: not listed


async def test_unlock_clears_a_members_failed_logins(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    for _ in range(2):
        await client.post(
            "/v1/auth/login", json={"username": "bob", "password": "wrong", "tenant": "acme"}
        )
    assert rg.auth.lockout("bob", tenant="acme").failures == 2
    response = await client.post("/v1/tenants/acme/users/bob/unlock", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["failures"] == 0 and response.json()["is_locked"] is False
    assert rg.auth.lockout("bob", tenant="acme").failures == 0


# --- nothing of another tenant can be reached, or told apart from nothing ------------------


async def probe(
    client: httpx.AsyncClient, method: str, url: str, headers: Headers, json: Any = None
) -> dict[str, Any]:
    response = await client.request(method, url, headers=headers, json=json)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("GET", "users", None),
        ("POST", "users", {"username": "zed"}),
        ("GET", "users/carol", None),
        ("PATCH", "users/carol", {"full_name": "x"}),
        ("DELETE", "users/carol", None),
        ("POST", "members", {"user": "alice"}),
        ("POST", "users/carol/unlock", None),
        ("GET", "sessions", None),
        ("DELETE", f"sessions/{MISSING_ID}", None),
        ("GET", "login-history", None),
    ],
)
async def test_another_tenant_answers_exactly_as_a_missing_one(
    rg: Rolegate,
    client: httpx.AsyncClient,
    admin: Headers,
    method: str,
    path: str,
    json: Any,
) -> None:
    globex = str(rg.tenants.get("globex").id)
    for foreign, missing in [("globex", "nope"), (globex, MISSING_ID)]:
        seen = await probe(client, method, f"/v1/tenants/{foreign}/{path}", admin, json)
        unseen = await probe(client, method, f"/v1/tenants/{missing}/{path}", admin, json)
        assert seen["code"] == "tenant_not_found"
        assert without_key(seen, foreign) == without_key(unseen, missing)
    assert [m.username for m in rg.memberships.list("globex")] == ["carol"]


@pytest.mark.parametrize(
    ("method", "suffix", "json"),
    [
        ("GET", "", None),
        ("PATCH", "", {"full_name": "taken over"}),
        ("PATCH", "", {"password": NEW_PASSWORD}),
        ("PATCH", "", {"password": "weak"}),
        ("DELETE", "", None),
        ("POST", "/unlock", None),
    ],
)
async def test_a_user_of_another_tenant_answers_exactly_as_a_missing_one(
    rg: Rolegate,
    client: httpx.AsyncClient,
    admin: Headers,
    method: str,
    suffix: str,
    json: Any,
) -> None:
    carol = rg.users.get("carol")
    for foreign, missing in [("carol", "nobody"), (str(carol.id), MISSING_ID)]:
        url = "/v1/tenants/acme/users/{}" + suffix
        seen = await probe(client, method, url.format(foreign), admin, json)
        unseen = await probe(client, method, url.format(missing), admin, json)
        assert seen["code"] == "user_not_found"
        assert without_key(seen, foreign) == without_key(unseen, missing)
    assert rg.users.get("carol") == carol


async def test_a_session_of_another_tenant_answers_exactly_as_a_missing_one(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, admin: Headers
) -> None:
    carol = await auth.login("carol", tenant="globex")
    missing = str(uuid4())
    seen = await probe(client, "DELETE", f"/v1/tenants/acme/sessions/{carol['session_id']}", admin)
    unseen = await probe(client, "DELETE", f"/v1/tenants/acme/sessions/{missing}", admin)
    assert seen["code"] == "session_not_found"
    assert without_key(seen, carol["session_id"]) == without_key(unseen, missing)
    assert (await client.get("/v1/auth/me", headers=auth.bearer(carol))).status_code == 200
    listed = await client.get("/v1/tenants/acme/sessions", headers=admin)
    assert carol["session_id"] not in listed.text


async def test_a_platform_admin_reaches_every_tenant(
    rg: Rolegate, client: httpx.AsyncClient, admin: Headers, root: Headers
) -> None:
    for tenant, name in (("acme", "alice"), ("globex", "carol")):
        response = await client.get(f"/v1/tenants/{tenant}/users/{name}", headers=root)
        assert response.status_code == 200, response.text
    created = await client.post("/v1/tenants/globex/users", json={"username": "gus"}, headers=root)
    assert created.status_code == 201
    assert UUID(created.json()["id"]) == rg.users.get("gus").id


# --- the documented API -------------------------------------------------------------------


async def test_the_openapi_document_describes_the_member_routes(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/v1/tenants/{tenant}/users"]) == {"get", "post"}
    assert set(paths["/v1/tenants/{tenant}/users/{user}"]) == {"get", "patch", "delete"}
    for path in ("members", "users/{user}/unlock", "sessions", "login-history"):
        assert f"/v1/tenants/{{tenant}}/{path}" in paths
    schemas = document["components"]["schemas"]
    for name in ("UserCreate", "UserUpdate", "MemberAdd"):
        assert schemas[name]["additionalProperties"] is False
    read = schemas["UserRead"]["properties"]
    assert not any("hash" in field or field == "password" for field in read)
    assert schemas["UserCreate"]["properties"]["password"]["anyOf"][0]["format"] == "password"
