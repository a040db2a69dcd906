"""No privilege escalation over HTTP (Kubernetes RBAC's escalate and bind rules), as a table.

carol may write roles and assign them, and holds ``documents:read`` and ``documents:write``; she
does not hold ``billing:refund``. Every row is tried without and with
``rolegate:roles:escalate``: a refused change is a 403 naming what is ``missing``, leaves the
database as it was, and is audited as ``authz.escalation_denied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from rolegate import Rolegate
from rolegate.builtins import (
    ROLES_ASSIGN,
    ROLES_ESCALATE,
    ROLES_READ,
    ROLES_WRITE,
    TENANT_PERMISSIONS,
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
CAROLS = [ROLES_READ, ROLES_WRITE, ROLES_ASSIGN, "documents:read", "documents:write"]


@dataclass(frozen=True)
class Attempt:
    """One request (``METHOD path`` under acme), the action a refusal is audited as, and what
    the request lacks without escalate (nothing: always allowed)."""

    id: str
    action: str
    request: str
    body: dict[str, Any] | None = None
    missing: tuple[str, ...] = ()

    @property
    def allowed(self) -> int:
        """The status of the request when allowed."""
        return 200 if self.request.startswith("PATCH") else 201


REFUND = "billing:refund"
LACKS_REFUND = (REFUND,)
ADMIN_ONLY = tuple(sorted(set(TENANT_PERMISSIONS) - set(CAROLS)))
ATTEMPTS = [
    Attempt(
        "create-held", "role.create", "POST roles", {"name": "n", "permissions": ["documents:read"]}
    ),
    Attempt(
        "create-unheld",
        "role.create",
        "POST roles",
        {"name": "n", "permissions": [REFUND]},
        LACKS_REFUND,
    ),
    Attempt(
        "create-pattern",
        "role.create",
        "POST roles",
        {"name": "n", "permissions": ["documents:*"]},
        ("documents:*",),
    ),
    Attempt(
        "create-inheriting",
        "role.create",
        "POST roles",
        {"name": "n", "inherits": ["writer-plus"]},
        LACKS_REFUND,
    ),
    Attempt(
        "create-escalate",
        "role.create",
        "POST roles",
        {"name": "n", "permissions": [ROLES_ESCALATE]},
        (ROLES_ESCALATE,),
    ),
    Attempt(
        "patch-adding",
        "role.update",
        "PATCH roles/reader",
        {"permissions": ["documents:read", REFUND]},
        LACKS_REFUND,
    ),
    Attempt(
        "patch-inheriting",
        "role.update",
        "PATCH roles/reader",
        {"inherits": ["refunder"]},
        LACKS_REFUND,
    ),
    Attempt("patch-removing", "role.update", "PATCH roles/writer-plus", {"permissions": []}),
    Attempt("grant-held", "role.grant", "PUT roles/reader/permissions/documents:write"),
    Attempt(
        "grant-unheld", "role.grant", f"PUT roles/reader/permissions/{REFUND}", None, LACKS_REFUND
    ),
    Attempt(
        "grant-own-role",
        "role.grant",
        f"PUT roles/manager/permissions/{REFUND}",
        None,
        LACKS_REFUND,
    ),
    Attempt("inherit", "role.inherit", "PUT roles/reader/inherits/writer-plus", None, LACKS_REFUND),
    Attempt("assign-held", "role.assign", "PUT users/dave/roles/reader"),
    Attempt("assign-unheld", "role.assign", "PUT users/dave/roles/refunder", None, LACKS_REFUND),
    Attempt(
        "assign-inherited", "role.assign", "PUT users/dave/roles/writer-plus", None, LACKS_REFUND
    ),
    Attempt("self-assign", "role.assign", "PUT users/carol/roles/refunder", None, LACKS_REFUND),
    Attempt(
        "assign-tenant-admin", "role.assign", "PUT users/dave/roles/tenant-admin", None, ADMIN_ONLY
    ),
]


@pytest.fixture
def world(rg: Rolegate) -> Rolegate:
    """acme with reader (documents:read), refunder (billing:refund), writer-plus
    (documents:write, inheriting refunder); carol a manager, dave a plain member."""
    member_with_password(rg, "carol", tenant="acme")
    rg.users.create("dave")
    rg.memberships.add("acme", "dave")
    for name in ("documents:read", "documents:write", "billing:refund"):
        rg.permissions.create("acme", name)
    rg.roles.create("acme", "reader", permissions=["documents:read"])
    rg.roles.create("acme", "refunder", permissions=["billing:refund"])
    rg.roles.create("acme", "writer-plus", permissions=["documents:write"], inherits=["refunder"])
    rg.roles.create("acme", "manager", permissions=CAROLS)
    rg.roles.create("acme", "escalator", permissions=[ROLES_ESCALATE])
    rg.assignments.assign("acme", "carol", "manager")
    return rg


@pytest.mark.parametrize("escalate", [False, True], ids=["without-escalate", "with-escalate"])
@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.id for a in ATTEMPTS])
async def test_escalation_table(
    world: Rolegate,
    client: httpx.AsyncClient,
    auth: AuthActions,
    attempt: Attempt,
    escalate: bool,
) -> None:
    if escalate:
        world.assignments.assign("acme", "carol", "escalator")
    headers = auth.bearer(await auth.login("carol"))
    before = stored_state(world)
    denials = len(audit_events(world, action="authz.escalation_denied"))

    method, path = attempt.request.split(" ")
    response = await client.request(method, f"{T}/{path}", json=attempt.body, headers=headers)

    if escalate or not attempt.missing:
        assert response.status_code == attempt.allowed, response.text
        assert stored_state(world) != before
        assert len(audit_events(world, action="authz.escalation_denied")) == denials
        return
    body = assert_problem(response, 403, "escalation_denied")
    assert body["missing"] == list(attempt.missing)
    assert stored_state(world) == before  # nothing of the change was kept
    [*_, event] = audit_events(world, action="authz.escalation_denied")
    assert len(audit_events(world, action="authz.escalation_denied")) == denials + 1
    carol = world.users.get("carol")
    assert (event.actor, event.target_id, event.tenant_id) == (
        str(carol.id),
        str(carol.id),
        world.tenants.get("acme").id,
    )
    assert event.details == {"attempted": attempt.action, "missing": list(attempt.missing)}


async def test_a_platform_admin_holds_escalate_in_every_tenant(
    world: Rolegate, client: httpx.AsyncClient, auth: AuthActions
) -> None:
    bootstrap_admin(world)
    headers = auth.bearer(await auth.login("root", tenant="platform"))
    response = await client.put(f"{T}/users/dave/roles/tenant-admin", headers=headers)
    assert response.status_code == 201, response.text
    granted = await client.put(f"{T}/roles/reader/permissions/billing:refund", headers=headers)
    assert granted.status_code == 201, granted.text
    assert audit_events(world, action="authz.escalation_denied") == []
