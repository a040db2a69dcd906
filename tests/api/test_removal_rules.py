"""Taking access away obeys the rule of giving it: unassigning a role needs every permission
it carries (or escalate), and so does removing a member, for every role they hold there.
Deleting a role, or revoking its grants, is policy authoring under ``rolegate:roles:write``
and stays so; the built-in ``tenant-admin`` cannot be deleted."""

from __future__ import annotations

import httpx
import pytest

from rolegate import Rolegate
from rolegate.builtins import (
    ROLES_ASSIGN,
    ROLES_ESCALATE,
    ROLES_READ,
    ROLES_WRITE,
    TENANT_ADMIN,
    TENANT_PERMISSIONS,
    USERS_READ,
    USERS_WRITE,
)
from tests.factories import AuthActions, assert_problem, audit_events, member_with_password

pytestmark = pytest.mark.anyio

T = "/v1/tenants/acme"
ASSIGNER = [ROLES_READ, ROLES_ASSIGN]


@pytest.fixture
def world(rg: Rolegate) -> Rolegate:
    """acme: carol may assign roles; boss is its tenant admin; dave holds what carol holds."""
    member_with_password(rg, "carol", tenant="acme")
    rg.roles.create("acme", "assigner", permissions=ASSIGNER)
    rg.roles.create("acme", "escalator", permissions=[ROLES_ESCALATE])
    rg.assignments.assign("acme", "carol", "assigner")
    for name, role in (("boss", TENANT_ADMIN), ("dave", "assigner")):
        rg.users.create(name)
        rg.assignments.assign("acme", name, role)
    return rg


def holds(rg: Rolegate, user: str, role: str) -> bool:
    return any(a.role == role for a in rg.assignments.list("acme", user=user))


async def test_unassigning_a_role_one_does_not_hold_is_refused(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    headers = auth.bearer(await auth.login("carol"))
    response = await client.delete(f"{T}/users/boss/roles/{TENANT_ADMIN}", headers=headers)

    body = assert_problem(response, 403, "escalation_denied")
    assert body["missing"] == sorted(set(TENANT_PERMISSIONS) - set(ASSIGNER))
    assert holds(world, "boss", TENANT_ADMIN)
    [event] = audit_events(world, action="authz.escalation_denied")
    assert event.details["attempted"] == "role.unassign"
    assert event.actor == str(world.users.get("carol").id)


async def test_unassigning_a_role_one_holds_is_allowed(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    headers = auth.bearer(await auth.login("carol"))
    response = await client.delete(f"{T}/users/dave/roles/assigner", headers=headers)
    assert response.status_code == 204, response.text
    assert not holds(world, "dave", "assigner")


async def test_escalate_lets_one_unassign_any_role(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    world.assignments.assign("acme", "carol", "escalator")
    headers = auth.bearer(await auth.login("carol"))
    response = await client.delete(f"{T}/users/boss/roles/{TENANT_ADMIN}", headers=headers)
    assert response.status_code == 204, response.text
    assert not holds(world, "boss", TENANT_ADMIN)


async def test_removing_a_stronger_member_is_refused(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    world.roles.create("acme", "people", permissions=[USERS_READ, USERS_WRITE, *ASSIGNER])
    world.assignments.assign("acme", "carol", "people")
    headers = auth.bearer(await auth.login("carol"))

    refused = await client.delete(f"{T}/users/boss", headers=headers)
    assert_problem(refused, 403, "account_change_denied")
    assert holds(world, "boss", TENANT_ADMIN)
    [event] = audit_events(world, action="authz.account_change_denied")
    assert event.details["attempted"] == "membership.remove"

    allowed = await client.delete(f"{T}/users/dave", headers=headers)  # holds less than carol
    assert allowed.status_code == 204, allowed.text


async def test_deleting_a_role_is_policy_authoring_not_a_removal_of_access(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    world.permissions.create("acme", "billing:refund")
    world.roles.create("acme", "refunder", permissions=["billing:refund"])
    world.assignments.assign("acme", "boss", "refunder")
    world.roles.create("acme", "author", permissions=[ROLES_READ, ROLES_WRITE])
    world.assignments.assign("acme", "carol", "author")
    headers = auth.bearer(await auth.login("carol"))

    deleted = await client.delete(f"{T}/roles/refunder", headers=headers)
    assert deleted.status_code == 204, deleted.text
    protected = await client.delete(f"{T}/roles/{TENANT_ADMIN}", headers=headers)
    assert_problem(protected, 409, "builtin_protected")
    assert holds(world, "boss", TENANT_ADMIN)
