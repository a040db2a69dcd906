"""``rolegate role create | list | show | delete | grant | revoke | inherit | uninherit``."""

from __future__ import annotations

import pytest

from rolegate import Rolegate, RoleNotFound
from tests.factories import Cli, build_documents_policy, is_builtin, without_builtins


@pytest.fixture
def acme(rg: Rolegate) -> Rolegate:
    """The README's documents policy in tenant ``acme`` (viewer < editor, auditor < viewer)."""
    build_documents_policy(rg)
    return rg


def test_create_with_grants_and_parents(cli: Cli, acme: Rolegate) -> None:
    out = cli.ok(
        "role", "create", "acme", "publisher", "--description", "Publishes",
        "--permission", "documents:write", "-p", "documents:publish:*",
        "--inherits", "viewer", "--inherits", "auditor",
    )  # fmt: skip

    assert out == "created role 'publisher' in tenant 'acme'\n"
    role = acme.roles.get("acme", "publisher")
    assert role.description == "Publishes"
    assert role.permissions == ("documents:publish:*", "documents:write")
    assert role.inherits == ("auditor", "viewer")


def test_create_is_all_or_nothing(cli: Cli, acme: Rolegate) -> None:
    line = cli.fails("role", "create", "acme", "publisher", "--permission", "documents:drop")

    assert line == "error: permission 'documents:drop' not found in tenant 'acme'"
    with pytest.raises(RoleNotFound):
        acme.roles.get("acme", "publisher")


def test_list_shows_grants_and_parents(cli: Cli, acme: Rolegate) -> None:
    out = cli.ok("role", "list", "acme")

    editor = next(line for line in out.splitlines() if " editor " in line)
    assert "documents:write, reports:*" in editor and "viewer" in editor


def test_list_as_json(cli: Cli, acme: Rolegate) -> None:
    listed = cli.json("role", "list", "acme")

    roles = [r for r in listed if not is_builtin(r["name"])]
    assert [r["name"] for r in roles] == ["auditor", "editor", "viewer"]
    assert roles[1]["permissions"] == ["documents:write", "reports:*"]
    assert roles[1]["inherits"] == ["viewer"]


def test_show_gives_grants_parents_and_holders(cli: Cli, acme: Rolegate) -> None:
    out = cli.ok("role", "show", "acme", "editor")

    assert "Role editor in tenant acme" in out
    assert "documents:write, reports:*" in out and "viewer" in out
    assert "Holders" in out and "alice" in out


def test_show_as_json(cli: Cli, acme: Rolegate) -> None:
    role = cli.json("role", "show", "acme", "editor")

    assert role["name"] == "editor" and role["inherits"] == ["viewer"]
    assert [(h["username"], h["role"]) for h in role["holders"]] == [("alice", "editor")]


def test_delete(cli: Cli, acme: Rolegate) -> None:
    assert (
        cli.ok("role", "delete", "acme", "auditor") == "deleted role 'auditor' from tenant 'acme'\n"
    )
    assert without_builtins(r.name for r in acme.roles.list("acme")) == ["editor", "viewer"]


def test_grant_and_revoke(cli: Cli, acme: Rolegate) -> None:
    granted = cli.ok("role", "grant", "acme", "auditor", "documents:write")
    assert granted == "granted 'documents:write' to role 'auditor' in tenant 'acme'\n"
    assert acme.roles.get("acme", "auditor").permissions == ("documents:write",)

    revoked = cli.ok("role", "revoke", "acme", "auditor", "documents:write")
    assert revoked == "revoked 'documents:write' from role 'auditor' in tenant 'acme'\n"
    assert acme.roles.get("acme", "auditor").permissions == ()


def test_granting_a_wildcard_defines_the_pattern(cli: Cli, acme: Rolegate) -> None:
    cli.ok("role", "grant", "acme", "auditor", "*")

    assert acme.roles.get("acme", "auditor").permissions == ("*",)
    assert acme.check("alice", "documents:read", tenant="acme")


def test_inherit_and_uninherit(cli: Cli, acme: Rolegate) -> None:
    out = cli.ok("role", "inherit", "acme", "auditor", "editor")
    assert out == "role 'auditor' now inherits 'editor' in tenant 'acme'\n"
    assert acme.roles.get("acme", "auditor").inherits == ("editor", "viewer")

    out = cli.ok("role", "uninherit", "acme", "auditor", "viewer")
    assert out == "role 'auditor' no longer inherits 'viewer' in tenant 'acme'\n"
    assert acme.roles.get("acme", "auditor").inherits == ("editor",)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "acme", "bad name!"], "error: invalid role name 'bad name!'"),
        (["create", "acme", "viewer"], "error: role 'viewer' already exists in tenant 'acme'"),
        (["create", "nope", "viewer"], "error: tenant 'nope' not found"),
        (["create", "acme", "x", "--inherits", "nope"], "error: role 'nope' not found in tenant"),
        (["show", "acme", "nope"], "error: role 'nope' not found in tenant 'acme'"),
        (["list", "nope"], "error: tenant 'nope' not found"),
        (["delete", "acme", "nope"], "error: role 'nope' not found in tenant 'acme'"),
        (["grant", "acme", "viewer", "documents:drop"], "error: permission 'documents:drop' not"),
        (["grant", "acme", "viewer", "documents:read"], "error: grant 'documents:read to viewer'"),
        (
            ["grant", "acme", "viewer", "Not Valid"],
            "error: invalid permission or pattern 'Not Valid'",
        ),
        (["revoke", "acme", "viewer", "documents:write"], "error: grant 'documents:write to view"),
        (["inherit", "acme", "viewer", "editor"], "error: inheritance cycle in tenant 'acme': v"),
        (["inherit", "acme", "editor", "editor"], "error: inheritance cycle in tenant 'acme': e"),
        (["inherit", "acme", "editor", "viewer"], "error: inheritance 'editor -> viewer' alrea"),
        (["uninherit", "acme", "viewer", "editor"], "error: inheritance 'viewer -> editor' not "),
    ],
)
def test_errors(cli: Cli, acme: Rolegate, args: list[str], message: str) -> None:
    assert cli.fails("role", *args).startswith(message)


def test_a_cycle_names_its_path_and_changes_nothing(cli: Cli, acme: Rolegate) -> None:
    line = cli.fails("role", "inherit", "acme", "viewer", "auditor")

    assert line == "error: inheritance cycle in tenant 'acme': viewer -> auditor -> viewer"
    assert acme.roles.get("acme", "viewer").inherits == ()
