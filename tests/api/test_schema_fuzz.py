"""Schema-driven fuzzing of the whole API (schemathesis over /openapi.json, as a platform admin):
no input makes the server fail, every answer matches the schema it publishes, and every request
the schema calls valid is accepted (schemathesis' ST202, ``positive_data_acceptance``) but for the
business rules of :data:`ALLOWED_REJECTIONS`.

Bounded and repeatable for CI: a fixed number of examples per operation, derandomized. Every case
carries a fresh access token (an operation such as logout ends the session it is called with) and
names the tenant ``acme``, so the operations under a tenant get past "not found" to their bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.openapi.checks import RejectedPositiveData
from starlette.types import ASGIApp, Receive, Scope, Send

from rolegate import Rolegate
from rolegate.api import create_app
from tests.factories import FAST_HASHER, PASSWORD, bootstrap_admin

EXAMPLES_PER_OPERATION = 25
TENANT = "acme"
PEER = ("203.0.113.5", 1234)  # a real client address: the server records and throttles by it

#: The valid-by-schema requests the server refuses by a rule no schema can state, by operation
#: and then by (status, problem code), each with the reason.
_CURSOR = (422, "invalid_input")
_CURSOR_REASON = "a cursor is opaque: only a next_cursor the server issued is one"
_LISTINGS = [
    "/v1/audit",
    "/v1/auth/me/events",
    "/v1/tenants",
    "/v1/tenants/{tenant}/assignments",
    "/v1/tenants/{tenant}/audit",
    "/v1/tenants/{tenant}/invitations",
    "/v1/tenants/{tenant}/login-history",
    "/v1/tenants/{tenant}/permissions",
    "/v1/tenants/{tenant}/permissions/{name}/holders",
    "/v1/tenants/{tenant}/resources",
    "/v1/tenants/{tenant}/roles",
    "/v1/tenants/{tenant}/sessions",
    "/v1/tenants/{tenant}/users",
]
_PASSWORD_POLICY = (
    "the password policy (length, breached or common passwords) is configuration, not schema"
)
_USERNAME_UNICODE = (
    "a username is Unicode \\w after NFKC, which an ECMA-262 pattern without the u flag cannot "
    "spell: the published pattern is exact on ASCII and lets other characters through, so a "
    "symbol, an unassigned code point or a character NFKC changes into one is refused here"
)
ALLOWED_REJECTIONS: dict[tuple[str, str], dict[tuple[int, str], str]] = {
    **{("GET", path): {_CURSOR: _CURSOR_REASON} for path in _LISTINGS},
    ("DELETE", "/v1/auth/sessions"): {
        (422, "invalid_input"): "others=true is a confirmation: without it nothing is ended",
    },
    ("POST", "/v1/tenants/{tenant}/users"): {
        (422, "invalid_name"): _USERNAME_UNICODE,
        (422, "invalid_password"): _PASSWORD_POLICY,
    },
    ("PATCH", "/v1/tenants/{tenant}/users/{user}"): {
        (422, "invalid_name"): _USERNAME_UNICODE,
        (422, "invalid_password"): _PASSWORD_POLICY,
    },
    ("PUT", "/v1/tenants/{tenant}/users/{user}/roles/{role}"): {
        (422, "invalid_expiry"): "an assignment's expires_at must lie in the future",
    },
}

#: Operations that would delete or rename the tenant every other operation runs in.
_OWN_TENANT_PATHS = {"/v1/tenants/{tenant}"}


@schemathesis.check
def valid_data_is_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """ST202 (``positive_data_acceptance``), less the refusals :data:`ALLOWED_REJECTIONS` lists."""
    try:
        return checks.positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        allowed = ALLOWED_REJECTIONS.get((case.method.upper(), case.operation.path), {})
        body = response.json() if response.content else {}
        code = body.get("code") if isinstance(body, dict) else None
        if (response.status_code, code) in allowed:
            return None
        raise


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    valid_data_is_accepted,
]


class _FromPeer:
    """The app as a server runs it: every connection comes from a socket address (the test
    client of starlette says ``testclient``, which no server would)."""

    def __init__(self, app: FastAPI) -> None:
        self.app: ASGIApp = app
        self.openapi = app.openapi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": PEER}
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rolegate, FastAPI]]:
    """A platform admin, a tenant with a permission, a role and a member, and the app on them
    (on a SQLite file)."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "rolegate.db"
    with Rolegate(f"sqlite:///{path}", hasher=FAST_HASHER) as rg:
        bootstrap_admin(rg)
        rg.tenants.create(TENANT)
        rg.permissions.create(TENANT, "documents:read")
        rg.roles.create(TENANT, "reader", permissions=["documents:read"])
        rg.users.create("alice", password=PASSWORD)
        rg.assignments.assign(TENANT, "alice", "reader")
        yield rg, create_app(rg)


def test_no_input_fails_the_server_or_the_schema(fuzzed: tuple[Rolegate, FastAPI]) -> None:
    rg, app = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", _FromPeer(app))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10

    for operation in operations:
        in_tenant = "{tenant}" in operation.path and operation.path not in _OWN_TENANT_PATHS
        pinned = {"tenant": TENANT} if in_tenant else None

        @given(case=operation.as_strategy(path_parameters=pinned))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            token = rg.auth.login("root", PASSWORD, tenant="platform").access_token
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        fuzz()


def test_every_allowed_rejection_names_an_operation_of_the_schema(
    fuzzed: tuple[Rolegate, FastAPI],
) -> None:
    _, app = fuzzed
    published = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    assert set(ALLOWED_REJECTIONS) <= published
