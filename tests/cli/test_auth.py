"""``rolegate login | sessions | keys | login-history`` and ``user lockout | unlock``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from typer.testing import Result

from rolegate import InvalidCredentials, InvalidToken, Rolegate, Settings
from tests.factories import FAST_HASHER, PASSWORD, Cli, FakeClock, audit_events

NEW_PASSWORD = "quartz meadow 42 harbour lamp"
CLIENT_IP = "203.0.113.9"


@pytest.fixture
def clock() -> FakeClock:
    """The test's rolegate at the real time: the CLI it shares the database with has no fake
    clock, and the tokens it issues must be current for ``rg.auth.verify``."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def alice(rg: Rolegate) -> UUID:
    """alice, with a password, a member of the default tenant and of acme; her id."""
    user = rg.users.create("alice", email="alice@example.com", password=PASSWORD)
    rg.tenants.create("acme")
    rg.memberships.add("default", "alice")
    rg.memberships.add("acme", "alice")
    return user.id


def login(cli: Cli, *args: str, password: str = PASSWORD) -> dict[str, Any]:
    """Log in through the CLI with the password on stdin; the parsed token response."""
    document: dict[str, Any] = json.loads(
        cli.ok("login", *args, "--password-stdin", input=f"{password}\n")
    )
    return document


def refused(result: Result) -> str:
    """The ``error:`` line of a refused login: exit 1, nothing on stdout, one line, no traceback."""
    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output}"
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def folded(text: str) -> str:
    """Click's boxed usage error as one line of words."""
    return " ".join(text.replace("│", " ").split())


# --- login --------------------------------------------------------------------------------------


def test_login_prints_a_token_response_whose_access_token_verifies(
    cli: Cli, rg: Rolegate, alice: UUID
) -> None:
    response = login(cli, "alice")

    assert set(response) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "access_expires_at",
        "session_id",
        "tenant",
    }
    assert (response["token_type"], response["expires_in"], response["tenant"]) == (
        "Bearer",
        600,
        "default",
    )
    assert datetime.fromisoformat(response["access_expires_at"]) > datetime.now(UTC)
    principal = rg.auth.verify(response["access_token"])
    assert principal.user_id == alice
    assert principal.session_id == UUID(response["session_id"])
    assert rg.auth.refresh(response["refresh_token"]).session.id == principal.session_id


def test_login_by_email_into_another_tenant(cli: Cli, rg: Rolegate, alice: UUID) -> None:
    response = login(cli, "ALICE@example.com", "--tenant", "acme")

    assert response["tenant"] == "acme"
    assert rg.auth.verify(response["access_token"]).tenant_id == rg.tenants.get("acme").id


def test_login_prompts_for_the_password_without_echo(cli: Cli, rg: Rolegate, alice: UUID) -> None:
    result = cli.invoke("login", "alice", input=f"{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Password" in result.stderr
    assert PASSWORD not in result.output
    assert rg.auth.verify(json.loads(result.stdout)["access_token"]).user_id == alice


@pytest.mark.parametrize(
    ("login_name", "tenant", "password"),
    [
        ("alice", "default", "not the password"),
        ("nobody", "default", PASSWORD),
        ("alice", "nope", PASSWORD),
        ("alice", "globex", PASSWORD),  # a tenant she is not a member of
    ],
    ids=["wrong password", "unknown user", "unknown tenant", "not a member"],
)
def test_every_refused_login_is_the_same_line_and_exit_1(
    cli: Cli, rg: Rolegate, alice: UUID, login_name: str, tenant: str, password: str
) -> None:
    rg.tenants.create("globex")

    result = cli.invoke(
        "login", login_name, "--tenant", tenant, "--password-stdin", input=f"{password}\n"
    )

    assert refused(result) == "error: invalid username or password"
    assert rg.auth.sessions("alice") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password", PASSWORD], "No such option: --password"),
        ([PASSWORD], "Got unexpected extra argument"),
    ],
)
def test_a_password_is_never_a_command_line_argument(
    cli: Cli, rg: Rolegate, alice: UUID, args: list[str], message: str
) -> None:
    result = cli.invoke("login", "alice", *args)

    assert result.exit_code == 2
    assert message in folded(result.stderr)
    assert rg.auth.login_history() == []  # refused before any attempt


def test_login_with_an_empty_stdin_fails(cli: Cli, alice: UUID) -> None:
    line = cli.fails("login", "alice", "--password-stdin", input="")

    assert line == "error: --password-stdin given but stdin is empty"


def test_a_required_password_change_reads_the_new_one_from_the_second_line(
    cli: Cli, rg: Rolegate
) -> None:
    rg.users.create("bob", password=PASSWORD, must_change_password=True)
    rg.memberships.add("default", "bob")

    first = cli.invoke("login", "bob", "--password-stdin", input=f"{PASSWORD}\n")
    changed = cli.ok(
        "login",
        "bob",
        "--password-stdin",
        "--change-password",
        input=f"{PASSWORD}\n{NEW_PASSWORD}\n",
    )

    assert refused(first) == (
        "error: the password must be changed before logging in: run again with --change-password"
    )
    assert rg.auth.verify(json.loads(changed)["access_token"]).user_id == rg.users.get("bob").id
    assert not rg.users.get("bob").must_change_password
    assert rg.auth.login("bob", NEW_PASSWORD).session.tenant == "default"


