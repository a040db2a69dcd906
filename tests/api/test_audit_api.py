"""The audit trail over HTTP: a tenant's events for its auditors, filters and pages, a caller's
own security events, and every request's origin (address, agent, request id, caller) on the
events it causes, refusals and denied checks included."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from rolegate import Rolegate
from rolegate.api import create_app
from rolegate.api.deps import public
from rolegate.builtins import AUDIT_READ
from tests.api.conftest import PEER
from tests.factories import (
    PASSWORD,
    AuthActions,
    FakeClock,
    assert_problem,
    audit_events,
    build_documents_policy,
    member_with_password,
)

pytestmark = pytest.mark.anyio

AUDIT = "/v1/tenants/acme/audit"
ROLES = "/v1/tenants/acme/roles"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
async def admin(rg: Rolegate, auth: AuthActions) -> dict[str, str]:
    """Headers of ada, a tenant-admin of acme (who holds ``rolegate:audit:read``)."""
    member_with_password(rg, "ada", tenant="acme")
    rg.assignments.assign("acme", "ada", "tenant-admin")
    return auth.bearer(await auth.login("ada"))


def user_id(rg: Rolegate, username: str) -> str:
    """The id of ``username``, as events name actors."""
    return str(rg.users.get(username).id)


async def read(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    """One page of acme's trail; fails the test unless it is a 200."""
    response = await client.get(AUDIT, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def actions(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    """The actions of one page of acme's trail, newest first."""
    return [event["action"] for event in (await read(client, headers, **params))["items"]]


# -- the tenant's trail -------------------------------------------------------------------------


async def test_a_tenant_admin_reads_its_tenants_trail(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], clock: FakeClock
) -> None:
    rg.tenants.create("globex")
    rg.roles.create("globex", "elsewhere")
    clock.advance(timedelta(seconds=1))  # newest first is by time: the role's event is last
    created = await client.post(ROLES, json={"name": "viewer"}, headers=admin)
    assert created.status_code == 201, created.text

    page = await read(client, admin)

    acme = rg.tenants.get("acme").id
    assert page["next_cursor"] is None
    assert {event["tenant_id"] for event in page["items"]} == {str(acme)}
    newest = page["items"][0]
    assert newest["action"] == "role.created"
    assert newest["target_id"] == created.json()["id"]
    assert newest["actor"] == user_id(rg, "ada")
    assert newest["outcome"] == "success"
    assert newest["seq"] == max(e["seq"] for e in page["items"])  # the head of acme's chain
    stored = next(e for e in rg.audit.events(tenant="acme").items if str(e.id) == newest["id"])
    assert newest == {**stored.as_json(), "occurred_at": newest["occurred_at"]}
    assert set(newest) == {
        "id", "chain_id", "seq", "occurred_at", "tenant_id", "actor", "actor_ip", "user_agent",
        "request_id", "action", "target_type", "target_id", "outcome", "details", "prev_hash",
        "hash",
    }  # fmt: skip


async def test_filters_narrow_the_trail(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], clock: FakeClock
) -> None:
    clock.advance(timedelta(seconds=1))
    start = clock.now  # after acme's own set-up (its tenant-admin role, ada's membership)
    viewer = (await client.post(ROLES, json={"name": "viewer"}, headers=admin)).json()
    clock.advance(timedelta(minutes=1))
    rg.permissions.create("acme", "documents:read")  # by the library: actor "system"
    clock.advance(timedelta(minutes=1))
    await client.patch(f"{ROLES}/viewer", json={"description": "Reads"}, headers=admin)
    ada = user_id(rg, "ada")

    recent = {"since": start.isoformat()}
    assert await actions(client, admin, action="role.*", **recent) == [
        "role.updated",
        "role.created",
    ]
    assert await actions(client, admin, action="role.created", **recent) == ["role.created"]
    assert "role.assigned" in await actions(client, admin, action="role.*")  # ada's, earlier
    assert await actions(client, admin, target=f"role:{viewer['id']}") == [
        "role.updated",
        "role.created",
    ]
    assert await actions(client, admin, target="permission", **recent) == ["permission.created"]
    by_ada = await read(client, admin, actor=ada)
    assert {e["actor"] for e in by_ada["items"]} == {ada}
    assert "permission.created" not in [e["action"] for e in by_ada["items"]]
    since, until = start + timedelta(seconds=30), start + timedelta(seconds=90)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    in_window = await actions(client, admin, **window)
    assert sorted(in_window) == ["permission.created", "resource.created"]  # its resource too
    assert await actions(client, admin, since=clock.now.isoformat()) == ["role.updated"]
    assert await actions(client, admin, outcome="failure") == []


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-01-01T00:00:00"},  # no time zone: refused, never guessed
        {"until": "yesterday"},
        {"outcome": "maybe"},
        {"action": ""},
        {"actor": "x" * 301},
        {"limit": 0},
    ],
)
async def test_bad_filters_are_422(
    client: httpx.AsyncClient, admin: dict[str, str], params: dict[str, Any]
) -> None:
    response = await client.get(AUDIT, params=params, headers=admin)
    assert_problem(response, 422, "invalid_request")


