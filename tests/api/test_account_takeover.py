"""No account takeover through user management (the bind rule on accounts), as a table.

Every change that could hand the caller another account's access (its password, login names,
activation, its membership and the roles that go with it) is tried by three callers on four
accounts of acme:

* callers: ``manager`` (a member of acme holding ``users:read`` and ``users:write``),
  ``operator`` (a platform member holding the same two in the platform tenant: no platform
  admin) and ``root`` (a platform admin);
* targets: ``weak`` (holds ``users:read`` only), ``peer`` (holds what the callers hold),
  ``strong`` (acme's ``tenant-admin``) and ``chief`` (a platform admin, also in acme).

An equal or weaker account may be changed; a stronger one is refused with a 403 naming the rule
(not the account's grants), the database left as it was and the refusal audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from rolegate import Rolegate
from rolegate.builtins import (
    PLATFORM_TENANT_SLUG,
    TENANT_ADMIN,
    TENANT_PERMISSIONS,
    USERS_READ,
    USERS_WRITE,
)
from tests.factories import (
    AuthActions,
    assert_problem,
    audit_events,
    bootstrap_admin,
    member_with_password,
    stored_state,
)

pytestmark = pytest.mark.anyio

T = "/v1/tenants/acme"
NEW_PASSWORD = "quartz meadow 7 ember kite"
DENIED = "authz.account_change_denied"


@dataclass(frozen=True)
class Change:
    """One request on ``users/{target}`` of acme (its body made for the target, so that
    changes of several targets do not collide), and its status when allowed."""

    id: str
    method: str
    body: dict[str, Any] | None = None

    @property
    def allowed(self) -> int:
        return 204 if self.method == "DELETE" else 200

    def body_for(self, target: str) -> dict[str, Any] | None:
        if self.body is None:
            return None
        return {k: v.format(target) if isinstance(v, str) else v for k, v in self.body.items()}


CHANGES = [
    Change("set-password", "PATCH", {"password": NEW_PASSWORD}),
    Change("clear-password", "PATCH", {"password": None}),
    Change("username", "PATCH", {"username": "{}-renamed"}),
    Change("email", "PATCH", {"email": "{}@evil.example"}),
    Change("clear-email", "PATCH", {"email": None}),
    Change("activate", "PATCH", {"is_active": True}),
    Change("deactivate", "PATCH", {"is_active": False}),
    Change("must-change-password", "PATCH", {"must_change_password": True}),
    Change("remove-membership", "DELETE"),
]
CALLERS = ["manager", "operator", "root"]
TARGETS = ["weak", "peer", "strong", "chief"]

#: (caller, target) -> the refusal's problem code; every other pair is allowed. The manager
#: is refused ``chief`` by the older rule first: an account shared with another tenant is
#: changed by platform admins only.
REFUSED = {
    ("manager", "strong"): "account_change_denied",
    ("manager", "chief"): "forbidden",
    ("operator", "strong"): "account_change_denied",
    ("operator", "chief"): "account_change_denied",
}


def expected(change: Change, caller: str, target: str) -> str | None:
    """The problem code ``caller`` gets for ``change`` on ``target``, None if allowed.

    Removing a membership reaches one tenant only (a tenant may always let its own member
    go, shared or not), and ``chief`` holds nothing in acme: that hands nobody anything.
    """
    if change.id == "remove-membership" and target == "chief":
        return None
    return REFUSED.get((caller, target))


@pytest.fixture
def world(rg: Rolegate) -> Rolegate:
    """acme with the four targets (``weak`` deactivated for ``activate``, see the test) and the
    three callers, each with a password."""
    bootstrap_admin(rg)
    rg.tenants.create("acme")
    for tenant in ("acme", PLATFORM_TENANT_SLUG):
        rg.roles.create(tenant, "viewer", permissions=[USERS_READ])
        rg.roles.create(tenant, "manager", permissions=[USERS_READ, USERS_WRITE])
    member_with_password(rg, "manager", tenant="acme")
    rg.assignments.assign("acme", "manager", "manager")
    member_with_password(rg, "operator", tenant=PLATFORM_TENANT_SLUG)
    rg.assignments.assign(PLATFORM_TENANT_SLUG, "operator", "manager")
    for target, role in (("weak", "viewer"), ("peer", "manager"), ("strong", TENANT_ADMIN)):
        member_with_password(rg, target, tenant="acme")
        rg.assignments.assign("acme", target, role)
    member_with_password(rg, "chief", tenant=PLATFORM_TENANT_SLUG)
    rg.assignments.assign(PLATFORM_TENANT_SLUG, "chief", TENANT_ADMIN)
    rg.memberships.add("acme", "chief")
    return rg


async def login(world: Rolegate, auth: AuthActions, caller: str) -> dict[str, str]:
    tenant = "acme" if caller == "manager" else PLATFORM_TENANT_SLUG
    return auth.bearer(await auth.login(caller, tenant=tenant))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("change", CHANGES, ids=[c.id for c in CHANGES])
async def test_account_change_table(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions, change: Change, caller: str
) -> None:
    """Each target in turn (one world and one login per change and caller: the table is
    ``len(CHANGES) * len(CALLERS) * len(TARGETS)`` cells per backend)."""
    headers = await login(world, auth, caller)
    for target in TARGETS:
        await try_change(world, client, headers, change, caller, target)


async def try_change(
    world: Rolegate,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    change: Change,
    caller: str,
    target: str,
) -> None:
    cell = f"{change.id} by {caller} on {target}"
    if change.id == "activate":
        world.users.deactivate(target)
    target_id = world.users.get(target).id
    before = stored_state(world)
    denials = len(audit_events(world, action=DENIED))

    url = f"{T}/users/{target}"
    body = change.body_for(target)
    response = await client.request(change.method, url, json=body, headers=headers)

    code = expected(change, caller, target)
    if code is None:
        assert response.status_code == change.allowed, f"{cell}: {response.text}"
        assert stored_state(world) != before, cell
        assert len(audit_events(world, action=DENIED)) == denials, cell
        return
    assert response.status_code == 403, f"{cell}: {response.text}"
    problem = assert_problem(response, 403, code)
    assert stored_state(world) == before, cell  # nothing of the change was kept
    if code == "forbidden":
        return
    assert problem["rule"] == "account_bind"
    # The refusal names the rule, not what the account holds.
    assert "missing" not in problem
    leaked = set(TENANT_PERMISSIONS) - {USERS_READ, USERS_WRITE, "rolegate:roles:escalate"}
    assert not any(name in response.text for name in leaked), cell
    assert len(audit_events(world, action=DENIED)) == denials + 1, cell
    [event] = [e for e in audit_events(world, action=DENIED) if e.target_id == str(target_id)]
    caller_id = world.users.get(caller).id
    assert (event.actor, event.tenant_id) == (str(caller_id), world.tenants.get("acme").id)
    attempted = "membership.remove" if change.method == "DELETE" else "user.update"
    assert event.details["attempted"] == attempted
    assert event.details["rule"] == "account_bind"
    assert event.details["missing"]


async def test_a_user_manager_cannot_log_in_as_the_tenant_admin(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    headers = await login(world, auth, "manager")
    response = await client.patch(
        f"{T}/users/strong", json={"password": NEW_PASSWORD}, headers=headers
    )
    assert_problem(response, 403, "account_change_denied")
    taken = await client.post(
        "/v1/auth/login",
        json={"username": "strong", "password": NEW_PASSWORD, "tenant": "acme"},
    )
    assert_problem(taken, 401, "invalid_credentials")
    assert (await auth.login("strong")).get("access_token")  # the admin's own password stands


async def test_a_platform_admin_changes_another_platform_admin(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    headers = await login(world, auth, "root")
    response = await client.patch(
        f"/v1/tenants/{PLATFORM_TENANT_SLUG}/users/chief",
        json={"password": NEW_PASSWORD},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert await auth.login("chief", tenant=PLATFORM_TENANT_SLUG, password=NEW_PASSWORD)


async def test_a_platform_member_who_is_no_admin_cannot_change_a_platform_admin(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    headers = await login(world, auth, "operator")
    response = await client.patch(
        f"/v1/tenants/{PLATFORM_TENANT_SLUG}/users/root",
        json={"email": "root@evil.example"},
        headers=headers,
    )
    assert_problem(response, 403, "account_change_denied")
    assert world.users.get("root").email is None


async def test_profile_fields_are_no_lever(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    headers = await login(world, auth, "manager")
    response = await client.patch(
        f"{T}/users/strong",
        json={"full_name": "Strong Admin", "preferences": {"theme": "dark"}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert world.users.get("strong").full_name == "Strong Admin"
