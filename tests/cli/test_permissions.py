"""``rolegate permission create | list | delete``."""

from __future__ import annotations

import pytest

from rolegate import Rolegate
from tests.factories import (
    Cli,
    build_documents_policy,
    is_builtin,
    usage_error,
    without_builtins,
)


def test_create_defines_a_permission(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    out = cli.ok("permission", "create", "acme", "documents:read", "--description", "Read docs")

    assert out == "created permission 'documents:read' in tenant 'acme'\n"
    permission = rg.permissions.get("acme", "documents:read")
    assert (permission.resource, permission.action) == ("documents", "read")
    assert permission.description == "Read docs"


def test_create_accepts_a_pattern(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    cli.ok("permission", "create", "acme", "reports:*")

    assert rg.permissions.get("acme", "reports:*").is_pattern


def test_list_shows_names_resources_and_patterns(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)  # documents:read, documents:write and the pattern reports:*

    out = cli.ok("permission", "list", "acme")

    assert "Permissions in tenant acme" in out
    assert all(name in out for name in ("documents:read", "documents:write", "reports:*"))


def test_list_as_json(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)

    listed = cli.json("permission", "list", "acme")

    permissions = [p for p in listed if not is_builtin(p["name"])]
    assert [p["name"] for p in permissions] == ["documents:read", "documents:write", "reports:*"]
    assert permissions[0]["resource"] == "documents" and permissions[0]["tenant"] == "acme"
    assert permissions[2]["resource"] == "reports" and permissions[2]["action"] == "*"


def test_delete_removes_the_permission_and_its_grants(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)

    out = cli.ok("permission", "delete", "acme", "documents:read")

    assert out == "deleted permission 'documents:read' from tenant 'acme'\n"
    left = without_builtins(p.name for p in rg.permissions.list("acme"))
    assert left == ["documents:write", "reports:*"]
    assert rg.roles.get("acme", "viewer").permissions == ()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["create", "acme", "Documents Read"],
            "error: invalid permission or pattern 'Documents Read'",
        ),
        (["create", "acme", "documents:read"], "error: permission 'documents:read' already exists"),
        (["create", "nope", "documents:read"], "error: tenant 'nope' not found"),
        (["list", "nope"], "error: tenant 'nope' not found"),
        (["delete", "acme", "documents:drop"], "error: permission 'documents:drop' not found"),
        (["delete", "nope", "documents:read"], "error: tenant 'nope' not found"),
    ],
)
def test_errors(cli: Cli, rg: Rolegate, args: list[str], message: str) -> None:
    build_documents_policy(rg)

    assert cli.fails("permission", *args).startswith(message)


def test_create_an_audited_permission(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    out = cli.ok("permission", "create", "acme", "payroll:approve", "--audited")

    assert out == "created audited permission 'payroll:approve' in tenant 'acme'\n"
    assert rg.permissions.get("acme", "payroll:approve").audited


def test_create_is_not_audited_by_default(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    cli.ok("permission", "create", "acme", "documents:read")

    assert not rg.permissions.get("acme", "documents:read").audited


def test_update_turns_auditing_on_and_off(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)

    out = cli.ok("permission", "update", "acme", "documents:read", "--audited")

    assert out == "updated permission 'documents:read' in tenant 'acme' (audited: yes)\n"
    assert rg.permissions.get("acme", "documents:read").audited
    cli.ok("permission", "update", "acme", "documents:read", "--not-audited")
    assert not rg.permissions.get("acme", "documents:read").audited


def test_update_leaves_what_is_not_named(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)
    rg.permissions.update("acme", "documents:read", audited=True)
    before = rg.permissions.get("acme", "documents:read").description

    cli.ok("permission", "update", "acme", "documents:read", "--description", "Read them all")

    permission = rg.permissions.get("acme", "documents:read")
    assert permission.audited and permission.description == "Read them all" != before
    cli.ok("permission", "update", "acme", "documents:read", "--not-audited")
    assert rg.permissions.get("acme", "documents:read").description == "Read them all"


def test_update_audits_a_builtin_permission(cli: Cli, rg: Rolegate) -> None:
    rg.tenants.create("acme")

    cli.ok("permission", "update", "acme", "rolegate:roles:escalate", "--audited")

    assert rg.permissions.get("acme", "rolegate:roles:escalate").audited


def test_update_needs_something_to_change(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)

    text = usage_error(cli.invoke("permission", "update", "acme", "documents:read"))

    assert "nothing to change: give --description or --audited/--not-audited" in text


def test_list_shows_which_permissions_are_audited(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)
    rg.permissions.update("acme", "documents:write", audited=True)

    out = cli.ok("permission", "list", "acme")
    listed = cli.json("permission", "list", "acme")

    assert " audited " in out.splitlines()[2]  # the header row
    row = next(line for line in out.splitlines() if " documents:write " in line)
    assert row.split("│")[5].strip() == "yes"
    audited = {p["name"]: p["audited"] for p in listed if not is_builtin(p["name"])}
    assert audited == {"documents:read": False, "documents:write": True, "reports:*": False}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme", "documents:drop", "--audited"], "error: permission 'documents:drop' not found"),
        (["nope", "documents:read", "--audited"], "error: tenant 'nope' not found"),
        (
            ["acme", "rolegate:check", "--description", "mine"],
            "error: 'rolegate:check': names under 'rolegate:' are reserved",
        ),
    ],
)
def test_update_errors(cli: Cli, rg: Rolegate, args: list[str], message: str) -> None:
    build_documents_policy(rg)

    assert cli.fails("permission", "update", *args).startswith(message)
