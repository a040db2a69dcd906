"""``rolegate check``: allowed exits 0, denied 1, a failed check 2 (as ``kubectl auth can-i``)."""

from __future__ import annotations

import json

import pytest

from rolegate import Rolegate
from tests.factories import Cli, build_documents_policy


@pytest.fixture
def acme(rg: Rolegate) -> Rolegate:
    """The README's documents policy in ``acme``: alice is an editor; nobody may delete."""
    build_documents_policy(rg)
    rg.permissions.create("acme", "documents:delete")
    return rg


def test_allowed_exits_0(cli: Cli, acme: Rolegate) -> None:
    result = cli.invoke("check", "acme", "alice", "documents:write")

    assert (result.exit_code, result.stdout, result.stderr) == (0, "allowed\n", "")


def test_denied_exits_1(cli: Cli, acme: Rolegate) -> None:
    result = cli.invoke("check", "acme", "alice", "documents:delete")

    assert (result.exit_code, result.stdout, result.stderr) == (1, "denied\n", "")


@pytest.mark.parametrize(
    ("args", "exit_code", "answer"),
    [
        (["acme", "alice", "documents:read"], 0, "allowed (granted)"),  # inherited from viewer
        (["acme", "ALICE", "reports:export"], 0, "allowed (granted)"),  # wildcard grant
        (["acme", "alice", "documents:delete"], 1, "denied (no_role_grants_it)"),
        (["default", "alice", "rolegate:check"], 1, "denied (no_membership)"),
    ],
)
def test_explain_prints_the_reason(
    cli: Cli, acme: Rolegate, args: list[str], exit_code: int, answer: str
) -> None:
    result = cli.invoke("check", *args, "--explain")

    assert (result.exit_code, result.stdout) == (exit_code, f"{answer}\n")


def test_a_permission_under_a_pattern_is_known(cli: Cli, acme: Rolegate) -> None:
    """``reports:*`` defines every ``reports:`` permission: one not held is denied, no error."""
    acme.users.create("bob")
    acme.memberships.add("acme", "bob")

    result = cli.invoke("check", "acme", "bob", "reports:export", "--explain")

    assert (result.exit_code, result.stdout) == (1, "denied (no_role_grants_it)\n")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["acmee", "alice", "documents:read"],
            "error: unknown tenant 'acmee'; did you mean 'acme'?",
        ),
        (["zzz", "alice", "documents:read"], "error: unknown tenant 'zzz'"),
        (
            ["acme", "ALCIE", "documents:read"],
            "error: unknown user 'ALCIE'; did you mean 'alice'?",
        ),
        (["acme", "nobody", "documents:read"], "error: unknown user 'nobody'"),
        (
            ["acme", "alice", "documents:raed"],
            "error: unknown permission 'documents:raed' in tenant 'acme'; "
            "did you mean 'documents:read'?",
        ),
        (
            ["acme", "alice", "Documents:Write"],
            "error: unknown permission 'Documents:Write' in tenant 'acme'; "
            "did you mean 'documents:write'?",
        ),
        (["acme", "alice", "Not Valid"], "error: unknown permission 'Not Valid' in tenant 'acme'"),
        (
            ["default", "alice", "documents:read"],
            "error: unknown permission 'documents:read' in tenant 'default'",
        ),
    ],
)
def test_an_unknown_name_is_an_error_that_names_it(
    cli: Cli, acme: Rolegate, args: list[str], error: str
) -> None:
    """A typo is no "denied": exit 2 and one line naming it, with the closest existing name."""
    assert cli.fails("check", *args) == error


def test_an_unknown_name_is_an_error_with_json_too(cli: Cli, acme: Rolegate) -> None:
    assert cli.fails("check", "acmee", "alice", "documents:read", "--json") == (
        "error: unknown tenant 'acmee'; did you mean 'acme'?"
    )


@pytest.mark.parametrize(
    ("permission", "exit_code", "document"),
    [
        ("documents:read", 0, {"allowed": True, "reason": "granted"}),
        ("documents:delete", 1, {"allowed": False, "reason": "no_role_grants_it"}),
    ],
)
def test_json_prints_the_decision(
    cli: Cli, acme: Rolegate, permission: str, exit_code: int, document: dict[str, object]
) -> None:
    result = cli.invoke("check", "acme", "alice", permission, "--json")

    assert result.exit_code == exit_code
    assert json.loads(result.stdout) == document


def test_the_library_still_just_denies_unknown_names(acme: Rolegate) -> None:
    assert not acme.check("alice", "documents:read", tenant="acmee")
    assert not acme.check("alcie", "documents:read", tenant="acme")
    assert not acme.check("alice", "documents:raed", tenant="acme")


def test_an_inactive_user_is_denied(cli: Cli, acme: Rolegate) -> None:
    acme.users.deactivate("alice")

    result = cli.invoke("check", "acme", "alice", "documents:read", "--explain")

    assert (result.exit_code, result.stdout) == (1, "denied (inactive_user)\n")


def test_missing_arguments_are_a_usage_error(cli: Cli) -> None:
    result = cli.invoke("check", "acme", "alice")

    assert result.exit_code == 2
    assert "Missing argument 'PERMISSION'" in result.stderr


def test_a_check_that_fails_exits_2(bare_cli: Cli, undecidable_url: str) -> None:
    """Deciding fails on a damaged database: the facade denies, the CLI reports an error."""
    result = bare_cli.invoke(
        "--database-url", undecidable_url, "check", "default", "alice", "documents:read"
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: the check failed, so it was denied; set ROLEGATE_DEBUG=1 to see why\n"
    )
