"""The OpenAPI document states every name rule the server enforces: each parameter and body field
that names a tenant, user, role, permission or resource carries the ``pattern`` of
:mod:`rolegate.names`, with ``minLength`` and ``maxLength``, so a generated client checks what the
server would refuse. (That the server accepts what the patterns allow is
``test_schema_fuzz.py``'s ST202 check; that the patterns agree with the parsers,
``tests/unit/test_name_patterns.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolegate import Rolegate
from rolegate.api import create_app
from rolegate.names import (
    EMAIL_PATTERN,
    GRANT_PATTERN,
    PERMISSION_PATTERN,
    RESOURCE_PATTERN,
    ROLE_NAME_PATTERN,
    TENANT_SLUG_PATTERN,
    USERNAME_PATTERN,
    any_of,
    or_uuid,
)
from tests.factories import FAST_HASHER

_RULES = [
    TENANT_SLUG_PATTERN,
    ROLE_NAME_PATTERN,
    PERMISSION_PATTERN,
    GRANT_PATTERN,
    RESOURCE_PATTERN,
    USERNAME_PATTERN,
    EMAIL_PATTERN,
]
PUBLISHED = {*_RULES, *(or_uuid(rule) for rule in _RULES), any_of(USERNAME_PATTERN, EMAIL_PATTERN)}

#: Parameters that name something, by where they are and what they are called.
NAME_PARAMETERS = {
    ("path", "tenant"),
    ("path", "name"),
    ("path", "role"),
    ("path", "parent"),
    ("path", "permission"),
    ("path", "user"),
    ("query", "tenant"),
    ("query", "user"),
    ("query", "role"),
    ("query", "resource"),
}

#: Body fields that name something, each with the rule it must state.
NAME_FIELDS = {
    ("TenantCreate", "slug"): TENANT_SLUG_PATTERN,
    ("TenantUpdate", "slug"): TENANT_SLUG_PATTERN,
    ("RoleCreate", "name"): ROLE_NAME_PATTERN,
    ("RoleCreate", "permissions"): GRANT_PATTERN,
    ("RoleCreate", "inherits"): or_uuid(ROLE_NAME_PATTERN),
    ("RoleUpdate", "name"): ROLE_NAME_PATTERN,
    ("RoleUpdate", "permissions"): GRANT_PATTERN,
    ("RoleUpdate", "inherits"): or_uuid(ROLE_NAME_PATTERN),
    ("ResourceCreate", "name"): RESOURCE_PATTERN,
    ("PermissionCreate", "name"): GRANT_PATTERN,
    ("UserCreate", "username"): USERNAME_PATTERN,
    ("UserCreate", "email"): EMAIL_PATTERN,
    ("UserUpdate", "username"): USERNAME_PATTERN,
    ("UserUpdate", "email"): EMAIL_PATTERN,
    ("MemberAdd", "user"): USERNAME_PATTERN,
    ("CheckRequest", "user"): USERNAME_PATTERN,
    ("CheckRequest", "permission"): PERMISSION_PATTERN,
    ("CheckItem", "user"): USERNAME_PATTERN,
    ("CheckItem", "permission"): PERMISSION_PATTERN,
    ("LoginRequest", "username"): any_of(USERNAME_PATTERN, EMAIL_PATTERN),
    ("LoginRequest", "tenant"): or_uuid(TENANT_SLUG_PATTERN),
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path: Path = tmp_path_factory.mktemp("openapi") / "rolegate.db"
    with Rolegate(f"sqlite:///{path}", hasher=FAST_HASHER) as rg:
        yield create_app(rg).openapi()


def _string_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The string branch of a field's schema (through ``anyOf`` with null, and array items)."""
    if "items" in schema:
        return _string_schema(schema["items"])
    strings = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]
    assert len(strings) == 1, schema
    return strings[0]


def _assert_states_a_rule(schema: dict[str, Any], where: str) -> str:
    string = _string_schema(schema)
    assert string.get("pattern") in PUBLISHED, f"{where} states no name rule: {string}"
    assert string.get("minLength", 0) >= 1, where
    assert string.get("maxLength"), where
    return str(string["pattern"])


def test_every_parameter_naming_something_states_its_rule(document: dict[str, Any]) -> None:
    seen = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                where = (parameter["in"], parameter["name"])
                if where in NAME_PARAMETERS:
                    seen.add(where)
                    _assert_states_a_rule(parameter["schema"], f"{method.upper()} {path} {where}")
    assert seen == NAME_PARAMETERS


def test_every_body_field_naming_something_states_its_rule(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for (model, field), rule in NAME_FIELDS.items():
        stated = _assert_states_a_rule(schema := schemas[model]["properties"][field], model)
        assert stated == rule, f"{model}.{field}: {schema}"


def test_a_grant_path_takes_patterns_and_a_check_path_only_permissions(
    document: dict[str, Any],
) -> None:
    paths = document["paths"]

    def pattern_of(path: str, method: str, name: str) -> str:
        [parameter] = [p for p in paths[path][method]["parameters"] if p["name"] == name]
        return str(parameter["schema"]["pattern"])

    grant = "/v1/tenants/{tenant}/roles/{role}/permissions/{permission}"
    assert pattern_of(grant, "put", "permission") == GRANT_PATTERN
    holders = "/v1/tenants/{tenant}/permissions/{name}/holders"
    assert pattern_of(holders, "get", "name") == PERMISSION_PATTERN
    resource = "/v1/tenants/{tenant}/resources/{name}"
    assert pattern_of(resource, "get", "name") == or_uuid(RESOURCE_PATTERN)
    assert pattern_of(resource, "get", "tenant") == or_uuid(TENANT_SLUG_PATTERN)
