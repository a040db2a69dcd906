"""The bind rule on the library's account changes: a service call made with a ``caller`` (a
verified token's principal) changes another account, or takes its roles away, only when the
caller holds every permission that account holds; without a caller (the CLI operator, an
embedding app's own code) the call is trusted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rolegate import AccountChangeDenied, EscalationDenied, Rolegate
from rolegate.builtins import TENANT_ADMIN, USERS_READ, USERS_WRITE
from rolegate.entities import Principal
from tests.factories import PASSWORD, audit_events, member_with_password, stored_state

NEW_PASSWORD = "quartz meadow 7 ember kite"

Call = Callable[[Rolegate, str, Principal | None], Any]
CALLS: dict[str, Call] = {
    "set_password": lambda rg, u, c: rg.users.set_password(u, NEW_PASSWORD, caller=c),
    "clear_password": lambda rg, u, c: rg.users.clear_password(u, caller=c),
    "activate": lambda rg, u, c: rg.users.activate(u, caller=c),
    "deactivate": lambda rg, u, c: rg.users.deactivate(u, caller=c),
    "delete": lambda rg, u, c: rg.users.delete(u, caller=c),
    "update_email": lambda rg, u, c: rg.users.update(u, email="x@evil.example", caller=c),
    "remove_member": lambda rg, u, c: rg.users.remove_member("acme", u, caller=c),
}


@pytest.fixture
def world(rg: Rolegate) -> tuple[Rolegate, Principal]:
    """acme's ``manager`` (users:read and users:write), with a verified principal, and two
    members: ``peer`` holding the same and ``boss``, acme's tenant admin."""
    member_with_password(rg, "manager", tenant="acme")
    rg.roles.create("acme", "manager", permissions=[USERS_READ, USERS_WRITE])
    for name, role in (("manager", "manager"), ("peer", "manager"), ("boss", TENANT_ADMIN)):
        if name != "manager":
            member_with_password(rg, name, tenant="acme")
        rg.assignments.assign("acme", name, role)
    caller = rg.auth.verify(rg.auth.login("manager", PASSWORD, tenant="acme").access_token)
    return rg, caller


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_a_caller_cannot_change_a_stronger_account(
    world: tuple[Rolegate, Principal], call: str
) -> None:
    rg, caller = world
    before = stored_state(rg)
    with pytest.raises(AccountChangeDenied) as denied:
        CALLS[call](rg, "boss", caller)
    assert denied.value.code == "account_change_denied" and denied.value.missing
    assert stored_state(rg) == before
    [event] = audit_events(rg, action="authz.account_change_denied")
    assert event.target_id == str(rg.users.get("boss").id)
    assert event.actor == str(caller.user_id)


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_a_caller_may_change_an_equal_account(world: tuple[Rolegate, Principal], call: str) -> None:
    rg, caller = world
    if call == "activate":
        rg.users.deactivate("peer")
    CALLS[call](rg, "peer", caller)
    assert audit_events(rg, action="authz.account_change_denied") == []


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_without_a_caller_the_call_is_trusted(world: tuple[Rolegate, Principal], call: str) -> None:
    rg, _ = world
    if call == "activate":
        rg.users.deactivate("boss")
    CALLS[call](rg, "boss", None)


def test_unassigning_with_a_caller_needs_the_roles_permissions(
    world: tuple[Rolegate, Principal],
) -> None:
    rg, caller = world
    rg.roles.create("acme", "assigner", permissions=["rolegate:roles:assign"])
    rg.assignments.assign("acme", "manager", "assigner")
    caller = rg.auth.verify(rg.auth.login("manager", PASSWORD, tenant="acme").access_token)
    with pytest.raises(EscalationDenied):
        rg.assignments.unassign("acme", "boss", TENANT_ADMIN, caller=caller)
    assert [a.role for a in rg.assignments.list("acme", user="boss")] == [TENANT_ADMIN]
    rg.assignments.unassign("acme", "peer", "manager", caller=caller)
