"""``rolegate user create | list | show | activate | deactivate | delete | set-password``."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import select

from rolegate import Rolegate, UserNotFound
from rolegate.db.models import UserRecord
from tests.factories import FAST_HASHER, PASSWORD, Cli, audit_json, build_documents_policy


def stored_hash(rg: Rolegate, username: str) -> str | None:
    """The password hash as stored, read past the services (which never return it)."""
    with rg.db.reading() as session:
        query = select(UserRecord.password_hash).where(UserRecord.username == username)
        return session.scalar(query)


def assert_password_is(rg: Rolegate, username: str, password: str) -> None:
    """``username`` has exactly ``password``, stored as argon2id and never in the audit trail."""
    assert rg.users.get(username).has_password
    encoded = stored_hash(rg, username)
    assert encoded is not None and encoded.startswith("$argon2id$")
    assert FAST_HASHER.verify(password, encoded)
    assert password not in audit_json(rg)


# --- create -------------------------------------------------------------------------------------


def test_create_without_a_password_makes_a_token_only_account(cli: Cli, rg: Rolegate) -> None:
    out = cli.ok("user", "create", "alice", "--email", "alice@example.com", "--full-name", "Alice")

    assert out == "created user 'alice' without a password (token-only)\n"
    user = rg.users.get("alice")
    assert (user.email, user.full_name, user.is_active) == ("alice@example.com", "Alice", True)
    assert not user.has_password
    assert stored_hash(rg, "alice") is None


def test_create_reads_the_password_from_stdin(cli: Cli, rg: Rolegate) -> None:
    out = cli.ok("user", "create", "alice", "--password-stdin", input=f"{PASSWORD}\n")

    assert out == "created user 'alice' with a password\n"
    assert_password_is(rg, "alice", PASSWORD)


def test_password_stdin_strips_the_line_break_only(cli: Cli, rg: Rolegate) -> None:
    spaced = "  spaces around it count  "

    cli.ok("user", "create", "alice", "--password-stdin", input=f"{spaced}\r\nnext line\n")

    assert_password_is(rg, "alice", spaced)


def test_create_prompts_for_the_password_twice_without_echo(cli: Cli, rg: Rolegate) -> None:
    result = cli.invoke("user", "create", "alice", "--password-prompt", input=f"{PASSWORD}\n" * 2)

    assert result.exit_code == 0, result.output
    assert "New password" in result.stderr
    assert PASSWORD not in result.output
    assert_password_is(rg, "alice", PASSWORD)


def test_a_password_is_never_a_command_line_argument(cli: Cli, rg: Rolegate) -> None:
    text = cli.invoke("user", "create", "alice", "--password", PASSWORD)

    assert "No such option: --password" in _folded(text.stderr)
    assert text.exit_code == 2
    assert rg.users.list() == []


def test_both_password_options_are_refused(cli: Cli, rg: Rolegate) -> None:
    result = cli.invoke(
        "user", "create", "alice", "--password-stdin", "--password-prompt", input=PASSWORD
    )

    assert result.exit_code == 2
    assert "use --password-stdin or --password-prompt, not both" in _folded(result.stderr)
    assert rg.users.list() == []


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["Bad Name"], None, "error: invalid username 'Bad Name'"),
        (["bob", "--email", "not-an-email"], None, "error: invalid email address 'not-an-email'"),
        (["bob", "--password-stdin"], "", "error: --password-stdin given but stdin is empty"),
        (["bob", "--password-stdin"], "short\n", "error: password shorter than 12 characters"),
    ],
)
def test_create_errors_leave_no_user(
    cli: Cli, rg: Rolegate, args: list[str], stdin: str | None, message: str
) -> None:
    assert cli.fails("user", "create", *args, input=stdin).startswith(message)
    assert rg.users.list() == []


def test_create_with_nobody_at_the_prompt_fails(cli: Cli, rg: Rolegate) -> None:
    result = cli.invoke("user", "create", "bob", "--password-prompt")

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("error: no password given")
    assert rg.users.list() == []


def test_create_refuses_a_taken_username_in_any_case(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("alice")

    assert cli.fails("user", "create", "ALICE") == "error: user 'ALICE' already exists"


def test_create_refuses_a_username_that_is_anothers_email(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("victim", email="victim@b.example")

    error = cli.fails("user", "create", "Victim@b.example")
    assert error == (
        "error: 'Victim@b.example' is already another account's username or email address"
    )
    assert [u.username for u in rg.users.list()] == ["victim"]


# --- list and show ------------------------------------------------------------------------------


def test_list_shows_users_with_filters(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)  # alice is a member of acme
    rg.users.create("bob", full_name="Bob Builder")
    rg.users.create("carol", is_active=False)

    everyone = cli.ok("user", "list")
    members = cli.ok("user", "list", "--tenant", "acme")
    inactive = cli.ok("user", "list", "--inactive")
    active = cli.ok("user", "list", "--active")

    assert all(name in everyone for name in ("alice", "bob", "carol", "Bob Builder"))
    assert "alice" in members and "bob" not in members
    assert "carol" in inactive and "alice" not in inactive
    assert "carol" not in active and "bob" in active


def test_list_as_json(cli: Cli, rg: Rolegate) -> None:
    alice = rg.users.create("alice", email="alice@example.com")

    [user] = cli.json("user", "list")

    assert UUID(user["id"]) == alice.id
    assert user["username"] == "alice" and user["email"] == "alice@example.com"
    assert user["has_password"] is False and user["last_login_at"] is None
    assert "password_hash" not in user


def test_show_gives_profile_tenants_and_roles(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)
    rg.tenants.create("globex")
    rg.memberships.add("globex", "alice")

    out = cli.ok("user", "show", "ALICE")

    assert "User alice" in out and "alice@example.com" in out
    assert "none (token-only)" in out
    acme = next(line for line in out.splitlines() if " acme " in line)
    globex = next(line for line in out.splitlines() if " globex " in line)
    assert "editor" in acme and "system" in acme
    assert "editor" not in globex  # a member without roles there


def test_show_as_json(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)
    rg.tenants.create("globex")
    rg.memberships.add("globex", "alice")

    user = cli.json("user", "show", "alice")

    assert user["username"] == "alice"
    assert [t["tenant"] for t in user["tenants"]] == ["acme", "globex"]
    assert [r["role"] for r in user["tenants"][0]["roles"]] == ["editor"]
    assert user["tenants"][1]["roles"] == []
    assert user["tenants"][0]["roles"][0]["expires_at"] is None


# --- activation, deletion -----------------------------------------------------------------------


def test_deactivate_and_activate(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("alice")

    assert cli.ok("user", "deactivate", "alice") == "deactivated user 'alice'\n"
    assert not rg.users.get("alice").is_active
    assert cli.ok("user", "activate", "alice") == "activated user 'alice'\n"
    assert rg.users.get("alice").is_active


def test_delete_with_yes(cli: Cli, rg: Rolegate) -> None:
    build_documents_policy(rg)

    assert cli.ok("user", "delete", "alice", "--yes") == "deleted user 'alice'\n"
    with pytest.raises(UserNotFound):
        rg.users.get("alice")
    assert rg.assignments.list("acme") == []


def test_delete_asks_first_and_needs_an_answer(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("alice")

    declined = cli.invoke("user", "delete", "alice", input="n\n")
    unanswered = cli.invoke("user", "delete", "alice")

    assert declined.exit_code == 1
    assert unanswered.exit_code == 2
    assert "pass --yes" in unanswered.stderr
    assert rg.users.get("alice").username == "alice"
    assert cli.invoke("user", "delete", "alice", input="y\n").exit_code == 0
    assert rg.users.list() == []


# --- set-password -------------------------------------------------------------------------------


def test_set_password_from_stdin(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("alice")

    out = cli.ok("user", "set-password", "alice", "--password-stdin", input=f"{PASSWORD}\n")

    assert out == "set the password of user 'alice'\n"
    assert_password_is(rg, "alice", PASSWORD)


def test_set_password_at_the_prompt(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("alice")

    result = cli.invoke("user", "set-password", "alice", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert_password_is(rg, "alice", PASSWORD)


def test_set_password_with_mismatched_entries_sets_nothing(cli: Cli, rg: Rolegate) -> None:
    rg.users.create("alice")

    result = cli.invoke("user", "set-password", "alice", input=f"{PASSWORD}\nsomething else\n")

    assert result.exit_code == 2
    assert "error: no password given" in result.stderr
    assert not rg.users.get("alice").has_password


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "nobody"], "error: user 'nobody' not found"),
        (["activate", "nobody"], "error: user 'nobody' not found"),
        (["deactivate", "nobody"], "error: user 'nobody' not found"),
        (["delete", "nobody", "--yes"], "error: user 'nobody' not found"),
        (["set-password", "nobody"], "error: user 'nobody' not found"),  # before any prompt
    ],
)
def test_unknown_user(cli: Cli, args: list[str], message: str) -> None:
    assert cli.fails("user", *args) == message


def _folded(text: str) -> str:
    return " ".join(text.replace("│", " ").split())
