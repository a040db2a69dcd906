"""``rolegate check``: allowed exits 0, denied 1, a failed check 2 (as ``kubectl auth can-i``)."""

from __future__ import annotations

import pytest

from rolegate import Rolegate
from tests.factories import Cli, build_documents_policy


@pytest.fixture
def acme(rg: Rolegate) -> Rolegate:
    """The README's documents policy in ``acme``: alice is an editor."""
    build_documents_policy(rg)
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
        (["acme", "alice", "Not Valid"], 1, "denied (invalid_permission)"),
        (["acme", "nobody", "documents:read"], 1, "denied (unknown_user)"),
        (["nope", "alice", "documents:read"], 1, "denied (unknown_tenant)"),
        (["default", "alice", "documents:read"], 1, "denied (no_membership)"),
    ],
)
def test_explain_prints_the_reason(
    cli: Cli, acme: Rolegate, args: list[str], exit_code: int, answer: str
) -> None:
    result = cli.invoke("check", *args, "--explain")

    assert (result.exit_code, result.stdout) == (exit_code, f"{answer}\n")


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