# --- sessions -----------------------------------------------------------------------------------


def test_sessions_list_shows_each_session_and_its_device(
    cli: Cli, rg: Rolegate, alice: UUID
) -> None:
    response = login(cli, "alice")

    out = cli.ok("sessions", "list", "--user", "alice")
    [session] = cli.json("sessions", "list", "--user", "ALICE", "--tenant", "default")

    row = next(line for line in out.splitlines() if response["session_id"] in line)
    assert "rolegate-cli" in row and "alice" in row and "active" in row
    assert session["id"] == response["session_id"]
    assert session["device"] == "rolegate-cli"
    assert cli.json("sessions", "list", "--user", "alice", "--tenant", "acme") == []


def test_sessions_list_shows_whole_ids_on_a_narrow_terminal(
    cli: Cli, rg: Rolegate, alice: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The id is what ``sessions revoke`` takes: it is never wrapped or cut to fit."""
    monkeypatch.setenv("COLUMNS", "60")
    response = login(cli, "alice")

    out = cli.ok("sessions", "list", "--user", "alice")

    assert response["session_id"] in out
    assert cli.ok("sessions", "revoke", response["session_id"]) == "ended 1 session\n"


def test_sessions_revoke_ends_the_session(cli: Cli, rg: Rolegate, alice: UUID) -> None:
    response = login(cli, "alice")

    out = cli.ok("sessions", "revoke", response["session_id"], "--reason", "stolen laptop")

    assert out == "ended 1 session\n"
    with pytest.raises(InvalidToken):
        rg.auth.verify(response["access_token"])
    assert cli.json("sessions", "list", "--user", "alice") == []
    assert "ended: stolen laptop" in cli.ok("sessions", "list", "--user", "alice", "--all")
    assert cli.ok("sessions", "revoke", response["session_id"]) == "ended 0 sessions\n"
    [event] = audit_events(rg, action="session.revoked")
    assert event.actor.startswith("cli:")


def test_sessions_revoke_user_ends_all_their_sessions(cli: Cli, rg: Rolegate, alice: UUID) -> None:
    login(cli, "alice")
    login(cli, "alice")
    login(cli, "alice", "--tenant", "acme")

    in_acme = cli.ok("sessions", "revoke", "--user", "alice", "--tenant", "acme")
    everywhere = cli.ok("sessions", "revoke", "--user", "alice")

    assert (in_acme, everywhere) == ("ended 1 session\n", "ended 2 sessions\n")
    assert rg.auth.sessions("alice") == []


@pytest.mark.parametrize("args", [[], ["--user", "alice", "00000000-0000-0000-0000-000000000000"]])
def test_sessions_revoke_needs_a_session_or_a_user(cli: Cli, alice: UUID, args: list[str]) -> None:
    result = cli.invoke("sessions", "revoke", *args)

    assert result.exit_code == 2
    assert "name either a SESSION_ID or --user" in folded(result.stderr)


# --- signing keys -------------------------------------------------------------------------------


def test_keys_rotate_adds_the_signing_key_and_keeps_the_old_one_verifying(
    cli: Cli, rg: Rolegate, alice: UUID
) -> None:
    before = login(cli, "alice")  # the first login makes the first key
    [first] = cli.json("keys", "list")

    out = cli.ok("keys", "rotate")
    listed = cli.ok("keys", "list")
    keys = cli.json("keys", "list")

    new_kid = out.removeprefix("new signing key ").split(" ")[0]
    assert out == f"new signing key {new_kid} (ES256)\n"
    assert first["is_signing"] and first["kid"] != new_kid
    assert [(k["kid"], k["is_signing"]) for k in keys] == [(new_kid, True), (first["kid"], False)]
    assert keys[1]["retired_at"] is not None and keys[1]["verify_until"] is not None
    assert "yes" in next(line for line in listed.splitlines() if new_kid in line)
    assert "private" not in json.dumps(keys) and "d" not in keys[0]["public_jwk"]
    assert rg.auth.verify(before["access_token"]).user_id == alice  # signed by the old key
    [event] = audit_events(rg, action="key.rotated")[1:]  # the first is the initial key's
    assert event.actor.startswith("cli:")


def test_keys_rotate_audit_seal_rotates_the_seal_key_alone_and_the_list_shows_purposes(
    cli: Cli, rg: Rolegate, alice: UUID
) -> None:
    before = login(cli, "alice")
    cli.ok("audit", "seal")  # the first seal makes the seal key
    [token_key, seal_key] = sorted(cli.json("keys", "list"), key=lambda k: k["purpose"])
    assert (token_key["purpose"], seal_key["purpose"]) == ("access", "audit_seal")

    out = cli.ok("keys", "rotate", "--audit-seal")
    new_kid = out.removeprefix("new audit seal key ").split(" ")[0]
    assert out == f"new audit seal key {new_kid} (ES256)\n"
    keys = {k["kid"]: k for k in cli.json("keys", "list")}
    assert keys[new_kid]["purpose"] == "audit_seal" and keys[new_kid]["is_signing"]
    assert not keys[seal_key["kid"]]["is_signing"]
    assert keys[token_key["kid"]]["is_signing"]  # the token key is untouched
    assert rg.auth.verify(before["access_token"]).user_id == alice
    listed = cli.ok("keys", "list")
    assert "audit_seal" in next(line for line in listed.splitlines() if new_kid in line)
    assert "access" in next(line for line in listed.splitlines() if token_key["kid"] in line)


# --- lockouts -----------------------------------------------------------------------------------


def test_user_unlock_lets_a_locked_out_account_log_in(
    cli: Cli, rg: Rolegate, alice: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLEGATE_LOCKOUT_FAILURES", "2")
    for _ in range(2):
        refused(cli.invoke("login", "alice", "--password-stdin", input="wrong guess\n"))
    locked = cli.invoke("login", "alice", "--password-stdin", input=f"{PASSWORD}\n")

    shown = cli.json("user", "lockout", "alice")
    out = cli.ok("user", "unlock", "alice", "--tenant", "default")

    assert refused(locked) == "error: invalid username or password"
    assert (shown["is_locked"], shown["failures"]) == (True, 2)
    assert out == "unlocked user 'alice' in tenant 'default'\n"
    assert cli.json("user", "lockout", "alice")["is_locked"] is False
    assert "no" in cli.ok("user", "lockout", "alice")
    assert rg.auth.verify(login(cli, "alice")["access_token"]).user_id == alice
    [event] = audit_events(rg, action="auth.unlocked")
    assert event.actor.startswith("cli:")


def test_user_unlock_by_ip_clears_a_client_lockout(
    cli: Cli, rg: Rolegate, alice: UUID, database_url: str
) -> None:
    settings = Settings(lockout_ip_failures=2)
    with Rolegate(database_url, settings=settings, hasher=FAST_HASHER) as web:
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                web.auth.login("nobody", "wrong guess", ip=CLIENT_IP)

    assert cli.json("user", "lockout", "--ip", CLIENT_IP)["is_locked"] is True
    assert cli.ok("user", "unlock", "--ip", CLIENT_IP) == f"unlocked client {CLIENT_IP}\n"
    assert not rg.auth.lockout(ip=CLIENT_IP).is_locked


# --- login history ------------------------------------------------------------------------------


def test_login_history_shows_attempts_with_their_reasons(
    cli: Cli, rg: Rolegate, alice: UUID
) -> None:
    login(cli, "alice")
    cli.invoke("login", "alice", "--password-stdin", input="wrong guess\n")
    cli.invoke("login", "ev\x1b[2Jil\u202e", "--password-stdin", input="wrong guess\n")

    out = cli.ok("login-history")
    mine = cli.json("login-history", "--user", "alice")
    newest = cli.json("login-history", "--limit", "1")

    assert [(a["succeeded"], a["reason"]) for a in mine] == [
        (False, "bad_password"),
        (True, "login"),
    ]
    assert {a["user_agent"] for a in mine} == {"rolegate-cli"}
    assert [a["reason"] for a in newest] == ["unknown_user"]
    assert "bad_password" in out and "unknown_user" in out and "failed" in out
    assert "ev\\x1b[2Jil\\u202e" in out  # typed text is shown escaped, never interpreted
    assert "\x1b" not in out and "\u202e" not in out


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sessions", "list", "--user", "nobody"], "error: user 'nobody' not found"),
        (["sessions", "revoke", "not-a-session"], "error: session 'not-a-session' not found"),
        (["sessions", "revoke", "--user", "nobody"], "error: user 'nobody' not found"),
        (
            ["sessions", "revoke", "--user", "alice", "--reason", "x" * 41],
            "error: a revocation reason is 1-40 printable characters",
        ),
        (["user", "unlock", "--ip", "300.1.2.3"], "error: not an IP address: '300.1.2.3'"),
        (["user", "lockout", "--ip", "nope"], "error: not an IP address: 'nope'"),
        (["user", "unlock"], "error: name either a user or a client IP address"),
        (["user", "unlock", "nobody"], "error: user 'nobody' not found"),
        (["user", "unlock", "alice", "--tenant", "nope"], "error: tenant 'nope' not found"),
        (["login-history", "--limit", "0"], "error: limit must be between 1 and 1000"),
        (["login-history", "--user", "nobody"], "error: user 'nobody' not found"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_input_is_one_error_line(cli: Cli, alice: UUID, args: list[str], message: str) -> None:
    assert cli.fails(*args) == message