async def test_a_bad_cursor_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.get(AUDIT, params={"cursor": "not-a-cursor"}, headers=admin)
    assert response.status_code == 422, response.text


async def test_pages_cover_every_event_exactly_once(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str], clock: FakeClock
) -> None:
    for i in range(7):
        rg.roles.create("acme", f"role-{i}")
        if i % 2:
            clock.advance(timedelta(seconds=1))  # some events share a time, some do not
    every = [e.id for e in rg.audit.events(tenant="acme", limit=1000).items]
    assert len(every) > 10

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        page = await read(client, admin, limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 3
        seen += [event["id"] for event in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(event_id) for event_id in every]


async def test_a_member_without_audit_read_is_refused_and_that_is_audited(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    member_with_password(rg, "bob", tenant="acme")
    headers = {
        **auth.bearer(await auth.login("bob")),
        "X-Request-ID": "req-bob-1",
        "User-Agent": "probe/1.0",
    }

    response = await client.get(AUDIT, headers=headers)

    assert assert_problem(response, 403, "forbidden")["permission"] == AUDIT_READ
    assert response.headers["x-request-id"] == "req-bob-1"
    assert rg.decisions is not None
    rg.decisions.trail.flush()
    [denied] = audit_events(rg, action="api.denied")
    assert (denied.actor, denied.request_id) == (user_id(rg, "bob"), "req-bob-1")
    assert (denied.actor_ip, denied.user_agent) == (PEER[0], "probe/1.0")
    assert denied.outcome == "denied"
    assert denied.details["permission"] == AUDIT_READ
    assert denied.details["route"] == "GET /v1/tenants/{tenant}/audit"


async def test_another_tenants_admin_finds_no_such_tenant(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    member_with_password(rg, "ada", tenant="acme")
    member_with_password(rg, "gus", tenant="globex")
    rg.assignments.assign("globex", "gus", "tenant-admin")
    headers = auth.bearer(await auth.login("gus", tenant="globex"))

    response = await client.get(AUDIT, headers=headers)

    assert_problem(response, 404, "tenant_not_found")
    assert (await client.get("/v1/tenants/globex/audit", headers=headers)).status_code == 200


# -- where events come from ---------------------------------------------------------------------


async def test_a_change_through_the_api_carries_the_requests_origin(
    rg: Rolegate, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = {**admin, "X-Request-ID": "change-42", "User-Agent": "console/2.1"}

    created = await client.post(ROLES, json={"name": "viewer"}, headers=headers)

    assert created.headers["x-request-id"] == "change-42"
    [event] = [e for e in audit_events(rg) if e.target_id == created.json()["id"]]
    assert (event.action, event.request_id) == ("role.created", "change-42")
    assert (event.user_agent, event.actor_ip) == ("console/2.1", PEER[0])
    assert event.actor == user_id(rg, "ada")


async def test_a_trusted_proxys_forwarded_address_is_the_events_address(
    rg: Rolegate, auth: AuthActions
) -> None:
    member_with_password(rg, "ada", tenant="acme")
    rg.assignments.assign("acme", "ada", "tenant-admin")
    app = create_app(rg, trusted_proxies=("10.0.0.0/8",))
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 4321))
    forwarded = {"X-Forwarded-For": "192.0.2.66, 198.51.100.1"}  # the left-most is forged
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as proxied:
        login = await proxied.post(
            "/v1/auth/login",
            json={"username": "ada", "password": PASSWORD, "tenant": "acme"},
            headers=forwarded,
        )
        assert login.status_code == 200, login.text
        headers = {**AuthActions.bearer(login.json()), **forwarded}
        created = await proxied.post(ROLES, json={"name": "viewer"}, headers=headers)
        assert created.status_code == 201, created.text

    [event] = [e for e in audit_events(rg) if e.target_id == created.json()["id"]]
    assert event.actor_ip == "198.51.100.1"
    assert rg.auth.login_history(user="ada", limit=1)[0].ip == "198.51.100.1"  # the same rule


@pytest.mark.parametrize(
    "given",
    [None, b"x" * 101, b"two\nlines", b"spaces are not ids", b"", "ünïcode".encode()],
)
async def test_an_unusable_request_id_is_replaced_by_a_fresh_one(
    client: httpx.AsyncClient, given: bytes | None
) -> None:
    headers = {} if given is None else {b"X-Request-ID": given}
    first = await client.get("/healthz", headers=headers)
    second = await client.get("/healthz", headers=headers)
    assert GENERATED_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_usable_request_id_is_kept(client: httpx.AsyncClient) -> None:
    for given in ("a", "x" * 100, "7f3c.trace_id:span-01"):
        response = await client.get("/healthz", headers={"X-Request-ID": given})
        assert response.headers["x-request-id"] == given


async def test_every_answer_carries_the_request_id(app: FastAPI, rg: Rolegate) -> None:
    def boom() -> None:
        raise ZeroDivisionError  # an unexpected failure: a 500

    app.add_api_route("/boom", boom, dependencies=[Depends(public)])
    transport = httpx.ASGITransport(app=app, client=PEER, raise_app_exceptions=False)
    rid = "abc.DEF_123:4-5"
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = [
            await client.get("/healthz", headers={"X-Request-ID": rid}),  # 200
            await client.get("/no/such/path", headers={"X-Request-ID": rid}),  # 404
            await client.get(AUDIT, headers={"X-Request-ID": rid}),  # 401
            await client.post("/v1/auth/login", json={}, headers={"X-Request-ID": rid}),  # 422
            await client.post(
                "/v1/auth/login",
                content=b"{}",
                headers={"X-Request-ID": rid, "Content-Length": str(10**9)},
            ),  # 413
            await client.get("/boom", headers={"X-Request-ID": rid}),  # 500
        ]
    assert [a.status_code for a in answers] == [200, 404, 401, 422, 413, 500]
    assert [a.headers.get("x-request-id") for a in answers] == [rid] * len(answers)
    assert_problem(answers[-1], 500, "internal_error")


# -- a caller's own security events -------------------------------------------------------------


async def test_a_caller_sees_its_own_security_events_and_no_one_elses(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions, clock: FakeClock
) -> None:
    member_with_password(rg, "alice", tenant="acme")
    member_with_password(rg, "bob", tenant="acme")
    wrong = {"username": "alice", "password": "not the password!", "tenant": "acme"}
    failed = await client.post("/v1/auth/login", json=wrong, headers={"X-Request-ID": "oops-1"})
    assert failed.status_code == 401
    clock.advance(timedelta(seconds=1))
    await auth.login("bob")
    alice = auth.bearer(await auth.login("alice"))

    response = await client.get("/v1/auth/me/events", headers=alice)

    assert response.status_code == 200, response.text
    events = response.json()["items"]
    assert [e["action"] for e in events] == ["auth.login_succeeded", "auth.login_failed"]
    assert {e["target_id"] for e in events} == {user_id(rg, "alice")}
    assert events[1]["request_id"] == "oops-1"
    bobs = await client.get("/v1/auth/me/events", headers=auth.bearer(await auth.login("bob")))
    assert {e["target_id"] for e in bobs.json()["items"]} == {user_id(rg, "bob")}


async def test_own_events_need_a_caller_and_come_in_pages(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    assert_problem(await client.get("/v1/auth/me/events"), 401, "authentication_failed")
    member_with_password(rg, "alice", tenant="acme")
    for _ in range(3):
        await auth.login("alice")
    alice = auth.bearer(await auth.login("alice"))
    first = (await client.get("/v1/auth/me/events", params={"limit": 3}, headers=alice)).json()
    rest = await client.get(
        "/v1/auth/me/events", params={"cursor": first["next_cursor"]}, headers=alice
    )
    ids = [e["id"] for e in first["items"] + rest.json()["items"]]
    assert len(ids) == len(set(ids)) == 4


# -- denied checks ------------------------------------------------------------------------------


async def test_a_denied_check_is_audited_as_the_api_callers_with_its_request_id(
    rg: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    build_documents_policy(rg)
    member_with_password(rg, "svc", tenant="acme")
    rg.assignments.assign("acme", "svc", "tenant-admin")
    member_with_password(rg, "bob", tenant="acme")
    svc = auth.bearer(await auth.login("svc"))
    permissions = [f"documents:p{i}" for i in range(8)]

    async def check(permission: str) -> bool:
        headers = {**svc, "X-Request-ID": f"check-{permission}", "User-Agent": "gateway/3"}
        body = {"user": "bob", "permission": permission}
        response = await client.post("/v1/tenants/acme/check", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == f"check-{permission}"
        allowed: bool = response.json()["allowed"]
        return allowed

    # Together, so the lean path answers them in shared batches: each keeps its own origin.
    assert await asyncio.gather(*(check(p) for p in permissions)) == [False] * len(permissions)

    assert rg.decisions is not None
    rg.decisions.trail.flush()
    denied = audit_events(rg, action="authz.denied")
    assert sorted(e.details["permission"] for e in denied) == permissions
    for event in denied:
        assert event.request_id == f"check-{event.details['permission']}"
        assert (event.actor, event.target_id) == (user_id(rg, "svc"), user_id(rg, "bob"))
        assert (event.actor_ip, event.user_agent) == (PEER[0], "gateway/3")
        assert event.details["route"] == "POST /v1/tenants/{tenant}/check"
