"""Schema-driven fuzzing of the whole API (schemathesis over /openapi.json, as a platform admin):
no input makes the server fail, and every answer matches the schema it publishes.

Bounded and repeatable for CI: a fixed number of examples per operation, derandomized.
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

from rolegate import Rolegate
from rolegate.api import create_app
from tests.factories import FAST_HASHER, PASSWORD, bootstrap_admin

EXAMPLES_PER_OPERATION = 20
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    """The app on a SQLite file with a platform admin, a tenant, a role and a member, and the
    admin's access token."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "rolegate.db"
    with Rolegate(f"sqlite:///{path}", hasher=FAST_HASHER) as rg:
        bootstrap_admin(rg)
        rg.tenants.create("acme")
        rg.permissions.create("acme", "documents:read")
        rg.roles.create("acme", "reader", permissions=["documents:read"])
        rg.users.create("alice", password=PASSWORD)
        rg.assignments.assign("acme", "alice", "reader")
        token = rg.auth.login("root", PASSWORD, tenant="platform").access_token
        yield create_app(rg), token


def test_no_input_fails_the_server_or_the_schema(fuzzed: tuple[FastAPI, str]) -> None:
    app, token = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10
    headers = {"Authorization": f"Bearer {token}"}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        fuzz()
